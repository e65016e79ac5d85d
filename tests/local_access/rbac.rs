//! Issue #12 item 6: the least privilege each command needs, as
//! `examples/rbac/{cluster-wide,namespaced}/COMMAND.yaml` grant it (README
//! "Permissions"). Each test applies exactly one of those files for a user
//! of its own (a client certificate from the cluster's signer; the files'
//! namespaces and user renamed), then runs the command through Helm as that
//! user: it succeeds. The `*_without_*` tests remove one verb of one rule
//! and check the command fails naming that permission (verb, resource,
//! namespace), never reporting it as a controller that is down or a release
//! that is not found, and deletes nothing it should not have.
//!
//! No ARC controller runs on this cluster. Where a command needs one
//! (`uninstall`, `--all-runner-sets`, `doctor`), the example controller
//! chart is installed once in `rbac-arc-systems` (kwok runs its pod, so the
//! Deployment is available, and nothing reconciles), and the runner set's
//! objects are installed without ARC's finalizers (nothing would remove
//! them). `--force-finalizers` runs on a runner set whose controller
//! namespace has none, keeping the finalizers the ladder then strips.

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::harness::{RELEASE, env};
use crate::scenario::cli_output::describe;
use crate::support::{Helm, repo_root, run_ok};

/// Where the example controller chart runs (shared by the tests).
const CONTROLLER_NS: &str = "rbac-arc-systems";

/// Which file of `examples/rbac`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    ClusterWide,
    Namespaced,
}

impl Variant {
    fn dir(self) -> &'static str {
        match self {
            Variant::ClusterWide => "cluster-wide",
            Variant::Namespaced => "namespaced",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Variant::ClusterWide => "cw",
            Variant::Namespaced => "ns",
        }
    }
}

/// One verb of one resource taken out of a (Cluster)Role of the file:
/// the Role in the runner namespace (`arc-runners` in the file), the
/// controller's (`arc-systems`), or the ClusterRole.
#[derive(Clone, Copy, Debug)]
struct Removal {
    /// `Some("arc-runners")`/`Some("arc-systems")`: that namespace's Role
    /// (namespaced files); `None`: the ClusterRole (cluster-wide files).
    role_namespace: Option<&'static str>,
    group: &'static str,
    resource: &'static str,
    verb: &'static str,
}

/// A user with the grants of one file, and the namespaces it works in.
struct Operator {
    runner_ns: String,
    controller_ns: String,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Operator {
    /// `test` names everything; `controller_ns` is where the runner set's
    /// manager RoleBinding says the controller runs.
    fn new(
        test: &str,
        variant: Variant,
        command: &str,
        controller_ns: &str,
        removal: Option<Removal>,
    ) -> Operator {
        let env = env();
        let test = format!("rbac-{test}-{}", variant.short());
        let runner_ns = test.clone();
        env.namespace(&runner_ns);
        env.namespace(controller_ns);
        let dir = tempfile::Builder::new()
            .prefix("hau-rbac-")
            .tempdir_in(env.home.path())
            .expect("dir");
        let cert = env.client_cert(&test, None, dir.path());
        let file = repo_root().join(format!("examples/rbac/{}/{command}.yaml", variant.dir()));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut objects: Vec<Value> = text
            .split("\n---\n")
            .map(|doc| yaml_serde::from_str::<Value>(doc).expect("RBAC YAML"))
            .collect();
        if let Some(removal) = removal {
            remove(&mut objects, removal);
        }
        let renamed = serde_json::to_string(&objects)
            .expect("JSON")
            .replace("\"arc-runners\"", &format!("\"{runner_ns}\""))
            .replace("\"arc-systems\"", &format!("\"{controller_ns}\""))
            .replace("\"arc-operator\"", &format!("\"{test}\""))
            .replace("\"helm-arc-uninstall-", &format!("\"{test}-"));
        let objects: Vec<Value> = serde_json::from_str(&renamed).expect("renamed");
        env.apply(&json!({"apiVersion": "v1", "kind": "List", "items": objects}));
        let kubeconfig = dir.path().join("kubeconfig");
        let config = json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "operator",
            "clusters": [{"name": "c", "cluster": {"server": env.server(), "certificate-authority": env.ca_file}}],
            "users": [{"name": "operator", "user": {"client-certificate": cert.cert, "client-key": cert.key}}],
            "contexts": [{"name": "operator", "context": {"cluster": "c", "user": "operator"}}],
        });
        std::fs::write(&kubeconfig, config.to_string()).expect("write kubeconfig");
        Operator {
            runner_ns,
            controller_ns: controller_ns.to_string(),
            kubeconfig,
            _dir: dir,
        }
    }

    /// Installs the example runner set in the runner namespace, its manager
    /// RoleBinding naming the controller namespace; `without_finalizers`
    /// then removes ARC's finalizers from its objects (as admin).
    fn install(&self, without_finalizers: bool) {
        let env = env();
        env.install_runner_set(
            &self.runner_ns,
            &[&format!(
                "controllerServiceAccount.namespace={}",
                self.controller_ns
            )],
        );
        if without_finalizers {
            for object in env
                .release_left(&self.runner_ns)
                .iter()
                .filter(|o| !o.starts_with("Secret/sh.helm"))
            {
                let (kind, name) = object.split_once('/').expect("Kind/name");
                let kind = match kind {
                    "AutoscalingRunnerSet" => "autoscalingrunnersets.actions.github.com",
                    other => other,
                };
                env.kubectl(&[
                    "patch",
                    kind,
                    name.trim_matches('"'),
                    "-n",
                    &self.runner_ns,
                    "--type=merge",
                    "-p",
                    r#"{"metadata":{"finalizers":null}}"#,
                ]);
            }
        }
    }

    /// `helm arc-uninstall ARGS` as this user (Helm 4).
    fn run(&self, args: &[&str]) -> Output {
        env().plugin(Helm::V4, &self.kubeconfig, &[], args, &[])
    }

    /// The release's objects and record left in the runner namespace.
    fn left(&self) -> Vec<String> {
        env().release_left(&self.runner_ns)
    }
}

