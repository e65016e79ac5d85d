//! The resource registry: which kinds the server serves, under which plural
//! names, and how each behaves (scope, generation, status subresource, ...).
//!
//! Built-in kinds are listed here; CustomResourceDefinitions add and remove
//! kinds at run time.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::api::Gvk;

/// One served resource type (a group/version/kind with its REST names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, empty for core.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name (`configmaps`).
    pub plural: String,
    /// Singular name (`configmap`).
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`cm`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Has a `status` subresource (status ignored on main-resource writes).
    pub status_subresource: bool,
    /// DELETE answers with the deleted object instead of a Success Status.
    pub returns_deleted_object: bool,
    /// PUT without resourceVersion allowed.
    pub unconditional_update: bool,
    /// `metadata.generation` is maintained.
    pub has_generation: bool,
    /// A custom resource (from a CRD): strategic merge patch is refused.
    pub custom: bool,
    /// Field selector labels beyond `metadata.name`/`metadata.namespace`.
    pub field_labels: Vec<String>,
}

impl ResourceType {
    /// The type's Gvk.
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
        }
    }

    /// `apiVersion` string (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `group/version` as discovery writes it.
    pub fn group_version(&self) -> String {
        self.api_version()
    }

    /// `configmaps` or `deployments.apps`, as error messages name a resource.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind of the list (`ConfigMapList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

struct Builtin {
    gv: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    status: bool,
    generation: bool,
    returns_deleted: bool,
    fields: &'static [&'static str],
}

