//! A simulated ARC controller (`gha-runner-scale-set-controller` 0.14.2,
//! with the 0.13.x and HEAD differences of [`ArcVersion`]).
//!
//! Four reconcilers (AutoscalingRunnerSet, AutoscalingListener,
//! EphemeralRunnerSet, EphemeralRunner) follow the real controller step by
//! step (see `docs/arc-teardown.md` §3-§5 in the shared research), with the
//! real finalizer, label and annotation names and log messages. They run as
//! one async task fed by the store's watch ([`Api::subscribe`]) and requeue
//! timers, act as `system:serviceaccount:<ns>:<sa>`, and are authorised in
//! the controller and runner namespaces by the RoleBindings that bind that
//! ServiceAccount (the controller chart's listener Role, the runner-set
//! chart's manager Role).
//!
//! The controller runs while it is started ([`ArcController::start`]) and —
//! unless [`ArcConfig::require_deployment`] is off — a controller Deployment
//! (label `app.kubernetes.io/part-of=gha-rs-controller`) exists: uninstalling
//! the controller chart stops it, exactly the seed failure. It reports itself
//! in that Deployment's status (Available, or unavailable once stopped).

mod client;
mod ephemeral_runner;
mod ephemeral_runner_set;
mod kubelet;
mod listener;
mod manifests;
pub mod names;
mod resolver;
mod runner_set;
mod version;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use client::{ControllerLog, Identity, Level, LogLine, Timing, forbidden};
pub use kubelet::NODE_NAME;
pub use manifests::{
    ContainerMode, ControllerRelease, DEFAULT_TOKEN, GitHubConfigSecret, KeyVault, RunnerSet,
    controller_objects, crds, create_all, runner_set_objects,
};
pub use resolver::VAULT_TYPE_AZURE_KEY_VAULT;
pub use version::{ArcLine, ArcVersion};

use crate::github::{FakeGitHub, GitHubError};
use crate::sync::lock;
use crate::vault::FakeVault;
use client::{Ctx, Outcome};
use kube_sim::api::{Actor, Api, ListOptions, WatchEvent};
use names::*;

/// Create the four ARC CRDs (the store registers them at once).
pub fn install_crds(api: &dyn Api, actor: &Actor) -> Result<(), kube_sim::api::ApiError> {
    create_all(api, actor, &crds()).map(|_| ())
}

/// Configuration of the simulated controller.
#[derive(Clone, Debug)]
pub struct ArcConfig {
    /// Controller namespace and ServiceAccount; with a controller Deployment,
    /// its namespace and its labels `actions.github.com/controller-service-account-name`
    /// and `-namespace` take precedence.
    pub identity: Identity,
    /// Requeue and per-step delays.
    pub timing: Timing,
    /// Reconcile only while a controller Deployment exists (default `true`).
    pub require_deployment: bool,
    /// The controller's build version. `None` (default): the tag of the
    /// controller Deployment's `manager` image (else its
    /// `app.kubernetes.io/version` label, else 0.14.2), so a test picks the
    /// version the way a cluster does, by the chart it installs.
    pub version: Option<ArcVersion>,
}

impl Default for ArcConfig {
    fn default() -> Self {
        Self {
            identity: Identity::new("arc-systems", "arc-gha-rs-controller"),
            timing: Timing::fast(),
            require_deployment: true,
            version: None,
        }
    }
}

/// Errors of the test-facing controls.
#[derive(Debug, thiserror::Error)]
pub enum ArcError {
    /// API call failed.
    #[error(transparent)]
    Api(#[from] kube_sim::api::ApiError),
    /// Actions service call failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// The runner is not registered yet.
    #[error("ephemeral runner {0} has no runnerId yet")]
    NotRegistered(String),
}

/// Which reconciler a queue key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Reconciler {
    RunnerSet,
    Listener,
    EphemeralRunnerSet,
    EphemeralRunner,
}

impl Reconciler {
    fn name(self) -> &'static str {
        match self {
            Reconciler::RunnerSet => "AutoscalingRunnerSet",
            Reconciler::Listener => "AutoscalingListener",
            Reconciler::EphemeralRunnerSet => "EphemeralRunnerSet",
            Reconciler::EphemeralRunner => "EphemeralRunner",
        }
    }

    fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "AutoscalingRunnerSet" => Some(Reconciler::RunnerSet),
            "AutoscalingListener" => Some(Reconciler::Listener),
            "EphemeralRunnerSet" => Some(Reconciler::EphemeralRunnerSet),
            "EphemeralRunner" => Some(Reconciler::EphemeralRunner),
            _ => None,
        }
    }
}

