//! A small block-style YAML writer for generated documents (JSON values).
//! Strings are written JSON-quoted (a valid YAML double-quoted scalar that
//! Go's YAML 1.1 decoder reads back as the same string); keys are plain when
//! they cannot be misread, quoted otherwise.

use serde_json::Value;

/// One document as block YAML, ending in a newline.
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key_text(key));
        out.push(':');
        write_value(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // First entry on the dash line, the rest aligned below it.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&key_text(key));
                    out.push(':');
                    write_value(out, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// The value after `key:` (a nested block on the next lines, or a scalar).
fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if is_plain(s) => s.clone(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Plain when made of safe characters and not a YAML 1.1 special word.
fn key_text(key: &str) -> String {
    if is_plain(key) {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

/// Starts with a letter, holds only `[A-Za-z0-9./_-]`, and is not a word
/// YAML 1.1 reads as a bool or null.
fn is_plain(key: &str) -> bool {
    let safe = !key.is_empty()
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-'));
    let special = matches!(
        key.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    );
    safe && !special
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_nested_maps_and_sequences() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a.b/c": "x"}, "annotations": {}},
            "spec": {"containers": [{"name": "c", "args": ["delete", "--wait=true", "yes", "10m"]}], "on": true, "n": 3}
        });
        assert_eq!(
            to_yaml(&v),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    a.b/c: x\n  annotations: {}\nspec:\n  containers:\n  - name: c\n    args:\n    - delete\n    - \"--wait=true\"\n    - \"yes\"\n    - \"10m\"\n  \"on\": true\n  \"n\": 3\n"
        );
    }
}
