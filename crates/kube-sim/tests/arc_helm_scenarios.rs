//! The seed failures, reproduced with real Helm 3.17.3 and Helm 4.1.4 against
//! the simulator with the simulated ARC controller, plus the healthy path.
//! Charts: the project's examples/charts (arc-controller, arc-runner-set in
//! kubernetes mode, 7 objects); the CRDs are installed through the API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod arc_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arc_support::Cluster;
use kube_sim::api::Gvk;
use kube_sim::arc::names::*;
use kube_sim::arc::{ArcConfig, Timing};

const RUNNER_RELEASE_OBJECTS: [(&str, &str, &str); 7] = [
    ("v1", "ServiceAccount", "arc-runner-set-gha-rs-kube-mode"),
    ("v1", "Secret", "arc-runner-set-gha-rs-github-secret"),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        "arc-runner-set-gha-rs-kube-mode",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        "arc-runner-set-gha-rs-manager",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "arc-runner-set-gha-rs-kube-mode",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "arc-runner-set-gha-rs-manager",
    ),
    (
        "actions.github.com/v1alpha1",
        "AutoscalingRunnerSet",
        "arc-runner-set",
    ),
];

fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HAU_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/helm-arc-uninstall/tools")
}

fn charts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts")
}

/// A real Helm (and its kubectl) isolated in a temp directory, pointed at the simulator.
struct Helm {
    helm: PathBuf,
    kubectl: PathBuf,
    home: PathBuf,
    kubeconfig: PathBuf,
}

