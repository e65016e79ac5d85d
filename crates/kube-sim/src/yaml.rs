//! YAML request bodies (`application/yaml`, apply patches written as YAML).

use serde_json::Value;

/// Parse one YAML document into JSON.
pub fn parse(text: &str) -> Result<Value, String> {
    serde_yaml::from_str::<Value>(text).map_err(|e| e.to_string())
}
