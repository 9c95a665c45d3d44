//! Binding a SQL file's `{{parameters}}`: values become SQL literals here, in one place,
//! so a stage never formats a string, a list or a float into SQL by hand.

use crate::error::{Error, Result};

/// Replaces each `{{name}}` with its value; every placeholder must be bound.
pub fn render(stage: &str, template: &str, params: &[(&str, String)]) -> Result<String> {
    let mut sql = template.to_string();
    for (name, value) in params {
        sql = sql.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(at) = sql.find("{{") {
        let rest = &sql[at..];
        let end = rest.find("}}").map_or(rest.len(), |e| e + 2);
        return Err(Error::Internal(format!(
            "stage {stage}: parameter {} is not bound",
            &rest[..end]
        )));
    }
    Ok(sql)
}

/// A SQL string literal: 'it''s'.
pub fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A comma-separated list of string literals, for `IN (...)`. An empty list becomes one
/// NULL, which matches nothing (SQL does not allow `IN ()`).
pub fn sql_string_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let list: Vec<String> = items.into_iter().map(|s| sql_string(s.as_ref())).collect();
    if list.is_empty() {
        "NULL".to_string()
    } else {
        list.join(", ")
    }
}

/// A float literal that SQL reads back to the same f64.
pub fn sql_f64(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}