/// Takes `removal.verb` on `removal.resource` out of the file's rules.
fn remove(objects: &mut [Value], removal: Removal) {
    let role = objects
        .iter_mut()
        .find(|o| match removal.role_namespace {
            Some(ns) => o["kind"] == "Role" && o["metadata"]["namespace"] == ns,
            None => o["kind"] == "ClusterRole",
        })
        .expect("the role to remove a rule from");
    let rules = role["rules"].as_array_mut().expect("rules");
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    let mut removed = false;
    for rule in rules.iter() {
        let (groups, resources, verbs) = (
            strs(&rule["apiGroups"]),
            strs(&rule["resources"]),
            strs(&rule["verbs"]),
        );
        let hit = groups.iter().any(|g| g == removal.group)
            && resources.iter().any(|r| r == removal.resource)
            && verbs.iter().any(|v| v == removal.verb);
        if !hit {
            out.push(rule.clone());
            continue;
        }
        removed = true;
        let others: Vec<&String> = resources
            .iter()
            .filter(|r| *r != removal.resource)
            .collect();
        if !others.is_empty() {
            out.push(json!({"apiGroups": groups, "resources": others, "verbs": verbs}));
        }
        let verbs: Vec<&String> = verbs.iter().filter(|v| *v != removal.verb).collect();
        if !verbs.is_empty() {
            out.push(json!({"apiGroups": groups, "resources": [removal.resource], "verbs": verbs}));
        }
    }
    assert!(removed, "no rule grants {removal:?}");
    *rules = out;
}

/// The example controller chart in [`CONTROLLER_NS`], its Deployment available.
fn controller() -> &'static str {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let env = env();
        run_ok(
            env.home
                .helm(Helm::V4)
                .args(["install", "arc"])
                .arg(repo_root().join("examples/charts/arc-controller"))
                .args(["-n", CONTROLLER_NS, "--create-namespace"]),
        );
        env.kubectl(&[
            "wait",
            "--for=condition=Available",
            "deployment/arc-gha-rs-controller",
            "-n",
            CONTROLLER_NS,
            "--timeout=120s",
        ]);
    });
    CONTROLLER_NS
}

/// Exit 0, and `summary`/`fleet_summary` says success.
fn assert_success(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
}

