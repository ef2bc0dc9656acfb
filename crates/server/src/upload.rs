//! Uploads read a line at a time (order histories, catalog feeds): the body
//! is streamed, so its size does not matter, and every bad line is named
//! with its number and field while the good ones are kept.

use axum::body::{Body, BodyDataStream};
use axum::http::StatusCode;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;

/// Line errors listed in an answer (all are counted).
pub(crate) const MAX_ERRORS: usize = 100;
/// The longest line read, in bytes.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// What was wrong with one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineError {
    /// 1-based, as in the file (a CSV header is line 1).
    pub line: u64,
    /// The field, or `""` for the line as a whole.
    pub field: String,
    /// What is wrong.
    pub error: String,
}

/// A field and what is wrong with it.
pub(crate) fn fail(field: &str, error: impl Into<String>) -> (String, String) {
    (field.to_string(), error.into())
}

/// A text field of 1-`max` characters, none a control character (a whole
/// number is taken as its digits).
pub(crate) fn text_field(
    v: Option<&Value>,
    field: &str,
    max: usize,
) -> Result<String, (String, String)> {
    match v {
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= max
                && !s.chars().any(char::is_control) =>
        {
            Ok(s.clone())
        }
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        Some(Value::String(_)) => Err(fail(
            field,
            format!("must be 1-{max} characters, none of them a control character"),
        )),
        None | Some(Value::Null) => Err(fail(field, "is missing")),
        Some(_) => Err(fail(field, "must be a string")),
    }
}

/// The rejected lines of an upload: all counted, the first
/// [`MAX_ERRORS`] kept for the answer.
#[derive(Debug, Default)]
pub(crate) struct Rejected {
    pub count: u64,
    pub errors: Vec<LineError>,
}

impl Rejected {
    pub fn add(&mut self, line: u64, (field, error): (String, String)) {
        self.count += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(LineError { line, field, error });
        }
    }

    /// Both lists of rejections as one, in line order.
    pub fn merge(mut self, other: Rejected) -> Rejected {
        self.count += other.count;
        self.errors.extend(other.errors);
        self.errors.sort_by_key(|e| e.line);
        self.errors.truncate(MAX_ERRORS);
        self
    }

    /// Whether more lines were rejected than listed.
    pub fn truncated(&self) -> bool {
        self.count as usize > self.errors.len()
    }
}

/// One line of an upload.
pub(crate) enum Line {
    /// Its text (a byte-order mark on the first line and a trailing CR
    /// taken off).
    Text(String),
    /// Bytes that are not UTF-8.
    NotUtf8,
}

/// The lines of a streamed upload, blank ones skipped.
pub(crate) struct Lines {
    stream: BodyDataStream,
    pending: Vec<u8>,
    start: usize,
    number: u64,
    done: bool,
}

impl Lines {
    pub fn new(body: Body) -> Lines {
        Lines {
            stream: body.into_data_stream(),
            pending: Vec::new(),
            start: 0,
            number: 0,
            done: false,
        }
    }

    /// The next line that is not blank, with its number; `None` at the end.
    /// An upload that breaks off, or a line over [`MAX_LINE`] bytes, is an
    /// error that says the lines before it were kept.
    pub async fn next(&mut self) -> Result<Option<(u64, Line)>, ApiError> {
        loop {
            if let Some(end) = self.pending[self.start..].iter().position(|b| *b == b'\n') {
                let raw = &self.pending[self.start..self.start + end];
                self.start += end + 1;
                self.number += 1;
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let Ok(text) = std::str::from_utf8(raw) else {
                    return Ok(Some((self.number, Line::NotUtf8)));
                };
                let text = if self.number == 1 {
                    text.trim_start_matches('\u{feff}')
                } else {
                    text
                };
                if text.trim().is_empty() {
                    continue;
                }
                return Ok(Some((self.number, Line::Text(text.to_string()))));
            }
            self.pending.drain(..self.start);
            self.start = 0;
            if self.pending.len() > MAX_LINE {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "line_too_long",
                    format!(
                        "line {} is longer than {MAX_LINE} bytes; lines before it are stored",
                        self.number + 1
                    ),
                ));
            }
            if self.done {
                return Ok(None);
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.pending.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(ApiError::bad_request(format!(
                        "the upload broke off after line {} ({e}); lines before it are stored",
                        self.number
                    )));
                }
                None => {
                    self.done = true;
                    if !self.pending.is_empty() {
                        self.pending.push(b'\n');
                    }
                }
            }
        }
    }
}
