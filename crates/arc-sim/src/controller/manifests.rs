//! ARC objects for tests: the 4 CRDs (minimal, hand-written), the controller
//! chart's objects and the runner-set chart's objects (0.14.2 shapes), and a
//! helper that creates them through the in-process [`Api`].

use serde_json::{Value, json};

use super::names::*;
use kube_sim::api::{Actor, Api, ApiError};

const CRDS_JSON: &str = include_str!("crds.json");

/// The four `actions.github.com/v1alpha1` CRDs (Namespaced, status subresource).
pub fn crds() -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(CRDS_JSON).unwrap_or_default()
}

/// Where the controller chart is installed.
#[derive(Clone, Debug)]
pub struct ControllerRelease {
    /// Release name (`arc`).
    pub release: String,
    /// Namespace (`arc-systems`).
    pub namespace: String,
    /// Chart and image version (`0.14.2`): the simulated controller runs as
    /// this build unless `ArcConfig::version` says otherwise.
    pub version: String,
    /// `flags.watchSingleNamespace`: Roles instead of the ClusterRole, and the
    /// Deployment label `actions.github.com/controller-watch-single-namespace`.
    pub watch_single_namespace: Option<String>,
}

impl Default for ControllerRelease {
    fn default() -> Self {
        Self {
            release: "arc".to_string(),
            namespace: "arc-systems".to_string(),
            version: CONTROLLER_VERSION.to_string(),
            watch_single_namespace: None,
        }
    }
}

