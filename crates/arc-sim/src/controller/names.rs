//! Names, finalizers, labels and annotations exactly as ARC 0.14.2 spells them.

use serde_json::Value;

use kube_sim::api::Gvk;

/// API version of the ARC custom resources.
pub const ARC_API_VERSION: &str = "actions.github.com/v1alpha1";
/// API group of the ARC custom resources.
pub const ARC_GROUP: &str = "actions.github.com";

/// Finalizer the controller puts on an AutoscalingRunnerSet.
pub const ARS_FINALIZER: &str = "autoscalingrunnerset.actions.github.com/finalizer";
/// Finalizer the controller puts on an AutoscalingListener.
pub const LISTENER_FINALIZER: &str = "autoscalinglistener.actions.github.com/finalizer";
/// Finalizer on EphemeralRunners, and (sic, 0.14.x) on EphemeralRunnerSets.
pub const ER_FINALIZER: &str = "ephemeralrunner.actions.github.com/finalizer";
/// The EphemeralRunnerSet finalizer of upstream HEAD (unreleased 0.15 line).
pub const ERS_FINALIZER_HEAD: &str = "ephemeralrunnerset.actions.github.com/finalizer";
/// Second EphemeralRunner finalizer: held until the runner left the Actions service.
pub const ER_REGISTRATION_FINALIZER: &str =
    "ephemeralrunner.actions.github.com/runner-registration-finalizer";
/// Finalizer the runner-set chart puts on its RBAC, ServiceAccounts and Secret.
pub const CLEANUP_PROTECTION: &str = "actions.github.com/cleanup-protection";

/// ARS annotation holding the scale set id (no prefix).
pub const ANN_SCALE_SET_ID: &str = "runner-scale-set-id";
/// ARS annotation: runner group name.
pub const ANN_RUNNER_GROUP_NAME: &str = "actions.github.com/runner-group-name";
/// ARS annotation: scale set name.
pub const ANN_SCALE_SET_NAME: &str = "actions.github.com/runner-scale-set-name";
/// Hash of the ARS spec and labels the 0.14.x controller last acted on.
pub const ANN_CHANGE_HASH: &str = "actions.github.com/change-hash";
/// HEAD's name for the change hash (on the ARS and its EphemeralRunnerSet).
pub const ANN_INTEGRITY_HASH: &str = "actions.github.com/integrity-hash";
/// Spec hash on an EphemeralRunnerSet (runner spec) or listener (whole ARS spec).
pub const ANN_RUNNER_SPEC_HASH: &str = "actions.github.com/runner-spec-hash";
/// Hash of the chart values (set by the chart on the ARS, copied to the listener).
pub const ANN_VALUES_HASH: &str = "actions.github.com/values-hash";
/// Patch id a runner was created at (`AnnotationKeyPatchID`).
pub const ANN_PATCH_ID: &str = "actions.github.com/patch-id";
/// Label holding the chart (and resource) version the controller checks.
pub const LABEL_VERSION: &str = "app.kubernetes.io/version";
/// Cleanup annotations on the ARS, in the controller's removal order, with the
/// kind each names and the log message of its step.
pub const CLEANUP_ANNOTATIONS: [(&str, &str, &str); 7] = [
    (
        "actions.github.com/cleanup-kubernetes-mode-role-binding-name",
        "RoleBinding",
        "container mode kubernetes role binding",
    ),
    (
        "actions.github.com/cleanup-kubernetes-mode-role-name",
        "Role",
        "container mode kubernetes role",
    ),
    (
        "actions.github.com/cleanup-kubernetes-mode-service-account-name",
        "ServiceAccount",
        "container mode kubernetes service account",
    ),
    (
        "actions.github.com/cleanup-no-permission-service-account-name",
        "ServiceAccount",
        "no permission service account",
    ),
    (
        "actions.github.com/cleanup-github-secret-name",
        "Secret",
        "GitHub secret",
    ),
    (
        "actions.github.com/cleanup-manager-role-binding",
        "RoleBinding",
        "manager role binding",
    ),
    (
        "actions.github.com/cleanup-manager-role-name",
        "Role",
        "manager role",
    ),
];

/// Label on the controller Deployment that the runner-set chart (and the sim) look for.
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
/// Its value.
pub const CONTROLLER_PART_OF: &str = "gha-rs-controller";
/// Deployment label naming the controller ServiceAccount.
pub const LABEL_CONTROLLER_SA_NAME: &str = "actions.github.com/controller-service-account-name";
/// Deployment label naming the controller ServiceAccount's namespace.
pub const LABEL_CONTROLLER_SA_NAMESPACE: &str =
    "actions.github.com/controller-service-account-namespace";
/// Controller Deployment label of a single-namespace controller: the only
/// namespace whose runner sets it serves.
pub const LABEL_WATCH_SINGLE_NAMESPACE: &str =
    "actions.github.com/controller-watch-single-namespace";
/// Listener Role/RoleBinding label: listener name.
pub const LABEL_LISTENER_NAME: &str = "auto-scaling-listener-name";
/// Listener Role/RoleBinding label: listener namespace.
pub const LABEL_LISTENER_NAMESPACE: &str = "auto-scaling-listener-namespace";
/// Runner pod label.
pub const LABEL_EPHEMERAL_RUNNER: &str = "actions-ephemeral-runner";
/// Label on container-hook pods/secrets naming their runner.
pub const LABEL_RUNNER_POD: &str = "runner-pod";

/// The controller version of the charts the sim renders by default.
pub const CONTROLLER_VERSION: &str = "0.14.2";