impl Helm {
    /// Tools of `slot` (`helm3`/`helm4`) with a private home; kubeconfig at `home/kubeconfig`.
    fn bare(slot: &str, tag: &str) -> Self {
        let helm = tools_dir().join(slot).join("helm");
        let kubectl = tools_dir().join(slot).join("kubectl");
        assert!(
            helm.is_file() && kubectl.is_file(),
            "{} missing: run scripts/fetch-tools",
            helm.display()
        );
        let home =
            std::env::temp_dir().join(format!("kube-sim-arc-{slot}-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let kubeconfig = home.join("kubeconfig");
        Helm {
            helm,
            kubectl,
            home,
            kubeconfig,
        }
    }

    /// Pointed at the simulator of `c`.
    fn new(slot: &str, c: &Cluster) -> Self {
        let helm = Helm::bare(slot, &c.sim.addr().port().to_string());
        c.sim.write_kubeconfig(&helm.kubeconfig).unwrap();
        helm
    }

    /// Pointed at an existing kubeconfig (the opt-in real-cluster mode).
    fn external(slot: &str, kubeconfig: PathBuf) -> Self {
        let mut helm = Helm::bare(slot, "external");
        helm.kubeconfig = kubeconfig;
        helm
    }

    fn command(&self, bin: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.home.join("kubecache"))
            .stdin(Stdio::null());
        cmd
    }

    fn helm(&self, args: &[&str]) -> Output {
        self.command(&self.helm, args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.helm(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(&self.helm, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        let out = self.command(&self.kubectl, args).output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `kubectl get ... -o json` items.
    fn kubectl_items(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&full);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    fn install_controller(&self) {
        let chart = charts_dir().join("arc-controller");
        self.ok(&[
            "install",
            "arc",
            chart.to_str().unwrap(),
            "-n",
            "arc-systems",
            "--create-namespace",
            "--wait",
            "--timeout",
            "60s",
        ]);
    }

    fn install_runner_set(&self, min_runners: u32) {
        let chart = charts_dir().join("arc-runner-set");
        let set = format!("minRunners={min_runners}");
        self.ok(&[
            "install",
            "arc-runner-set",
            chart.to_str().unwrap(),
            "-n",
            "arc-runners",
            "--create-namespace",
            "--set",
            &set,
        ]);
    }
}

impl Drop for Helm {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Simulator with the ARC CRDs and a started controller that waits for its
/// Deployment (Helm installs it).
fn cluster() -> Cluster {
    Cluster::start_bare(ArcConfig {
        timing: Timing::fast(),
        ..ArcConfig::default()
    })
}

fn release_objects(c: &Cluster) -> Vec<Option<serde_json::Value>> {
    RUNNER_RELEASE_OBJECTS
        .iter()
        .map(|(av, kind, name)| c.get(&Gvk::new(av, kind), "arc-runners", name))
        .collect()
}

fn release_gone(c: &Cluster) -> bool {
    release_objects(c).iter().all(Option::is_none)
}

fn quiet_period(c: &Cluster) {
    let mut rx = c.api.subscribe();
    c.sim.handle().block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while rx.recv().await.is_ok() {}
        })
        .await;
    });
}

fn for_each_helm(test: impl Fn(&str)) {
    for slot in ["helm3", "helm4"] {
        eprintln!("=== {slot} ===");
        test(slot);
    }
}

#[test]
fn healthy_path_helm_uninstall_wait_finishes_and_github_is_empty() {
    for_each_helm(|slot| {
        let started = Instant::now();
        let c = cluster();
        let helm = Helm::new(slot, &c);
        helm.install_controller();
        c.wait_until("the controller is active", |c| c.arc.is_active());
        let deployment = c
            .get(&deployment_gvk(), "arc-systems", "arc-gha-rs-controller")
            .unwrap();
        assert_eq!(deployment["status"]["availableReplicas"], 1);
        helm.install_runner_set(2);
        c.wait_ready(2);
        assert_eq!(c.github.scale_sets().len(), 1);
        assert_eq!(c.github.runners().len(), 2);
        let installed = started.elapsed();

        helm.ok(&[
            "uninstall",
            "arc-runner-set",
            "-n",
            "arc-runners",
            "--wait",
            "--timeout",
            "60s",
        ]);
        assert!(
            release_gone(&c),
            "helm --wait returned before the release objects were gone"
        );
        c.wait_until("listener and runners are gone", |c| {
            c.listener().is_none() && c.runners().is_empty()
        });
        assert!(
            c.github.is_empty(),
            "leaked: {:?} {:?}",
            c.github.scale_sets(),
            c.github.runners()
        );
        let list = helm.ok(&["list", "-A", "-q"]);
        assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "arc");
        eprintln!(
            "{slot}: install (controller + runner set, 2 runners ready) {:?}, full install-and-uninstall {:?}",
            installed,
            started.elapsed()
        );
    });
}

#[test]
fn seed_1_controller_uninstalled_first_leaves_everything_terminating() {
    for_each_helm(|slot| {
        let c = cluster();
        let helm = Helm::new(slot, &c);
        helm.install_controller();
        helm.install_runner_set(1);
        c.wait_ready(1);

        helm.ok(&["uninstall", "arc", "-n", "arc-systems"]);
        c.wait_until("the controller lost its Deployment", |c| !c.arc.is_active());
        helm.ok(&["uninstall", "arc-runner-set", "-n", "arc-runners"]);
        quiet_period(&c);

        for (obj, (_, kind, name)) in release_objects(&c).iter().zip(RUNNER_RELEASE_OBJECTS) {
            let obj = obj
                .as_ref()
                .unwrap_or_else(|| panic!("{kind} {name} was deleted"));
            assert!(is_deleting(obj), "{kind} {name} is Terminating");
            let expected = if kind == "AutoscalingRunnerSet" {
                ARS_FINALIZER
            } else {
                CLEANUP_PROTECTION
            };
            assert_eq!(finalizers(obj), vec![expected], "{kind} {name}");
        }
        let listener = c.listener().expect("listener left behind");
        assert_eq!(finalizers(&listener), vec![LISTENER_FINALIZER]);
        let sets = c.list(&ers_gvk(), Some("arc-runners"));
        assert_eq!(sets.len(), 1);
        assert_eq!(finalizers(&sets[0]), vec![ER_FINALIZER]);
        let runners = c.runners();
        assert_eq!(runners.len(), 1);
        assert!(
            has_finalizer(&runners[0], ER_FINALIZER)
                && has_finalizer(&runners[0], ER_REGISTRATION_FINALIZER)
        );
        assert_eq!(
            c.github.scale_sets().len(),
            1,
            "the scale set is still registered on GitHub"
        );
        assert_eq!(c.github.runners().len(), 1);

        // Reinstalling the controller resumes the cleanup (RBAC and secret still exist).
        helm.install_controller();
        c.wait_until("the release objects are gone after the reinstall", |c| {
            release_gone(c) && c.listener().is_none() && c.runners().is_empty()
        });
        assert!(c.github.is_empty());
    });
}

#[test]
fn seed_2_manager_rolebinding_lost_while_finalizing_stalls() {
    for_each_helm(|slot| {
        let c = cluster();
        let helm = Helm::new(slot, &c);
        helm.install_controller();
        helm.install_runner_set(1);
        c.wait_ready(1);
        let runner = c.runners().remove(0);
        let runner_id = c.arc.start_job("arc-runners", name(&runner), None).unwrap();

        helm.ok(&["uninstall", "arc-runner-set", "-n", "arc-runners"]);
        c.wait_until(
            "the listener is gone and the runner set waits for the busy runner",
            |c| {
                c.listener().is_none()
                    && c.logged("Runner is still running a job, skipping deletion") >= 1
            },
        );
        // The Terminating manager RoleBinding is "unstuck" by hand: RBAC is lost.
        helm.kubectl(&[
            "patch",
            "rolebinding",
            "arc-runner-set-gha-rs-manager",
            "-n",
            "arc-runners",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ]);
        assert!(
            c.get(
                &rbac("RoleBinding"),
                "arc-runners",
                "arc-runner-set-gha-rs-manager"
            )
            .is_none()
        );
        c.github.finish_job(runner_id);

        // Every runner-namespace Secret read (JIT secret, GitHub secret) is now Forbidden.
        let forbidden = "is forbidden: User \"system:serviceaccount:arc-systems:arc-gha-rs-controller\" cannot get resource \"secrets\" in API group \"\" in the namespace \"arc-runners\"";
        c.wait_until("runner reconciles fail with Forbidden three times", |c| {
            c.errors_containing(forbidden) >= 3
        });
        let stuck = c
            .get(&er_gvk(), "arc-runners", name(&runner))
            .expect("runner stuck");
        assert!(
            has_finalizer(&stuck, ER_REGISTRATION_FINALIZER) && has_finalizer(&stuck, ER_FINALIZER)
        );
        assert_eq!(
            c.list(&ers_gvk(), Some("arc-runners")).len(),
            1,
            "runner set stuck"
        );
        let ars = c.ars().expect("ARS stuck");
        assert!(is_deleting(&ars) && has_finalizer(&ars, ARS_FINALIZER));
        let manager_role = c
            .get(
                &rbac("Role"),
                "arc-runners",
                "arc-runner-set-gha-rs-manager",
            )
            .expect("manager Role stuck");
        assert!(has_finalizer(&manager_role, CLEANUP_PROTECTION));
        assert_eq!(c.github.scale_sets().len(), 1, "scale set leaked on GitHub");
    });
}

#[test]
fn seed_3_busy_runner_keeps_everything_until_its_job_ends() {
    for_each_helm(|slot| {
        let c = cluster();
        let helm = Helm::new(slot, &c);
        helm.install_controller();
        helm.install_runner_set(1);
        c.wait_ready(1);
        let runner = c.runners().remove(0);
        let runner_id = c.arc.start_job("arc-runners", name(&runner), None).unwrap();

        let mut uninstall = helm.spawn(&[
            "uninstall",
            "arc-runner-set",
            "-n",
            "arc-runners",
            "--wait",
            "--timeout",
            "120s",
        ]);
        c.wait_until("the runner set skipped the busy runner", |c| {
            c.logged("Runner is still running a job, skipping deletion") >= 1
        });
        let waits = c.logged("Waiting for ephemeral runner sets to be deleted");
        c.wait_until("the ARS requeued three more times", |c| {
            c.logged("Waiting for ephemeral runner sets to be deleted") >= waits + 3
        });
        assert!(
            uninstall.try_wait().unwrap().is_none(),
            "helm uninstall --wait is still waiting"
        );
        for (obj, (_, kind, name)) in release_objects(&c).iter().zip(RUNNER_RELEASE_OBJECTS) {
            assert!(
                obj.as_ref().is_some_and(is_deleting),
                "{kind} {name} held while the job runs"
            );
        }
        assert!(c.get(&er_gvk(), "arc-runners", name(&runner)).is_some());
        assert_eq!(c.github.scale_sets().len(), 1);

        c.github.finish_job(runner_id);
        let out = uninstall.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "helm uninstall --wait: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(release_gone(&c));
        c.wait_until("runners are gone", |c| c.runners().is_empty());
        assert!(c.github.is_empty());
    });
}

/// Settings of the opt-in real-cluster mode (see the README).
struct RealCluster {
    helm: Helm,
    namespace: String,
    github_url: String,
    github_token: String,
    controller_sa: String,
    controller_namespace: String,
}

/// `HAU_REAL_CLUSTER=1` with `KUBECONFIG` (ARC's controller installed there),
/// `HAU_ARC_GITHUB_URL` and `HAU_ARC_GITHUB_TOKEN`; optional
/// `HAU_ARC_CONTROLLER_SA` / `HAU_ARC_CONTROLLER_NAMESPACE` (default
/// `arc-gha-rs-controller` / `arc-systems`) and `HAU_REAL_CLUSTER_HELM`
/// (`helm3` or `helm4`, default `helm4`).
fn real_cluster() -> Option<RealCluster> {
    if std::env::var("HAU_REAL_CLUSTER").ok().as_deref() != Some("1") {
        return None;
    }
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("HAU_REAL_CLUSTER=1 needs {k}"));
    let or = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let kubeconfig = PathBuf::from(var("KUBECONFIG"));
    Some(RealCluster {
        helm: Helm::external(&or("HAU_REAL_CLUSTER_HELM", "helm4"), kubeconfig),
        namespace: format!("hau-e2e-{}", std::process::id()),
        github_url: var("HAU_ARC_GITHUB_URL"),
        github_token: var("HAU_ARC_GITHUB_TOKEN"),
        controller_sa: or("HAU_ARC_CONTROLLER_SA", "arc-gha-rs-controller"),
        controller_namespace: or("HAU_ARC_CONTROLLER_NAMESPACE", "arc-systems"),
    })
}