impl ControllerRelease {
    /// `<release>-gha-rs-controller`: ServiceAccount, ClusterRole, Deployment name.
    pub fn fullname(&self) -> String {
        format!("{}-gha-rs-controller", self.release)
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// The controller chart's objects (SA, ClusterRole, ClusterRoleBinding,
/// listener Role/RoleBinding, Deployment) as `gha-runner-scale-set-controller` 0.14.2 renders them.
pub fn controller_objects(rel: &ControllerRelease) -> Vec<Value> {
    let full = rel.fullname();
    let ns = &rel.namespace;
    let labels = json!({
        "helm.sh/chart": format!("gha-rs-controller-{}", rel.version),
        "app.kubernetes.io/name": "gha-rs-controller",
        "app.kubernetes.io/namespace": ns,
        "app.kubernetes.io/instance": rel.release,
        "app.kubernetes.io/version": rel.version,
        "app.kubernetes.io/part-of": CONTROLLER_PART_OF,
        "app.kubernetes.io/managed-by": "Helm",
    });
    let mut deploy_labels = labels.clone();
    deploy_labels[LABEL_CONTROLLER_SA_NAMESPACE] = json!(ns);
    deploy_labels[LABEL_CONTROLLER_SA_NAME] = json!(full);
    let crud = [
        "create", "delete", "get", "list", "patch", "update", "watch",
    ];
    let mut cluster_rules = Vec::new();
    for res in [
        "autoscalingrunnersets",
        "autoscalinglisteners",
        "ephemeralrunnersets",
        "ephemeralrunners",
    ] {
        cluster_rules.push(rule(&[ARC_GROUP], &[res], &crud));
        cluster_rules.push(rule(
            &[ARC_GROUP],
            &[&format!("{res}/status")],
            &["get", "patch", "update"],
        ));
        cluster_rules.push(rule(
            &[ARC_GROUP],
            &[&format!("{res}/finalizers")],
            &["patch", "update"],
        ));
    }
    cluster_rules.push(rule(&[""], &["pods"], &["list", "watch"]));
    cluster_rules.push(rule(&[""], &["serviceaccounts"], &["list", "watch"]));
    cluster_rules.push(rule(
        &["rbac.authorization.k8s.io"],
        &["rolebindings"],
        &["list", "watch"],
    ));
    cluster_rules.push(rule(
        &["rbac.authorization.k8s.io"],
        &["roles"],
        &["list", "watch", "patch"],
    ));
    let subject = json!([{"kind": "ServiceAccount", "name": full, "namespace": ns}]);
    let binding = |kind: &str, name: &str, namespace: Option<&str>| {
        let mut meta = json!({"name": name});
        if let Some(n) = namespace {
            meta["namespace"] = json!(n);
        }
        let role_kind = if kind == "ClusterRoleBinding" {
            "ClusterRole"
        } else {
            "Role"
        };
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
               "subjects": subject})
    };
    let mut objects = vec![json!({"apiVersion": "v1", "kind": "ServiceAccount",
           "metadata": {"name": full, "namespace": ns, "labels": labels}})];
    let mut args = vec![
        "--auto-scaling-runner-set-only".to_string(),
        "--log-level=debug".to_string(),
        "--log-format=text".to_string(),
        "--runner-max-concurrent-reconciles=2".to_string(),
        "--update-strategy=immediate".to_string(),
    ];
    match &rel.watch_single_namespace {
        None => {
            objects.push(
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": full}, "rules": cluster_rules}),
            );
            objects.push(binding("ClusterRoleBinding", &full, None));
        }
        Some(watched) => {
            // manager_single_namespace_controller_role.yaml / _watch_role.yaml.
            deploy_labels[LABEL_WATCH_SINGLE_NAMESPACE] = json!(watched);
            args.push(format!("--watch-single-namespace={watched}"));
            let own = format!("{full}-single-namespace");
            let watch = format!("{full}-single-namespace-watch");
            objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": own, "namespace": ns},
                "rules": [
                    rule(&[ARC_GROUP], &["autoscalinglisteners"], &crud),
                    rule(&[ARC_GROUP], &["autoscalinglisteners/status"], &["get", "patch", "update"]),
                    rule(&[ARC_GROUP], &["autoscalinglisteners/finalizers"], &["patch", "update"]),
                    rule(&[""], &["pods", "serviceaccounts"], &["list", "watch"]),
                    rule(&["rbac.authorization.k8s.io"], &["rolebindings", "roles"], &["list", "watch"]),
                    rule(&[ARC_GROUP], &["autoscalingrunnersets", "ephemeralrunnersets", "ephemeralrunners"], &["list", "watch"]),
                ]}));
            objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": watch, "namespace": watched},
                "rules": [
                    rule(&[ARC_GROUP], &["autoscalingrunnersets", "ephemeralrunnersets", "ephemeralrunners"], &crud),
                    rule(&[ARC_GROUP], &["autoscalingrunnersets/finalizers", "ephemeralrunnersets/finalizers", "ephemeralrunners/finalizers"], &["patch", "update"]),
                    rule(&[ARC_GROUP], &["autoscalingrunnersets/status", "ephemeralrunnersets/status", "ephemeralrunners/status"], &["get", "patch", "update"]),
                    rule(&[ARC_GROUP], &["autoscalinglisteners"], &["list", "watch"]),
                    rule(&[""], &["pods", "serviceaccounts"], &["list", "watch"]),
                    rule(&["rbac.authorization.k8s.io"], &["rolebindings"], &["list", "watch"]),
                    rule(&["rbac.authorization.k8s.io"], &["roles"], &["list", "watch", "patch"]),
                ]}));
            objects.push(binding("RoleBinding", &own, Some(ns)));
            objects.push(binding("RoleBinding", &watch, Some(watched)));
        }
    }
    objects.extend([
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": format!("{full}-listener"), "namespace": ns},
        "rules": [
            rule(&[""], &["pods"], &["create", "delete", "get"]),
            rule(&[""], &["pods/status"], &["get"]),
            rule(&[""], &["secrets"], &["create", "delete", "get", "patch", "update"]),
            rule(&[""], &["serviceaccounts"], &["create", "delete", "get", "patch", "update"]),
        ]}),
        binding("RoleBinding", &format!("{full}-listener"), Some(ns)),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": full, "namespace": ns, "labels": deploy_labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "gha-rs-controller",
                                         "app.kubernetes.io/namespace": ns,
                                         "app.kubernetes.io/instance": rel.release}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/part-of": CONTROLLER_PART_OF,
                                        "app.kubernetes.io/component": "controller-manager",
                                        "app.kubernetes.io/version": rel.version,
                                        "app.kubernetes.io/name": "gha-rs-controller",
                                        "app.kubernetes.io/namespace": ns,
                                        "app.kubernetes.io/instance": rel.release}},
                "spec": {"serviceAccountName": full, "containers": [{
                    "name": "manager",
                    "image": format!("ghcr.io/actions/gha-runner-scale-set-controller:{}", rel.version),
                    "command": ["/manager"],
                    "args": args,
                    "env": [{"name": "CONTROLLER_MANAGER_POD_NAMESPACE",
                             "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                }]},
            },
        }}),
    ]);
    objects
}

