//! Explicit-edge annotations: syntax, resolution and formatting.
//!
//! ```text
//! teardown.helm-arc-uninstall/after:  "Kind/name, Kind/namespace/name, ..."
//! teardown.helm-arc-uninstall/before: "Kind/name, ..."
//! ```
//!
//! * A list is comma-separated; whitespace around entries and empty entries
//!   are ignored.
//! * `Kind` is the exact (case-sensitive) kind, optionally qualified with its
//!   API group as `Kind.group` (`AutoscalingRunnerSet.actions.github.com`).
//!   An unqualified kind that matches objects of several groups resolves to
//!   the core-group object if there is exactly one, else it is ambiguous.
//! * `Kind/name` names a cluster-scoped object, or a namespaced object in the
//!   annotated object's namespace. `Kind/namespace/name` names a namespaced
//!   object anywhere.
//! * The API version is never written: it does not change the object.
//! * A reference must resolve to an object of the manifest that takes part in
//!   the teardown (not a Helm hook); otherwise planning fails.

use super::index::Index;
use crate::manifest::ObjectId;

/// On object B, `after: A` means A must be gone before B is deleted.
pub const AFTER_ANNOTATION: &str = "teardown.helm-arc-uninstall/after";
/// On object A, `before: B` means A must be gone before B is deleted.
pub const BEFORE_ANNOTATION: &str = "teardown.helm-arc-uninstall/before";

/// One parsed entry of an explicit-edge annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReference {
    /// The entry as written (trimmed).
    pub text: String,
    /// Kind.
    pub kind: String,
    /// API group when the kind was written `Kind.group`.
    pub group: Option<String>,
    /// Namespace when written `Kind/namespace/name`.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// A malformed explicit-edge entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not Kind/name or Kind/namespace/name")]
pub struct ReferenceSyntaxError(pub String);

/// Parse an annotation value into its entries.
pub fn parse_reference_list(value: &str) -> Result<Vec<ParsedReference>, ReferenceSyntaxError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(parse_reference)
        .collect()
}

fn parse_reference(text: &str) -> Result<ParsedReference, ReferenceSyntaxError> {
    let bad = || ReferenceSyntaxError(text.to_string());
    let parts: Vec<&str> = text.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.chars().any(char::is_whitespace))
    {
        return Err(bad());
    }
    let (kind_part, namespace, name) = match parts.as_slice() {
        [kind, name] => (*kind, None, *name),
        [kind, namespace, name] => (*kind, Some(namespace.to_string()), *name),
        _ => return Err(bad()),
    };
    let (kind, group) = match kind_part.split_once('.') {
        Some((kind, group)) if !kind.is_empty() && !group.is_empty() => {
            (kind, Some(group.to_string()))
        }
        Some(_) => return Err(bad()),
        None => (kind_part, None),
    };
    Ok(ParsedReference {
        text: text.to_string(),
        kind: kind.to_string(),
        group,
        namespace,
        name: name.to_string(),
    })
}

/// Whether `candidate` is in the namespace scope of a reference written on `from`.
fn in_scope(candidate: &ObjectId, from: &ObjectId, namespace: Option<&str>) -> bool {
    match namespace {
        Some(ns) => candidate.namespace.as_deref() == Some(ns),
        None => {
            candidate.namespace.is_none()
                || (from.namespace.is_some() && candidate.namespace == from.namespace)
        }
    }
}

