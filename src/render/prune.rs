//! What `render` keeps of each decoded document while it plans the stream.

use super::stamps::OWN_KEYS;
use crate::manifest::POSTRENDER_FILENAME;
use serde_json::{Map, Value};

/// Cut a decoded document down to what the manifest model and splicing read
/// once the graph's facts are extracted: `apiVersion`, `kind`,
/// `metadata.name`, `metadata.namespace` (identity), the CRD fields that make
/// a kind cluster-scoped (`spec.group`, `spec.names.kind`, `spec.scope`),
/// and of `metadata.annotations` only our own keys and Helm 4's file name
/// (splicing needs its shape and our keys' values; absent, null and
/// non-mapping stay so). `List` items are cut alike. Anything of an
/// unexpected shape on these paths is kept whole, so the parser reports
/// what it would have reported on the full document.
pub(super) fn keep_for_splicing(document: &mut Value) {
    retain(document, |key, value| match key {
        "apiVersion" | "kind" => true,
        "metadata" => {
            retain(value, |key, value| match key {
                "name" | "namespace" => true,
                "annotations" => {
                    retain(value, |key, _| {
                        OWN_KEYS.contains(&key) || key == POSTRENDER_FILENAME
                    });
                    true
                }
                _ => false,
            });
            true
        }
        "spec" => {
            retain(value, |key, value| match key {
                "group" | "scope" => true,
                "names" => {
                    retain(value, |key, _| key == "kind");
                    true
                }
                _ => false,
            });
            true
        }
        "items" => {
            if let Value::Array(items) = value {
                items.iter_mut().for_each(keep_for_splicing);
            }
            true
        }
        _ => false,
    });
}

/// Keep the entries of a mapping that `keep` accepts; other values as they are.
fn retain(value: &mut Value, mut keep: impl FnMut(&str, &mut Value) -> bool) {
    if let Value::Object(map) = value {
        map.retain(|key, value| keep(key, value));
        shrink(map);
    }
}

/// Give back the capacity a mapping no longer needs (it is held to the end).
fn shrink(map: &mut Map<String, Value>) {
    *map = std::mem::take(map).into_iter().collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_identity_scope_and_own_annotations() {
        let mut doc = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "ws.example.com", "labels": {"a": "b"},
                         "annotations": {"teardown.helm-arc-uninstall/wave": "1", "other": "x",
                                         "postrenderer.helm.sh/postrender-filename": "f"}},
            "spec": {"group": "example.com", "scope": "Cluster",
                     "names": {"kind": "Widget", "plural": "widgets"}, "versions": []}
        });
        keep_for_splicing(&mut doc);
        assert_eq!(
            doc,
            json!({
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "ws.example.com",
                             "annotations": {"teardown.helm-arc-uninstall/wave": "1",
                                             "postrenderer.helm.sh/postrender-filename": "f"}},
                "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget"}}
            })
        );
    }

    #[test]
    fn lists_and_odd_shapes() {
        let mut doc = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "annotations": null}, "data": {}},
            "x"
        ], "metadata": "odd"});
        keep_for_splicing(&mut doc);
        assert_eq!(
            doc,
            json!({"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "annotations": null}},
                "x"
            ], "metadata": "odd"})
        );
    }
}