const fn b(
    gv: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Builtin {
    Builtin {
        gv,
        kind,
        plural,
        namespaced,
        short: &[],
        all: false,
        status: false,
        generation: false,
        returns_deleted: false,
        fields: &[],
    }
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

fn builtins() -> Vec<Builtin> {
    vec![
        Builtin {
            status: true,
            short: &["ns"],
            fields: &["status.phase"],
            ..b("v1", "Namespace", "namespaces", false)
        },
        Builtin {
            status: true,
            short: &["po"],
            all: true,
            returns_deleted: true,
            fields: POD_FIELDS,
            ..b("v1", "Pod", "pods", true)
        },
        Builtin {
            fields: &["type"],
            ..b("v1", "Secret", "secrets", true)
        },
        Builtin {
            short: &["cm"],
            ..b("v1", "ConfigMap", "configmaps", true)
        },
        Builtin {
            short: &["sa"],
            returns_deleted: true,
            ..b("v1", "ServiceAccount", "serviceaccounts", true)
        },
        Builtin {
            short: &["svc"],
            all: true,
            status: true,
            returns_deleted: true,
            ..b("v1", "Service", "services", true)
        },
        Builtin {
            short: &["ev"],
            fields: EVENT_FIELDS,
            ..b("v1", "Event", "events", true)
        },
        Builtin {
            short: &["ep"],
            ..b("v1", "Endpoints", "endpoints", true)
        },
        Builtin {
            short: &["pvc"],
            status: true,
            ..b(
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            )
        },
        Builtin {
            short: &["pv"],
            status: true,
            ..b("v1", "PersistentVolume", "persistentvolumes", false)
        },
        Builtin {
            short: &["no"],
            status: true,
            ..b("v1", "Node", "nodes", false)
        },
        Builtin {
            short: &["quota"],
            status: true,
            ..b("v1", "ResourceQuota", "resourcequotas", true)
        },
        Builtin {
            short: &["limits"],
            ..b("v1", "LimitRange", "limitranges", true)
        },
        Builtin {
            short: &["deploy"],
            all: true,
            status: true,
            generation: true,
            ..b("apps/v1", "Deployment", "deployments", true)
        },
        Builtin {
            short: &["rs"],
            all: true,
            status: true,
            generation: true,
            fields: &["status.replicas"],
            ..b("apps/v1", "ReplicaSet", "replicasets", true)
        },
        Builtin {
            short: &["sts"],
            all: true,
            status: true,
            generation: true,
            ..b("apps/v1", "StatefulSet", "statefulsets", true)
        },
        Builtin {
            short: &["ds"],
            all: true,
            status: true,
            generation: true,
            ..b("apps/v1", "DaemonSet", "daemonsets", true)
        },
        Builtin {
            generation: true,
            ..b("apps/v1", "ControllerRevision", "controllerrevisions", true)
        },
        Builtin {
            all: true,
            status: true,
            generation: true,
            fields: &["status.successful"],
            ..b("batch/v1", "Job", "jobs", true)
        },
        Builtin {
            short: &["cj"],
            all: true,
            status: true,
            generation: true,
            ..b("batch/v1", "CronJob", "cronjobs", true)
        },
        b("rbac.authorization.k8s.io/v1", "Role", "roles", true),
        b(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        b(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        b(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        Builtin {
            short: &["crd", "crds"],
            status: true,
            generation: true,
            ..b(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            )
        },
        Builtin {
            generation: true,
            ..b(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "validatingwebhookconfigurations",
                false,
            )
        },
        Builtin {
            generation: true,
            ..b(
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
                "mutatingwebhookconfigurations",
                false,
            )
        },
        Builtin {
            short: &["pdb"],
            status: true,
            generation: true,
            ..b(
                "policy/v1",
                "PodDisruptionBudget",
                "poddisruptionbudgets",
                true,
            )
        },
        Builtin {
            short: &["ing"],
            status: true,
            generation: true,
            ..b("networking.k8s.io/v1", "Ingress", "ingresses", true)
        },
        Builtin {
            generation: true,
            ..b(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "networkpolicies",
                true,
            )
        },
        b(
            "networking.k8s.io/v1",
            "IngressClass",
            "ingressclasses",
            false,
        ),
        Builtin {
            short: &["sc"],
            ..b("storage.k8s.io/v1", "StorageClass", "storageclasses", false)
        },
        Builtin {
            short: &["pc"],
            ..b(
                "scheduling.k8s.io/v1",
                "PriorityClass",
                "priorityclasses",
                false,
            )
        },
        Builtin {
            short: &["hpa"],
            all: true,
            status: true,
            ..b(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
                true,
            )
        },
        b("coordination.k8s.io/v1", "Lease", "leases", true),
        Builtin {
            short: &["ev"],
            ..b("events.k8s.io/v1", "Event", "events", true)
        },
    ]
}

fn from_builtin(x: &Builtin) -> ResourceType {
    let gvk = Gvk::new(x.gv, x.kind);
    // Stores with ReturnDeletedObject in kube-apiserver.
    let returns_deleted =
        x.returns_deleted || x.plural == "storageclasses" || x.plural == "volumeattributesclasses";
    ResourceType {
        group: gvk.group,
        version: gvk.version,
        kind: x.kind.to_string(),
        plural: x.plural.to_string(),
        singular: x.kind.to_lowercase(),
        namespaced: x.namespaced,
        short_names: x.short.iter().map(|s| s.to_string()).collect(),
        categories: if x.all {
            vec!["all".to_string()]
        } else {
            Vec::new()
        },
        status_subresource: x.status,
        returns_deleted_object: returns_deleted,
        unconditional_update: true,
        has_generation: x.generation,
        custom: false,
        field_labels: x.fields.iter().map(|s| s.to_string()).collect(),
    }
}

/// The set of served resource types.
#[derive(Clone, Debug)]
pub struct Registry {
    by_gvk: BTreeMap<Gvk, Arc<ResourceType>>,
    /// (group, version, plural) -> type.
    by_resource: BTreeMap<(String, String, String), Arc<ResourceType>>,
    /// Types contributed by each CRD (CRD name -> its gvks).
    crd_types: BTreeMap<String, Vec<Gvk>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// The built-in types.
    pub fn new() -> Self {
        let mut r = Self {
            by_gvk: BTreeMap::new(),
            by_resource: BTreeMap::new(),
            crd_types: BTreeMap::new(),
        };
        for x in builtins() {
            r.insert(from_builtin(&x));
        }
        r
    }

    fn insert(&mut self, t: ResourceType) {
        let t = Arc::new(t);
        self.by_resource.insert(
            (t.group.clone(), t.version.clone(), t.plural.clone()),
            t.clone(),
        );
        self.by_gvk.insert(t.gvk(), t);
    }

    /// Type by group/version/kind.
    pub fn by_gvk(&self, gvk: &Gvk) -> Option<Arc<ResourceType>> {
        self.by_gvk.get(gvk).cloned()
    }

    /// Type by group, version and plural resource name.
    pub fn by_resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceType>> {
        self.by_resource
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Any served version of a group/kind (for owner references and GC).
    pub fn by_group_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.by_gvk
            .values()
            .find(|t| t.group == group && t.kind == kind)
            .cloned()
    }

    /// All served types, sorted by group, version, kind.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.by_gvk.values()
    }

    /// Groups with their versions, `""` (core) first. Versions in served order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.by_gvk.values() {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) => {
                    if !vs.contains(&t.version) {
                        vs.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        for (_, vs) in &mut out {
            vs.sort_by_key(|b| std::cmp::Reverse(version_priority(b)));
        }
        out
    }

    /// Register (or re-register) the kinds a CRD object defines. Returns the served types.
    pub fn register_crd(&mut self, crd: &Value) -> Vec<Arc<ResourceType>> {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.unregister_crd(&name);
        let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
        let group = spec
            .get("group")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let names = spec.get("names").cloned().unwrap_or(Value::Null);
        let s = |k: &str| {
            names
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let strs = |k: &str| crate::value::string_list(names.get(k));
        let kind = s("kind");
        let plural = s("plural");
        let singular = if s("singular").is_empty() {
            kind.to_lowercase()
        } else {
            s("singular")
        };
        let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
        let mut gvks = Vec::new();
        let mut out = Vec::new();
        for v in spec
            .get("versions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if v.get("served").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let version = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let status = v.pointer("/subresources/status").is_some();
            let fields = v
                .get("selectableFields")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                        .map(|p| p.trim_start_matches('.').to_string())
                        .collect()
                })
                .unwrap_or_default();
            let t = ResourceType {
                group: group.clone(),
                version,
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strs("shortNames"),
                categories: strs("categories"),
                status_subresource: status,
                returns_deleted_object: false,
                unconditional_update: false,
                has_generation: true,
                custom: true,
                field_labels: fields,
            };
            gvks.push(t.gvk());
            self.insert(t.clone());
            out.push(Arc::new(t));
        }
        self.crd_types.insert(name, gvks);
        out
    }

    /// Remove the kinds a CRD defined.
    pub fn unregister_crd(&mut self, crd_name: &str) {
        for gvk in self.crd_types.remove(crd_name).unwrap_or_default() {
            if let Some(t) = self.by_gvk.remove(&gvk) {
                self.by_resource
                    .remove(&(t.group.clone(), t.version.clone(), t.plural.clone()));
            }
        }
    }

    /// The kinds a CRD contributes.
    pub fn crd_gvks(&self, crd_name: &str) -> Vec<Gvk> {
        self.crd_types.get(crd_name).cloned().unwrap_or_default()
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (class, n) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    (class, major, n.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtins_resolve_by_kind_and_plural() {
        let r = Registry::new();
        let d = r.by_resource("apps", "v1", "deployments").unwrap();
        assert_eq!(d.kind, "Deployment");
        assert!(d.has_generation && d.namespaced);
        assert_eq!(r.by_gvk(&Gvk::new("v1", "Pod")).unwrap().plural, "pods");
        assert!(
            r.by_gvk(&Gvk::new("v1", "Pod"))
                .unwrap()
                .returns_deleted_object
        );
        assert!(
            !r.by_gvk(&Gvk::new("v1", "ConfigMap"))
                .unwrap()
                .returns_deleted_object
        );
        assert_eq!(r.groups()[0].0, "");
    }

    #[test]
    fn crd_registers_and_unregisters_kinds() {
        let mut r = Registry::new();
        let crd = json!({"metadata":{"name":"widgets.example.com"},"spec":{"group":"example.com","scope":"Namespaced",
            "names":{"kind":"Widget","plural":"widgets","singular":"widget","shortNames":["wd"]},
            "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}}},
                        {"name":"v1beta1","served":true,"storage":false}]}});
        let types = r.register_crd(&crd);
        assert_eq!(types.len(), 2);
        let w = r.by_resource("example.com", "v1", "widgets").unwrap();
        assert!(w.custom && w.status_subresource && !w.unconditional_update);
        let g = r
            .groups()
            .into_iter()
            .find(|(g, _)| g == "example.com")
            .unwrap();
        assert_eq!(g.1, vec!["v1", "v1beta1"]);
        r.unregister_crd("widgets.example.com");
        assert!(r.by_resource("example.com", "v1", "widgets").is_none());
    }

    #[test]
    fn version_priority_orders_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v1beta1", "v2", "v1", "v1beta2"];
        v.sort_by_key(|b| std::cmp::Reverse(version_priority(b)));
        assert_eq!(v, vec!["v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}
