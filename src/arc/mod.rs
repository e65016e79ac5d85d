//! What the tool knows about ARC (0.13.x, 0.14.x and the unreleased line at
//! upstream HEAD), in one place: kinds and CRDs, finalizer names and who
//! removes them per ARC line ([`versions`]), the AutoscalingRunnerSet's
//! cleanup annotations (the one annotation-to-kind table) and spec
//! references, labels of the controller Deployment ([`controller`]) and of runtime objects,
//! the listener name, what the controller reads to reach GitHub
//! ([`credentials`]) and the RBAC its cleanup needs ([`rbac`]); with Helm's
//! ownership annotations, which decide what a release owns. Used by the
//! graph rules, teardown, doctor and fleet.
//! Facts: shared/docs/arc-teardown.md §1-§5, arc-upstream-audit.md.

pub mod controller;
pub mod credentials;
pub mod rbac;
pub mod versions;

use crate::manifest::Object;
use crate::model::Live;
use serde_json::Value;

/// Annotation Helm sets to the owning release's name.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Annotation Helm sets to the owning release's namespace.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// Annotation that makes Helm keep an object on uninstall (any value).
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// Whether a live object belongs to `release` in `namespace` by Helm's annotations.
pub fn owned_by(live: &Live, release: &str, namespace: &str) -> bool {
    live.annotation(RELEASE_NAME_ANNOTATION) == Some(release)
        && live.annotation(RELEASE_NAMESPACE_ANNOTATION) == Some(namespace)
}

/// Whether Helm keeps this manifest object on uninstall (`helm.sh/resource-policy`, any value).
pub fn kept_by_policy(object: &Object) -> bool {
    object.annotation(RESOURCE_POLICY_ANNOTATION).is_some()
}

/// API group of RBAC objects.
const RBAC: &str = "rbac.authorization.k8s.io";

/// API group of ARC's custom resources.
pub const GROUP: &str = "actions.github.com";
/// Version of ARC's custom resources.
pub const VERSION: &str = "v1alpha1";
/// Kind of the runner scale set object the chart renders.
pub const ARS_KIND: &str = "AutoscalingRunnerSet";
/// Kind of the listener the controller creates in its own namespace.
pub const LISTENER_KIND: &str = "AutoscalingListener";
/// Kind of the runner set the controller creates per ARS.
pub const ERS_KIND: &str = "EphemeralRunnerSet";
/// Kind of one runner.
pub const ER_KIND: &str = "EphemeralRunner";

/// The CRDs of the `actions.github.com` group that ARC's controller chart
/// installs: CRD name and the kind it serves.
pub const CRDS: &[(&str, &str)] = &[
    ("autoscalingrunnersets.actions.github.com", ARS_KIND),
    ("autoscalinglisteners.actions.github.com", LISTENER_KIND),
    ("ephemeralrunnersets.actions.github.com", ERS_KIND),
    ("ephemeralrunners.actions.github.com", ER_KIND),
];

/// The ARS controller's own finalizer.
pub const ARS_FINALIZER: &str = "autoscalingrunnerset.actions.github.com/finalizer";
/// The chart's finalizer on its RBAC, ServiceAccounts and Secret.
pub const CLEANUP_PROTECTION: &str = "actions.github.com/cleanup-protection";
/// The listener controller's finalizer.
pub const LISTENER_FINALIZER: &str = "autoscalinglistener.actions.github.com/finalizer";
/// The ER controller's finalizer (also the ERS finalizer up to 0.14.x).
pub const ER_FINALIZER: &str = "ephemeralrunner.actions.github.com/finalizer";
/// The ER finalizer that holds until the runner is removed from GitHub.
pub const ER_REGISTRATION_FINALIZER: &str =
    "ephemeralrunner.actions.github.com/runner-registration-finalizer";