type Key = (Reconciler, String, String);

/// Work queue: one pending entry per key (earliest due wins), FIFO on ties.
#[derive(Default)]
struct Queue {
    pending: HashMap<Key, (Instant, u64)>,
    failures: HashMap<Key, u32>,
    seq: u64,
}

impl Queue {
    fn add(&mut self, key: Key, due: Instant) {
        self.seq += 1;
        let seq = self.seq;
        let entry = self.pending.entry(key).or_insert((due, seq));
        if due < entry.0 {
            *entry = (due, seq);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|(t, _)| *t).min()
    }

    fn pop_due(&mut self, now: Instant) -> Option<Key> {
        let key = self
            .pending
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .min_by_key(|(_, (t, s))| (*t, *s))
            .map(|(k, _)| k.clone())?;
        self.pending.remove(&key);
        Some(key)
    }

    fn clear(&mut self) {
        self.pending.clear();
        self.failures.clear();
    }
}

struct Shared {
    api: Arc<dyn Api>,
    github: FakeGitHub,
    vault: FakeVault,
    /// Admission's answer to runner pod creates (`None`: admitted).
    pod_admission: Mutex<Option<String>>,
    /// The version reconciling now (from the config or the Deployment).
    version: Mutex<ArcVersion>,
    config: ArcConfig,
    log: ControllerLog,
    /// `true` while started; reconciles hold this lock, so `stop()` returning
    /// means no reconcile runs any more.
    running: Mutex<bool>,
    /// Started and (if required) a controller Deployment exists.
    active: AtomicBool,
}

/// Handle of the simulated ARC controller. Dropping it stops the controller.
pub struct ArcController {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
    runtime: tokio::runtime::Handle,
}

fn deployment_controller() -> Actor {
    Actor("system:serviceaccount:kube-system:deployment-controller".to_string())
}

impl ArcController {
    /// Start the controller on the current tokio runtime (panics outside one;
    /// use [`ArcController::start_on`] from synchronous code).
    pub fn start(api: Arc<dyn Api>, github: FakeGitHub, config: ArcConfig) -> Self {
        Self::start_on(tokio::runtime::Handle::current(), api, github, config)
    }

    /// Start the controller on the given runtime (for example `Sim::handle()`).
    pub fn start_on(
        runtime: tokio::runtime::Handle,
        api: Arc<dyn Api>,
        github: FakeGitHub,
        config: ArcConfig,
    ) -> Self {
        let shared = Arc::new(Shared {
            api,
            github,
            vault: FakeVault::new(),
            pod_admission: Mutex::new(None),
            version: Mutex::new(config.version.clone().unwrap_or_default()),
            config,
            log: ControllerLog::default(),
            running: Mutex::new(false),
            active: AtomicBool::new(false),
        });
        let this = Self {
            shared,
            task: Mutex::new(None),
            runtime,
        };
        this.restart();
        this
    }

    /// Stop reconciling (like scaling the controller to zero): when this
    /// returns, no reconcile runs; the controller Deployment turns unavailable.
    pub fn stop(&self) {
        *lock(&self.shared.running) = false;
        self.shared.active.store(false, Ordering::SeqCst);
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        if let Some(d) = find_deployment(&*self.shared.api) {
            set_deployment_available(&*self.shared.api, &d, false);
        }
    }

    /// Start again after [`ArcController::stop`] (no-op while running): re-lists and resumes.
    pub fn restart(&self) {
        let mut task = lock(&self.task);
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        *lock(&self.shared.running) = true;
        let shared = self.shared.clone();
        *task = Some(self.runtime.spawn(run(shared)));
    }

    /// Started (it may still be idle when no controller Deployment exists).
    pub fn is_running(&self) -> bool {
        *lock(&self.shared.running)
    }

