//! Generic Kubernetes rules. Reason texts call the earlier object "the Kind"
//! and the waiting object "this Kind".

use super::{Rule, at};
use crate::graph::EdgeSink;
use crate::graph::index::Index;
use crate::manifest::ObjectId;
use serde_json::Value;
use std::collections::HashMap;

pub(crate) const RBAC: &str = "rbac.authorization.k8s.io";

/// Workload kinds and the JSON pointer of their pod spec.
const WORKLOADS: &[(&str, &str, &str)] = &[
    ("", "Pod", "/spec"),
    ("", "ReplicationController", "/spec/template/spec"),
    ("apps", "Deployment", "/spec/template/spec"),
    ("apps", "StatefulSet", "/spec/template/spec"),
    ("apps", "DaemonSet", "/spec/template/spec"),
    ("apps", "ReplicaSet", "/spec/template/spec"),
    ("batch", "Job", "/spec/template/spec"),
    ("batch", "CronJob", "/spec/jobTemplate/spec/template/spec"),
    (
        "actions.github.com",
        "AutoscalingRunnerSet",
        "/spec/template/spec",
    ),
];

/// The pod spec pointer of a workload kind (`/spec/template/spec`), if it is one.
pub(crate) fn pod_spec_pointer(group: &str, kind: &str) -> Option<&'static str> {
    WORKLOADS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|&(_, _, pointer)| pointer)
}

/// [`Rule::WebhookFirst`]: webhook configurations before every other member.
/// Runs after the rules it builds on: an edge goes to each member nothing
/// else waits for yet; every other member follows those through its own
/// predecessors, so the order is the same with far fewer edges.
pub(super) fn webhooks_first(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    let is_webhook = |id: &ObjectId| {
        id.group == "admissionregistration.k8s.io"
            && matches!(
                id.kind.as_str(),
                "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration"
            )
    };
    let webhooks: Vec<usize> = index
        .members
        .iter()
        .copied()
        .filter(|&i| is_webhook(ids[i]))
        .collect();
    if webhooks.is_empty() {
        return;
    }
    let mut waits = vec![false; ids.len()];
    for edge in sink.edges() {
        waits[edge.after] = true;
    }
    for &w in &webhooks {
        for &m in &index.members {
            if !is_webhook(ids[m]) && !waits[m] {
                sink.add(
                    w,
                    m,
                    Rule::WebhookFirst,
                    "webhook configurations go before everything else: admission calls would fail once their backends are gone",
                );
            }
        }
    }
}

/// A reference from a pod spec: kind, name and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PodRef {
    pub kind: &'static str,
    pub name: String,
    pub path: String,
}

/// Every ServiceAccount, Secret, ConfigMap and PVC a pod spec refers to.
/// `base` is the pod spec's path for reason texts (`spec.template.spec`).
pub(crate) fn pod_spec_refs(spec: &Value, base: &str) -> Vec<PodRef> {
    let mut refs = Vec::new();
    let mut push = |kind: &'static str, value: Option<&Value>, path: String| {
        if let Some(name) = value.and_then(Value::as_str).filter(|n| !n.is_empty()) {
            refs.push(PodRef {
                kind,
                name: name.to_string(),
                path: format!("{base}.{path}"),
            });
        }
    };
    if spec.get("serviceAccountName").is_some() {
        push(
            "ServiceAccount",
            spec.get("serviceAccountName"),
            "serviceAccountName".into(),
        );
    } else {
        push(
            "ServiceAccount",
            spec.get("serviceAccount"),
            "serviceAccount".into(),
        );
    }
    for (i, s) in items(spec, "imagePullSecrets") {
        push(
            "Secret",
            s.get("name"),
            format!("imagePullSecrets[{i}].name"),
        );
    }
    for (i, v) in items(spec, "volumes") {
        push(
            "Secret",
            at(v, "/secret/secretName"),
            format!("volumes[{i}].secret.secretName"),
        );
        push(
            "ConfigMap",
            at(v, "/configMap/name"),
            format!("volumes[{i}].configMap.name"),
        );
        push(
            "PersistentVolumeClaim",
            at(v, "/persistentVolumeClaim/claimName"),
            format!("volumes[{i}].persistentVolumeClaim.claimName"),
        );
        if let Some(projected) = v.get("projected") {
            for (j, s) in items(projected, "sources") {
                push(
                    "Secret",
                    at(s, "/secret/name"),
                    format!("volumes[{i}].projected.sources[{j}].secret.name"),
                );
                push(
                    "ConfigMap",
                    at(s, "/configMap/name"),
                    format!("volumes[{i}].projected.sources[{j}].configMap.name"),
                );
            }
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in items(spec, list) {
            for (j, e) in items(c, "envFrom") {
                push(
                    "Secret",
                    at(e, "/secretRef/name"),
                    format!("{list}[{i}].envFrom[{j}].secretRef.name"),
                );
                push(
                    "ConfigMap",
                    at(e, "/configMapRef/name"),
                    format!("{list}[{i}].envFrom[{j}].configMapRef.name"),
                );
            }
            for (j, e) in items(c, "env") {
                push(
                    "Secret",
                    at(e, "/valueFrom/secretKeyRef/name"),
                    format!("{list}[{i}].env[{j}].valueFrom.secretKeyRef.name"),
                );
                push(
                    "ConfigMap",
                    at(e, "/valueFrom/configMapKeyRef/name"),
                    format!("{list}[{i}].env[{j}].valueFrom.configMapKeyRef.name"),
                );
            }
        }
    }
    refs
}

