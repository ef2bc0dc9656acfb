//! Targeting conditions in GrowthBook's MongoDB-style JSON language.
//!
//! The meaning follows GrowthBook's documented semantics, with strict types:
//! a number never equals a string and booleans are not ordered against
//! numbers. A missing attribute is `null`, `{}` matches everything, a
//! number in a path reaches an array's element (`items.0.id`), an unknown
//! operator makes its whole condition fail (under `$not` and `$nor` too)
//! and an invalid regex never matches. Only a string is a version: the
//! version operators hold for nothing else, except `$vne`.
//!
//! Conditions are [compiled](Condition::compile) once when a config loads
//! (paths split, regexes built, version literals padded) and then evaluated
//! many times. Regular expressions go through [`RegexEngine`], so the widget
//! uses the browser's own `RegExp` (JavaScript semantics, no regex engine in
//! the wasm) while native builds use the `regex` crate. A pattern that is
//! plain text, perhaps anchored (`^/sale`, `\.html$`), is matched as text
//! without either: every regex engine reads such a pattern alike.

use std::cmp::Ordering;

use crate::json::{Map, Value};

use crate::wire::{Reader, Writer};

/// A compiled regular expression.
pub trait Matcher {
    /// Does the pattern match anywhere in `text`?
    fn is_match(&self, text: &str) -> bool;
}

/// Builds regular expressions and folds case for the engine.
pub trait RegexEngine {
    /// Compiles `pattern`; `None` when it is not a valid regular expression
    /// (such a condition never matches).
    fn compile(&self, pattern: &str, case_insensitive: bool) -> Option<Box<dyn Matcher>>;

    /// Lower-cases text for the case-insensitive operators (`$ini`,
    /// `$nini`, `$alli`). The widget uses JavaScript's `toLowerCase`, which
    /// GrowthBook's semantics assume and which spares the wasm Rust's
    /// Unicode case tables.
    fn lowercase(&self, text: &str) -> String {
        text.to_lowercase()
    }
}

/// A regex engine that knows no patterns: every `$regex` is treated as
/// invalid and so never matches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegex;

impl RegexEngine for NoRegex {
    fn compile(&self, _pattern: &str, _case_insensitive: bool) -> Option<Box<dyn Matcher>> {
        None
    }
}

/// The `regex` crate, for native builds.
#[cfg(feature = "native-regex")]
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeRegex;

#[cfg(feature = "native-regex")]
impl Matcher for regex::Regex {
    fn is_match(&self, text: &str) -> bool {
        regex::Regex::is_match(self, text)
    }
}

#[cfg(feature = "native-regex")]
impl RegexEngine for NativeRegex {
    fn compile(&self, pattern: &str, case_insensitive: bool) -> Option<Box<dyn Matcher>> {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .build()
            .ok()
            .map(|re| Box::new(re) as Box<dyn Matcher>)
    }
}

/// Evaluates `condition` against `attributes` with the native regex engine.
///
/// `saved_groups` is an object of group id → array of values (`{}` when
/// there are none), used by `$inGroup` and `$notInGroup`.
///
/// ```
/// use dangol_engine::condition::eval_condition;
/// use dangol_engine::json;
/// let attrs = json!({"cart": {"value": 52000}, "tier": "gold"});
/// assert!(eval_condition(&attrs, &json!({"cart.value": {"$gte": 50000}}), &json!({})));
/// assert!(!eval_condition(&attrs, &json!({"tier": {"$in": ["vip"]}}), &json!({})));
/// ```
#[cfg(feature = "native-regex")]
pub fn eval_condition(attributes: &Value, condition: &Value, saved_groups: &Value) -> bool {
    eval_condition_with(attributes, condition, saved_groups, &NativeRegex)
}

/// Evaluates `condition` against `attributes`, with `regex` for regexes.
pub fn eval_condition_with(
    attributes: &Value,
    condition: &Value,
    saved_groups: &Value,
    regex: &dyn RegexEngine,
) -> bool {
    // Evaluated as a config's decisions are, so the shared expected
    // results (natively and in the browser) hold for that way too.
    let mut paths = Paths::default();
    let compiled = Condition::compile_inner(condition, regex, Some(&mut paths)).0;
    compiled.eval_resolved(&paths.resolve(attributes), attributes, saved_groups, regex)
}

/// A condition ready to evaluate.
pub struct Condition {
    root: Node,
}

/// The attribute paths of a set of conditions compiled together (a
/// config's audiences), each kept once. An evaluation round looks every
/// path up once ([`Paths::resolve`]) instead of once per test: looking
/// paths up in the attribute maps is most of what evaluating costs.
#[derive(Debug, Default, PartialEq)]
pub struct Paths {
    list: Vec<Vec<String>>,
}

impl Paths {
    fn slot(&mut self, path: &[String]) -> u32 {
        let at = self.list.iter().position(|p| p == path).unwrap_or_else(|| {
            self.list.push(path.to_vec());
            self.list.len() - 1
        });
        at as u32
    }

    /// Every path's value in `attributes` (`null` where missing).
    pub fn resolve<'v>(&self, attributes: &'v Value) -> Resolved<'v> {
        Resolved {
            values: self.list.iter().map(|p| get_path(attributes, p)).collect(),
        }
    }
}

/// The values of a [`Paths`] in one set of attributes.
pub struct Resolved<'v> {
    values: Vec<&'v Value>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Condition")
    }
}