    /// Started and reconciling: a controller Deployment exists (when required)
    /// and the controller has seen it.
    pub fn is_active(&self) -> bool {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// The fake Actions service the controller talks to.
    pub fn github(&self) -> &FakeGitHub {
        &self.shared.github
    }

    /// The fake Azure Key Vault of runner sets with `spec.vaultConfig`.
    pub fn vault(&self) -> &FakeVault {
        &self.shared.vault
    }

    /// The build version reconciling now (or last).
    pub fn version(&self) -> ArcVersion {
        lock(&self.shared.version).clone()
    }

    /// The cluster's admission rejects (`Some(reason)`) or admits (`None`)
    /// the runner pods the controller creates: a rejection reads
    /// `pods "<runner>" is forbidden: <reason>` (403), as from PodSecurity
    /// or a webhook; 0.14.2 then marks the runner `Failed` (reason
    /// `InvalidPod`) and takes it off GitHub, and the set counts it without
    /// replacing or deleting it. A reason containing `exceeded quota:` is
    /// retried every 30 s instead, as upstream does.
    pub fn reject_runner_pods(&self, reason: Option<&str>) {
        *lock(&self.shared.pod_admission) = reason.map(str::to_string);
    }

    /// The runner container of this runner's pod exits with `exit_code`
    /// (the kubelet reports it; phase `Succeeded` for 0, else `Failed`),
    /// without telling GitHub anything. With a job on the runner, GitHub
    /// keeps that job running (the runner died mid-job): 0.14.2 deletes the
    /// runner and its registration finalizer then waits on JobStillRunning
    /// forever (upstream #4585). Exit code 7 marks it Outdated (0.14+).
    pub fn kill_runner(
        &self,
        namespace: &str,
        runner: &str,
        exit_code: i64,
    ) -> Result<(), ArcError> {
        let api = &*self.shared.api;
        let pod = api.get(&self.actor(), &core("Pod"), Some(namespace), runner)?;
        let reason = match exit_code {
            0 => "Completed",
            137 => "OOMKilled",
            _ => "Error",
        };
        kubelet::terminate(api, &pod, "runner", exit_code, reason);
        Ok(())
    }

    /// The controller log so far.
    pub fn log(&self) -> Vec<LogLine> {
        self.shared.log.entries()
    }

    /// The controller's identity (`system:serviceaccount:...`).
    pub fn actor(&self) -> Actor {
        Actor(self.shared.config.identity.user())
    }

    /// A job lands on an EphemeralRunner: the Actions service marks the runner
    /// busy until `duration` passes (`None`: until [`FakeGitHub::finish_job`]),
    /// and the listener records the job in the runner's status. Returns the
    /// runner id.
    pub fn start_job(
        &self,
        namespace: &str,
        runner: &str,
        duration: Option<Duration>,
    ) -> Result<i64, ArcError> {
        let api = &*self.shared.api;
        let actor = Actor("system:serviceaccount:arc-systems:listener".to_string());
        let mut er = api.get(&actor, &er_gvk(), Some(namespace), runner)?;
        let runner_id = er
            .pointer("/status/runnerId")
            .and_then(Value::as_i64)
            .ok_or_else(|| ArcError::NotRegistered(runner.to_string()))?;
        let job_id = self.shared.github.start_job(runner_id, duration)?;
        // The controller writes the same status: on a conflict, re-read and
        // write again, as the listener's client does.
        let mut attempts = 0;
        loop {
            let mut status = er.get("status").cloned().unwrap_or(json!({}));
            status["jobRequestId"] = json!(job_id);
            status["jobId"] = json!(job_id.to_string());
            status["jobRepositoryName"] = json!("example/repo");
            status["jobWorkflowRef"] =
                json!("example/repo/.github/workflows/ci.yaml@refs/heads/main");
            status["workflowRunId"] = json!(job_id);
            status["jobDisplayName"] = json!("build");
            er["status"] = status;
            match api.update_status(&actor, er) {
                Ok(_) => return Ok(runner_id),
                Err(e) if e.code == 409 && attempts < 10 => {
                    attempts += 1;
                    er = api.get(&actor, &er_gvk(), Some(namespace), runner)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for ArcController {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// The first live controller Deployment (label `app.kubernetes.io/part-of=gha-rs-controller`).
fn find_deployment(api: &dyn Api) -> Option<Value> {
    controller_deployments(api)
        .into_iter()
        .find(|d| !is_deleting(d) && !scaled_to_zero(d))
}

/// Controller Deployments (label `app.kubernetes.io/part-of=gha-rs-controller`).
fn controller_deployments(api: &dyn Api) -> Vec<Value> {
    let opts = ListOptions {
        label_selector: Some(format!("{LABEL_PART_OF}={CONTROLLER_PART_OF}")),
        field_selector: None,
    };
    api.list(&deployment_controller(), &deployment_gvk(), None, &opts)
        .unwrap_or_default()
}

fn scaled_to_zero(deployment: &Value) -> bool {
    deployment.pointer("/spec/replicas").and_then(Value::as_i64) == Some(0)
}

/// A controller Deployment scaled to zero reports it as the deployment
/// controller does (observedGeneration caught up, no replicas), so a client
/// can tell when the scale-down took effect.
fn report_scaled_down(api: &dyn Api) {
    for d in controller_deployments(api) {
        if !is_deleting(&d) && scaled_to_zero(&d) {
            set_deployment_available(api, &d, true);
        }
    }
}

fn set_deployment_available(api: &dyn Api, deployment: &Value, available: bool) {
    let replicas = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let generation = deployment
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let (ready, cond, reason, message) = if available {
        (
            replicas,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            0,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [
            {"type": "Available", "status": cond, "reason": reason, "message": message},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": format!("ReplicaSet \"{}\" has successfully progressed.", name(deployment))},
        ],
    });
    if !available {
        status["unavailableReplicas"] = json!(replicas);
    }
    let Ok(mut current) = api.get(
        &deployment_controller(),
        &deployment_gvk(),
        Some(namespace(deployment)),
        name(deployment),
    ) else {
        return;
    };
    ensure_replica_set(api, &current, ready);
    if current.get("status") == Some(&status) {
        return;
    }
    current["status"] = status;
    let _ = api.update_status(&deployment_controller(), current);
}

/// The Deployment's current ReplicaSet (Helm 3's `--wait` looks for it and
/// checks its ready replicas), with `ready` ready replicas.
fn ensure_replica_set(api: &dyn Api, deployment: &Value, ready: i64) {
    let actor = deployment_controller();
    let gvk = kube_sim::api::Gvk::new("apps/v1", "ReplicaSet");
    let ns = namespace(deployment);
    let template = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let hash: String = fnv_hash_string(&template.to_string())
        .chars()
        .take(10)
        .collect();
    let rs_name = format!("{}-{hash}", name(deployment));
    let replicas = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let status = json!({
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": 1,
    });
    let current = match api.get(&actor, &gvk, Some(ns), &rs_name) {
        Ok(rs) => rs,
        Err(_) => {
            let mut template = template;
            template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = deployment
                .pointer("/spec/selector")
                .cloned()
                .unwrap_or(json!({"matchLabels": {}}));
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or(json!({}));
            labels["pod-template-hash"] = json!(hash);
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name, "namespace": ns, "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": "1",
                                    "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                                    "deployment.kubernetes.io/max-replicas": (replicas + 1).to_string()},
                    "ownerReferences": [owner_ref(deployment)],
                },
                "spec": {"replicas": replicas, "selector": selector, "template": template},
            });
            match api.create(&actor, rs) {
                Ok(rs) => rs,
                Err(_) => return,
            }
        }
    };
    if current.get("status") != Some(&status) {
        let mut updated = current;
        updated["status"] = status;
        let _ = api.update_status(&actor, updated);
    }
}

/// Watch event → reconcile keys (For/Owns/Watches of the real controllers).
fn keys_for(ev: &WatchEvent, controller_ns: &str) -> Vec<Key> {
    let obj = &ev.object;
    let ns = namespace(obj).to_string();
    let mut keys = Vec::new();
    if let Some(r) = Reconciler::from_kind(&ev.gvk.kind) {
        keys.push((r, ns.clone(), name(obj).to_string()));
    }
    match ev.gvk.kind.as_str() {
        "AutoscalingListener" => {
            let ars_ns = str_at(obj, "/spec/autoscalingRunnerSetNamespace");
            let ars = str_at(obj, "/spec/autoscalingRunnerSetName");
            if !ars.is_empty() {
                keys.push((Reconciler::RunnerSet, ars_ns.to_string(), ars.to_string()));
            }
        }
        "Role" | "RoleBinding" => {
            if let (Some(n), Some(lns)) = (
                label(obj, LABEL_LISTENER_NAME),
                label(obj, LABEL_LISTENER_NAMESPACE),
            ) {
                keys.push((Reconciler::Listener, lns.to_string(), n.to_string()));
            }
        }
        _ => {}
    }
    if let Some((kind, owner, _)) = controller_owner(obj) {
        let target = match kind.as_str() {
            "AutoscalingRunnerSet" => Some(Reconciler::RunnerSet),
            "EphemeralRunnerSet" => Some(Reconciler::EphemeralRunnerSet),
            "EphemeralRunner" => Some(Reconciler::EphemeralRunner),
            "AutoscalingListener" if ns == controller_ns => Some(Reconciler::Listener),
            _ => None,
        };
        if let Some(t) = target {
            keys.push((t, ns, owner));
        }
    }
    keys
}

fn resync(api: &dyn Api, actor: &Actor, queue: &mut Queue, now: Instant) {
    for kind in [
        "AutoscalingRunnerSet",
        "AutoscalingListener",
        "EphemeralRunnerSet",
        "EphemeralRunner",
    ] {
        let Some(r) = Reconciler::from_kind(kind) else {
            continue;
        };
        if let Ok(items) = api.list(actor, &arc(kind), None, &ListOptions::default()) {
            for o in items {
                queue.add((r, namespace(&o).to_string(), name(&o).to_string()), now);
            }
        }
    }
}

/// Who reconciles now: identity, build version and watched namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Activation {
    ident: Identity,
    version: ArcVersion,
    /// `actions.github.com/controller-watch-single-namespace`.
    watch_namespace: Option<String>,
}

impl Activation {
    fn sees(&self, namespace: &str) -> bool {
        self.watch_namespace
            .as_deref()
            .is_none_or(|w| w == namespace || namespace == self.ident.namespace)
    }
}

/// The build version a controller Deployment runs: its `manager` image tag,
/// else its `app.kubernetes.io/version` label.
fn deployment_version(d: &Value) -> Option<ArcVersion> {
    let containers = d.pointer("/spec/template/spec/containers")?.as_array()?;
    let image = containers
        .iter()
        .find(|c| str_at(c, "/name") == "manager")
        .or_else(|| containers.first())
        .map(|c| str_at(c, "/image"))
        .unwrap_or("");
    let tag = image
        .rsplit_once(':')
        .filter(|(repo, _)| !repo.is_empty())
        .map(|(_, tag)| tag)
        .filter(|t| !t.contains('/'));
    tag.or_else(|| label(d, LABEL_VERSION))
        .filter(|v| !v.is_empty())
        .map(ArcVersion::new)
}

/// Controller identity, version and liveness from the Deployment (or the config).
fn activation(shared: &Shared) -> Option<Activation> {
    let configured = shared.config.version.clone();
    if !shared.config.require_deployment {
        return Some(Activation {
            ident: shared.config.identity.clone(),
            version: configured.unwrap_or_default(),
            watch_namespace: None,
        });
    }
    let Some(d) = find_deployment(&*shared.api) else {
        report_scaled_down(&*shared.api);
        return None;
    };
    set_deployment_available(&*shared.api, &d, true);
    // The chart runs the controller under its ServiceAccount in its own namespace,
    // which is also where listeners live (CONTROLLER_MANAGER_POD_NAMESPACE).
    let ns = namespace(&d).to_string();
    let service_account = label(&d, LABEL_CONTROLLER_SA_NAME)
        .map(str::to_string)
        .or_else(|| {
            Some(str_at(&d, "/spec/template/spec/serviceAccountName").to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| shared.config.identity.service_account.clone());
    let service_account_namespace = label(&d, LABEL_CONTROLLER_SA_NAMESPACE)
        .unwrap_or(&ns)
        .to_string();
    Some(Activation {
        ident: Identity {
            namespace: ns,
            service_account,
            service_account_namespace,
        },
        version: configured
            .or_else(|| deployment_version(&d))
            .unwrap_or_default(),
        watch_namespace: label(&d, LABEL_WATCH_SINGLE_NAMESPACE)
            .filter(|w| !w.is_empty())
            .map(str::to_string),
    })
}

/// Queue every EphemeralRunner (their runner processes look at GitHub).
fn resync_runners(api: &dyn Api, actor: &Actor, queue: &mut Queue, now: Instant) {
    if let Ok(items) = api.list(actor, &er_gvk(), None, &ListOptions::default()) {
        for o in items {
            queue.add(
                (
                    Reconciler::EphemeralRunner,
                    namespace(&o).to_string(),
                    name(&o).to_string(),
                ),
                now,
            );
        }
    }
}

fn set_active(shared: &Shared, active: &Option<Activation>) {
    shared.active.store(active.is_some(), Ordering::SeqCst);
    if let Some(a) = active {
        *lock(&shared.version) = a.version.clone();
    }
}

async fn run(shared: Arc<Shared>) {
    let mut rx = shared.api.subscribe();
    let jobs_changed = shared.github.jobs_changed();
    let mut queue = Queue::default();
    let timing = shared.config.timing.clone();
    let mut active = activation(&shared);
    set_active(&shared, &active);
    if let Some(a) = &active {
        resync(
            &*shared.api,
            &Actor(a.ident.user()),
            &mut queue,
            Instant::now(),
        );
    }
    loop {
        let next = queue.next_due();
        tokio::select! {
            received = rx.recv() => match received {
                Ok(ev) => {
                    if ev.gvk.kind == "Deployment" && label(&ev.object, LABEL_PART_OF) == Some(CONTROLLER_PART_OF) {
                        let now_active = activation(&shared);
                        if now_active != active {
                            // Started, stopped or restarted with another
                            // identity, version or namespace: a new manager.
                            queue.clear();
                            if let Some(a) = &now_active {
                                resync(&*shared.api, &Actor(a.ident.user()), &mut queue, Instant::now());
                            }
                        }
                        active = now_active;
                        set_active(&shared, &active);
                        continue;
                    }
                    if let Some(a) = &active {
                        let due = Instant::now() + timing.step_delay;
                        for key in keys_for(&ev, &a.ident.namespace) {
                            if a.sees(&key.1) {
                                queue.add(key, due);
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if let Some(a) = &active {
                        resync(&*shared.api, &Actor(a.ident.user()), &mut queue, Instant::now());
                    }
                }
                Err(RecvError::Closed) => return,
            },
            _ = jobs_changed.notified() => {
                if let Some(a) = &active {
                    resync_runners(&*shared.api, &Actor(a.ident.user()), &mut queue, Instant::now());
                }
            }
            _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {}
        }
        let Some(a) = active.clone() else { continue };
        while let Some(key) = queue.pop_due(Instant::now()) {
            let Some(outcome) = reconcile_if_running(&shared, &a, &key) else {
                return;
            };
            let now = Instant::now();
            match outcome {
                Ok(Outcome::Done) => {
                    queue.failures.remove(&key);
                }
                Ok(Outcome::RequeueAfter(d)) => {
                    queue.failures.remove(&key);
                    queue.add(key, now + d);
                }
                Err(()) => {
                    let n = queue.failures.entry(key.clone()).or_insert(0);
                    *n = n.saturating_add(1);
                    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
                    let delay = timing
                        .backoff_base
                        .saturating_mul(factor)
                        .min(timing.backoff_max);
                    queue.add(key, now + delay);
                }
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Reconcile under the `running` lock; `None` once stopped.
fn reconcile_if_running(
    shared: &Shared,
    active: &Activation,
    key: &Key,
) -> Option<Result<Outcome, ()>> {
    let running = lock(&shared.running);
    if !*running {
        return None;
    }
    Some(reconcile_one(shared, active, key))
}

fn reconcile_one(shared: &Shared, active: &Activation, key: &Key) -> Result<Outcome, ()> {
    let (reconciler, ns, name) = key;
    let ctx = Ctx {
        api: &*shared.api,
        github: &shared.github,
        vault: &shared.vault,
        ident: &active.ident,
        version: &active.version,
        watch_namespace: active.watch_namespace.as_deref(),
        timing: &shared.config.timing,
        log: &shared.log,
        pod_admission: lock(&shared.pod_admission).clone(),
        actor: Actor(active.ident.user()),
        controller: reconciler.name(),
        object: format!("{ns}/{name}"),
    };
    let result = match reconciler {
        Reconciler::RunnerSet => runner_set::reconcile(&ctx, ns, name),
        Reconciler::Listener => listener::reconcile(&ctx, ns, name),
        Reconciler::EphemeralRunnerSet => ephemeral_runner_set::reconcile(&ctx, ns, name),
        Reconciler::EphemeralRunner => ephemeral_runner::reconcile(&ctx, ns, name),
    };
    result.map_err(|e| ctx.error("Reconciler error", &e))
}