fn items<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = (usize, &'v Value)> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// [`Rule::WorkloadUses`]: workloads before what their pod templates use.
pub(super) fn workloads(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    for &w in &index.members {
        let id = ids[w];
        if pod_spec_pointer(&id.group, &id.kind).is_none() {
            continue;
        }
        for r in &index.facts[w].refs().pod {
            for target in index.find("", r.kind, id.namespace.as_deref(), &r.name) {
                sink.add(
                    w,
                    target,
                    Rule::WorkloadUses,
                    format!(
                        "the {}'s pod template uses this {} ({})",
                        id.kind, r.kind, r.path
                    ),
                );
            }
        }
    }
}

/// [`Rule::BindingRole`] and [`Rule::BindingSubject`].
pub(super) fn bindings(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    for &b in &index.members {
        let id = ids[b];
        let refs = index.facts[b].refs();
        let cluster_binding = match (id.group.as_str(), id.kind.as_str()) {
            (RBAC, "RoleBinding") => false,
            (RBAC, "ClusterRoleBinding") => true,
            _ => continue,
        };
        let [role_group, role_kind, role_name] = &refs.role_ref;
        let role_group_ok = role_group.as_deref().is_none_or(|g| g == RBAC);
        if let (true, Some(kind @ ("Role" | "ClusterRole")), Some(name)) =
            (role_group_ok, role_kind.as_deref(), role_name.as_deref())
        {
            let namespace = if kind == "Role" && !cluster_binding {
                id.namespace.as_deref()
            } else {
                None
            };
            if kind == "ClusterRole" || !cluster_binding {
                for role in index.find(RBAC, kind, namespace, name) {
                    sink.add(
                        b,
                        role,
                        Rule::BindingRole,
                        format!("the {} binds this {kind} (roleRef)", id.kind),
                    );
                }
            }
        }
        for (i, [kind, name, namespace]) in refs.subjects.iter().enumerate() {
            if kind.as_deref() != Some("ServiceAccount") {
                continue;
            }
            let Some(name) = name.as_deref() else {
                continue;
            };
            let namespace = match (namespace.as_deref(), cluster_binding) {
                (Some(ns), _) => Some(ns),
                (None, false) => id.namespace.as_deref(),
                (None, true) => continue,
            };
            for sa in index.find("", "ServiceAccount", namespace, name) {
                sink.add(
                    b,
                    sa,
                    Rule::BindingSubject,
                    format!(
                        "the {} grants permissions to this ServiceAccount (subjects[{i}])",
                        id.kind
                    ),
                );
            }
        }
    }
}

/// [`Rule::OwnerReference`]: dependents before their owners.
pub(super) fn owner_references(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    for &d in &index.members {
        let object = ids[d];
        for (i, api_version, kind, name) in &index.facts[d].owner_references {
            let (group, _) = ObjectId::split_api_version(api_version);
            // A namespaced owner shares the dependent's namespace; a
            // cluster-scoped one has none (the stream's CRDs decide for custom kinds).
            let same_namespace = object
                .namespace
                .as_deref()
                .map(|ns| index.find(group, kind, Some(ns), name));
            let cluster = index.find(group, kind, None, name);
            for o in same_namespace.into_iter().flatten().chain(cluster) {
                sink.add(
                    d,
                    o,
                    Rule::OwnerReference,
                    format!(
                        "this {kind} owns the {} (metadata.ownerReferences[{i}]); dependents go first",
                        object.kind
                    ),
                );
            }
        }
    }
}

/// [`Rule::CustomResourceDefinition`]: custom resources before their CRD.
pub(super) fn custom_resources(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    let mut crds: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for c in index.of_kind(ids, "apiextensions.k8s.io", "CustomResourceDefinition") {
        if let Some((group, kind)) = &index.facts[c].refs().crd {
            crds.entry((group, kind)).or_default().push(c);
        }
    }
    if crds.is_empty() {
        return;
    }
    for &m in &index.members {
        let id = &ids[m];
        for &crd in crds
            .get(&(id.group.as_str(), id.kind.as_str()))
            .into_iter()
            .flatten()
        {
            sink.add(
                m,
                crd,
                Rule::CustomResourceDefinition,
                format!(
                    "this CustomResourceDefinition defines the kind of the {}",
                    id.kind
                ),
            );
        }
    }
}

/// [`Rule::NamespaceContents`]: namespaced objects before their Namespace.
/// Runs after the rules it builds on: the Namespace waits directly for each
/// of its objects that no other object of it waits for; the rest reach it
/// through those, so the order is the same with far fewer edges.
pub(super) fn namespaces(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for n in index.of_kind(ids, "", "Namespace") {
        by_name.entry(ids[n].name.as_str()).or_default().push(n);
    }
    if by_name.is_empty() {
        return;
    }
    let mut precedes_neighbour = vec![false; ids.len()];
    for edge in sink.edges() {
        let (before, after) = (&ids[edge.before], &ids[edge.after]);
        if before.namespace.is_some() && before.namespace == after.namespace {
            precedes_neighbour[edge.before] = true;
        }
    }
    for &m in &index.members {
        let id = &ids[m];
        let Some(ns) = id.namespace.as_deref() else {
            continue;
        };
        if precedes_neighbour[m] {
            continue;
        }
        for &n in by_name.get(ns).into_iter().flatten() {
            sink.add(
                m,
                n,
                Rule::NamespaceContents,
                format!("the {} lives in this Namespace", id.kind),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::test_support::{edge_list, objects};
    use serde_json::json;

    fn e(before: &str, after: &str, rule: &str) -> (String, String, String) {
        (before.into(), after.into(), rule.into())
    }

    #[test]
    fn workload_goes_before_everything_its_pod_template_uses() {
        let objs = objects(vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
                "serviceAccountName": "sa",
                "imagePullSecrets": [{"name": "pull"}],
                "volumes": [
                    {"name": "a", "secret": {"secretName": "vol-secret"}},
                    {"name": "b", "configMap": {"name": "vol-cm"}},
                    {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "d", "projected": {"sources": [{"secret": {"name": "proj-secret"}}, {"configMap": {"name": "proj-cm"}}]}}
                ],
                "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "env-from-secret"}}]}],
                "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "env-from-cm"}}],
                    "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "key-secret", "key": "k"}}},
                            {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "key-cm", "key": "k"}}}]}]
            }}}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vol-secret"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vol-cm"}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "proj-secret"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "proj-cm"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "env-from-secret"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env-from-cm"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "key-secret"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "key-cm"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "unused"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sa", "namespace": "elsewhere"}}),
        ]);
        let edges = edge_list(&objs);
        let targets: Vec<&str> = edges.iter().map(|(_, a, _)| a.as_str()).collect();
        assert_eq!(
            targets,
            [
                "ServiceAccount/default/sa",
                "Secret/default/pull",
                "Secret/default/vol-secret",
                "ConfigMap/default/vol-cm",
                "PersistentVolumeClaim/default/data",
                "Secret/default/proj-secret",
                "ConfigMap/default/proj-cm",
                "Secret/default/env-from-secret",
                "ConfigMap/default/env-from-cm",
                "Secret/default/key-secret",
                "ConfigMap/default/key-cm",
            ]
        );
        assert!(
            edges
                .iter()
                .all(|(b, _, r)| b == "Deployment/default/web" && r == "workload-uses")
        );
        let plan = crate::graph::plan(&objs).unwrap();
        let reason = &*plan.edges()[2].reason().text;
        assert_eq!(
            reason,
            "the Deployment's pod template uses this Secret (spec.template.spec.volumes[0].secret.secretName)"
        );
    }

    #[test]
    fn cronjob_and_pod_specs_are_found() {
        let objs = objects(vec![
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"serviceAccountName": "sa"}}}}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"serviceAccount": "sa"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}),
        ]);
        assert_eq!(
            edge_list(&objs),
            [
                e(
                    "CronJob/default/cj",
                    "ServiceAccount/default/sa",
                    "workload-uses"
                ),
                e(
                    "Pod/default/p",
                    "ServiceAccount/default/sa",
                    "workload-uses"
                ),
            ]
        );
    }

    #[test]
    fn bindings_go_before_roles_and_service_accounts_they_bind() {
        let objs = objects(vec![
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb", "namespace": "a"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "ServiceAccount", "name": "other", "namespace": "b"}, {"kind": "User", "name": "sa"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "crb"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "a"}, {"kind": "ServiceAccount", "name": "nons"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb2", "namespace": "a"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "a"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "b"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "a"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "other", "namespace": "b"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nons", "namespace": "default"}}),
        ]);
        assert_eq!(
            edge_list(&objs),
            [
                e("RoleBinding/a/rb", "Role/a/r", "binding-role"),
                e("RoleBinding/a/rb", "ServiceAccount/a/sa", "binding-subject"),
                e(
                    "RoleBinding/a/rb",
                    "ServiceAccount/b/other",
                    "binding-subject"
                ),
                e("ClusterRoleBinding/crb", "ClusterRole/cr", "binding-role"),
                e(
                    "ClusterRoleBinding/crb",
                    "ServiceAccount/a/sa",
                    "binding-subject"
                ),
                e("RoleBinding/a/rb2", "ClusterRole/cr", "binding-role"),
            ]
        );
    }

    #[test]
    fn owners_custom_resources_namespaces_and_webhooks() {
        let objs = objects(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
                   "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "apps"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "apps",
                   "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "1"}]}}),
            json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "hook"}}),
        ]);
        assert_eq!(
            edge_list(&objs),
            [
                e("ConfigMap/apps/cm", "Widget/apps/w", "owner-reference"),
                e(
                    "Widget/apps/w",
                    "CustomResourceDefinition/widgets.example.com",
                    "custom-resource-definition"
                ),
                // The ConfigMap reaches the Namespace through the Widget.
                e("Widget/apps/w", "Namespace/apps", "namespace-contents"),
                // Everything else follows the webhook through the ConfigMap.
                e(
                    "ValidatingWebhookConfiguration/hook",
                    "ConfigMap/apps/cm",
                    "webhook-first"
                ),
            ]
        );
        let plan = crate::graph::plan(&objs).unwrap();
        assert_eq!(plan.waves(), [vec![4], vec![3], vec![2], vec![0, 1]]);
    }

    #[test]
    fn hooks_are_not_part_of_the_teardown() {
        let objs = objects(vec![
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "annotations": {"helm.sh/hook": "pre-delete"}},
                   "spec": {"template": {"spec": {"serviceAccountName": "sa"}}}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}),
        ]);
        assert!(edge_list(&objs).is_empty());
        let plan = crate::graph::plan(&objs).unwrap();
        assert_eq!(plan.wave(0), None);
        assert_eq!(plan.wave(1), Some(0));
        assert_eq!(plan.members(), [1]);
    }
}