/// `actions.github.com/v1alpha1` kind.
pub fn arc(kind: &str) -> Gvk {
    Gvk::new(ARC_API_VERSION, kind)
}
/// AutoscalingRunnerSet.
pub fn ars_gvk() -> Gvk {
    arc("AutoscalingRunnerSet")
}
/// AutoscalingListener.
pub fn listener_gvk() -> Gvk {
    arc("AutoscalingListener")
}
/// EphemeralRunnerSet.
pub fn ers_gvk() -> Gvk {
    arc("EphemeralRunnerSet")
}
/// EphemeralRunner.
pub fn er_gvk() -> Gvk {
    arc("EphemeralRunner")
}
/// Core kind.
pub fn core(kind: &str) -> Gvk {
    Gvk::new("v1", kind)
}
/// rbac.authorization.k8s.io/v1 kind.
pub fn rbac(kind: &str) -> Gvk {
    Gvk::new("rbac.authorization.k8s.io/v1", kind)
}
/// apps/v1 Deployment.
pub fn deployment_gvk() -> Gvk {
    Gvk::new("apps/v1", "Deployment")
}

/// Plural resource name of a kind the controller touches.
pub fn plural(kind: &str) -> String {
    match kind {
        "Pod" => "pods".into(),
        "Secret" => "secrets".into(),
        "ConfigMap" => "configmaps".into(),
        "ServiceAccount" => "serviceaccounts".into(),
        "Role" => "roles".into(),
        "RoleBinding" => "rolebindings".into(),
        "ClusterRole" => "clusterroles".into(),
        "Deployment" => "deployments".into(),
        other => format!("{}s", other.to_ascii_lowercase()),
    }
}

/// `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString(fmt.Sprint(fnv32a(s)))`,
/// ARC's `hash.FNVHashString`.
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

/// `scaleSetListenerName` (0.13.1+, #4299):
/// `<ars>-<hash8(ns@runnerGroup@githubConfigUrl)>-listener`.
pub fn listener_name(ars: &Value) -> String {
    let ns = str_at(ars, "/metadata/namespace");
    let group = str_at(ars, "/spec/runnerGroup");
    let url = str_at(ars, "/spec/githubConfigUrl");
    listener_name_from_hash_input(ars, &format!("{ns}@{group}@{url}"))
}

/// `scaleSetListenerName` up to 0.13.0: `<ars>-<hash8(ns)>-listener`.
pub fn legacy_listener_name(ars: &Value) -> String {
    listener_name_from_hash_input(ars, str_at(ars, "/metadata/namespace"))
}

fn listener_name_from_hash_input(ars: &Value, input: &str) -> String {
    let hash: String = fnv_hash_string(input).chars().take(8).collect();
    format!("{}-{hash}-listener", str_at(ars, "/metadata/name"))
}

/// `hash.ComputeTemplateHash`-like: a short stable hash of a JSON value
/// (equal values give equal hashes; the digits differ from upstream's).
pub fn template_hash(v: &Value) -> String {
    fnv_hash_string(&v.to_string())
}

/// The spec configures a proxy (`spec.proxy` of an ARS, listener or runner spec).
pub fn has_proxy(spec: &Value) -> bool {
    spec.get("proxy").is_some_and(Value::is_object)
}

/// `proxyEphemeralRunnerSetSecretName`: `<ers>-<fnv8(ns)>-runner-proxy`.
pub fn ers_proxy_secret_name(ers: &Value) -> String {
    let hash: String = fnv_hash_string(namespace(ers)).chars().take(8).collect();
    format!("{}-{hash}-runner-proxy", name(ers))
}

// ---- JSON accessors ---------------------------------------------------------------

/// String at a JSON pointer, empty when absent.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
/// `metadata.name`.
pub fn name(v: &Value) -> &str {
    str_at(v, "/metadata/name")
}
/// `metadata.namespace`.
pub fn namespace(v: &Value) -> &str {
    str_at(v, "/metadata/namespace")
}
/// `metadata.uid`.
pub fn uid(v: &Value) -> &str {
    str_at(v, "/metadata/uid")
}
pub use kube_sim::value::{finalizers, is_deleting};
/// `metadata.finalizers` contains `f`.
pub fn has_finalizer(v: &Value, f: &str) -> bool {
    finalizers(v).iter().any(|x| x == f)
}
/// An annotation.
pub fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}
/// A label.
pub fn label<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/labels")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}
/// `metadata.labels` as an object (empty object when absent).
pub fn labels(v: &Value) -> Value {
    v.pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()))
}
/// The `controller: true` ownerReference: (kind, name, uid).
pub fn controller_owner(v: &Value) -> Option<(String, String, String)> {
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| {
            (
                str_at(r, "/kind").to_string(),
                str_at(r, "/name").to_string(),
                str_at(r, "/uid").to_string(),
            )
        })
}
/// An ownerReference to `owner` (controller, blockOwnerDeletion).
pub fn owner_ref(owner: &Value) -> Value {
    serde_json::json!({
        "apiVersion": str_at(owner, "/apiVersion"),
        "kind": str_at(owner, "/kind"),
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listener_name_matches_the_fixture() {
        let ars = json!({"metadata": {"name": "arc-runner-set", "namespace": "arc-runners"},
                          "spec": {"githubConfigUrl": "https://github.com/example/repo"}});
        assert_eq!(listener_name(&ars), "arc-runner-set-6c9b97c4-listener");
    }

    #[test]
    fn plural_names() {
        assert_eq!(plural("EphemeralRunnerSet"), "ephemeralrunnersets");
        assert_eq!(plural("RoleBinding"), "rolebindings");
    }
}