/// Where a condition is malformed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// Dotted path inside the condition, e.g. `$or[1].cart.value.$in`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Not(Box<Node>),
    /// `slot` indexes the [`Paths`] the condition was compiled with; only
    /// paths read from the attributes themselves have one (not those read
    /// from the elements of an `$elemMatch`).
    Field {
        path: Vec<String>,
        slot: Option<u32>,
        test: Test,
    },
    Never,
}

enum Test {
    Equals(Value),
    Ops(Vec<Op>),
}

enum Op {
    Eq(Value),
    Ne(Value),
    Cmp(Ordering, bool, Value),
    Version(&'static str, String),
    In(Vec<Value>, bool),
    Nin(Vec<Value>, bool),
    All(Vec<Test>),
    AllFold(Vec<Value>),
    ElemValue(Box<Test>),
    ElemCond(Box<Node>),
    Size(Box<Test>),
    Exists(bool),
    Type(String),
    /// A pattern that is plain text (see [`Literal`]).
    Literal(Literal),
    /// The pattern, whether it folds case, and the engine's compiled form
    /// (`None`: invalid or refused, never matches).
    Regex(String, bool, Option<Box<dyn Matcher>>),
    Not(Box<Test>),
    InGroup(String, bool),
    Never,
}

/// The version operators, in their compact-form order.
const VERSION_OPS: [&str; 6] = ["$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"];

struct Compiler<'a> {
    regex: &'a dyn RegexEngine,
    first_error: Option<ConditionError>,
    paths: Option<&'a mut Paths>,
    /// Inside an `$elemMatch`, paths are read from an element.
    in_element: bool,
    /// An operator the engine does not know was met: the whole condition
    /// fails (under `$not` or `$nor` too), never passes by negation.
    unknown_operator: bool,
}