/// Poll (a real cluster has no in-process watch here) until `cond`, up to `limit`.
fn poll(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The healthy path end to end with whatever ARC controller runs there:
/// install the example runner set, wait for the scale set registration and a
/// runner, `helm uninstall --wait`, and check nothing is left in the namespace.
fn healthy_path_on(rc: &RealCluster, limit: Duration) {
    let ns = rc.namespace.as_str();
    let chart = charts_dir().join("arc-runner-set");
    rc.helm.ok(&[
        "install",
        "arc-runner-set",
        chart.to_str().unwrap(),
        "-n",
        ns,
        "--create-namespace",
        "--set",
        "minRunners=1",
        "--set",
        &format!("githubConfigUrl={}", rc.github_url),
        "--set",
        &format!("githubConfigSecret.github_token={}", rc.github_token),
        "--set",
        &format!("controllerServiceAccount.name={}", rc.controller_sa),
        "--set",
        &format!(
            "controllerServiceAccount.namespace={}",
            rc.controller_namespace
        ),
    ]);
    poll(
        "the scale set is registered and a runner exists",
        limit,
        || {
            let ars = rc.helm.kubectl_items(&["autoscalingrunnersets", "-n", ns]);
            let runners = rc.helm.kubectl_items(&["ephemeralrunners", "-n", ns]);
            ars.iter()
                .any(|a| annotation(a, ANN_SCALE_SET_ID).is_some())
                && runners
                    .iter()
                    .any(|r| r.pointer("/status/runnerId").is_some())
        },
    );
    let timeout = format!("{}s", limit.as_secs());
    rc.helm.ok(&[
        "uninstall",
        "arc-runner-set",
        "-n",
        ns,
        "--wait",
        "--timeout",
        &timeout,
    ]);
    for kind in [
        "autoscalingrunnersets",
        "ephemeralrunnersets",
        "ephemeralrunners",
    ] {
        assert!(
            rc.helm.kubectl_items(&[kind, "-n", ns]).is_empty(),
            "{kind} left in {ns}"
        );
    }
    let left = rc.helm.kubectl_items(&[
        "serviceaccounts,secrets,roles,rolebindings",
        "-n",
        ns,
        "-l",
        "app.kubernetes.io/part-of=gha-rs",
    ]);
    let names: Vec<&str> = left.iter().map(name).collect();
    assert!(names.is_empty(), "chart objects left in {ns}: {names:?}");
}

/// Opt-in: the healthy path on a real cluster with the real ARC controller.
#[test]
fn real_cluster_healthy_path() {
    let Some(rc) = real_cluster() else {
        eprintln!("skipped: set HAU_REAL_CLUSTER=1 (see README) to run against a real cluster");
        return;
    };
    healthy_path_on(&rc, Duration::from_secs(300));
    rc.helm
        .kubectl(&["delete", "namespace", &rc.namespace, "--wait=false"]);
}

/// The opt-in mode's own code path, exercised against the simulator standing in
/// for the real cluster (so it cannot rot unnoticed).
#[test]
fn real_cluster_mode_runs_against_the_simulator() {
    let c = cluster();
    let helm = Helm::new("helm4", &c);
    helm.install_controller();
    let rc = RealCluster {
        helm: Helm::external("helm4", helm.kubeconfig.clone()),
        namespace: "hau-e2e-sim".to_string(),
        github_url: "https://github.com/example/repo".to_string(),
        github_token: "ghp_fake".to_string(),
        controller_sa: "arc-gha-rs-controller".to_string(),
        controller_namespace: "arc-systems".to_string(),
    };
    healthy_path_on(&rc, Duration::from_secs(60));
    assert!(c.github.is_empty());
}