/// The ERS finalizer at HEAD (unreleased).
pub const ERS_FINALIZER_HEAD: &str = "ephemeralrunnerset.actions.github.com/finalizer";
/// ARS annotation holding the GitHub scale set id (no prefix).
pub const SCALE_SET_ID_ANNOTATION: &str = "runner-scale-set-id";
/// Label the controller chart puts on its Deployment (and pod template).
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
/// [`PART_OF_LABEL`]'s value on the controller Deployment.
pub const CONTROLLER_PART_OF: &str = "gha-rs-controller";
/// Label selecting the controller Deployment ([`PART_OF_LABEL`]=[`CONTROLLER_PART_OF`]).
pub const CONTROLLER_SELECTOR: &str = "app.kubernetes.io/part-of=gha-rs-controller";
/// Controller Deployment label: namespace of the ServiceAccount the controller runs as.
pub const CONTROLLER_SA_NAMESPACE_LABEL: &str =
    "actions.github.com/controller-service-account-namespace";
/// Controller Deployment label: name of the ServiceAccount the controller runs as.
pub const CONTROLLER_SA_NAME_LABEL: &str = "actions.github.com/controller-service-account-name";
/// Controller Deployment label: the one namespace it watches (single-namespace mode).
pub const WATCH_SINGLE_NAMESPACE_LABEL: &str =
    "actions.github.com/controller-watch-single-namespace";
/// Label carrying a chart's app version (ARS, listener and controller Deployment).
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";
/// Label linking runtime objects (listener, runner sets, chart objects) to their scale set.
pub const SCALE_SET_NAME_LABEL: &str = "actions.github.com/scale-set-name";
/// See [`SCALE_SET_NAME_LABEL`].
pub const SCALE_SET_NAMESPACE_LABEL: &str = "actions.github.com/scale-set-namespace";
/// The runner group a runner set registers in when `spec.runnerGroup` is empty.
pub const DEFAULT_RUNNER_GROUP: &str = "default";
/// Labels ARC puts on the listener Role/RoleBinding in the runner namespace.
pub const LISTENER_NAME_LABEL: &str = "auto-scaling-listener-name";
/// See [`LISTENER_NAME_LABEL`].
pub const LISTENER_NAMESPACE_LABEL: &str = "auto-scaling-listener-namespace";

/// Prefix of the cleanup annotations on a runner set.
pub const CLEANUP_ANNOTATION_PREFIX: &str = "actions.github.com/cleanup-";

/// The ARS cleanup annotations in the controller's stripping order, with the
/// API group and kind of object each one names. `cleanup-manager-role-binding`
/// has no `-name` suffix.
pub const CLEANUP_ANNOTATIONS: &[(&str, &str, &str)] = &[
    (
        "actions.github.com/cleanup-kubernetes-mode-role-binding-name",
        RBAC,
        "RoleBinding",
    ),
    (
        "actions.github.com/cleanup-kubernetes-mode-role-name",
        RBAC,
        "Role",
    ),
    (
        "actions.github.com/cleanup-kubernetes-mode-service-account-name",
        "",
        "ServiceAccount",
    ),
    (
        "actions.github.com/cleanup-no-permission-service-account-name",
        "",
        "ServiceAccount",
    ),
    (
        "actions.github.com/cleanup-github-secret-name",
        "",
        "Secret",
    ),
    (
        "actions.github.com/cleanup-manager-role-binding",
        RBAC,
        "RoleBinding",
    ),
    ("actions.github.com/cleanup-manager-role-name", RBAC, "Role"),
];

/// Annotation naming the GitHub config Secret.
pub const GITHUB_SECRET_ANNOTATION: &str = "actions.github.com/cleanup-github-secret-name";
/// Annotation naming the manager RoleBinding.
pub const MANAGER_ROLE_BINDING_ANNOTATION: &str = "actions.github.com/cleanup-manager-role-binding";
/// Annotation naming the manager Role.
pub const MANAGER_ROLE_ANNOTATION: &str = "actions.github.com/cleanup-manager-role-name";

