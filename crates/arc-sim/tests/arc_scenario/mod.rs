//! Where the Helm scenarios run: the in-process simulator with its controls
//! and records, or any cluster reached through kubectl and Helm only (a real
//! one given by `KUBECONFIG`, or the simulator standing in for it). The
//! scenarios observe and act through [`Scenario`] so one code path serves both.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_sim::controller::names::*;
use kube_sim::api::Gvk;
use serde_json::Value;
use testenv::SimCluster;
use testenv::scenario::chart;
use testenv::{Helm, HelmClient, HelmHome};

/// The Helm version whose tools directory is `slot` (`helm3`/`helm4`).
fn version(slot: &str) -> Helm {
    Helm::from_slot(slot).unwrap_or_else(|| panic!("no Helm tools slot {slot:?}"))
}

/// `slot`'s Helm from a fresh home pointed at the simulator of `c`.
pub fn sim_client(slot: &str, c: &SimCluster) -> HelmClient {
    let home = HelmHome::new();
    c.sim.write_kubeconfig(home.kubeconfig()).unwrap();
    HelmClient::new(home, version(slot))
}

/// `slot`'s Helm from a fresh home pointed at an existing kubeconfig (the
/// opt-in real-cluster mode).
pub fn external_client(slot: &str, kubeconfig: PathBuf) -> HelmClient {
    HelmClient::new(HelmHome::with_kubeconfig(kubeconfig), version(slot))
}

