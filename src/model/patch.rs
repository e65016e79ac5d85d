//! JSON patches of live objects, each guarded by the resourceVersion it was
//! computed from (a concurrent change fails the patch instead of being
//! overwritten). Pure.

use super::Live;
use serde_json::{Value, json};

/// JSON patch removing `names` from `live`'s finalizers, guarded by its
/// resourceVersion. `None` when none of them is present.
pub fn strip_finalizers(live: &Live, names: &[String]) -> Option<Value> {
    let finalizers = live.finalizers();
    let mut indices: Vec<usize> = finalizers
        .iter()
        .enumerate()
        .filter(|(_, f)| names.contains(f))
        .map(|(i, _)| i)
        .collect();
    if indices.is_empty() {
        return None;
    }
    indices.reverse();
    let mut ops = vec![
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": live.resource_version()}),
    ];
    ops.extend(
        indices
            .into_iter()
            .map(|i| json!({"op": "remove", "path": format!("/metadata/finalizers/{i}")})),
    );
    Some(Value::Array(ops))
}

/// JSON patch removing one annotation, guarded by the resourceVersion.
pub fn remove_annotation(live: &Live, key: &str) -> Option<Value> {
    live.annotation(key)?;
    let escaped = key.replace('~', "~0").replace('/', "~1");
    Some(json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": live.resource_version()},
        {"op": "remove", "path": format!("/metadata/annotations/{escaped}")},
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arc::{self, test_object as live};

    #[test]
    fn strip_removes_only_named_finalizers_after_a_version_test() {
        let l = live(
            "EphemeralRunner",
            "r",
            json!({"metadata": {"resourceVersion": "42", "finalizers": [
                arc::ER_FINALIZER, "example.com/keep", arc::ER_REGISTRATION_FINALIZER]}}),
        );
        let patch = strip_finalizers(
            &l,
            &[
                arc::ER_REGISTRATION_FINALIZER.into(),
                arc::ER_FINALIZER.into(),
            ],
        )
        .unwrap();
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
                {"op": "remove", "path": "/metadata/finalizers/2"},
                {"op": "remove", "path": "/metadata/finalizers/0"},
            ])
        );
        assert_eq!(strip_finalizers(&l, &["other/x".into()]), None);
    }

    #[test]
    fn annotation_keys_are_escaped() {
        let l = live(
            "AutoscalingRunnerSet",
            "s",
            json!({"metadata": {"resourceVersion": "1", "annotations": {"a/b": "1"}}}),
        );
        assert_eq!(
            remove_annotation(&l, "a/b").unwrap()[1]["path"],
            "/metadata/annotations/a~1b"
        );
        assert_eq!(remove_annotation(&l, "missing"), None);
    }
}
