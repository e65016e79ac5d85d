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
use crate::github::{Credentials, FakeGitHub, GitHubError};
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
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Info => "INFO",
            Level::Error => "ERROR",
        };
        write!(
            f,
            "{level}\t{}\t{}\t{{\"{}\": \"{}\"",
            self.controller,
            self.message,
            self.controller.to_ascii_lowercase(),
            self.object
        )?;
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
}

impl Identity {
    /// `system:serviceaccount:<ns>:<sa>`.
    pub fn user(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// Context of one reconcile.
pub(crate) struct Ctx<'a> {
    pub api: &'a dyn Api,
    pub github: &'a FakeGitHub,
    pub ident: &'a Identity,
    pub timing: &'a Timing,
    pub log: &'a ControllerLog,
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
    pub fn info(&self, message: impl Into<String>) {
        self.log.push(LogLine {
            level: Level::Info,
            controller: self.controller.to_string(),
            object: self.object.clone(),
            message: message.into(),
            error: None,
        });
    }

    pub fn error(&self, message: impl Into<String>, error: &dyn std::fmt::Display) {
        self.log.push(LogLine {
            level: Level::Error,
            controller: self.controller.to_string(),
            object: self.object.clone(),
            message: message.into(),
            error: Some(error.to_string()),
        });
    }

    fn authorizer(&self) -> Actor {
        Actor("system:kube-apiserver:rbac".to_string())
    }

    /// RBAC check of one request made by the controller.
    pub fn authorize(
        &self,
        verb: &str,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let resource = plural(&gvk.kind);
        if gvk.group == ARC_GROUP || namespace == self.ident.namespace {
            return Ok(()); // ClusterRole / controller chart listener Role
        }
        let cluster_granted = match (gvk.group.as_str(), resource.as_str()) {
            ("", "pods" | "serviceaccounts") | ("rbac.authorization.k8s.io", "rolebindings") => {
                matches!(verb, "list" | "watch")
            }
            ("rbac.authorization.k8s.io", "roles") => matches!(verb, "list" | "watch" | "patch"),
            _ => false,
        };
        if cluster_granted
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
                            && str_at(s, "/namespace") == self.ident.namespace
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

    /// Informer read: `None` when absent.
    pub fn cached_get(
        &self,
        gvk: &Gvk,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
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
        self.cached_get(gvk, namespace, name)
    }

    /// Live list (Secrets): RBAC applies.
    pub fn live_list(
        &self,
        gvk: &Gvk,
        namespace: &str,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        self.authorize("list", gvk, namespace, "")?;
        self.cached_list(gvk, namespace, label_selector)
    }

    pub fn create(&self, object: Value) -> Result<Value, ApiError> {
        let gvk = Gvk::new(str_at(&object, "/apiVersion"), str_at(&object, "/kind"));
        self.authorize("create", &gvk, namespace(&object), name(&object))?;
        self.api.create(&self.actor, object)
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

    /// Merge patch adding a finalizer (controllerutil.AddFinalizer + MergeFrom).
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

    /// Replace `status` (status subresource) if it differs.
    pub fn set_status(&self, obj: &Value, status: Value) -> Result<(), ApiError> {
        if obj.get("status") == Some(&status) {
            return Ok(());
        }
        let mut updated = obj.clone();
        if let Some(map) = updated.as_object_mut() {
            map.insert("status".to_string(), status);
        }
        self.api.update_status(&self.actor, updated).map(|_| ())
    }

    /// The env-style proxy Secret data (`http_proxy`, `https_proxy`, `no_proxy`)
    /// built from `spec.proxy`, reading its credential Secrets live in `namespace`.
    pub fn proxy_secret_data(&self, namespace: &str, spec: &Value) -> Result<Value, Failure> {
        let mut data = serde_json::Map::new();
        for scheme in ["http", "https"] {
            let url = str_at(spec, &format!("/proxy/{scheme}/url"));
            if url.is_empty() {
                continue;
            }
            let cred = str_at(spec, &format!("/proxy/{scheme}/credentialSecretRef"));
            if !cred.is_empty() {
                match self.live_get(&core("Secret"), namespace, cred) {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Err(Failure(format!(
                            "failed to get proxy secret: secrets \"{cred}\" not found"
                        )));
                    }
                    Err(e) => {
                        return Err(Failure(format!(
                            "failed to get proxy secret: {}",
                            e.message
                        )));
                    }
                }
            }
            data.insert(format!("{scheme}_proxy"), json!(url));
        }
        let no_proxy: Vec<&str> = spec
            .pointer("/proxy/noProxy")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        data.insert("no_proxy".to_string(), json!(no_proxy.join(",")));
        Ok(Value::Object(data))
    }

    /// `GetActionsService` for a resource whose spec (ARS spec, listener spec,
    /// `ephemeralRunnerSpec`, EphemeralRunner spec) lives in `namespace`: read the
    /// GitHub config Secret, the proxy credential Secrets and the TLS ConfigMap it
    /// names, live (RBAC applies), then build credentials.
    pub fn actions_service(&self, namespace: &str, spec: &Value) -> Result<Credentials, Failure> {
        let secret_name = str_at(spec, "/githubConfigSecret");
        let secret = match self.live_get(&core("Secret"), namespace, secret_name) {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return Err(Failure(format!(
                    "failed to find GitHub config secret: secrets \"{secret_name}\" not found"
                )));
            }
            Err(e) => {
                return Err(Failure(format!(
                    "failed to find GitHub config secret: {}",
                    e.message
                )));
            }
        };
        for scheme in ["http", "https"] {
            let name = str_at(spec, &format!("/proxy/{scheme}/credentialSecretRef"));
            if name.is_empty() {
                continue;
            }
            match self.live_get(&core("Secret"), namespace, name) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Failure(format!(
                        "failed to get proxy secret: secrets \"{name}\" not found"
                    )));
                }
                Err(e) => {
                    return Err(Failure(format!(
                        "failed to get proxy secret: {}",
                        e.message
                    )));
                }
            }
        }
        let tls = str_at(
            spec,
            "/githubServerTLS/certificateFrom/configMapKeyRef/name",
        );
        if !tls.is_empty() {
            match self.live_get(&core("ConfigMap"), namespace, tls) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Failure(format!(
                        "failed to get tls config: configmaps \"{tls}\" not found"
                    )));
                }
                Err(e) => return Err(Failure(format!("failed to get tls config: {}", e.message))),
            }
        }
        Credentials::from_secret(&secret, str_at(spec, "/githubConfigUrl")).map_err(Failure::from)
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