impl Compiler<'_> {
    fn fail(&mut self, path: &str, message: String) {
        if self.first_error.is_none() {
            self.first_error = Some(ConditionError {
                path: path.to_string(),
                message,
            });
        }
    }

    fn object(&mut self, map: &Map, prefix: &str) -> Node {
        let mut parts: Vec<Node> = map
            .iter()
            .map(|(key, value)| {
                let path = join(prefix, key);
                match key.as_str() {
                    "$and" | "$or" | "$nor" => {
                        let list = self.list(value, &path, key);
                        match key.as_str() {
                            "$and" => Node::And(list),
                            "$or" => Node::Or(list),
                            _ => Node::Nor(list),
                        }
                    }
                    "$not" => match value {
                        Value::Object(inner) => Node::Not(Box::new(self.object(inner, &path))),
                        _ => {
                            self.fail(&path, "`$not` needs a condition object".into());
                            Node::Never
                        }
                    },
                    "" => {
                        self.fail(&path, "an attribute path may not be empty".into());
                        Node::Never
                    }
                    field => {
                        let field: Vec<String> =
                            crate::cat::split(field, b'.').map(str::to_string).collect();
                        let slot = match (&mut self.paths, self.in_element) {
                            (Some(paths), false) => Some(paths.slot(&field)),
                            _ => None,
                        };
                        Node::Field {
                            path: field,
                            slot,
                            test: self.test(value, &path),
                        }
                    }
                }
            })
            .collect();
        if parts.len() == 1 {
            parts.pop().unwrap_or(Node::And(Vec::new()))
        } else {
            Node::And(parts)
        }
    }

    fn list(&mut self, value: &Value, path: &str, key: &str) -> Vec<Node> {
        let Value::Array(items) = value else {
            self.fail(path, format!("`{key}` needs an array of conditions"));
            return vec![Node::Never];
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(inner) => self.object(inner, &format!("{path}[{i}]")),
                _ => {
                    self.fail(&format!("{path}[{i}]"), "must be a condition object".into());
                    Node::Never
                }
            })
            .collect()
    }

    fn test(&mut self, expected: &Value, path: &str) -> Test {
        match expected {
            Value::Object(ops) if is_operator_object(ops) => Test::Ops(
                ops.iter()
                    .map(|(op, arg)| self.op(op, arg, &join(path, op)))
                    .collect(),
            ),
            other => Test::Equals(other.clone()),
        }
    }

    fn array<'v>(&mut self, arg: &'v Value, path: &str, op: &str) -> Option<&'v Vec<Value>> {
        match arg {
            Value::Array(items) => Some(items),
            other => {
                self.fail(
                    path,
                    format!("`{op}` needs an array, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn op(&mut self, op: &str, arg: &Value, path: &str) -> Op {
        match op {
            "$eq" => Op::Eq(arg.clone()),
            "$ne" => Op::Ne(arg.clone()),
            "$lt" => Op::Cmp(Ordering::Less, false, arg.clone()),
            "$lte" => Op::Cmp(Ordering::Less, true, arg.clone()),
            "$gt" => Op::Cmp(Ordering::Greater, false, arg.clone()),
            "$gte" => Op::Cmp(Ordering::Greater, true, arg.clone()),
            "$veq" | "$vne" | "$vgt" | "$vgte" | "$vlt" | "$vlte" => {
                let at = VERSION_OPS.iter().position(|v| *v == op).unwrap_or(0);
                Op::Version(VERSION_OPS[at], padded_version(arg))
            }
            "$in" | "$nin" | "$ini" | "$nini" => {
                let Some(items) = self.array(arg, path, op) else {
                    return Op::Never;
                };
                let fold = op.ends_with('i');
                let items = if fold {
                    items.iter().map(|v| self.fold(v)).collect()
                } else {
                    items.clone()
                };
                if op.starts_with("$n") {
                    Op::Nin(items, fold)
                } else {
                    Op::In(items, fold)
                }
            }
            "$all" => match self.array(arg, path, op) {
                Some(items) => Op::All(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, w)| self.test(w, &format!("{path}[{i}]")))
                        .collect(),
                ),
                None => Op::Never,
            },
            "$alli" => match self.array(arg, path, op) {
                Some(items) => Op::AllFold(items.iter().map(|v| self.fold(v)).collect()),
                None => Op::Never,
            },
            "$elemMatch" => match arg {
                Value::Object(cond) => {
                    // Logical operators inside `$elemMatch` combine conditions
                    // on each element; other operators test the element itself.
                    let logical = cond
                        .keys()
                        .any(|k| matches!(k.as_str(), "$and" | "$or" | "$nor"));
                    if is_operator_object(cond) && !logical {
                        Op::ElemValue(Box::new(self.test(arg, path)))
                    } else {
                        let outer = std::mem::replace(&mut self.in_element, true);
                        let node = self.object(cond, path);
                        self.in_element = outer;
                        Op::ElemCond(Box::new(node))
                    }
                }
                other => {
                    self.fail(
                        path,
                        format!("`$elemMatch` needs an object, found {}", type_name(other)),
                    );
                    Op::Never
                }
            },
            "$size" => match arg {
                Value::Number(_) | Value::Object(_) => Op::Size(Box::new(self.test(arg, path))),
                other => {
                    self.fail(
                        path,
                        format!(
                            "`$size` needs a number or a condition, found {}",
                            type_name(other)
                        ),
                    );
                    Op::Never
                }
            },
            "$exists" => match arg {
                Value::Bool(b) => Op::Exists(*b),
                other => {
                    self.fail(
                        path,
                        format!("`$exists` needs true or false, found {}", type_name(other)),
                    );
                    Op::Never
                }
            },
            "$type" => match arg {
                Value::String(t) => Op::Type(t.clone()),
                other => {
                    self.fail(
                        path,
                        format!("`$type` needs a type name, found {}", type_name(other)),
                    );
                    Op::Never
                }
            },
            "$regex" | "$regexi" => match arg {
                Value::String(pattern) => {
                    if op == "$regex"
                        && let Some(literal) = Literal::parse(pattern)
                    {
                        return Op::Literal(literal);
                    }
                    // Patterns that can backtrack catastrophically never
                    // run: the shopper's tab must not hang on a crafted text.
                    if let Some(why) = crate::pattern::risk(pattern, op == "$regexi") {
                        self.fail(path, why);
                        return Op::Never;
                    }
                    let compiled = self.regex.compile(pattern, op == "$regexi");
                    if compiled.is_none() {
                        self.fail(
                            path,
                            format!("`{pattern}` is not a valid regular expression"),
                        );
                    }
                    Op::Regex(pattern.clone(), op == "$regexi", compiled)
                }
                other => {
                    self.fail(
                        path,
                        format!("`{op}` needs a pattern string, found {}", type_name(other)),
                    );
                    Op::Never
                }
            },
            "$not" => Op::Not(Box::new(self.test(arg, path))),
            "$inGroup" | "$notInGroup" => match arg {
                Value::String(id) => Op::InGroup(id.clone(), op == "$inGroup"),
                other => {
                    self.fail(
                        path,
                        format!("`{op}` needs a group id, found {}", type_name(other)),
                    );
                    Op::Never
                }
            },
            unknown => {
                self.fail(path, format!("`{unknown}` is not a known operator"));
                self.unknown_operator = true;
                Op::Never
            }
        }
    }

    fn fold(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.regex.lowercase(s)),
            other => other.clone(),
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Condition {
    /// Compiles a condition strictly: anything malformed (a logical operator
    /// without an array, an unknown operator, an invalid regex...) is an
    /// error naming its path.
    pub fn compile(condition: &Value, regex: &dyn RegexEngine) -> Result<Self, ConditionError> {
        Self::strict(Self::compile_inner(condition, regex, None))
    }

    /// [`Condition::compile`], keeping its attribute paths in `paths`,
    /// shared with the other conditions compiled with it, for
    /// [`Condition::eval_resolved`].
    pub fn compile_with(
        condition: &Value,
        regex: &dyn RegexEngine,
        paths: &mut Paths,
    ) -> Result<Self, ConditionError> {
        Self::strict(Self::compile_inner(condition, regex, Some(paths)))
    }

    fn strict((compiled, error): (Self, Option<ConditionError>)) -> Result<Self, ConditionError> {
        match error {
            Some(e) => Err(e),
            None => Ok(compiled),
        }
    }

    /// Compiles with GrowthBook's forgiving semantics: malformed parts never
    /// match instead of being errors.
    pub fn compile_lenient(condition: &Value, regex: &dyn RegexEngine) -> Self {
        Self::compile_inner(condition, regex, None).0
    }

    fn compile_inner<'a>(
        condition: &Value,
        regex: &'a dyn RegexEngine,
        paths: Option<&'a mut Paths>,
    ) -> (Self, Option<ConditionError>) {
        let mut compiler = Compiler {
            regex,
            first_error: None,
            paths,
            in_element: false,
            unknown_operator: false,
        };
        let root = match condition {
            Value::Object(map) => compiler.object(map, ""),
            other => {
                compiler.fail(
                    "",
                    format!(
                        "a condition must be a JSON object, found {}",
                        type_name(other)
                    ),
                );
                Node::Never
            }
        };
        if compiler.unknown_operator {
            return (Self { root: Node::Never }, compiler.first_error);
        }
        (Self { root }, compiler.first_error)
    }

    /// Does the condition hold for `attributes`?
    pub fn eval(&self, attributes: &Value, saved_groups: &Value, regex: &dyn RegexEngine) -> bool {
        Eval {
            groups: saved_groups,
            text: regex,
            resolved: None,
        }
        .node(&self.root, attributes)
    }

    /// [`Condition::eval`] with the paths already looked up: `resolved`
    /// comes from the [`Paths`] this condition was compiled with, resolved
    /// in `attributes`.
    pub fn eval_resolved(
        &self,
        resolved: &Resolved<'_>,
        attributes: &Value,
        saved_groups: &Value,
        regex: &dyn RegexEngine,
    ) -> bool {
        Eval {
            groups: saved_groups,
            text: regex,
            resolved: Some(resolved),
        }
        .node(&self.root, attributes)
    }

    /// Every attribute path the condition reads (e.g. `["cart", "value"]`).
    pub fn paths(&self) -> Vec<&[String]> {
        let mut out = Vec::new();
        collect_paths(&self.root, &mut out);
        out
    }
}

