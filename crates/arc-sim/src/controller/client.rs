//! The controller's view of the API: its identity, its RBAC, its log.
//!
//! Reads of Roles, RoleBindings, ServiceAccounts, Pods and the ARC kinds come
//! from cluster-wide informers (ClusterRole list/watch) and need no namespace
//! RBAC; Secret and ConfigMap reads are live calls (`DisableFor`) and, like
//! every write in a runner namespace, are authorised by the RoleBindings that
//! bind the controller's ServiceAccount in that namespace (the chart's
//! manager Role/RoleBinding). Calls in the controller namespace and on ARC
//! kinds are granted by the controller chart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::names::*;
use super::version::ArcVersion;
use crate::github::{FakeGitHub, GitHubError};
use crate::vault::FakeVault;
use kube_sim::api::{Actor, Api, ApiError, DeleteOptions, DeleteOutcome, Gvk, ListOptions, Patch};

/// Requeue delays of the real controller, scalable for tests.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Delay before reacting to any watch event (deterministic per-step delay).
    pub step_delay: Duration,
    /// AutoscalingRunnerSet "waiting for resources" requeue (real: 5s).
    pub ars_requeue: Duration,
    /// AutoscalingListener "waiting for resources" requeue (real: 1s).
    pub listener_requeue: Duration,
    /// EphemeralRunner "job still running" requeue (real: 30s).
    pub busy_runner_requeue: Duration,
    /// First error backoff (real: 5ms).
    pub backoff_base: Duration,
    /// Error backoff cap (real: 1000s).
    pub backoff_max: Duration,
    /// Pods the controller creates are scheduled to a node, so deleting a
    /// running one is graceful and ends when kube-sim's kubelet kills it
    /// (after the simulator's GC delay), as on a cluster (real: `true`).
    /// `false`: they have no node and go at once.
    pub pods_on_node: bool,
}

impl Timing {
    /// The real controller's delays.
    pub fn real() -> Self {
        Self {
            step_delay: Duration::ZERO,
            ars_requeue: Duration::from_secs(5),
            listener_requeue: Duration::from_secs(1),
            busy_runner_requeue: Duration::from_secs(30),
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_secs(1000),
            pods_on_node: true,
        }
    }

    /// Short delays for tests (same order of steps).
    pub fn fast() -> Self {
        Self {
            step_delay: Duration::ZERO,
            ars_requeue: Duration::from_millis(50),
            listener_requeue: Duration::from_millis(20),
            busy_runner_requeue: Duration::from_millis(50),
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(200),
            pods_on_node: false,
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::fast()
    }
}

/// Log level of a controller log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// INFO.
    Info,
    /// ERROR.
    Error,
}

/// One controller log line (logr style: reconciler, object, message, error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Level.
    pub level: Level,
    /// Reconciler: `AutoscalingRunnerSet`, `AutoscalingListener`, `EphemeralRunnerSet`, `EphemeralRunner`.
    pub controller: String,
    /// `namespace/name` of the reconciled object.
    pub object: String,
    /// Message, exactly as ARC logs it.
    pub message: String,
    /// Error text for ERROR lines.
    pub error: Option<String>,
    /// The line's key/value pairs (logr `WithValues`), for example `name`.
    pub values: Vec<(String, String)>,
    /// When it was logged.
    pub time: jiff::Timestamp,
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Info => "INFO",
            Level::Error => "ERROR",
        };
        write!(
            f,
            "{:.0}\t{level}\t{}\t{}\t{{\"{}\": \"{}\"",
            self.time,
            self.controller,
            self.message,
            self.controller.to_ascii_lowercase(),
            self.object
        )?;
        for (k, v) in &self.values {
            write!(f, ", \"{k}\": {v:?}")?;
        }
        if let Some(e) = &self.error {
            write!(f, ", \"error\": {:?}", e)?;
        }
        write!(f, "}}")
    }
}

/// The shared, append-only controller log.
#[derive(Clone, Debug, Default)]
pub struct ControllerLog(Arc<Mutex<Vec<LogLine>>>);

impl ControllerLog {
    pub(crate) fn push(&self, entry: LogLine) {
        if std::env::var_os("KUBE_SIM_ARC_LOG").is_some() {
            eprintln!("{entry}");
        }
        crate::sync::lock(&self.0).push(entry);
    }

    /// All lines so far.
    pub fn entries(&self) -> Vec<LogLine> {
        crate::sync::lock(&self.0).clone()
    }
}

