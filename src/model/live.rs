//! A live object as read from the cluster, reduced to what the teardown needs.
//!
//! Secret payloads never get this far: [`Live::new`] drops the values of
//! `data` and `stringData` of every `Secret`, so nothing downstream (events,
//! diagnosis, JSON output) can print them. Only the names of its non-empty
//! keys stay (as `data: {key: null}`), so preflight can check that
//! credentials are there ([`Live::data_keys`]).

use super::ObjectId;
use serde_json::Value;

/// One object as it is in the cluster now.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    /// Identity (kind, namespace, name; group/version as served).
    pub id: ObjectId,
    /// The object JSON, with Secret payloads removed.
    pub value: Value,
}

impl Live {
    /// Wrap an object read from the API, scrubbing Secret payloads.
    pub fn new(id: ObjectId, mut value: Value) -> Self {
        scrub_secret(&id.group, &id.kind, &mut value);
        Self { id, value }
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        self.str_at("/metadata/uid").unwrap_or_default()
    }

    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> &str {
        self.str_at("/metadata/resourceVersion").unwrap_or_default()
    }

    /// Whether `metadata.deletionTimestamp` is set.
    pub fn is_terminating(&self) -> bool {
        self.value
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
    }

    /// `metadata.deletionTimestamp` as written by the API server.
    pub fn deletion_timestamp(&self) -> Option<&str> {
        self.str_at("/metadata/deletionTimestamp")
    }

    /// `metadata.finalizers`.
    pub fn finalizers(&self) -> Vec<String> {
        super::finalizers(&self.value)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// An annotation value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        super::annotation(&self.value, key)
    }

    /// A label value.
    pub fn label(&self, key: &str) -> Option<&str> {
        super::label(&self.value, key)
    }

    /// A string field by JSON pointer.
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.value.pointer(pointer).and_then(Value::as_str)
    }

    /// Names of the non-empty keys of `data` (and, before scrubbing,
    /// `stringData`), sorted: what a Secret's payload leaves, or a ConfigMap's keys.
    pub fn data_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = ["data", "stringData", "binaryData"]
            .iter()
            .filter_map(|field| self.value.get(field).and_then(Value::as_object))
            .flat_map(|map| {
                map.iter()
                    .filter(|(_, v)| v.is_null() || v.as_str().is_some_and(|s| !s.is_empty()))
                    .map(|(k, _)| k.clone())
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// UIDs of this object's owners (`metadata.ownerReferences[].uid`).
    pub fn owner_uids(&self) -> Vec<&str> {
        self.value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| r.get("uid").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Remove the values of `data` and `stringData` from a Secret's JSON,
/// keeping the names of the non-empty ones as `data: {name: null}`.
pub fn scrub_secret(group: &str, kind: &str, value: &mut Value) {
    if group.is_empty()
        && kind == "Secret"
        && let Some(map) = value.as_object_mut()
    {
        let mut names = serde_json::Map::new();
        for field in ["data", "stringData"] {
            if let Some(Value::Object(entries)) = map.remove(field) {
                for (key, v) in entries {
                    if v.as_str().is_some_and(|s| !s.is_empty()) {
                        names.insert(key, Value::Null);
                    }
                }
            }
        }
        if !names.is_empty() {
            map.insert("data".to_string(), Value::Object(names));
        }
    }
}

/// Secret `name` in namespace `ns` with `uid`, for unit tests.
#[cfg(test)]
pub(crate) fn test_secret(name: &str, uid: &str) -> Live {
    Live::new(
        super::ObjectId {
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("ns".into()),
            name: name.into(),
        },
        serde_json::json!({"metadata": {"name": name, "namespace": "ns", "uid": uid}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(kind: &str) -> ObjectId {
        ObjectId {
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: "x".into(),
        }
    }

    #[test]
    fn secret_payload_is_dropped() {
        let live = Live::new(
            id("Secret"),
            json!({"metadata": {"name": "x"}, "data": {"github_token": "c2VjcmV0"}, "stringData": {"a": "b"}}),
        );
        assert_eq!(
            live.value,
            json!({"metadata": {"name": "x"}, "data": {"github_token": null, "a": null}})
        );
        assert_eq!(live.data_keys(), vec!["a", "github_token"]);
        let empty = Live::new(id("Secret"), json!({"data": {"github_token": ""}}));
        assert!(
            empty.data_keys().is_empty(),
            "an empty value counts as missing"
        );
        assert_eq!(empty.value, json!({}));
        let cm = Live::new(
            id("ConfigMap"),
            json!({"metadata": {"name": "x"}, "data": {"k": "v"}}),
        );
        assert_eq!(cm.value["data"]["k"], "v");
        assert_eq!(cm.data_keys(), vec!["k"]);
    }

    #[test]
    fn reads_metadata() {
        let live = Live::new(
            id("Role"),
            json!({"metadata": {"name": "x", "uid": "u1", "resourceVersion": "7",
                "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a/b", "c/d"],
                "ownerReferences": [{"uid": "o1"}]}}),
        );
        assert_eq!(live.uid(), "u1");
        assert_eq!(live.resource_version(), "7");
        assert!(live.is_terminating());
        assert_eq!(live.finalizers(), vec!["a/b", "c/d"]);
        assert_eq!(live.owner_uids(), vec!["o1"]);
    }
}