fn collect_paths<'a>(node: &'a Node, out: &mut Vec<&'a [String]>) {
    match node {
        Node::And(list) | Node::Or(list) | Node::Nor(list) => {
            list.iter().for_each(|n| collect_paths(n, out));
        }
        Node::Not(inner) => collect_paths(inner, out),
        Node::Field { path, .. } => out.push(path),
        Node::Never => {}
    }
}

struct Eval<'a> {
    groups: &'a Value,
    text: &'a dyn RegexEngine,
    resolved: Option<&'a Resolved<'a>>,
}

impl Eval<'_> {
    fn node(&self, node: &Node, attrs: &Value) -> bool {
        match node {
            Node::And(list) => list.iter().all(|n| self.node(n, attrs)),
            Node::Or(list) => list.is_empty() || list.iter().any(|n| self.node(n, attrs)),
            Node::Nor(list) => !(list.is_empty() || list.iter().any(|n| self.node(n, attrs))),
            Node::Not(inner) => !self.node(inner, attrs),
            Node::Field { path, slot, test } => {
                let known = slot
                    .zip(self.resolved)
                    .and_then(|(slot, resolved)| resolved.values.get(slot as usize).copied());
                self.test(test, known.unwrap_or_else(|| get_path(attrs, path)))
            }
            Node::Never => false,
        }
    }

    fn test(&self, test: &Test, actual: &Value) -> bool {
        match test {
            Test::Equals(expected) => json_eq(actual, expected),
            Test::Ops(ops) => ops.iter().all(|op| self.op(op, actual)),
        }
    }

    fn op(&self, op: &Op, actual: &Value) -> bool {
        match op {
            Op::Eq(v) => json_eq(actual, v),
            Op::Ne(v) => !json_eq(actual, v),
            Op::Cmp(want, or_equal, v) => match compare(actual, v) {
                Some(Ordering::Equal) => *or_equal,
                Some(ord) => ord == *want,
                None => false,
            },
            // A value that is not a string is not a version: only `$vne`
            // holds for it.
            Op::Version(op, _) if !actual.is_string() => *op == "$vne",
            Op::Version(op, padded) => {
                let ord = padded_version(actual).cmp(padded);
                match *op {
                    "$veq" => ord == Ordering::Equal,
                    "$vne" => ord != Ordering::Equal,
                    "$vgt" => ord == Ordering::Greater,
                    "$vgte" => ord != Ordering::Less,
                    "$vlt" => ord == Ordering::Less,
                    _ => ord != Ordering::Greater,
                }
            }
            Op::In(list, fold) => self.is_in(actual, list, *fold),
            Op::Nin(list, fold) => !self.is_in(actual, list, *fold),
            Op::All(tests) => match actual {
                Value::Array(have) => tests.iter().all(|t| have.iter().any(|h| self.test(t, h))),
                _ => false,
            },
            Op::AllFold(want) => match actual {
                Value::Array(have) => want
                    .iter()
                    .all(|w| have.iter().any(|h| json_eq(&self.fold(h), w))),
                _ => false,
            },
            Op::ElemValue(test) => match actual {
                Value::Array(items) => items.iter().any(|item| self.test(test, item)),
                _ => false,
            },
            Op::ElemCond(node) => match actual {
                Value::Array(items) => items.iter().any(|item| self.node(node, item)),
                _ => false,
            },
            Op::Size(test) => match actual {
                Value::Array(items) => self.test(test, &Value::from(items.len())),
                _ => false,
            },
            Op::Exists(want) => actual.is_null() != *want,
            Op::Type(name) => type_name(actual) == name,
            Op::Literal(literal) => match actual {
                Value::String(text) => literal.is_match(crate::pattern::head(text)),
                _ => false,
            },
            Op::Regex(_, _, matcher) => match (actual, matcher) {
                (Value::String(text), Some(m)) => m.is_match(crate::pattern::head(text)),
                _ => false,
            },
            Op::Not(test) => !self.test(test, actual),
            Op::InGroup(id, want) => {
                let members = self.groups.get(id.as_str());
                let inside = members.is_some_and(|list| match list {
                    Value::Array(list) => is_in_list(actual, list, json_eq),
                    _ => false,
                });
                inside == *want
            }
            Op::Never => false,
        }
    }

    fn fold(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text.lowercase(s)),
            other => other.clone(),
        }
    }

    fn is_in(&self, actual: &Value, list: &[Value], fold: bool) -> bool {
        if fold {
            is_in_list(actual, list, |a, b| json_eq(&self.fold(a), b))
        } else {
            is_in_list(actual, list, json_eq)
        }
    }
}

