//! The HTTP edge: every failure becomes a JSON body that names what was wrong.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_s: Option<i64>,
    problems: Vec<String>,
}

impl ApiError {
    /// An error with a status, a stable machine code and a message for people.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            problems: Vec::new(),
        }
    }

    /// Lists each problem on its own (e.g. every invalid field).
    pub fn with_details(mut self, problems: Vec<String>) -> Self {
        self.problems = problems;
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn with_retry_after(mut self, seconds: i64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    /// 404 for a site that does not exist.
    pub fn unknown_site(site: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_site",
            format!("no site `{site}`"),
        )
    }

    /// 500 for a state the server should never be in, named.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

/// A JSON request body read as `T`: 400 when it is not JSON at all, 422
/// naming the field (its path, e.g. `items[2].price`) when it is JSON of the
/// wrong shape. `what` names the body for people ("the claim").
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            ApiError::bad_request(format!("{what} is not JSON: {inner}"))
        } else if path == "." {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("{what}: {inner}"),
            )
        } else {
            let problem = format!("`{path}`: {inner}");
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("{what}: {problem}"),
            )
            .with_details(vec![problem])
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("{what} is not JSON: {e}")))?;
    Ok(value)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UnknownSite(site) => Self::unknown_site(&site),
            StoreError::NotReady(what) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", what).with_retry_after(10)
            }
            other => {
                tracing::error!(error = %other, "storage failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage",
                    "the server could not reach its storage",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if !self.problems.is_empty() {
            body["error"]["problems"] = json!(self.problems);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}