/// Container mode of a runner set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerMode {
    /// Default: no-permission ServiceAccount (5 objects).
    Default,
    /// `kubernetes`: kube-mode SA/Role/RoleBinding (7 objects).
    Kubernetes,
}

/// A runner-set release (`gha-runner-scale-set` 0.14.2).
#[derive(Clone, Debug)]
pub struct RunnerSet {
    /// Scale set name (= release name here).
    pub name: String,
    /// Runner namespace.
    pub namespace: String,
    /// Container mode.
    pub mode: ContainerMode,
    /// `minRunners`.
    pub min_runners: i64,
    /// `githubConfigUrl`.
    pub github_config_url: String,
    /// Controller the manager RoleBinding names.
    pub controller: ControllerRelease,
    /// `proxy` passed through to the ARS spec (`{"https": {"url", "credentialSecretRef"}}`).
    pub proxy: Option<Value>,
    /// `githubServerTLS.certificateFrom.configMapKeyRef.name` (the manager Role then also grants configmaps get).
    pub github_server_tls_configmap: Option<String>,
    /// Chart version: the `app.kubernetes.io/version` label the controller
    /// checks (empty: no label, which no controller accepts).
    pub version: String,
    /// `runnerGroup` (unset: the `Default` group).
    pub runner_group: Option<String>,
    /// `githubConfigSecret`.
    pub github_config_secret: GitHubConfigSecret,
    /// `keyVault`: the GitHub config (and proxy credentials) come from a vault.
    pub key_vault: Option<KeyVault>,
}

/// The token of the chart's GitHub Secret by default (a fake).
pub const DEFAULT_TOKEN: &str = "ghp_fakeTokenForFixturesOnly";

/// `githubConfigSecret` of the runner-set chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitHubConfigSecret {
    /// A map with `github_token`: the chart renders `<ssn>-gha-rs-github-secret`.
    Token(String),
    /// A map with the three `github_app_*` keys (same Secret).
    App {
        /// `github_app_id`.
        app_id: String,
        /// `github_app_installation_id`.
        installation_id: i64,
        /// `github_app_private_key`.
        private_key: String,
    },
    /// A string: the name of a Secret that already exists (or, with a key
    /// vault, of the vault secret). No Secret and no cleanup annotation.
    Named(String),
}

/// `keyVault` values (`vaultConfig` of the runner set, type `azure_key_vault`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVault {
    /// `azureKeyVault.url`.
    pub url: String,
    /// `keyVault.proxy` (its `credentialSecretRef`s are Kubernetes Secrets).
    pub proxy: Option<Value>,
}