/// `$in`: membership, or intersection when the attribute is an array.
fn is_in_list(actual: &Value, list: &[Value], eq: impl Fn(&Value, &Value) -> bool) -> bool {
    match actual {
        Value::Array(items) => items.iter().any(|i| list.iter().any(|l| eq(i, l))),
        _ => list.iter().any(|l| eq(actual, l)),
    }
}

/// One step down a path: an object's key, or an array's element by its
/// position.
pub(crate) fn step<'v>(current: &'v Value, part: &str) -> Option<&'v Value> {
    match current {
        Value::Object(map) => map.get(part),
        Value::Array(items) => {
            crate::cat::digits(part).and_then(|i| items.get(usize::try_from(i).ok()?))
        }
        _ => None,
    }
}

/// Looks up a split path (a number reaches an array's element); anything
/// missing is `null`.
fn get_path<'v>(attrs: &'v Value, path: &[String]) -> &'v Value {
    const NULL: Value = Value::Null;
    let mut current = attrs;
    for part in path {
        match step(current, part) {
            Some(next) => current = next,
            None => return &NULL,
        }
    }
    current
}

fn is_operator_object(map: &Map) -> bool {
    !map.is_empty() && map.keys().all(|k| k.starts_with('$'))
}

/// The JavaScript/JSON type name used by `$type`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Deep, strictly typed equality; numbers compare by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Orders two values of the same kind (numbers or strings); anything else
/// has no order.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Makes version strings comparable as plain strings: strips a leading `v`
/// and build metadata, marks releases as later than their pre-releases
/// (`~` sorts after letters) and left-pads numeric parts to five places.
fn padded_version(value: &Value) -> String {
    let raw = match value {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => number_text(n),
        _ => "0".into(),
    };
    let trimmed = raw.strip_prefix('v').unwrap_or(&raw);
    let trimmed = &trimmed[..until(trimmed, |b| b == b'+')];
    let mut out = String::with_capacity(trimmed.len() + 24);
    let mut parts = 0;
    let mut rest = trimmed;
    loop {
        // The parts between `-` and `.`, walked by hand (no splitter kept
        // in the widget for this one use).
        let end = until(rest, |b| b == b'-' || b == b'.');
        let part = &rest[..end];
        if parts > 0 {
            out.push('-');
        }
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            for _ in part.len()..5 {
                out.push(' ');
            }
        }
        out.push_str(part);
        parts += 1;
        if end == rest.len() {
            break;
        }
        rest = &rest[end + 1..];
    }
    if parts == 3 {
        out.push_str("-~");
    }
    out
}

/// The length of `text` up to the first byte `stop` accepts (all of it
/// without one). `stop` only accepts ASCII, so the length is a char boundary.
fn until(text: &str, stop: impl Fn(u8) -> bool) -> usize {
    text.bytes().position(stop).unwrap_or(text.len())
}

/// A case-sensitive `$regex` pattern with no operator in it but anchors:
/// text, perhaps after `^` and before a final `$`, with punctuation escaped
/// by a backslash (`^/demo/product/3`, `\.html$`, `gift`). JavaScript's
/// `RegExp` and the `regex` crate both read such a pattern as "this text,
/// at the start / end / anywhere", so it is matched as text: no call into
/// a regex engine, which in the browser means no trip into JavaScript.
#[derive(Debug, Clone, PartialEq)]
struct Literal {
    text: String,
    start: bool,
    end: bool,
}

/// Characters with a meaning in a pattern, outside a class.
const PATTERN_SYNTAX: &str = "\\^$.|?*+()[]{}";

impl Literal {
    /// The pattern as text, or `None` when any part of it is an operator.
    fn parse(pattern: &str) -> Option<Literal> {
        let (start, rest) = match pattern.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let mut literal = Literal {
            text: String::with_capacity(rest.len()),
            start,
            end: false,
        };
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) if PATTERN_SYNTAX.contains(e) || e == '/' || e == '-' => {
                        literal.text.push(e)
                    }
                    _ => return None,
                },
                '$' if chars.as_str().is_empty() => literal.end = true,
                c if PATTERN_SYNTAX.contains(c) => return None,
                c => literal.text.push(c),
            }
        }
        Some(literal)
    }
}

impl Matcher for Literal {
    fn is_match(&self, text: &str) -> bool {
        match (self.start, self.end) {
            (true, true) => text == self.text,
            (true, false) => text.starts_with(&self.text),
            (false, true) => text.ends_with(&self.text),
            (false, false) => crate::cat::find(text, &self.text).is_some(),
        }
    }
}