/// The run failed naming `verb` on `resource` as the missing permission,
/// and said nothing of a controller that is down or a release not found.
fn assert_missing_permission(out: &Output, verb: &str, resource: &str, namespace: &str) {
    let text = describe(out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let all = text.to_lowercase();
    assert!(all.contains("missing permission"), "{text}");
    assert!(
        text.contains(&format!(
            "cannot {verb} {resource} in namespace {namespace}"
        )) || text.contains(&format!("cannot {verb} resource \"{resource}\"")),
        "the message names {verb} {resource} in {namespace}:\n{text}"
    );
    for wrong in [
        "controller_down",
        "not running",
        "not found",
        "already gone",
    ] {
        assert!(!all.contains(wrong), "a 403 reported as `{wrong}`:\n{text}");
    }
}

fn plan(variant: Variant) {
    let op = Operator::new("plan", variant, "plan", "rbac-plan-unused", None);
    op.install(false);
    let out = op.run(&["plan", RELEASE, "-n", &op.runner_ns]);
    assert_success(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("AutoscalingRunnerSet"),
        "{}",
        describe(&out)
    );
}

fn plan_without_listing_secrets(variant: Variant) {
    let removal = Removal {
        role_namespace: (variant == Variant::Namespaced).then_some("arc-runners"),
        group: "",
        resource: "secrets",
        verb: "list",
    };
    let op = Operator::new(
        "plan-no-list",
        variant,
        "plan",
        "rbac-plan-unused",
        Some(removal),
    );
    op.install(false);
    let out = op.run(&["plan", RELEASE, "-n", &op.runner_ns]);
    assert_missing_permission(&out, "list", "secrets", &op.runner_ns);
}

fn uninstall(variant: Variant) {
    let op = Operator::new("uninstall", variant, "uninstall", controller(), None);
    op.install(true);
    let out = op.run(&[
        RELEASE,
        "-n",
        &op.runner_ns,
        "--timeout",
        "60s",
        "-o",
        "json",
    ]);
    assert_success(&out);
    assert!(
        op.left().is_empty(),
        "left: {:?}\n{}",
        op.left(),
        describe(&out)
    );
    if variant == Variant::Namespaced {
        let text = describe(&out);
        assert!(
            text.contains(&format!(
                "looked for only in namespaces {}",
                op.controller_ns
            )),
            "{text}"
        );
    }
}

fn uninstall_without_listing_deployments(variant: Variant) {
    let removal = Removal {
        role_namespace: (variant == Variant::Namespaced).then_some("arc-systems"),
        group: "apps",
        resource: "deployments",
        verb: "list",
    };
    let op = Operator::new(
        "uninstall-no-deploy",
        variant,
        "uninstall",
        controller(),
        Some(removal),
    );
    op.install(true);
    let out = op.run(&[RELEASE, "-n", &op.runner_ns, "--timeout", "60s"]);
    assert_missing_permission(&out, "list", "deployments.apps", &op.controller_ns);
    assert!(
        op.left()
            .iter()
            .any(|o| o.starts_with("AutoscalingRunnerSet/")),
        "nothing was deleted: {:?}",
        op.left()
    );
}

fn uninstall_force_finalizers(variant: Variant) {
    let op = Operator::new(
        "force",
        variant,
        "uninstall-force-finalizers",
        "rbac-force-no-controller",
        None,
    );
    op.install(false);
    let out = op.run(&[
        RELEASE,
        "-n",
        &op.runner_ns,
        "--force-finalizers",
        "--timeout",
        "60s",
        "-o",
        "json",
    ]);
    assert_success(&out);
    assert!(
        op.left().is_empty(),
        "left: {:?}\n{}",
        op.left(),
        describe(&out)
    );
}

fn uninstall_force_finalizers_without_patching_secrets(variant: Variant) {
    let removal = Removal {
        role_namespace: (variant == Variant::Namespaced).then_some("arc-runners"),
        group: "",
        resource: "secrets",
        verb: "patch",
    };
    let op = Operator::new(
        "force-no-patch",
        variant,
        "uninstall-force-finalizers",
        "rbac-force-no-controller",
        Some(removal),
    );
    op.install(false);
    let out = op.run(&[
        RELEASE,
        "-n",
        &op.runner_ns,
        "--force-finalizers",
        "--timeout",
        "60s",
    ]);
    assert_missing_permission(&out, "patch", "secrets", &op.runner_ns);
}

fn all_runner_sets(variant: Variant) {
    let op = Operator::new("all", variant, "uninstall", controller(), None);
    op.install(true);
    let out = op.run(&[
        "--all-runner-sets",
        "-n",
        &op.runner_ns,
        "--timeout",
        "60s",
        "-o",
        "json",
    ]);
    assert_success(&out);
    assert!(
        op.left().is_empty(),
        "left: {:?}\n{}",
        op.left(),
        describe(&out)
    );
}

fn all_runner_sets_without_listing_runner_sets(variant: Variant) {
    let removal = Removal {
        role_namespace: (variant == Variant::Namespaced).then_some("arc-runners"),
        group: "actions.github.com",
        resource: "autoscalingrunnersets",
        verb: "list",
    };
    let op = Operator::new(
        "all-no-list",
        variant,
        "uninstall",
        controller(),
        Some(removal),
    );
    op.install(true);
    let out = op.run(&["--all-runner-sets", "-n", &op.runner_ns, "--timeout", "60s"]);
    assert_missing_permission(
        &out,
        "list",
        "autoscalingrunnersets.actions.github.com",
        &op.runner_ns,
    );
    assert!(
        op.left()
            .iter()
            .any(|o| o.starts_with("AutoscalingRunnerSet/")),
        "{:?}",
        op.left()
    );
}

/// The upgrade trap, staged as `helm upgrade` leaves it: the runner set
/// moves from the kubernetes container mode to the default one, so Helm
/// deletes the kube-mode ServiceAccount, Role and RoleBinding, which keep
/// ARC's cleanup-protection and stay Terminating. Returns their names.
fn stage_upgrade_trap(op: &Operator) -> Vec<String> {
    let env = env();
    op.install(false);
    run_ok(
        env.home
            .helm(Helm::V4)
            .args(["upgrade", RELEASE])
            .arg(repo_root().join("examples/charts/arc-runner-set"))
            .args([
                "-n",
                &op.runner_ns,
                "--reuse-values",
                "--set",
                "containerMode.type=",
            ]),
    );
    let trapped = vec![
        format!("ServiceAccount/{}/{RELEASE}-gha-rs-kube-mode", op.runner_ns),
        format!("Role/{}/{RELEASE}-gha-rs-kube-mode", op.runner_ns),
        format!("RoleBinding/{}/{RELEASE}-gha-rs-kube-mode", op.runner_ns),
    ];
    let text = env.kubectl(&[
        "get",
        "serviceaccount",
        &format!("{RELEASE}-gha-rs-kube-mode"),
        "-n",
        &op.runner_ns,
        "-o",
        "json",
    ]);
    let sa: Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        sa["metadata"]["deletionTimestamp"].is_string(),
        "the kube-mode ServiceAccount is Terminating: {sa}"
    );
    trapped
}

