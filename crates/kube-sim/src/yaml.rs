//! YAML request bodies (`application/yaml`, apply patches written as YAML).

use serde_json::Value;

/// Parse one YAML document into JSON.
pub fn parse(text: &str) -> Result<Value, String> {
    yaml_serde::from_str::<Value>(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn parses_a_block_document_and_json_and_rejects_broken_yaml() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {x: \"1\"}\ndata:\n  quoted: \"1\"\n  list:\n  - 2\n  - true\n";
        assert_eq!(
            parse(cm),
            Ok(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "a", "labels": {"x": "1"}},
                "data": {"quoted": "1", "list": [2, true]}
            }))
        );
        assert_eq!(parse(r#"{"a": [1, "b"]}"#), Ok(json!({"a": [1, "b"]})));
        assert!(parse("a: [1, 2\nb: c").is_err());
    }
}