/// A number as JavaScript would print it for the usual version-like values
/// (`1` → "1", `1.25` → "1.25"), without pulling float formatting into the
/// wasm: up to six decimals, trailing zeros trimmed.
fn number_text(n: &crate::json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return crate::cat::int(i);
    }
    if let Some(u) = n.as_u64() {
        return crate::cat::uint(u);
    }
    let f = n.as_f64().unwrap_or(0.0);
    let sign = if f < 0.0 { "-" } else { "" };
    let scaled = (f.abs() * 1e6).round() as u64;
    let (whole, frac) = (scaled / 1_000_000, scaled % 1_000_000);
    let whole = crate::cat::uint(whole);
    if frac == 0 {
        return crate::cat::cat(&[sign, &whole]);
    }
    let digits = crate::cat::int_padded(frac, 6);
    crate::cat::cat(&[sign, &whole, ".", crate::cat::trim_end(&digits, b'0')])
}

// The compact form (see `crate::wire`): the server writes compiled
// conditions once; the widget reads them without a condition compiler.
// Regexes are compiled by the reader's engine as they are read.

impl Paths {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.list(&self.list, |w, path| w.list(path, |w, part| w.s(part)));
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Self {
        Paths {
            list: r.list(|r| r.list(Reader::s)),
        }
    }
}

impl Condition {
    /// Writes the compiled condition in the compact form.
    pub(crate) fn write(&self, w: &mut Writer) {
        write_node(w, &self.root);
    }

    /// Reads a condition [written](Condition::write) by the server (check
    /// [`Reader::failed`] after).
    pub(crate) fn read(r: &mut Reader<'_>, regex: &dyn RegexEngine) -> Self {
        Condition {
            root: read_node(r, regex),
        }
    }
}

fn write_node(w: &mut Writer, node: &Node) {
    match node {
        Node::And(list) | Node::Or(list) | Node::Nor(list) => {
            w.u(match node {
                Node::And(_) => 0,
                Node::Or(_) => 1,
                _ => 2,
            });
            w.list(list, write_node);
        }
        Node::Not(inner) => {
            w.u(3);
            write_node(w, inner);
        }
        Node::Field { path, slot, test } => {
            w.u(4);
            w.list(path, |w, p| w.s(p));
            w.opt(slot.as_ref(), |w, s| w.u(u64::from(*s)));
            write_test(w, test);
        }
        Node::Never => w.u(5),
    }
}

fn read_node(r: &mut Reader<'_>, regex: &dyn RegexEngine) -> Node {
    let node = if r.enter() {
        match r.u() {
            kind @ 0..=2 => {
                let list = r.list(|r| read_node(r, regex));
                match kind {
                    0 => Node::And(list),
                    1 => Node::Or(list),
                    _ => Node::Nor(list),
                }
            }
            3 => Node::Not(Box::new(read_node(r, regex))),
            4 => Node::Field {
                path: r.list(Reader::s),
                slot: r.opt(Reader::u32),
                test: read_test(r, regex),
            },
            5 => Node::Never,
            _ => {
                r.fail();
                Node::Never
            }
        }
    } else {
        Node::Never
    };
    r.leave();
    node
}

fn write_test(w: &mut Writer, test: &Test) {
    match test {
        Test::Equals(v) => {
            w.u(0);
            w.value(v);
        }
        Test::Ops(ops) => {
            w.u(1);
            w.list(ops, write_op);
        }
    }
}

fn read_test(r: &mut Reader<'_>, regex: &dyn RegexEngine) -> Test {
    let test = if r.enter() {
        match r.u() {
            0 => Test::Equals(r.value()),
            1 => Test::Ops(r.list(|r| read_op(r, regex))),
            _ => {
                r.fail();
                Test::Ops(Vec::new())
            }
        }
    } else {
        Test::Ops(Vec::new())
    };
    r.leave();
    test
}

fn write_op(w: &mut Writer, op: &Op) {
    match op {
        Op::Eq(v) | Op::Ne(v) => {
            w.u(u64::from(matches!(op, Op::Ne(_))));
            w.value(v);
        }
        Op::Cmp(ord, or_equal, v) => {
            w.u(2);
            w.b(*ord == Ordering::Greater);
            w.b(*or_equal);
            w.value(v);
        }
        Op::Version(name, padded) => {
            w.u(3);
            w.u(VERSION_OPS.iter().position(|v| v == name).unwrap_or(0) as u64);
            w.s(padded);
        }
        Op::In(list, fold) | Op::Nin(list, fold) => {
            w.u(if matches!(op, Op::In(..)) { 4 } else { 5 });
            w.list(list, Writer::value);
            w.b(*fold);
        }
        Op::All(tests) => {
            w.u(6);
            w.list(tests, write_test);
        }
        Op::AllFold(list) => {
            w.u(7);
            w.list(list, Writer::value);
        }
        Op::ElemValue(test) | Op::Size(test) | Op::Not(test) => {
            w.u(match op {
                Op::ElemValue(_) => 8,
                Op::Size(_) => 10,
                _ => 15,
            });
            write_test(w, test);
        }
        Op::ElemCond(node) => {
            w.u(9);
            write_node(w, node);
        }
        Op::Exists(want) => {
            w.u(11);
            w.b(*want);
        }
        Op::Type(name) => {
            w.u(12);
            w.s(name);
        }
        Op::Literal(l) => {
            w.u(13);
            w.s(&l.text);
            w.b(l.start);
            w.b(l.end);
        }
        // An invalid pattern never matches, as `Never` does.
        Op::Regex(_, _, None) | Op::Never => w.u(17),
        Op::Regex(pattern, fold, Some(_)) => {
            w.u(14);
            w.s(pattern);
            w.b(*fold);
        }
        Op::InGroup(id, want) => {
            w.u(16);
            w.s(id);
            w.b(*want);
        }
    }
}

