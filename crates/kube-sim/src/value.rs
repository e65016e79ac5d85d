//! Small readers of JSON object fields shared by the store, the controllers
//! and the simulated ARC controller.

use serde_json::Value;

/// The strings of a JSON array (non-strings skipped); empty when `v` is not an array.
pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    string_list(obj.pointer("/metadata/finalizers"))
}

/// `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_finalizers_and_deletion() {
        let o = json!({"metadata": {"finalizers": ["a", 1, "b"], "deletionTimestamp": null}});
        assert_eq!(finalizers(&o), ["a", "b"]);
        assert!(!is_deleting(&o));
        assert!(is_deleting(
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
        ));
        assert!(string_list(None).is_empty());
        assert!(string_list(Some(&json!("x"))).is_empty());
    }
}
