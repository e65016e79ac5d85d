//! `plan -o json`: a documented, versioned schema (docs/design.md).

use crate::graph::{Rule, Teardown};
use crate::manifest::Object;
use serde::Serialize;

/// The `schemaVersion` this module writes. Bumped on any incompatible change;
/// adding fields is compatible.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// The JSON document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonPlan {
    /// Always [`JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Waves in order; wave 0 is deleted first.
    pub steps: Vec<JsonStep>,
    /// Ordering edges: `before` must be gone before `after` is deleted.
    pub edges: Vec<JsonEdge>,
    /// Objects of the input that are not part of the teardown.
    pub excluded: Vec<Excluded>,
}

/// One wave.
#[derive(Debug, Serialize)]
pub struct JsonStep {
    /// Wave number, from 0.
    pub wave: usize,
    /// The wave's objects, in document order.
    pub resources: Vec<Resource>,
}

/// An object reference.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; `null` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl From<&Object> for Resource {
    fn from(o: &Object) -> Self {
        Resource {
            api_version: o.id.api_version(),
            kind: o.id.kind.clone(),
            namespace: o.id.namespace.clone(),
            name: o.id.name.clone(),
        }
    }
}

/// One edge.
#[derive(Debug, Serialize)]
pub struct JsonEdge {
    /// Goes first.
    pub before: Resource,
    /// Waits until `before` is gone.
    pub after: Resource,
    /// The primary reason (first rule that ordered the pair).
    pub reason: String,
    /// Every rule that orders the pair, with its reason; the first is primary.
    pub reasons: Vec<JsonReason>,
}

/// A rule and its reason.
#[derive(Debug, Serialize)]
pub struct JsonReason {
    /// Rule id, for example `arc-cleanup-annotation`.
    pub rule: Rule,
    /// The reason text.
    pub text: String,
}

/// An object left out of the teardown.
#[derive(Debug, Serialize)]
pub struct Excluded {
    /// The object.
    pub resource: Resource,
    /// Why it is left out.
    pub reason: String,
}

/// The JSON document as a value.
pub fn json_value(plan: &Teardown<'_>) -> JsonPlan {
    let objects = plan.objects();
    JsonPlan {
        schema_version: JSON_SCHEMA_VERSION,
        steps: plan
            .waves()
            .iter()
            .enumerate()
            .map(|(wave, members)| JsonStep {
                wave,
                resources: members
                    .iter()
                    .map(|&i| Resource::from(objects[i]))
                    .collect(),
            })
            .collect(),
        edges: plan
            .edges()
            .iter()
            .map(|e| JsonEdge {
                before: objects[e.before].into(),
                after: objects[e.after].into(),
                reason: e.reason().text.to_string(),
                reasons: e
                    .reasons
                    .iter()
                    .map(|r| JsonReason {
                        rule: r.rule,
                        text: r.text.to_string(),
                    })
                    .collect(),
            })
            .collect(),
        excluded: super::excluded(plan)
            .map(|(i, reason)| Excluded {
                resource: objects[i].into(),
                reason,
            })
            .collect(),
    }
}

/// `plan -o json`: pretty-printed, newline-terminated.
pub fn json(plan: &Teardown<'_>) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(&json_value(plan)).unwrap_or_default();
    out.push('\n');
    out
}