fn read_op(r: &mut Reader<'_>, regex: &dyn RegexEngine) -> Op {
    if !r.enter() {
        r.leave();
        return Op::Never;
    }
    let op = match r.u() {
        0 => Op::Eq(r.value()),
        1 => Op::Ne(r.value()),
        2 => {
            let ord = if r.b() {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            Op::Cmp(ord, r.b(), r.value())
        }
        3 => match VERSION_OPS.get(r.u() as usize) {
            Some(name) => Op::Version(name, r.s()),
            None => {
                r.fail();
                Op::Never
            }
        },
        kind @ (4 | 5) => {
            let list = r.list(Reader::value);
            let fold = r.b();
            if kind == 4 {
                Op::In(list, fold)
            } else {
                Op::Nin(list, fold)
            }
        }
        6 => Op::All(r.list(|r| read_test(r, regex))),
        7 => Op::AllFold(r.list(Reader::value)),
        8 => Op::ElemValue(Box::new(read_test(r, regex))),
        9 => Op::ElemCond(Box::new(read_node(r, regex))),
        10 => Op::Size(Box::new(read_test(r, regex))),
        11 => Op::Exists(r.b()),
        12 => Op::Type(r.s()),
        13 => Op::Literal(Literal {
            text: r.s(),
            start: r.b(),
            end: r.b(),
        }),
        14 => {
            let pattern = r.s();
            let fold = r.b();
            let compiled = regex.compile(&pattern, fold);
            Op::Regex(pattern, fold, compiled)
        }
        15 => Op::Not(Box::new(read_test(r, regex))),
        16 => Op::InGroup(r.s(), r.b()),
        17 => Op::Never,
        _ => {
            r.fail();
            Op::Never
        }
    };
    r.leave();
    op
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn strict(cond: Value) -> Result<Condition, ConditionError> {
        Condition::compile(&cond, &NativeRegex)
    }

    #[test]
    fn strict_compilation_names_the_path_of_a_malformed_condition() {
        assert!(strict(json!({"a": 1, "$or": [{"b": 2}]})).is_ok());
        let err = strict(json!({"$or": [{"b": 2}, 3]})).unwrap_err();
        assert_eq!(err.path, "$or[1]");
        assert!(err.message.contains("condition object"));
        assert_eq!(strict(json!({"$and": {"a": 1}})).unwrap_err().path, "$and");
        let err = strict(json!({"cart.value": {"$gte": 1, "$bogus": 2}})).unwrap_err();
        assert_eq!(
            (err.path.as_str(), err.message.as_str()),
            ("cart.value.$bogus", "`$bogus` is not a known operator")
        );
        let err = strict(json!({"page.path": {"$regex": "(unclosed"}})).unwrap_err();
        assert_eq!(err.path, "page.path.$regex");
        assert_eq!(
            strict(json!({"tags": {"$in": "x"}})).unwrap_err().message,
            "`$in` needs an array, found string"
        );
        assert!(strict(json!([1])).is_err());
    }

    #[test]
    fn lenient_compilation_turns_malformed_parts_into_never() {
        let cond = Condition::compile_lenient(&json!({"a": {"$bogus": 1}}), &NativeRegex);
        assert!(!cond.eval(&json!({"a": 1}), &json!({}), &NativeRegex));
    }

    fn holds(cond: Value, attrs: Value) -> bool {
        Condition::compile_lenient(&cond, &NativeRegex).eval(&attrs, &json!({}), &NativeRegex)
    }

    #[test]
    fn an_unknown_operator_fails_its_condition_also_under_not_and_nor() {
        for cond in [
            json!({"a": {"$bogus": 1}}),
            json!({"a": {"$not": {"$bogus": 1}}}),
            json!({"$not": {"a": {"$bogus": 1}}}),
            json!({"$nor": [{"a": {"$bogus": 1}}]}),
            json!({"$or": [{"a": 1}, {"a": {"$not": {"$bogus": 1}}}]}),
        ] {
            assert!(!holds(cond.clone(), json!({"a": 1})), "{cond}");
            assert!(!holds(cond.clone(), json!({})), "{cond}");
        }
    }

    #[test]
    fn a_value_that_is_not_a_string_is_not_a_version() {
        for actual in [
            json!(2),
            json!(true),
            json!(null),
            json!([2]),
            json!({"v": "2"}),
        ] {
            for op in ["$veq", "$vgt", "$vgte", "$vlt", "$vlte"] {
                let cond = json!({"app_version": {op: "2"}});
                assert!(
                    !holds(cond, json!({"app_version": actual})),
                    "{op} {actual}"
                );
            }
            assert!(holds(
                json!({"app_version": {"$vne": "2"}}),
                json!({"app_version": actual})
            ));
        }
        // Missing: not a version either.
        assert!(!holds(json!({"app_version": {"$vlt": "2"}}), json!({})));
        assert!(holds(json!({"app_version": {"$vne": "2"}}), json!({})));
        // Strings still compare as versions.
        assert!(holds(
            json!({"app_version": {"$vlt": "2.0.1"}}),
            json!({"app_version": "2.0.0"})
        ));
        assert!(holds(
            json!({"app_version": {"$veq": "2"}}),
            json!({"app_version": "v2"})
        ));
    }

    #[test]
    fn a_path_through_an_array_index_reaches_the_element() {
        let attrs = json!({"items": [{"id": "knit-01"}, {"id": "scarf-02"}]});
        assert!(holds(json!({"items.0.id": "knit-01"}), attrs.clone()));
        assert!(holds(json!({"items.1.id": "scarf-02"}), attrs.clone()));
        assert!(!holds(
            json!({"items.2.id": {"$exists": true}}),
            attrs.clone()
        ));
        assert!(!holds(json!({"items.x.id": {"$exists": true}}), attrs));
    }

    #[test]
    fn paths_lists_every_attribute_read() {
        let cond = strict(json!({"page.path": "/", "$or": [{"visits": {"$gt": 2}}, {"$not": {"declared.tier": "vip"}}]})).unwrap();
        let mut paths: Vec<String> = cond.paths().iter().map(|p| p.join(".")).collect();
        paths.sort();
        assert_eq!(paths, ["declared.tier", "page.path", "visits"]);
    }

    #[test]
    fn plain_text_patterns_match_as_the_regex_engine_would() {
        let patterns = [
            "^/demo/product/3",
            "^/demo/product/3$",
            "knit",
            "\\.html$",
            "^$",
            "",
            "^\\/sale\\-2024",
            "a\\$b",
            "\\(1\\)",
            "한글",
            "글날",
            "bc",
            "^/cart$",
            "c$",
        ];
        let texts = [
            "",
            "/demo/product/3",
            "/demo/product/31",
            "/x/demo/product/3",
            "knit",
            "warm knitwear",
            "index.html",
            "index_html",
            "/sale-2024/x",
            "a$b",
            "(1)",
            "한글날",
            "/cart",
            "/cart/",
            "abc",
            "Knit",
        ];
        for pattern in patterns {
            let literal = Literal::parse(pattern)
                .unwrap_or_else(|| panic!("`{pattern}` should read as text"));
            let regex = regex::Regex::new(pattern).unwrap();
            for text in texts {
                assert_eq!(
                    literal.is_match(text),
                    regex.is_match(text),
                    "`{pattern}` on `{text}`"
                );
            }
        }
        for pattern in [
            "a.b", "^a|b", "colou?r", "x+", "(a)", "[ab]", "a{2}", "\\d", "a$b", "\\w+$", "^^a",
        ] {
            assert_eq!(Literal::parse(pattern), None, "`{pattern}` has an operator");
        }
    }

    #[test]
    fn text_patterns_skip_the_regex_engine_and_others_use_it() {
        let cond = |pattern: &str| json!({"page.path": {"$regex": pattern}});
        let page = json!({"page": {"path": "/demo/product/3"}});
        // NoRegex knows no patterns, so only text patterns can match.
        let plain = Condition::compile(&cond("^/demo/product/"), &NoRegex).unwrap();
        assert!(plain.eval(&page, &json!({}), &NoRegex));
        assert!(Condition::compile(&cond("^/demo/product/\\d"), &NoRegex).is_err());
        let native = Condition::compile(&cond("^/demo/product/\\d$"), &NativeRegex).unwrap();
        assert!(native.eval(&page, &json!({}), &NativeRegex));
        // `$regexi` folds case by the engine's rules, never as plain text.
        let folded = json!({"page.path": {"$regexi": "^/DEMO/"}});
        assert!(Condition::compile(&folded, &NoRegex).is_err());
        // A number is never text.
        assert!(!plain.eval(&json!({"page": {"path": 3}}), &json!({}), &NoRegex));
    }

    #[test]
    fn numeric_versions_read_as_javascript_prints_them() {
        assert_eq!(
            number_text(&crate::json::Number::from_f64(-0.5).unwrap()),
            "-0.5"
        );
        assert_eq!(
            number_text(&crate::json::Number::from_f64(1.25).unwrap()),
            "1.25"
        );
        assert_eq!(number_text(&crate::json::Number::from(7)), "7");
        assert_eq!(
            padded_version(&json!("v1.2.3+build")),
            "    1-    2-    3-~"
        );
    }

    #[test]
    fn version_parts_are_padded_and_a_release_sorts_after_its_prereleases() {
        assert_eq!(
            padded_version(&json!("1.2.3-beta.1")),
            "    1-    2-    3-beta-    1"
        );
        assert_eq!(padded_version(&json!("2")), "    2");
        assert_eq!(padded_version(&json!("")), "    0");
        // Empty parts stay empty; only the three-part release gets `~`.
        assert_eq!(padded_version(&json!("1..2")), "    1--    2-~");
        assert_eq!(padded_version(&json!("1.2-")), "    1-    2--~");
        assert!(padded_version(&json!("1.2.3")) > padded_version(&json!("1.2.3-rc.1")));
        assert!(padded_version(&json!("1.10.0")) > padded_version(&json!("1.9.9")));
    }
}