/// Resolve a reference written on `objects[from]` to members. Several results
/// only when the manifest repeats one identity.
pub(crate) fn resolve(
    ids: &[&ObjectId],
    index: &Index,
    from: usize,
    reference: &ParsedReference,
) -> Result<Vec<usize>, String> {
    let candidates: Vec<usize> = index
        .find_kind_name(&reference.kind, &reference.name)
        .into_iter()
        .filter(|&c| reference.group.as_deref().is_none_or(|g| ids[c].group == g))
        .filter(|&c| in_scope(ids[c], ids[from], reference.namespace.as_deref()))
        .collect();
    let mut groups: Vec<&str> = candidates.iter().map(|&c| ids[c].group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    match groups.as_slice() {
        [] => Err(unresolved_problem(ids, index, from, reference)),
        [_] => Ok(candidates),
        several if several.contains(&"") && reference.group.is_none() => Ok(candidates
            .into_iter()
            .filter(|&c| ids[c].group.is_empty())
            .collect()),
        several => Err(format!(
            "is ambiguous: objects of groups {} match; write Kind.group",
            several.join(", ")
        )),
    }
}

fn unresolved_problem(
    ids: &[&ObjectId],
    index: &Index,
    from: usize,
    reference: &ParsedReference,
) -> String {
    let hook = ids.iter().enumerate().any(|(i, id)| {
        index.facts[i].hook
            && id.kind == reference.kind
            && id.name == reference.name
            && reference.group.as_deref().is_none_or(|g| id.group == g)
            && in_scope(id, ids[from], reference.namespace.as_deref())
    });
    if hook {
        "names a Helm hook; hooks are not part of the teardown".to_string()
    } else if reference.namespace.is_none() && ids[from].namespace.is_none() {
        "names no cluster-scoped object of the manifest (write Kind/namespace/name for a namespaced one)".to_string()
    } else {
        "names no object of the manifest".to_string()
    }
}

/// The shortest reference to `objects[target]` written on `objects[from]`
/// that [`resolve`] maps back to exactly that identity.
pub(crate) fn format(ids: &[&ObjectId], index: &Index, target: usize, from: usize) -> String {
    let t = &ids[target];
    let f = &ids[from];
    let namespace = match &t.namespace {
        Some(ns) if f.namespace.as_ref() != Some(ns) => Some(ns.as_str()),
        _ => None,
    };
    let other_group_in_scope = index
        .find_kind_name(&t.kind, &t.name)
        .iter()
        .any(|&c| ids[c].group != t.group && in_scope(ids[c], ids[from], namespace));
    let kind = if other_group_in_scope && !t.group.is_empty() {
        format!("{}.{}", t.kind, t.group)
    } else {
        t.kind.clone()
    };
    match namespace {
        Some(ns) => format!("{kind}/{ns}/{}", t.name),
        None => format!("{kind}/{}", t.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_support::objects;
    use serde_json::json;

    #[test]
    fn parses_both_shapes_and_qualified_kinds() {
        let refs =
            parse_reference_list(" Secret/s , ,AutoscalingRunnerSet.actions.github.com/arc/set,")
                .unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(
            (
                refs[0].kind.as_str(),
                refs[0].group.clone(),
                refs[0].namespace.clone()
            ),
            ("Secret", None, None)
        );
        assert_eq!(refs[1].kind, "AutoscalingRunnerSet");
        assert_eq!(refs[1].group.as_deref(), Some("actions.github.com"));
        assert_eq!(refs[1].namespace.as_deref(), Some("arc"));
        assert_eq!(refs[1].name, "set");
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "Secret",
            "Secret/",
            "/x",
            "a/b/c/d",
            "Sec ret/x",
            ".g/x",
            "K./x",
        ] {
            assert_eq!(
                parse_reference_list(bad),
                Err(ReferenceSyntaxError(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn formatting_round_trips_through_resolution() {
        let objs = objects(vec![
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "b"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}}),
        ]);
        let index = Index::of_objects(&objs);
        let objs: Vec<&ObjectId> = objs.iter().map(|o| &o.id).collect();
        assert_eq!(format(&objs, &index, 1, 0), "Secret/b/s");
        assert_eq!(format(&objs, &index, 0, 1), "Secret/a/s");
        assert_eq!(format(&objs, &index, 2, 0), "Secret.example.com/s");
        assert_eq!(format(&objs, &index, 0, 2), "Secret/s");
        assert_eq!(format(&objs, &index, 3, 0), "ClusterRole/c");
        assert_eq!(format(&objs, &index, 0, 3), "Secret/a/s");
        for target in 0..objs.len() {
            for from in 0..objs.len() {
                let text = format(&objs, &index, target, from);
                let parsed = parse_reference_list(&text).unwrap();
                assert_eq!(
                    resolve(&objs, &index, from, &parsed[0]),
                    Ok(vec![target]),
                    "{text} from {from}"
                );
            }
        }
    }
}
