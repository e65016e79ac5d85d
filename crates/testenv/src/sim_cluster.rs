//! [`SimCluster`], the in-process target: kube-sim with the ARC model
//! (controller and fake GitHub) installed, waiting on conditions (re-checked
//! on every watch event), Helm's uninstall order, and readers of the example
//! runner set `arc-runner-set` in `arc-runners`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_sim::SimExt;
use arc_sim::controller::names::*;
use arc_sim::controller::{
    self, ArcConfig, ArcController, ContainerMode, ControllerRelease, RunnerSet, Timing,
};
use arc_sim::github::FakeGitHub;
use kube_sim::api::{Actor, Api, DeleteOptions, Gvk, ListOptions, Patch};
use kube_sim::{Sim, SimConfig};
use serde_json::{Value, json};

/// Generous: the conditions normally hold within milliseconds.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// kube-sim with ARC's CRDs, the simulated ARC controller and its fake GitHub.
pub struct SimCluster {
    /// The API server.
    pub sim: Sim,
    /// Its in-process API (not through HTTP: no request gates or faults).
    pub api: Arc<dyn Api>,
    /// The simulated ARC controller.
    pub arc: ArcController,
    /// The fake GitHub Actions service the controller registers with.
    pub github: FakeGitHub,
    /// Who the helpers act as in the event log ([`user`] unless changed).
    pub user: Actor,
}

/// The cluster admin the helpers act as: `kubernetes-admin`.
pub fn user() -> Actor {
    Actor("kubernetes-admin".to_string())
}