/// The `(group, kind)` a cleanup annotation names, from its key after
/// [`CLEANUP_ANNOTATION_PREFIX`]: the kind [`CLEANUP_ANNOTATIONS`] gives a
/// known key; an unknown one (a chart version this table does not know) by
/// the chart's naming rule: `...-role-binding[-name]` → RoleBinding,
/// `...-role[-name]` → Role, `...-service-account[-name]` → ServiceAccount,
/// `...-secret[-name]` → Secret.
pub fn cleanup_annotation_kind(suffix: &str) -> Option<(&'static str, &'static str)> {
    if let Some((_, group, kind)) = CLEANUP_ANNOTATIONS
        .iter()
        .find(|(key, ..)| key.strip_prefix(CLEANUP_ANNOTATION_PREFIX) == Some(suffix))
    {
        return Some((group, kind));
    }
    let stem = suffix.strip_suffix("-name").unwrap_or(suffix);
    if stem.ends_with("role-binding") {
        Some((RBAC, "RoleBinding"))
    } else if stem.ends_with("role") {
        Some((RBAC, "Role"))
    } else if stem.ends_with("service-account") {
        Some(("", "ServiceAccount"))
    } else if stem.ends_with("secret") {
        Some(("", "Secret"))
    } else {
        None
    }
}

/// Spec fields of a runner set that name objects in its namespace: JSON
/// pointer, kind, the field as written in messages.
pub const SPEC_REFERENCES: &[(&str, &str, &str)] = &[
    (
        "/spec/githubConfigSecret",
        "Secret",
        "spec.githubConfigSecret",
    ),
    (
        "/spec/template/spec/serviceAccountName",
        "ServiceAccount",
        "spec.template.spec.serviceAccountName",
    ),
    (
        "/spec/proxy/http/credentialSecretRef",
        "Secret",
        "spec.proxy.http.credentialSecretRef",
    ),
    (
        "/spec/proxy/https/credentialSecretRef",
        "Secret",
        "spec.proxy.https.credentialSecretRef",
    ),
    (
        "/spec/githubServerTLS/certificateFrom/configMapKeyRef/name",
        "ConfigMap",
        "spec.githubServerTLS.certificateFrom.configMapKeyRef.name",
    ),
    // With spec.vaultConfig, the controller reads its vault's proxy
    // credentials from these Kubernetes Secrets (secretresolver, 0.14).
    (
        "/spec/vaultConfig/proxy/http/credentialSecretRef",
        "Secret",
        "spec.vaultConfig.proxy.http.credentialSecretRef",
    ),
    (
        "/spec/vaultConfig/proxy/https/credentialSecretRef",
        "Secret",
        "spec.vaultConfig.proxy.https.credentialSecretRef",
    ),
];

/// Whether a Deployment (its JSON) is ARC's controller: [`PART_OF_LABEL`] is
/// [`CONTROLLER_PART_OF`] on it or on its pod template.
pub fn is_controller_deployment(value: &Value) -> bool {
    crate::model::label(value, PART_OF_LABEL) == Some(CONTROLLER_PART_OF)
        || value
            .pointer("/spec/template/metadata/labels")
            .and_then(|labels| labels.get(PART_OF_LABEL))
            .and_then(Value::as_str)
            == Some(CONTROLLER_PART_OF)
}

/// A chart object named by a cleanup annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependent {
    /// API group (empty for core).
    pub group: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Name, read from the annotation.
    pub name: String,
}

/// What one AutoscalingRunnerSet says about its dependents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerSetRefs {
    /// ARS name.
    pub name: String,
    /// ARS (and runner) namespace.
    pub namespace: String,
    /// Objects named by cleanup annotations, in the controller's stripping order.
    pub dependents: Vec<Dependent>,
    /// Manager RoleBinding name, if annotated.
    pub manager_role_binding: Option<String>,
    /// Manager Role name, if annotated.
    pub manager_role: Option<String>,
    /// `spec.githubConfigSecret`.
    pub github_config_secret: Option<String>,
    /// `spec.githubConfigUrl`.
    pub github_config_url: Option<String>,
    /// The scale set id the controller registered on GitHub, if any.
    pub scale_set_id: Option<String>,
    /// `spec.runnerGroup` as written (empty when unset; see [`RunnerSetRefs::runner_group_or_default`]).
    pub runner_group: String,
    /// `spec.runnerScaleSetName`, else the ARS name: the name the controller looks the scale set up by.
    pub scale_set_name: String,
    /// `metadata.labels["app.kubernetes.io/version"]`.
    pub version: Option<String>,
    /// What the controller reads to reach GitHub.
    pub github: credentials::GitHubAccess,
}