impl Default for RunnerSet {
    fn default() -> Self {
        Self {
            name: "arc-runner-set".to_string(),
            namespace: "arc-runners".to_string(),
            mode: ContainerMode::Kubernetes,
            min_runners: 0,
            github_config_url: "https://github.com/example/repo".to_string(),
            controller: ControllerRelease::default(),
            proxy: None,
            github_server_tls_configmap: None,
            version: CONTROLLER_VERSION.to_string(),
            runner_group: None,
            github_config_secret: GitHubConfigSecret::Token(DEFAULT_TOKEN.to_string()),
            key_vault: None,
        }
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The runner-set chart's objects in Helm install order (SA, Secret, Roles,
/// RoleBindings, AutoscalingRunnerSet), with `cleanup-protection` finalizers
/// and the ARS `cleanup-*` annotations.
pub fn runner_set_objects(rs: &RunnerSet) -> Vec<Value> {
    let ssn = &rs.name;
    let ns = &rs.namespace;
    let full = format!("{ssn}-gha-rs");
    let mut labels = json!({
        "helm.sh/chart": format!("gha-rs-{}", if rs.version.is_empty() { CONTROLLER_VERSION } else { &rs.version }),
        "app.kubernetes.io/name": ssn,
        "app.kubernetes.io/instance": ssn,
        "app.kubernetes.io/version": rs.version,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "gha-rs",
        "actions.github.com/scale-set-name": ssn,
        "actions.github.com/scale-set-namespace": ns,
    });
    if rs.version.is_empty()
        && let Some(map) = labels.as_object_mut()
    {
        map.remove(LABEL_VERSION);
    }
    let meta = |name: &str, extra: Option<(&str, &str)>| {
        let mut l = labels.clone();
        if let Some((k, v)) = extra {
            l[k] = json!(v);
        }
        json!({"name": name, "namespace": ns, "labels": l, "finalizers": [CLEANUP_PROTECTION]})
    };
    let kube = rs.mode == ContainerMode::Kubernetes;
    let runner_sa = if kube {
        format!("{full}-kube-mode")
    } else {
        format!("{full}-no-permission")
    };
    let mut objs = vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(&runner_sa, None)}),
    ];
    let secret_data = match &rs.github_config_secret {
        GitHubConfigSecret::Token(token) => Some(json!({"github_token": b64(token)})),
        GitHubConfigSecret::App {
            app_id,
            installation_id,
            private_key,
        } => Some(json!({
            "github_app_id": b64(app_id),
            "github_app_installation_id": b64(&installation_id.to_string()),
            "github_app_private_key": b64(private_key),
        })),
        GitHubConfigSecret::Named(_) => None,
    };
    let github_secret = match &rs.github_config_secret {
        GitHubConfigSecret::Named(name) => name.clone(),
        _ => format!("{full}-github-secret"),
    };
    if let Some(data) = secret_data {
        objs.push(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": meta(&github_secret, None), "data": data}),
        );
    }
    if kube {
        objs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(&format!("{full}-kube-mode"), None),
            "rules": [
                rule(&[""], &["pods"], &["get", "list", "create", "delete"]),
                rule(&[""], &["pods/exec"], &["get", "create"]),
                rule(&[""], &["pods/log"], &["get", "list", "watch"]),
                rule(&["batch"], &["jobs"], &["get", "list", "create", "delete"]),
                rule(&[""], &["secrets"], &["get", "list", "create", "delete"]),
            ]}));
    }
    let mut manager_rules = vec![
        rule(&[""], &["pods"], &["create", "delete", "get"]),
        rule(&[""], &["pods/status"], &["get"]),
        rule(
            &[""],
            &["secrets"],
            &["create", "delete", "get", "list", "patch", "update"],
        ),
        rule(
            &[""],
            &["serviceaccounts"],
            &["create", "delete", "get", "list", "patch", "update"],
        ),
        rule(
            &["rbac.authorization.k8s.io"],
            &["rolebindings"],
            &["create", "delete", "get", "patch", "update"],
        ),
        rule(
            &["rbac.authorization.k8s.io"],
            &["roles"],
            &["create", "delete", "get", "patch", "update"],
        ),
    ];
    if rs.github_server_tls_configmap.is_some() {
        manager_rules.push(rule(&[""], &["configmaps"], &["get"]));
    }
    objs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": meta(&format!("{full}-manager"), Some(("app.kubernetes.io/component", "manager-role"))),
        "rules": manager_rules}));
    if kube {
        objs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(&format!("{full}-kube-mode"), None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("{full}-kube-mode")},
            "subjects": [{"kind": "ServiceAccount", "name": format!("{full}-kube-mode"), "namespace": ns}]}));
    }
    objs.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": meta(&format!("{full}-manager"), Some(("app.kubernetes.io/component", "manager-role-binding"))),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("{full}-manager")},
        "subjects": [{"kind": "ServiceAccount", "name": rs.controller.fullname(), "namespace": rs.controller.namespace}]}));

    let mut annotations = json!({
        ANN_VALUES_HASH: "0000000000000000000000000000000000000000000000000000000000000",
        "actions.github.com/cleanup-manager-role-binding": format!("{full}-manager"),
        "actions.github.com/cleanup-manager-role-name": format!("{full}-manager"),
    });
    if !matches!(rs.github_config_secret, GitHubConfigSecret::Named(_)) {
        annotations["actions.github.com/cleanup-github-secret-name"] = json!(github_secret);
    }
    if kube {
        for key in ["role-binding-name", "role-name", "service-account-name"] {
            annotations[format!("actions.github.com/cleanup-kubernetes-mode-{key}")] =
                json!(format!("{full}-kube-mode"));
        }
    } else {
        annotations["actions.github.com/cleanup-no-permission-service-account-name"] =
            json!(format!("{full}-no-permission"));
    }
    let mut ars_labels = labels.clone();
    ars_labels["app.kubernetes.io/component"] = json!("autoscaling-runner-set");
    let mut container = json!({"name": "runner", "image": "ghcr.io/actions/actions-runner:latest", "command": ["/home/runner/run.sh"]});
    if kube {
        container["env"] = json!([
            {"name": "ACTIONS_RUNNER_CONTAINER_HOOKS", "value": "/home/runner/k8s/index.js"},
            {"name": "ACTIONS_RUNNER_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "ACTIONS_RUNNER_REQUIRE_JOB_CONTAINER", "value": "true"},
        ]);
    }
    let mut ars = json!({
        "apiVersion": ARC_API_VERSION, "kind": "AutoscalingRunnerSet",
        "metadata": {"name": ssn, "namespace": ns, "labels": ars_labels, "annotations": annotations},
        "spec": {
            "githubConfigUrl": rs.github_config_url,
            "githubConfigSecret": github_secret,
            "minRunners": rs.min_runners,
            "template": {"spec": {"restartPolicy": "Never", "serviceAccountName": runner_sa, "containers": [container]}},
        },
    });
    if let Some(proxy) = &rs.proxy {
        ars["spec"]["proxy"] = proxy.clone();
    }
    if let Some(cm) = &rs.github_server_tls_configmap {
        ars["spec"]["githubServerTLS"] =
            json!({"certificateFrom": {"configMapKeyRef": {"name": cm, "key": "ca.crt"}}});
    }
    if let Some(group) = &rs.runner_group {
        ars["spec"]["runnerGroup"] = json!(group);
    }
    if let Some(kv) = &rs.key_vault {
        ars["spec"]["vaultConfig"] = json!({
            "type": super::VAULT_TYPE_AZURE_KEY_VAULT,
            "azureKeyVault": {"url": kv.url, "tenantId": "tenant", "clientId": "client",
                              "certificatePath": "/etc/actions-runner-controller/kv.pem"},
        });
        if let Some(proxy) = &kv.proxy {
            ars["spec"]["vaultConfig"]["proxy"] = proxy.clone();
        }
    }
    objs.push(ars);
    objs
}

/// Create objects in order through the API (namespaces must exist).
pub fn create_all(api: &dyn Api, actor: &Actor, objects: &[Value]) -> Result<Vec<Value>, ApiError> {
    objects
        .iter()
        .map(|o| api.create(actor, o.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_crds_with_status_subresource() {
        let crds = crds();
        assert_eq!(crds.len(), 4);
        for c in &crds {
            assert_eq!(c["spec"]["scope"], "Namespaced");
            assert!(c["spec"]["versions"][0]["subresources"]["status"].is_object());
        }
    }

    #[test]
    fn kubernetes_mode_has_seven_objects_and_six_cleanup_annotations() {
        let objs = runner_set_objects(&RunnerSet::default());
        assert_eq!(objs.len(), 7);
        let ars = objs.last().unwrap();
        let cleanup = ars["metadata"]["annotations"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("actions.github.com/cleanup-"))
            .count();
        assert_eq!(cleanup, 6);
        assert_eq!(listener_name(ars), "arc-runner-set-6c9b97c4-listener");
        let default = runner_set_objects(&RunnerSet {
            mode: ContainerMode::Default,
            ..Default::default()
        });
        assert_eq!(default.len(), 5);
    }
}