/// A reconcile failure (retried with backoff), as the wrapped Go error reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(e.message)
    }
}

impl From<GitHubError> for Failure {
    fn from(e: GitHubError) -> Self {
        Failure(e.to_string())
    }
}

/// What a reconcile asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing until the next watch event.
    Done,
    /// Reconcile again after this delay.
    RequeueAfter(Duration),
}

/// Result of one reconcile.
pub type Reconciled = Result<Outcome, Failure>;

/// Who the controller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Namespace of the controller (where listeners live).
    pub namespace: String,
    /// Its ServiceAccount name.
    pub service_account: String,
    /// Its ServiceAccount's namespace (the controller namespace in the chart).
    pub service_account_namespace: String,
}

impl Identity {
    /// The controller chart's identity: ServiceAccount `service_account` in `namespace`.
    pub fn new(namespace: &str, service_account: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            service_account_namespace: namespace.to_string(),
        }
    }

    /// `system:serviceaccount:<ns>:<sa>`.
    pub fn user(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.service_account_namespace, self.service_account
        )
    }
}

/// Context of one reconcile.
pub(crate) struct Ctx<'a> {
    pub api: &'a dyn Api,
    pub github: &'a FakeGitHub,
    pub vault: &'a FakeVault,
    pub ident: &'a Identity,
    /// The controller's build version.
    pub version: &'a ArcVersion,
    /// `--watch-single-namespace`: the only runner namespace it sees.
    pub watch_namespace: Option<&'a str>,
    pub timing: &'a Timing,
    pub log: &'a ControllerLog,
    /// Admission's answer to runner pod creates (`None`: admitted).
    pub pod_admission: Option<String>,
    pub actor: Actor,
    /// Reconciler name for log lines.
    pub controller: &'static str,
    /// `namespace/name` for log lines.
    pub object: String,
}

fn is_not_found(e: &ApiError) -> bool {
    e.code == 404
}

fn rule_allows(rule: &Value, group: &str, resource: &str, verb: &str, name: &str) -> bool {
    let has = |field: &str, want: &str| {
        rule.get(field).and_then(Value::as_array).is_some_and(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .any(|x| x == want || x == "*")
        })
    };
    let names_ok = match rule.get("resourceNames").and_then(Value::as_array) {
        None => true,
        Some(a) if a.is_empty() => true,
        Some(a) => a.iter().filter_map(Value::as_str).any(|x| x == name),
    };
    has("apiGroups", group) && has("resources", resource) && has("verbs", verb) && names_ok
}