impl RunnerSetRefs {
    /// Read the references from an ARS object (from the manifest or live).
    pub fn from_ars(value: &Value, default_namespace: &str) -> Self {
        let annotations = value.pointer("/metadata/annotations");
        let ann = |key: &str| {
            annotations
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let dependents = CLEANUP_ANNOTATIONS
            .iter()
            .filter_map(|(key, group, kind)| ann(key).map(|name| Dependent { group, kind, name }))
            .collect();
        Self {
            name: value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            namespace: value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(default_namespace)
                .to_string(),
            dependents,
            manager_role_binding: ann(MANAGER_ROLE_BINDING_ANNOTATION),
            manager_role: ann(MANAGER_ROLE_ANNOTATION),
            github_config_secret: value
                .pointer("/spec/githubConfigSecret")
                .and_then(Value::as_str)
                .map(str::to_string),
            github_config_url: value
                .pointer("/spec/githubConfigUrl")
                .and_then(Value::as_str)
                .map(str::to_string),
            scale_set_id: ann(SCALE_SET_ID_ANNOTATION),
            runner_group: value
                .pointer("/spec/runnerGroup")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            scale_set_name: value
                .pointer("/spec/runnerScaleSetName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .or_else(|| value.pointer("/metadata/name").and_then(Value::as_str))
                .unwrap_or_default()
                .to_string(),
            version: manifest_label(value, VERSION_LABEL),
            github: credentials::GitHubAccess::from_spec(value.get("spec").unwrap_or(&Value::Null)),
        }
    }

    /// `namespace/name`.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The listener name the controller computes for this runner set now:
    /// `<ars>-<fnv8(namespace@runnerGroup@githubConfigUrl)>-listener`, with
    /// `spec.runnerGroup` as written (empty when unset), as upstream does.
    pub fn listener_name(&self) -> String {
        listener_name(
            &self.name,
            &self.namespace,
            &self.runner_group,
            self.github_config_url.as_deref().unwrap_or_default(),
        )
    }

    /// The listener name a controller of `version` computes for this runner
    /// set: [`RunnerSetRefs::listener_name`] from 0.13.1 on, else
    /// `<ars>-<fnv8(namespace)>-listener` ([`legacy_listener_name`]).
    pub fn listener_name_at(&self, version: Option<&str>) -> String {
        if versions::listener_name_hashes_group_and_url(version) {
            self.listener_name()
        } else {
            legacy_listener_name(&self.name, &self.namespace)
        }
    }

    /// The runner group the controller registers in (`default` when unset).
    pub fn runner_group_or_default(&self) -> &str {
        if self.runner_group.is_empty() {
            DEFAULT_RUNNER_GROUP
        } else {
            &self.runner_group
        }
    }
}

fn manifest_label(value: &Value, key: &str) -> Option<String> {
    crate::model::label(value, key).map(str::to_string)
}

/// ARC's `hash.FNVHashString`: FNV-1a (32 bit) of `s`, its decimal digits
/// mapped through Kubernetes' `rand.SafeEncodeString` alphabet.
pub fn fnv_hash_string(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|c| char::from(ALPHANUMS[usize::from(c) % ALPHANUMS.len()]))
        .collect()
}

/// The AutoscalingListener name ARC 0.13+ gives the listener of runner set
/// `name` in `namespace` (`scaleSetListenerName`): a change of runner group or
/// config URL changes it, and the listener of the old name is left behind.
pub fn listener_name(name: &str, namespace: &str, runner_group: &str, url: &str) -> String {
    let hash: String = fnv_hash_string(&format!("{namespace}@{runner_group}@{url}"))
        .chars()
        .take(8)
        .collect();
    format!("{name}-{hash}-listener")
}

/// The AutoscalingListener name ARC up to 0.13.0 gave the listener of
/// runner set `name` in `namespace`: the hash of the namespace alone.
pub fn legacy_listener_name(name: &str, namespace: &str) -> String {
    let hash: String = fnv_hash_string(namespace).chars().take(8).collect();
    format!("{name}-{hash}-listener")
}

/// Whether a listener belongs to runner set `name` in `namespace`: by its
/// spec (`autoscalingRunnerSetName/Namespace`) or by its labels
/// (`actions.github.com/scale-set-name/-namespace`), so that listeners of
/// older names and of other hashes are found too.
pub fn listener_belongs_to(live: &Live, name: &str, namespace: &str) -> bool {
    is_listener_of(live, name, namespace)
        || (live.label(SCALE_SET_NAME_LABEL) == Some(name)
            && live.label(SCALE_SET_NAMESPACE_LABEL) == Some(namespace))
}

/// Whether `live` is the AutoscalingListener of the ARS `name` in `namespace`.
pub fn is_listener_of(live: &Live, name: &str, namespace: &str) -> bool {
    live.str_at("/spec/autoscalingRunnerSetName") == Some(name)
        && live.str_at("/spec/autoscalingRunnerSetNamespace") == Some(namespace)
}

/// A runner's phase (`status.phase`), `Pending` when unset.
pub fn runner_phase(live: &Live) -> &str {
    live.str_at("/status/phase")
        .filter(|p| !p.is_empty())
        .unwrap_or("Pending")
}

/// Whether a runner is running a job: `status.jobRequestId` non-zero or
/// `status.jobId` set, and the runner has not finished.
pub fn runner_is_busy(live: &Live) -> bool {
    let request = live
        .value
        .pointer("/status/jobRequestId")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let job = live.str_at("/status/jobId").unwrap_or_default();
    let finished = matches!(runner_phase(live), "Succeeded" | "Failed");
    !finished && (request != 0 || !job.is_empty())
}

/// Who removes a finalizer when the ARC line is not known (see
/// [`versions::owner`] for the per-line answer).
pub fn finalizer_owner(finalizer: &str, kind: &str) -> &'static str {
    versions::owner(None, finalizer, kind).text()
}

