//! PATCH bodies: RFC 6902 JSON patch, RFC 7386 merge patch and strategic
//! merge patch (keyed lists for the well-known fields, `$patch` directives).

use serde_json::{Map, Value};

/// Why a patch could not be applied (the HTTP layer answers 422/500 with it).
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// JSON patch operation failed (including a failed `test`).
    #[error("{0}")]
    Json(String),
    /// Patch body is not the right shape.
    #[error("{0}")]
    Shape(String),
}

/// Apply an RFC 6902 JSON patch.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let p: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::Shape(format!("invalid JSON patch: {e}")))?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &p).map_err(|e| PatchError::Json(e.to_string()))?;
    Ok(out)
}

/// Apply an RFC 7386 merge patch.
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Shape(
            "merge patch must be a JSON object".into(),
        ));
    }
    let mut out = doc.clone();
    json_patch::merge(&mut out, patch);
    Ok(out)
}

/// Merge key of a list field for built-in types, or `None` for atomic lists.
/// `items` helps disambiguate `ports` (container ports vs service ports).
pub fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "webhooks"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "ownerReferences" => "uid",
        "conditions" => "type",
        "topologySpreadConstraints" => "topologyKey",
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    })
}

/// Lists of scalars merged as sets by strategic merge.
pub fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Apply a strategic merge patch to `doc`.
pub fn strategic_merge(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError::Shape(
            "strategic merge patch must be a JSON object".into(),
        ));
    };
    let base = match doc {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    Ok(merge_map(base, p)
        .map(Value::Object)
        .unwrap_or(Value::Object(Map::new())))
}

/// Merge a patch map into a map. `None` = the map itself is deleted (`$patch: delete`).
fn merge_map(
    mut base: Map<String, Value>,
    patch: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("delete") => return None,
        Some("replace") => {
            let mut m = patch.clone();
            m.remove("$patch");
            return Some(strip_directives(m));
        }
        _ => {}
    }
    let retain: Option<Vec<String>> = patch.get("$retainKeys").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    });
    for (k, pv) in patch {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(del)) = (base.get_mut(field), pv) {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        match pv {
            Value::Null => {
                base.remove(k);
            }
            Value::Object(pm) => {
                let cur = match base.remove(k) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                if let Some(m) = merge_map(cur, pm) {
                    base.insert(k.clone(), Value::Object(m));
                }
            }
            Value::Array(pa) => {
                let cur = match base.remove(k) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                base.insert(k.clone(), Value::Array(merge_list(k, cur, pa)));
            }
            other => {
                base.insert(k.clone(), other.clone());
            }
        }
    }
    if let Some(keep) = retain {
        base.retain(|k, _| keep.contains(k));
    }
    Some(base)
}

fn strip_directives(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| {
            let v = match v {
                Value::Object(inner) => Value::Object(strip_directives(inner)),
                other => other,
            };
            (k, v)
        })
        .collect()
}

fn merge_list(field: &str, mut base: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .map(|v| match v {
                Value::Object(m) => Value::Object(strip_directives(m)),
                o => o,
            })
            .collect();
    }
    if is_set_list(field) {
        // As kube-apiserver's normalizeElementOrder: the patch's items in
        // its order, then the items only the server had, in their order.
        let mut merged: Vec<Value> = Vec::with_capacity(base.len() + patch.len());
        for p in patch {
            if !merged.contains(p) {
                merged.push(p.clone());
            }
        }
        for b in base {
            if !merged.contains(&b) {
                merged.push(b);
            }
        }
        return merged;
    }
    let Some(key) = merge_key(field, patch).or_else(|| merge_key(field, &base)) else {
        return patch.to_vec();
    };
    for p in patch {
        let Some(pm) = p.as_object() else {
            continue;
        };
        let kv = pm.get(key);
        let pos = base.iter().position(|b| b.get(key) == kv && kv.is_some());
        let delete = pm.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                base.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                let cur = match base[i].take() {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                match merge_map(cur, pm) {
                    Some(m) => base[i] = Value::Object(m),
                    None => {
                        base.remove(i);
                    }
                }
            }
            (None, false) => {
                if let Some(m) = merge_map(Map::new(), pm) {
                    base.push(Value::Object(m));
                }
            }
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_test_op_guards_the_change() {
        let doc = json!({"metadata":{"finalizers":["a","b"]}});
        let ok = json_patch(
            &doc,
            &json!([{"op":"test","path":"/metadata/finalizers/0","value":"a"},{"op":"remove","path":"/metadata/finalizers/0"}]),
        )
        .unwrap();
        assert_eq!(ok, json!({"metadata":{"finalizers":["b"]}}));
        assert!(
            json_patch(
                &doc,
                &json!([{"op":"test","path":"/metadata/finalizers/0","value":"z"}])
            )
            .is_err()
        );
    }

    #[test]
    fn merge_patch_null_removes() {
        let doc = json!({"metadata":{"finalizers":["a"],"labels":{"x":"1"}}});
        let out = merge_patch(&doc, &json!({"metadata":{"finalizers":null}})).unwrap();
        assert_eq!(out, json!({"metadata":{"labels":{"x":"1"}}}));
    }

    #[test]
    fn strategic_merges_containers_by_name_and_finalizers_as_set() {
        let doc = json!({"metadata":{"finalizers":["a"]},"spec":{"containers":[{"name":"c1","image":"x"},{"name":"c2","image":"y"}]}});
        let out = strategic_merge(
            &doc,
            &json!({"metadata":{"finalizers":["b"]},"spec":{"containers":[{"name":"c2","image":"z"},{"name":"c1","$patch":"delete"}]}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"metadata":{"finalizers":["b","a"]},"spec":{"containers":[{"name":"c2","image":"z"}]}})
        );
        let out = strategic_merge(
            &out,
            &json!({"$deleteFromPrimitiveList/finalizers":["a"],"metadata":{}}),
        )
        .unwrap();
        // the directive applies at the level where it appears
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "a"]));
        let out = strategic_merge(
            &out,
            &json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}),
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn strategic_replaces_atomic_lists_and_honours_patch_replace() {
        let doc = json!({"rules":[{"verbs":["get"]}],"spec":{"template":{"a":1,"b":2}}});
        let out = strategic_merge(
            &doc,
            &json!({"rules":[{"verbs":["list"]}],"spec":{"template":{"$patch":"replace","c":3}}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"rules":[{"verbs":["list"]}],"spec":{"template":{"c":3}}})
        );
    }
}