fn namespace_obj(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

impl SimCluster {
    /// Simulator + namespaces + CRDs + controller chart objects + running controller.
    pub fn start() -> Self {
        Self::start_with(Timing::fast())
    }

    /// [`SimCluster::start`] with the controller's `timing`.
    pub fn start_with(timing: Timing) -> Self {
        Self::start_custom(
            SimConfig::default(),
            ArcConfig {
                timing,
                ..ArcConfig::default()
            },
            &ControllerRelease::default(),
        )
    }

    /// Simulator (`sim_config`) + namespaces `arc-systems`/`arc-runners` +
    /// CRDs + the chart objects of `controller` + a controller (`config`).
    pub fn start_custom(
        sim_config: SimConfig,
        config: ArcConfig,
        controller: &ControllerRelease,
    ) -> Self {
        let sim = Sim::start(sim_config).expect("simulator starts");
        let api = sim.api();
        let user = user();
        for ns in ["arc-systems", "arc-runners"] {
            api.create(&user, namespace_obj(ns)).expect("namespace");
        }
        let github = FakeGitHub::new();
        let config = ArcConfig {
            require_deployment: true,
            ..config
        };
        let arc = sim
            .start_arc(github.clone(), config)
            .expect("CRDs and controller");
        controller::create_all(&*api, &user, &controller::controller_objects(controller))
            .expect("controller chart");
        SimCluster {
            sim,
            api,
            arc,
            github,
            user,
        }
    }

    /// Create a namespace (if missing).
    pub fn ensure_namespace(&self, ns: &str) {
        let _ = self.api.create(&self.user, namespace_obj(ns));
    }

    /// A merge patch as the user.
    pub fn patch(&self, gvk: &Gvk, ns: Option<&str>, name: &str, body: Value) -> Value {
        self.api
            .patch(&self.user, gvk, ns, name, Patch::Merge(body))
            .expect("patch accepted")
    }

    /// Simulator + CRDs + a started controller waiting for its Deployment (no namespaces, no chart).
    pub fn start_bare(config: ArcConfig) -> Self {
        Self::start_bare_on(SimConfig::default(), config)
    }

    /// [`SimCluster::start_bare`] with the simulator's settings.
    pub fn start_bare_on(sim_config: SimConfig, config: ArcConfig) -> Self {
        let sim = Sim::start(sim_config).expect("simulator starts");
        let api = sim.api();
        let user = user();
        let github = FakeGitHub::new();
        let arc = sim
            .start_arc(github.clone(), config)
            .expect("CRDs and controller");
        SimCluster {
            sim,
            api,
            arc,
            github,
            user,
        }
    }

    /// Create the example runner set (kubernetes mode) with `min_runners`; its objects.
    pub fn install_runner_set(&self, min_runners: i64) -> Vec<Value> {
        let rs = RunnerSet {
            min_runners,
            mode: ContainerMode::Kubernetes,
            ..RunnerSet::default()
        };
        self.install(&rs)
    }

    /// Create the objects of the runner-set chart for `rs`; those objects.
    pub fn install(&self, rs: &RunnerSet) -> Vec<Value> {
        let objs = controller::runner_set_objects(rs);
        controller::create_all(&*self.api, &self.user, &objs).expect("runner set objects");
        objs
    }

    /// Wait until `cond` holds, re-checking on every store event and every 100ms.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut(&SimCluster) -> bool) {
        let mut rx = self.api.subscribe();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if cond(self) {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                self.dump();
                panic!("timed out after {TIMEOUT:?} waiting until {what}");
            }
            let slice = (deadline - now).min(Duration::from_millis(100));
            let _ = self
                .sim
                .handle()
                .block_on(async { tokio::time::timeout(slice, rx.recv()).await });
        }
    }

    /// Print the controller log and the ARC objects (after a timeout).
    pub fn dump(&self) {
        eprintln!("--- controller log ---");
        for l in self.arc.log() {
            eprintln!("{l}");
        }
        eprintln!("--- objects ---");
        for kind in [
            "AutoscalingRunnerSet",
            "AutoscalingListener",
            "EphemeralRunnerSet",
            "EphemeralRunner",
        ] {
            for o in self.list(&controller::names::arc(kind), None) {
                eprintln!(
                    "{kind} {}/{} finalizers={:?} deleting={}",
                    namespace(&o),
                    name(&o),
                    finalizers(&o),
                    is_deleting(&o)
                );
            }
        }
    }

    /// One object, if it exists.
    pub fn get(&self, gvk: &Gvk, ns: &str, name: &str) -> Option<Value> {
        self.api.get(&self.user, gvk, Some(ns), name).ok()
    }

    /// Objects of a kind in a namespace (or everywhere); none if the kind is unknown.
    pub fn list(&self, gvk: &Gvk, ns: Option<&str>) -> Vec<Value> {
        self.api
            .list(&self.user, gvk, ns, &ListOptions::default())
            .unwrap_or_default()
    }

    /// The example AutoscalingRunnerSet `arc-runners/arc-runner-set`.
    pub fn ars(&self) -> Option<Value> {
        self.get(&ars_gvk(), "arc-runners", "arc-runner-set")
    }

    /// The example runner set's AutoscalingListener.
    pub fn listener(&self) -> Option<Value> {
        self.get(
            &listener_gvk(),
            "arc-systems",
            "arc-runner-set-6c9b97c4-listener",
        )
    }

    /// EphemeralRunners in `arc-runners`.
    pub fn runners(&self) -> Vec<Value> {
        self.list(&er_gvk(), Some("arc-runners"))
    }

    /// The runner set is fully up: listener pod, `n` registered runners with pods.
    pub fn wait_ready(&self, n: usize) {
        self.wait_until("the runner set is ready", |c| {
            let runners = c.runners();
            c.ars()
                .is_some_and(|a| annotation(&a, ANN_SCALE_SET_ID).is_some())
                && c.get(
                    &core("Pod"),
                    "arc-systems",
                    "arc-runner-set-6c9b97c4-listener",
                )
                .is_some()
                && runners.len() == n
                && runners.iter().all(|r| {
                    str_at(r, "/status/phase") == "Running"
                        && c.get(&core("Pod"), "arc-runners", name(r)).is_some()
                })
        });
    }

    /// What `helm uninstall` of the runner set does: one batch of DELETEs in
    /// Helm's UninstallOrder (RoleBinding, Role, Secret, ServiceAccount, unknown kinds last).
    pub fn helm_delete(&self, objs: &[Value]) {
        let rank = |o: &Value| match str_at(o, "/kind") {
            "RoleBinding" => 0,
            "Role" => 1,
            "Secret" => 2,
            "ServiceAccount" => 3,
            _ => 4,
        };
        let mut sorted: Vec<&Value> = objs.iter().collect();
        sorted.sort_by_key(|o| rank(o));
        for o in sorted {
            let gvk = Gvk::new(str_at(o, "/apiVersion"), str_at(o, "/kind"));
            let _ = self.api.delete(
                &self.user,
                &gvk,
                Some(namespace(o)),
                name(o),
                &DeleteOptions::default(),
            );
        }
    }

    /// DELETE with default options, which must be accepted.
    pub fn delete(&self, gvk: &Gvk, ns: Option<&str>, name: &str) {
        self.api
            .delete(&self.user, gvk, ns, name, &DeleteOptions::default())
            .expect("delete accepted");
    }

    /// Strip every finalizer from an object (what a user "fixing" a stuck object does).
    pub fn strip_finalizers(&self, gvk: &Gvk, ns: &str, name: &str) {
        self.api
            .patch(
                &self.user,
                gvk,
                Some(ns),
                name,
                Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .expect("strip finalizers");
    }

    /// Lines of the controller log with this message.
    pub fn logged(&self, message: &str) -> usize {
        self.arc
            .log()
            .iter()
            .filter(|l| l.message == message)
            .count()
    }

    /// Errors in the controller log containing `needle`.
    pub fn errors_containing(&self, needle: &str) -> usize {
        self.arc
            .log()
            .iter()
            .filter(|l| l.error.as_deref().is_some_and(|e| e.contains(needle)))
            .count()
    }
}