/// `helm install arc examples/charts/arc-controller -n arc-systems --wait`.
pub fn install_controller(helm: &HelmClient) {
    let chart = chart("arc-controller");
    helm.ok(&[
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

/// `helm install arc-runner-set examples/charts/arc-runner-set -n arc-runners`
/// with `min_runners`.
pub fn install_runner_set(helm: &HelmClient, min_runners: u32) {
    let chart = chart("arc-runner-set");
    let set = format!("minRunners={min_runners}");
    helm.ok(&[
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

/// kubectl's name for a resource: `plural.version.group` (core: `plural`).
fn resource(gvk: &Gvk) -> String {
    if gvk.group.is_empty() {
        plural(&gvk.kind)
    } else {
        format!("{}.{}.{}", plural(&gvk.kind), gvk.version, gvk.group)
    }
}

/// Settings of a cluster reached through kubectl and Helm only.
pub struct Real {
    pub github_url: String,
    pub github_token: String,
    pub controller_sa: String,
    /// Makes a runner of the set busy (`sh -c`, with `HAU_RUNNER_SET` and
    /// `HAU_RUNNER_NAMESPACE`); without it the busy-runner scenarios are skipped.
    pub busy_job_cmd: Option<String>,
    /// Ends that job early (optional: otherwise it ends by itself).
    pub busy_job_end_cmd: Option<String>,
    /// Bound of every wait (and of `helm uninstall --wait`).
    pub limit: Duration,
    /// How long a stuck state is watched before it is asserted.
    pub settle: Duration,
    /// Interval between two looks at the cluster.
    pub poll: Duration,
    /// Scenarios on one real cluster run one at a time (they stop its controller).
    pub serial: Option<MutexGuard<'static, ()>>,
}

static REAL_CLUSTER: Mutex<()> = Mutex::new(());

/// The opt-in real-cluster mode, or `None` (see the README):
/// `HAU_REAL_CLUSTER=1` with `KUBECONFIG` (ARC's controller installed there),
/// `HAU_ARC_GITHUB_URL` and `HAU_ARC_GITHUB_TOKEN`; optional
/// `HAU_ARC_CONTROLLER_SA` / `HAU_ARC_CONTROLLER_NAMESPACE` (default
/// `arc-gha-rs-controller` / `arc-systems`), `HAU_REAL_CLUSTER_HELM` (`helm3`
/// or `helm4`, default `helm4`), `HAU_ARC_BUSY_JOB_CMD` and
/// `HAU_ARC_BUSY_JOB_END_CMD`. `scenario` names the fresh namespace (and the
/// scale set) `hau-e2e-<pid>-<scenario>`.
pub fn real_cluster(scenario: &str) -> Option<Scenario<'static>> {
    if std::env::var("HAU_REAL_CLUSTER").ok().as_deref() != Some("1") {
        return None;
    }
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("HAU_REAL_CLUSTER=1 needs {k}"));
    let or = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let opt = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let serial = REAL_CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let helm = external_client(
        &or("HAU_REAL_CLUSTER_HELM", "helm4"),
        PathBuf::from(var("KUBECONFIG")),
    );
    let ns = format!("hau-e2e-{}-{scenario}", std::process::id());
    Some(Scenario {
        helm,
        set: ns.clone(),
        ns,
        controller_ns: or("HAU_ARC_CONTROLLER_NAMESPACE", "arc-systems"),
        mode: Mode::Real(Real {
            github_url: var("HAU_ARC_GITHUB_URL"),
            github_token: var("HAU_ARC_GITHUB_TOKEN"),
            controller_sa: or("HAU_ARC_CONTROLLER_SA", "arc-gha-rs-controller"),
            busy_job_cmd: opt("HAU_ARC_BUSY_JOB_CMD"),
            busy_job_end_cmd: opt("HAU_ARC_BUSY_JOB_END_CMD"),
            limit: Duration::from_secs(600),
            settle: Duration::from_secs(20),
            poll: Duration::from_secs(2),
            serial: Some(serial),
        }),
        finished: Cell::new(false),
    })
}

pub enum Mode<'a> {
    /// The in-process simulator: its controls, controller log and GitHub record.
    Sim(&'a SimCluster),
    /// kubectl and Helm only.
    Real(Real),
}

/// A cluster with ARC's controller, a runner namespace and a scale set name.
pub struct Scenario<'a> {
    pub helm: HelmClient,
    /// Runner namespace.
    pub ns: String,
    /// Scale set (and release) name.
    pub set: String,
    pub controller_ns: String,
    pub mode: Mode<'a>,
    finished: Cell<bool>,
}

/// A job occupying a runner.
pub enum BusyJob {
    /// Started through [`arc_sim::controller::ArcController::start_job`]: the runner id.
    Sim(i64),
    /// Started by `HAU_ARC_BUSY_JOB_CMD`.
    Real,
}

impl<'a> Scenario<'a> {
    /// The simulator of `c` with the controller chart installed by `slot`'s Helm;
    /// the runner set goes to `arc-runners` as `arc-runner-set`.
    pub fn sim(c: &'a SimCluster, slot: &str) -> Self {
        let helm = sim_client(slot, c);
        install_controller(&helm);
        Scenario {
            helm,
            ns: "arc-runners".to_string(),
            set: "arc-runner-set".to_string(),
            controller_ns: "arc-systems".to_string(),
            mode: Mode::Sim(c),
            finished: Cell::new(false),
        }
    }

    /// The real-cluster mode's code path on the simulator of `c` (controller
    /// installed by Helm 4), waits bounded by 60s, a short settle. `jobs`: the
    /// directory of [`JobStandIn`], which plays GitHub for the job commands.
    pub fn real_on_sim(
        c: &SimCluster,
        scenario: &str,
        jobs: Option<&JobStandIn>,
    ) -> Scenario<'static> {
        let helm = sim_client("helm4", c);
        install_controller(&helm);
        let ns = format!("hau-e2e-sim-{scenario}");
        Scenario {
            helm,
            set: ns.clone(),
            ns,
            controller_ns: "arc-systems".to_string(),
            mode: Mode::Real(Real {
                github_url: "https://github.com/example/repo".to_string(),
                github_token: "ghp_fake".to_string(),
                controller_sa: "arc-gha-rs-controller".to_string(),
                busy_job_cmd: jobs.map(|j| j.command("start")),
                busy_job_end_cmd: jobs.map(|j| j.command("end")),
                limit: Duration::from_secs(60),
                settle: Duration::from_millis(300),
                poll: Duration::from_millis(50),
                serial: None,
            }),
            finished: Cell::new(false),
        }
    }

    /// The simulator, when the scenario may use its controls and records.
    pub fn sim_cluster(&self) -> Option<&'a SimCluster> {
        match self.mode {
            Mode::Sim(c) => Some(c),
            Mode::Real(_) => None,
        }
    }

    pub fn real(&self) -> Option<&Real> {
        match &self.mode {
            Mode::Real(r) => Some(r),
            Mode::Sim(_) => None,
        }
    }

    /// `--timeout` for `helm uninstall --wait`.
    pub fn helm_timeout(&self) -> String {
        match &self.mode {
            Mode::Sim(_) => "120s".to_string(),
            Mode::Real(r) => format!("{}s", r.limit.as_secs()),
        }
    }

    /// Install the example runner set (kubernetes mode) with `min_runners`.
    pub fn install_runner_set(&self, min_runners: u32) {
        let Mode::Real(r) = &self.mode else {
            install_runner_set(&self.helm, min_runners);
            return;
        };
        let chart = chart("arc-runner-set");
        self.helm.ok(&[
            "install",
            &self.set,
            chart.to_str().unwrap(),
            "-n",
            &self.ns,
            "--create-namespace",
            "--set",
            &format!("minRunners={min_runners}"),
            "--set",
            &format!("runnerScaleSetName={}", self.set),
            "--set",
            &format!("githubConfigUrl={}", r.github_url),
            "--set",
            &format!("githubConfigSecret.github_token={}", r.github_token),
            "--set",
            &format!("controllerServiceAccount.name={}", r.controller_sa),
            "--set",
            &format!("controllerServiceAccount.namespace={}", self.controller_ns),
        ]);
    }

    pub fn get(&self, gvk: &Gvk, ns: &str, name: &str) -> Option<Value> {
        match &self.mode {
            Mode::Sim(c) => c.get(gvk, ns, name),
            Mode::Real(_) => {
                let out = self.helm.kubectl(&[
                    "get",
                    &resource(gvk),
                    name,
                    "-n",
                    ns,
                    "--ignore-not-found",
                    "-o",
                    "json",
                ]);
                (!out.stdout.iter().all(u8::is_ascii_whitespace))
                    .then(|| serde_json::from_slice(&out.stdout).unwrap())
            }
        }
    }

    pub fn list(&self, gvk: &Gvk, ns: &str) -> Vec<Value> {
        match &self.mode {
            Mode::Sim(c) => c.list(gvk, Some(ns)),
            Mode::Real(_) => self.helm.kubectl_items(&[&resource(gvk), "-n", ns]),
        }
    }

    /// The runner set's release objects (kubernetes mode, 7 objects): kind, name, object.
    pub fn release_objects(&self) -> Vec<(&'static str, String, Option<Value>)> {
        let p = format!("{}-gha-rs", self.set);
        [
            ("v1", "ServiceAccount", format!("{p}-kube-mode")),
            ("v1", "Secret", format!("{p}-github-secret")),
            (
                "rbac.authorization.k8s.io/v1",
                "Role",
                format!("{p}-kube-mode"),
            ),
            (
                "rbac.authorization.k8s.io/v1",
                "Role",
                format!("{p}-manager"),
            ),
            (
                "rbac.authorization.k8s.io/v1",
                "RoleBinding",
                format!("{p}-kube-mode"),
            ),
            (
                "rbac.authorization.k8s.io/v1",
                "RoleBinding",
                format!("{p}-manager"),
            ),
            (
                "actions.github.com/v1alpha1",
                "AutoscalingRunnerSet",
                self.set.clone(),
            ),
        ]
        .into_iter()
        .map(|(av, kind, name)| {
            let obj = self.get(&Gvk::new(av, kind), &self.ns, &name);
            (kind, name, obj)
        })
        .collect()
    }

    pub fn release_gone(&self) -> bool {
        self.release_objects().iter().all(|(_, _, o)| o.is_none())
    }

    pub fn manager_role_binding(&self) -> String {
        format!("{}-gha-rs-manager", self.set)
    }

    pub fn ars(&self) -> Option<Value> {
        self.get(&ars_gvk(), &self.ns, &self.set)
    }

    /// The set's AutoscalingListener (controller namespace), found by its spec.
    pub fn listener(&self) -> Option<Value> {
        self.list(&listener_gvk(), &self.controller_ns)
            .into_iter()
            .find(|l| {
                str_at(l, "/spec/autoscalingRunnerSetNamespace") == self.ns
                    && str_at(l, "/spec/autoscalingRunnerSetName") == self.set
            })
    }

    pub fn runner_sets(&self) -> Vec<Value> {
        self.list(&ers_gvk(), &self.ns)
    }

    pub fn runners(&self) -> Vec<Value> {
        self.list(&er_gvk(), &self.ns)
    }

    /// The runner whose status carries a job (`status.jobRequestId`, set by the listener).
    pub fn busy_runner(&self) -> Option<Value> {
        self.runners().into_iter().find(|r| {
            r.pointer("/status/jobRequestId")
                .and_then(Value::as_i64)
                .is_some_and(|id| id != 0)
        })
    }

    pub fn pod_phase(&self, name: &str) -> Option<String> {
        self.get(&core("Pod"), &self.ns, name)
            .map(|p| str_at(&p, "/status/phase").to_string())
    }

    /// Wait until `cond` holds: on the simulator re-checked on every store
    /// event (30s bound), elsewhere polled up to the limit.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        match &self.mode {
            Mode::Sim(c) => c.wait_until(what, |_| cond()),
            Mode::Real(r) => {
                let deadline = Instant::now() + r.limit;
                while !cond() {
                    if Instant::now() >= deadline {
                        self.dump();
                        panic!("timed out after {:?} waiting until {what}", r.limit);
                    }
                    std::thread::sleep(r.poll);
                }
            }
        }
    }

    /// Let the cluster run for a while (to show that a stuck state stays).
    pub fn settle(&self) {
        match &self.mode {
            Mode::Sim(c) => {
                let mut rx = c.api.subscribe();
                c.sim.handle().block_on(async {
                    let _ = tokio::time::timeout(Duration::from_millis(500), async {
                        while rx.recv().await.is_ok() {}
                    })
                    .await;
                });
            }
            Mode::Real(r) => std::thread::sleep(r.settle),
        }
    }

    /// Print the ARC objects of the set (after a timeout).
    pub fn dump(&self) {
        eprintln!("--- ARC objects of {}/{} ---", self.ns, self.set);
        let listener = self.listener().into_iter();
        let objects = self
            .ars()
            .into_iter()
            .chain(listener)
            .chain(self.runner_sets())
            .chain(self.runners());
        for o in objects {
            eprintln!(
                "{} {}/{} finalizers={:?} deleting={}",
                str_at(&o, "/kind"),
                namespace(&o),
                name(&o),
                finalizers(&o),
                is_deleting(&o)
            );
        }
    }

    /// The runner set is up: scale set registered, listener pod, `n` runners
    /// Running with their pods.
    pub fn wait_ready(&self, n: usize) {
        self.wait_until("the runner set is ready", || {
            let runners = self.runners();
            self.ars()
                .is_some_and(|a| annotation(&a, ANN_SCALE_SET_ID).is_some())
                && self.listener().is_some_and(|l| {
                    self.get(&core("Pod"), &self.controller_ns, name(&l))
                        .is_some()
                })
                && runners.len() == n
                && runners.iter().all(|r| {
                    str_at(r, "/status/phase") == "Running" && self.pod_phase(name(r)).is_some()
                })
        });
    }

    /// Stop ARC's controller. Simulator: `helm uninstall` of the controller
    /// release (the literal seed failure). Elsewhere: scale its Deployment to 0
    /// (restored by [`Stopped::restart`], or on drop).
    pub fn stop_controller(&self) -> Stopped<'_, 'a> {
        match &self.mode {
            Mode::Sim(c) => {
                self.helm.ok(&["uninstall", "arc", "-n", "arc-systems"]);
                c.wait_until("the controller lost its Deployment", |c| !c.arc.is_active());
                Stopped {
                    target: self,
                    scaled_from: None,
                }
            }
            Mode::Real(_) => {
                let d = self.controller_deployment();
                let replicas = d
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                assert!(replicas > 0, "the ARC controller is scaled to 0 already");
                let stopped = Stopped {
                    target: self,
                    scaled_from: Some((name(&d).to_string(), replicas)),
                };
                self.scale_controller(name(&d), 0);
                let selector = match_labels(&d);
                self.wait_until(
                    "the controller is scaled to 0 and its pods are gone",
                    || {
                        let d = self.get(&deployment_gvk(), &self.controller_ns, name(&d));
                        d.is_some_and(|d| rolled_out(&d) && replicas_at(&d, "replicas") == 0)
                            && self
                                .helm
                                .kubectl_items(&[
                                    "pods",
                                    "-n",
                                    &self.controller_ns,
                                    "-l",
                                    &selector,
                                ])
                                .is_empty()
                    },
                );
                stopped
            }
        }
    }

    /// The controller Deployment (label `app.kubernetes.io/part-of=gha-rs-controller`).
    fn controller_deployment(&self) -> Value {
        let selector = format!("{LABEL_PART_OF}={CONTROLLER_PART_OF}");
        let mut found =
            self.helm
                .kubectl_items(&["deployments", "-n", &self.controller_ns, "-l", &selector]);
        assert_eq!(
            found.len(),
            1,
            "expected one ARC controller Deployment ({selector}) in {} (HAU_ARC_CONTROLLER_NAMESPACE)",
            self.controller_ns
        );
        found.remove(0)
    }

    fn scale_controller(&self, deployment: &str, replicas: i64) -> Output {
        self.helm.kubectl_try(&[
            "patch",
            "deployment",
            deployment,
            "-n",
            &self.controller_ns,
            "--type=merge",
            "-p",
            &format!(r#"{{"spec":{{"replicas":{replicas}}}}}"#),
        ])
    }

    /// Put a job on a runner of the set. Simulator: the first runner gets a
    /// job that runs until [`Scenario::end_busy_job`]. Elsewhere:
    /// `HAU_ARC_BUSY_JOB_CMD`.
    pub fn start_busy_job(&self) -> BusyJob {
        match &self.mode {
            Mode::Sim(c) => {
                let runner = self.runners().remove(0);
                BusyJob::Sim(c.arc.start_job(&self.ns, name(&runner), None).unwrap())
            }
            Mode::Real(r) => {
                let cmd = r
                    .busy_job_cmd
                    .as_deref()
                    .expect("the scenario was skipped without HAU_ARC_BUSY_JOB_CMD");
                self.run_job_command("HAU_ARC_BUSY_JOB_CMD", cmd);
                BusyJob::Real
            }
        }
    }

    /// End the job (simulator: at once; elsewhere `HAU_ARC_BUSY_JOB_END_CMD`
    /// if given, else the job ends by itself).
    pub fn end_busy_job(&self, job: BusyJob) {
        match (&self.mode, job) {
            (Mode::Sim(c), BusyJob::Sim(runner_id)) => c.github.finish_job(runner_id),
            (Mode::Real(r), _) => {
                if let Some(cmd) = &r.busy_job_end_cmd {
                    self.run_job_command("HAU_ARC_BUSY_JOB_END_CMD", cmd);
                }
            }
            (Mode::Sim(_), BusyJob::Real) => unreachable!("simulator jobs are started in-process"),
        }
    }

    fn run_job_command(&self, var: &str, cmd: &str) {
        let out = Command::new("sh")
            .args(["-c", cmd])
            .env("HAU_RUNNER_SET", &self.set)
            .env("HAU_RUNNER_NAMESPACE", &self.ns)
            .env("KUBECONFIG", self.helm.home.kubeconfig())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{var} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Wait for a runner to take the job; its name.
    pub fn wait_busy_runner(&self) -> String {
        let mut busy = None;
        self.wait_until("a runner of the set runs the job", || {
            busy = self.busy_runner();
            busy.is_some()
        });
        name(&busy.unwrap()).to_string()
    }

    /// Lose the manager RoleBinding: strip its finalizer and delete it (a user
    /// "unsticking" it). Restored by [`LostRoleBinding::restore`].
    pub fn lose_manager_role_binding(&self) -> LostRoleBinding<'_, 'a> {
        let rb = self.manager_role_binding();
        let saved = self
            .get(&rbac("RoleBinding"), &self.ns, &rb)
            .expect("the manager RoleBinding exists");
        self.helm.kubectl(&[
            "patch",
            "rolebinding",
            &rb,
            "-n",
            &self.ns,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ]);
        self.helm.kubectl(&[
            "delete",
            "rolebinding",
            &rb,
            "-n",
            &self.ns,
            "--ignore-not-found",
            "--wait=false",
        ]);
        LostRoleBinding {
            target: self,
            saved: Some(saved),
        }
    }

    /// Delete the namespace and wait for it to go (real mode); nothing on the simulator.
    pub fn finish(&self) {
        if let Mode::Real(r) = &self.mode {
            self.helm.kubectl(&[
                "delete",
                "namespace",
                &self.ns,
                &format!("--timeout={}s", r.limit.as_secs()),
            ]);
        }
        self.finished.set(true);
    }
}

impl Drop for Scenario<'_> {
    fn drop(&mut self) {
        if matches!(self.mode, Mode::Real(_)) && !self.finished.get() {
            let _ = self.helm.kubectl_try(&[
                "delete",
                "namespace",
                &self.ns,
                "--ignore-not-found",
                "--wait=false",
            ]);
        }
    }
}