impl Ctx<'_> {
    fn push(&self, level: Level, message: String, error: Option<String>, values: &[(&str, &str)]) {
        self.log.push(LogLine {
            level,
            controller: self.controller.to_string(),
            object: self.object.clone(),
            message,
            error,
            values: values
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            time: jiff::Timestamp::now(),
        });
    }

    /// An INFO line.
    pub fn info(&self, message: impl Into<String>) {
        self.push(Level::Info, message.into(), None, &[]);
    }

    /// An INFO line with key/value pairs.
    pub fn info_kv(&self, message: impl Into<String>, values: &[(&str, &str)]) {
        self.push(Level::Info, message.into(), None, values);
    }

    /// An ERROR line.
    pub fn error(&self, message: impl Into<String>, error: &dyn std::fmt::Display) {
        self.push(Level::Error, message.into(), Some(error.to_string()), &[]);
    }

    /// `scaleSetListenerName` of this controller version.
    pub fn listener_name(&self, ars: &Value) -> String {
        if self.version.listener_hash_includes_group_and_url() {
            listener_name(ars)
        } else {
            legacy_listener_name(ars)
        }
    }

    /// The manager's cache covers this namespace: every namespace, or with
    /// `--watch-single-namespace` that one and the controller's own.
    pub fn sees(&self, namespace: &str) -> bool {
        self.watch_namespace
            .is_none_or(|w| w == namespace || namespace == self.ident.namespace)
    }

    fn authorizer(&self) -> Actor {
        Actor("system:kube-apiserver:rbac".to_string())
    }

    /// RBAC check of one request made by the controller: the controller
    /// chart's cluster-wide grants, then the RoleBindings in the namespace
    /// that bind the controller's ServiceAccount (by subject).
    pub fn authorize(
        &self,
        verb: &str,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let resource = plural(&gvk.kind);
        if (self.controller_chart_grants(&gvk.group, &resource, verb) && self.sees(namespace))
            || self.namespace_rbac_allows(verb, &gvk.group, &resource, namespace, name)
        {
            return Ok(());
        }
        Err(forbidden(
            &self.ident.user(),
            verb,
            &gvk.group,
            &resource,
            namespace,
            name,
        ))
    }

    /// What the controller chart's ClusterRole grants everywhere (its
    /// single-namespace Roles grant the same in the watched namespace): the
    /// ARC kinds, list/watch of pods, ServiceAccounts, Roles and
    /// RoleBindings, and `patch` of Roles.
    fn controller_chart_grants(&self, group: &str, resource: &str, verb: &str) -> bool {
        if group == ARC_GROUP {
            return true;
        }
        match (group, resource) {
            ("", "pods" | "serviceaccounts") | ("rbac.authorization.k8s.io", "rolebindings") => {
                matches!(verb, "list" | "watch")
            }
            ("rbac.authorization.k8s.io", "roles") => matches!(verb, "list" | "watch" | "patch"),
            _ => false,
        }
    }

    fn namespace_rbac_allows(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> bool {
        let sys = self.authorizer();
        let Ok(bindings) = self.api.list(
            &sys,
            &rbac("RoleBinding"),
            Some(namespace),
            &ListOptions::default(),
        ) else {
            return false;
        };
        bindings.iter().any(|rb| {
            let binds_us = rb
                .get("subjects")
                .and_then(Value::as_array)
                .is_some_and(|subs| {
                    subs.iter().any(|s| {
                        str_at(s, "/kind") == "ServiceAccount"
                            && str_at(s, "/name") == self.ident.service_account
                            && str_at(s, "/namespace") == self.ident.service_account_namespace
                    })
                });
            if !binds_us {
                return false;
            }
            let role_kind = str_at(rb, "/roleRef/kind");
            let role_name = str_at(rb, "/roleRef/name");
            let role = match role_kind {
                "Role" => self
                    .api
                    .get(&sys, &rbac("Role"), Some(namespace), role_name),
                "ClusterRole" => self.api.get(&sys, &rbac("ClusterRole"), None, role_name),
                _ => return false,
            };
            role.ok()
                .and_then(|r| r.get("rules").and_then(Value::as_array).cloned())
                .is_some_and(|rules| {
                    rules
                        .iter()
                        .any(|rule| rule_allows(rule, group, resource, verb, name))
                })
        })
    }

    /// Informer read: `None` when absent or outside the cache's namespaces.
    pub fn cached_get(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        if !self.sees(namespace) {
            return Ok(None);
        }
        match self.api.get(&self.actor, gvk, Some(namespace), name) {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Informer list in a namespace, optionally by label selector.
    pub fn cached_list(
        &self,
        gvk: &Gvk,
        namespace: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        if !self.sees(namespace) {
            return Ok(Vec::new());
        }
        let opts = ListOptions {
            label_selector: label_selector.map(str::to_string),
            field_selector: None,
        };
        self.api.list(&self.actor, gvk, Some(namespace), &opts)
    }

    /// Live read (Secrets, ConfigMaps): RBAC applies. `None` when absent.
    pub fn live_get(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        self.authorize("get", gvk, namespace, name)?;
        match self.api.get(&self.actor, gvk, Some(namespace), name) {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Live read that answers NotFound as an error, as `client.Get` does.
    pub fn live_get_strict(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.authorize("get", gvk, namespace, name)?;
        self.api.get(&self.actor, gvk, Some(namespace), name)
    }

    /// Live list (Secrets): RBAC applies.
    pub fn live_list(
        &self,
        gvk: &Gvk,
        namespace: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        self.authorize("list", gvk, namespace, "")?;
        let opts = ListOptions {
            label_selector: label_selector.map(str::to_string),
            field_selector: None,
        };
        self.api.list(&self.actor, gvk, Some(namespace), &opts)
    }

    pub fn create(&self, object: Value) -> Result<Value, ApiError> {
        let gvk = Gvk::new(str_at(&object, "/apiVersion"), str_at(&object, "/kind"));
        self.authorize("create", &gvk, namespace(&object), name(&object))?;
        self.api.create(&self.actor, object)
    }

    /// The cluster's admission of a runner pod: the knob set with
    /// `ArcController::reject_runner_pods` answers 403 Forbidden, as a
    /// PodSecurity or webhook rejection does (kube-sim has no admission plugins).
    pub fn admit_runner_pod(&self, pod: &Value) -> Result<(), ApiError> {
        let Some(reason) = &self.pod_admission else {
            return Ok(());
        };
        let message = format!("pods \"{}\" is forbidden: {reason}", name(pod));
        Err(ApiError {
            code: 403,
            reason: "Forbidden".to_string(),
            message: message.clone(),
            status: json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": "Forbidden",
                "details": {"name": name(pod), "kind": "pods"}, "code": 403
            }),
        })
    }

    /// DELETE with the default (background) propagation. NotFound is an error for the caller to judge.
    pub fn delete(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<DeleteOutcome, ApiError> {
        self.authorize("delete", gvk, namespace, name)?;
        self.api.delete(
            &self.actor,
            gvk,
            Some(namespace),
            name,
            &DeleteOptions::default(),
        )
    }

    /// DELETE that treats NotFound as done (`client.IgnoreNotFound`).
    pub fn delete_if_present(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        match self.delete(gvk, namespace, name) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn merge_patch(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<Value, ApiError> {
        self.authorize("patch", gvk, namespace, name)?;
        self.api
            .patch(&self.actor, gvk, Some(namespace), name, Patch::Merge(patch))
    }

    /// Merge patch adding finalizers (controllerutil.AddFinalizer + MergeFrom).
    pub fn add_finalizers(&self, gvk: &Gvk, obj: &Value, add: &[&str]) -> Result<Value, ApiError> {
        let mut list = finalizers(obj);
        for f in add {
            if !list.iter().any(|x| x == f) {
                list.push((*f).to_string());
            }
        }
        self.merge_patch(
            gvk,
            namespace(obj),
            name(obj),
            json!({"metadata": {"finalizers": list}}),
        )
    }

    /// Merge patch removing one finalizer (the list, or null when it empties).
    pub fn remove_finalizer(
        &self,
        gvk: &Gvk,
        obj: &Value,
        finalizer: &str,
    ) -> Result<Value, ApiError> {
        let list: Vec<String> = finalizers(obj)
            .into_iter()
            .filter(|f| f != finalizer)
            .collect();
        let value = if list.is_empty() {
            Value::Null
        } else {
            json!(list)
        };
        self.merge_patch(
            gvk,
            namespace(obj),
            name(obj),
            json!({"metadata": {"finalizers": value}}),
        )
    }

    /// Replace `status` (status subresource) if it differs; the object as written.
    pub fn set_status(&self, obj: &Value, status: Value) -> Result<Value, ApiError> {
        if obj.get("status") == Some(&status) {
            return Ok(obj.clone());
        }
        let mut updated = obj.clone();
        if let Some(map) = updated.as_object_mut() {
            map.insert("status".to_string(), status);
        }
        self.api.update_status(&self.actor, updated)
    }
}

/// A 403 exactly as the API server words it.
pub fn forbidden(
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> ApiError {
    let qualified = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    let subject = if name.is_empty() {
        qualified.clone()
    } else {
        format!("{qualified} \"{name}\"")
    };
    let message = format!(
        "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" in the namespace \"{namespace}\""
    );
    let mut details = json!({"kind": resource});
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    ApiError {
        code: 403,
        reason: "Forbidden".to_string(),
        message: message.clone(),
        status: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Forbidden", "details": details, "code": 403
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_reads_like_the_api_server() {
        let e = forbidden(
            "system:serviceaccount:arc-systems:arc-gha-rs-controller",
            "delete",
            "rbac.authorization.k8s.io",
            "roles",
            "arc-runners",
            "x",
        );
        assert_eq!(
            e.message,
            "roles.rbac.authorization.k8s.io \"x\" is forbidden: User \"system:serviceaccount:arc-systems:arc-gha-rs-controller\" cannot delete resource \"roles\" in API group \"rbac.authorization.k8s.io\" in the namespace \"arc-runners\""
        );
        assert_eq!(e.status["details"]["group"], "rbac.authorization.k8s.io");
    }

    #[test]
    fn rules_match_group_resource_verb_and_names() {
        let rule = json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "delete"]});
        assert!(rule_allows(&rule, "", "secrets", "get", "a"));
        assert!(!rule_allows(&rule, "", "secrets", "list", "a"));
        assert!(!rule_allows(&rule, "", "pods", "get", "a"));
        let named =
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"], "resourceNames": ["b"]});
        assert!(rule_allows(&named, "x", "y", "z", "b"));
        assert!(!rule_allows(&named, "x", "y", "z", "a"));
    }
}