fn doctor_findings(out: &Output) -> Vec<(String, String)> {
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(out)));
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_string(),
                f["object"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn doctor(variant: Variant) {
    let op = Operator::new("doctor", variant, "doctor", controller(), None);
    let trapped = stage_upgrade_trap(&op);
    let out = op.run(&["doctor", "-n", &op.runner_ns, "-o", "json"]);
    // 5: problems found, each with its fix.
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let findings = doctor_findings(&out);
    for object in &trapped {
        assert!(
            findings.contains(&("upgrade_trap".to_string(), object.clone())),
            "{findings:?}"
        );
    }
    assert!(
        !findings
            .iter()
            .any(|(kind, _)| kind.starts_with("controller")),
        "the controller in {} was seen: {findings:?}",
        op.controller_ns
    );
}

fn doctor_without_listing_secrets(variant: Variant) {
    let removal = Removal {
        role_namespace: (variant == Variant::Namespaced).then_some("arc-runners"),
        group: "",
        resource: "secrets",
        verb: "list",
    };
    let op = Operator::new(
        "doctor-no-list",
        variant,
        "doctor",
        controller(),
        Some(removal),
    );
    stage_upgrade_trap(&op);
    let out = op.run(&["doctor", "-n", &op.runner_ns]);
    assert_missing_permission(&out, "list", "secrets", &op.runner_ns);
}

fn doctor_fix(variant: Variant) {
    let op = Operator::new("doctor-fix", variant, "doctor-fix", controller(), None);
    let trapped = stage_upgrade_trap(&op);
    let out = op.run(&["doctor", "--fix", "-n", &op.runner_ns, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let fixed: Vec<&str> = report["fixed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["result"] == "fixed")
        .filter_map(|a| a["object"].as_str())
        .collect();
    for object in &trapped {
        assert!(
            fixed.contains(&object.as_str()),
            "{fixed:?}\n{}",
            describe(&out)
        );
    }
    let left = env().kubectl_try(&[
        "get",
        "serviceaccount",
        &format!("{RELEASE}-gha-rs-kube-mode"),
        "-n",
        &op.runner_ns,
    ]);
    assert!(!left.status.success(), "the trapped ServiceAccount is gone");
}

fn doctor_fix_without_patching_roles(variant: Variant) {
    let removal = Removal {
        role_namespace: (variant == Variant::Namespaced).then_some("arc-runners"),
        group: "rbac.authorization.k8s.io",
        resource: "roles",
        verb: "patch",
    };
    let op = Operator::new(
        "doctor-fix-no-patch",
        variant,
        "doctor-fix",
        controller(),
        Some(removal),
    );
    stage_upgrade_trap(&op);
    let out = op.run(&["doctor", "--fix", "-n", &op.runner_ns]);
    assert_missing_permission(
        &out,
        "patch",
        "roles.rbac.authorization.k8s.io",
        &op.runner_ns,
    );
}

crate::test_each!(
    [cluster_wide: Variant::ClusterWide, namespaced: Variant::Namespaced],
    plan,
    plan_without_listing_secrets,
    uninstall,
    uninstall_without_listing_deployments,
    uninstall_force_finalizers,
    uninstall_force_finalizers_without_patching_secrets,
    all_runner_sets,
    all_runner_sets_without_listing_runner_sets,
    doctor,
    doctor_without_listing_secrets,
    doctor_fix,
    doctor_fix_without_patching_roles,
);