/// An `actions.github.com` object `kind/name` in namespace `runners`, for unit tests.
#[cfg(test)]
pub(crate) fn test_object(kind: &str, name: &str, value: Value) -> Live {
    Live::new(
        crate::model::ObjectId {
            group: GROUP.into(),
            version: VERSION.into(),
            kind: kind.into(),
            namespace: Some("runners".into()),
            name: name.into(),
        },
        value,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObjectId;
    use serde_json::json;

    #[test]
    fn annotation_keys_imply_kinds() {
        assert_eq!(
            cleanup_annotation_kind("manager-role-binding"),
            Some((RBAC, "RoleBinding"))
        );
        assert_eq!(
            cleanup_annotation_kind("kubernetes-mode-role-binding-name"),
            Some((RBAC, "RoleBinding"))
        );
        assert_eq!(
            cleanup_annotation_kind("manager-role-name"),
            Some((RBAC, "Role"))
        );
        assert_eq!(
            cleanup_annotation_kind("kubernetes-mode-role-name"),
            Some((RBAC, "Role"))
        );
        assert_eq!(
            cleanup_annotation_kind("no-permission-service-account-name"),
            Some(("", "ServiceAccount"))
        );
        assert_eq!(
            cleanup_annotation_kind("kubernetes-mode-service-account-name"),
            Some(("", "ServiceAccount"))
        );
        assert_eq!(
            cleanup_annotation_kind("github-secret-name"),
            Some(("", "Secret"))
        );
        assert_eq!(cleanup_annotation_kind("protection"), None);
    }

    #[test]
    fn the_table_and_the_naming_rule_agree_on_every_known_annotation() {
        for (key, group, kind) in CLEANUP_ANNOTATIONS {
            let suffix = key.strip_prefix(CLEANUP_ANNOTATION_PREFIX).unwrap();
            assert!(
                (suffix.ends_with("role-binding") || suffix.ends_with("-name"))
                    && cleanup_annotation_kind(suffix) == Some((group, kind)),
                "{key}"
            );
        }
        // A key of a newer chart that the table does not know, by the naming rule.
        assert_eq!(
            cleanup_annotation_kind("listener-role-binding-name"),
            Some((RBAC, "RoleBinding"))
        );
    }

    use crate::model::test_secret as live;

    #[test]
    fn any_resource_policy_value_keeps_the_object_as_helm_does() {
        let object = |annotations: serde_json::Value| {
            Object::from_value(
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "c", "annotations": annotations}}),
                0,
                "ns",
            )
            .unwrap()
        };
        assert!(kept_by_policy(&object(
            json!({RESOURCE_POLICY_ANNOTATION: "keep"})
        )));
        assert!(kept_by_policy(&object(
            json!({RESOURCE_POLICY_ANNOTATION: "delete"})
        )));
        assert!(!kept_by_policy(&object(json!({}))));
    }

    #[test]
    fn ownership_needs_both_annotations() {
        let mut l = live("a", "1");
        l.value["metadata"]["annotations"] =
            json!({RELEASE_NAME_ANNOTATION: "rel", RELEASE_NAMESPACE_ANNOTATION: "ns"});
        assert!(owned_by(&l, "rel", "ns"));
        assert!(!owned_by(&l, "rel", "other"));
        assert!(!owned_by(&live("a", "1"), "rel", "ns"));
    }

    #[test]
    fn reads_names_from_annotations_in_controller_order() {
        let ars = json!({"metadata": {"name": "set", "annotations": {
            "actions.github.com/cleanup-manager-role-name": "m-role",
            "actions.github.com/cleanup-manager-role-binding": "m-rb",
            "actions.github.com/cleanup-github-secret-name": "gh",
            "actions.github.com/cleanup-kubernetes-mode-role-binding-name": "k-rb",
            "runner-scale-set-id": "12"}},
            "spec": {"githubConfigSecret": "gh", "githubConfigUrl": "https://github.com/o"}});
        let refs = RunnerSetRefs::from_ars(&ars, "arc-runners");
        let names: Vec<_> = refs
            .dependents
            .iter()
            .map(|d| (d.kind, d.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("RoleBinding", "k-rb"),
                ("Secret", "gh"),
                ("RoleBinding", "m-rb"),
                ("Role", "m-role")
            ]
        );
        assert_eq!(refs.namespace, "arc-runners");
        assert_eq!(refs.manager_role_binding.as_deref(), Some("m-rb"));
        assert_eq!(refs.scale_set_id.as_deref(), Some("12"));
    }

    #[test]
    fn listener_names_per_line() {
        let ars = json!({"metadata": {"name": "arc-runner-set", "namespace": "arc-runners"},
            "spec": {"githubConfigUrl": "https://github.com/example/repo"}});
        let refs = RunnerSetRefs::from_ars(&ars, "arc-runners");
        // The example in shared/docs/arc-teardown.md (§1, listener row).
        assert_eq!(refs.listener_name(), "arc-runner-set-6c9b97c4-listener");
        assert_eq!(refs.listener_name_at(Some("0.14.2")), refs.listener_name());
        assert_eq!(
            refs.listener_name_at(Some("0.13.0")),
            legacy_listener_name("arc-runner-set", "arc-runners")
        );
        assert_ne!(refs.listener_name_at(Some("0.13.0")), refs.listener_name());
        let mut grouped = ars.clone();
        grouped["spec"]["runnerGroup"] = json!("larger-runners");
        let moved = RunnerSetRefs::from_ars(&grouped, "arc-runners");
        assert_ne!(moved.listener_name(), refs.listener_name());
        assert_eq!(
            moved.listener_name_at(Some("0.13.0")),
            refs.listener_name_at(Some("0.13.0")),
            "0.13.0 hashed the namespace only"
        );
    }

    #[test]
    fn busy_means_running_with_a_job() {
        let id = ObjectId {
            group: GROUP.into(),
            version: VERSION.into(),
            kind: ER_KIND.into(),
            namespace: None,
            name: "r".into(),
        };
        let busy = Live::new(
            id.clone(),
            json!({"status": {"phase": "Running", "jobRequestId": 5}}),
        );
        let idle = Live::new(id.clone(), json!({"status": {"phase": "Running"}}));
        let done = Live::new(
            id.clone(),
            json!({"status": {"phase": "Succeeded", "jobId": "1"}}),
        );
        assert!(!runner_is_busy(&done));
        let pending = Live::new(id, json!({}));
        assert!(runner_is_busy(&busy));
        assert!(!runner_is_busy(&idle));
        assert_eq!(runner_phase(&pending), "Pending");
    }
}