/// `matchLabels` of a Deployment as a label selector.
fn match_labels(d: &Value) -> String {
    d.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn replicas_at(d: &Value, field: &str) -> i64 {
    d.pointer(&format!("/status/{field}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The deployment controller has seen the current spec.
fn rolled_out(d: &Value) -> bool {
    let generation = d.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = d
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    observed >= generation
}

/// ARC's controller stopped by [`Scenario::stop_controller`].
pub struct Stopped<'t, 'a> {
    target: &'t Scenario<'a>,
    /// Deployment name and its replicas before the scale-down (real mode).
    scaled_from: Option<(String, i64)>,
}

impl Stopped<'_, '_> {
    /// Start the controller again and wait until it is available.
    pub fn restart(mut self) {
        let t = self.target;
        match self.scaled_from.take() {
            None => install_controller(&t.helm),
            Some((deployment, replicas)) => {
                let out = t.scale_controller(&deployment, replicas);
                assert!(out.status.success(), "scaling the controller back failed");
                t.wait_until("the controller is available again", || {
                    t.get(&deployment_gvk(), &t.controller_ns, &deployment)
                        .is_some_and(|d| {
                            rolled_out(&d) && replicas_at(&d, "availableReplicas") == replicas
                        })
                });
            }
        }
    }
}

impl Drop for Stopped<'_, '_> {
    fn drop(&mut self) {
        if let Some((deployment, replicas)) = self.scaled_from.take() {
            eprintln!(
                "restoring the ARC controller Deployment {deployment} to {replicas} replicas"
            );
            let _ = self.target.scale_controller(&deployment, replicas);
        }
    }
}

/// The manager RoleBinding removed by [`Scenario::lose_manager_role_binding`].
pub struct LostRoleBinding<'t, 'a> {
    target: &'t Scenario<'a>,
    saved: Option<Value>,
}

impl LostRoleBinding<'_, '_> {
    /// Put the RoleBinding back as it was (Terminating, with its finalizer),
    /// so the controller can finish the cleanup.
    pub fn restore(mut self) {
        if let Some(saved) = self.saved.take() {
            let (created, deleted) = self.target.recreate_terminating(saved);
            assert!(
                created.status.success() && deleted.status.success(),
                "restoring the manager RoleBinding failed: {}{}",
                String::from_utf8_lossy(&created.stderr),
                String::from_utf8_lossy(&deleted.stderr)
            );
        }
    }
}

impl Drop for LostRoleBinding<'_, '_> {
    /// Real mode: put it back if the scenario did not (the simulator is dropped anyway).
    fn drop(&mut self) {
        if self.target.real().is_none() {
            return;
        }
        if let Some(saved) = self.saved.take() {
            eprintln!("restoring the manager RoleBinding {}", name(&saved));
            let _ = self.target.recreate_terminating(saved);
        }
    }
}

impl Scenario<'_> {
    /// Create `saved` again without its server fields, then delete it (its
    /// finalizers keep it Terminating, as before it was lost).
    fn recreate_terminating(&self, mut saved: Value) -> (Output, Output) {
        if let Some(meta) = saved.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
            ] {
                meta.remove(field);
            }
        }
        let kind = str_at(&saved, "/kind").to_string();
        let obj_name = name(&saved).to_string();
        let file = self
            .helm
            .home
            .path()
            .join(format!("restore-{obj_name}.json"));
        std::fs::write(&file, saved.to_string()).unwrap();
        let created = self
            .helm
            .kubectl_try(&["create", "-f", file.to_str().unwrap()]);
        let deleted = self.helm.kubectl_try(&[
            "delete",
            &kind.to_ascii_lowercase(),
            &obj_name,
            "-n",
            &self.ns,
            "--wait=false",
        ]);
        (created, deleted)
    }
}

/// Plays GitHub for `HAU_ARC_BUSY_JOB_CMD` / `HAU_ARC_BUSY_JOB_END_CMD` on
/// the simulator: the commands drop a file naming the runner namespace in a
/// directory; a thread turns `start` into a job on the first registered
/// runner there (as a workflow run landing on the set) and `end` into the
/// job's end.
pub struct JobStandIn {
    dir: PathBuf,
}

impl JobStandIn {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kube-sim-jobs-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        JobStandIn { dir }
    }

    /// The shell command for `event` (`start` or `end`).
    fn command(&self, event: &str) -> String {
        let path = self.dir.join(event);
        format!(
            r#"printf '%s' "$HAU_RUNNER_NAMESPACE" > '{}.tmp' && mv '{0}.tmp' '{0}'"#,
            path.display()
        )
    }

    /// Run `scenario` while the stand-in serves the commands against `c`.
    pub fn serve<R>(&self, c: &SimCluster, scenario: impl FnOnce() -> R) -> R {
        let done = AtomicBool::new(false);
        struct SetOnDrop<'a>(&'a AtomicBool);
        impl Drop for SetOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut job = None;
                while !done.load(Ordering::SeqCst) {
                    if let Ok(ns) = std::fs::read_to_string(self.dir.join("start")) {
                        std::fs::remove_file(self.dir.join("start")).unwrap();
                        let runner = c
                            .list(&er_gvk(), Some(&ns))
                            .into_iter()
                            .find(|r| r.pointer("/status/runnerId").is_some())
                            .expect("a registered runner takes the job");
                        job = Some(c.arc.start_job(&ns, name(&runner), None).unwrap());
                    }
                    if std::fs::read_to_string(self.dir.join("end")).is_ok() {
                        std::fs::remove_file(self.dir.join("end")).unwrap();
                        c.github.finish_job(job.take().expect("a job was started"));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let _done = SetOnDrop(&done);
            scenario()
        })
    }
}

impl Drop for JobStandIn {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
