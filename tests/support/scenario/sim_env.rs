//! The simulator with ARC's CRDs, its controller and a fake GitHub, plus an
//! isolated Helm home whose kubeconfig points at it: install charts with
//! real Helm, run the built binary as Helm would, read and wait on objects.

use crate::support::{Helm, HelmHome, hau_bin, repo_root, run_ok};
use arc_sim::SimExt;
use arc_sim::controller::{ArcConfig, ArcController};
use arc_sim::github::FakeGitHub;
use kube_sim::api::{Actor, Api, Gvk, ListOptions};
use kube_sim::{LogEntry, Sim, SimConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// apiVersion of ARC's custom resources.
pub const ARC_API: &str = "actions.github.com/v1alpha1";
/// Namespace of the controller release `arc`.
pub const CONTROLLER_NS: &str = "arc-systems";

/// Who the tests are in the simulator's event log.
pub fn actor() -> Actor {
    Actor("scenario-test".to_string())
}

/// An example chart of this repository (`examples/charts/<name>`).
pub fn chart(name: &str) -> PathBuf {
    repo_root().join("examples").join("charts").join(name)
}

/// Poll `done` every 20 ms until it holds; panic after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where the binary keeps its state (the manifest copies) under `home`.
pub fn state_dir(home: &HelmHome) -> PathBuf {
    home.path().join("state")
}

/// Give `cmd` the environment Helm gives a plugin run from `home` (its
/// isolation and HELM_BIN), and the binary's [`state_dir`].
pub fn plugin_env<'c>(cmd: &'c mut Command, home: &HelmHome, helm: Helm) -> &'c mut Command {
    home.isolate(cmd);
    cmd.env("HELM_BIN", helm.helm())
        .env("HELM_ARC_UNINSTALL_STATE_DIR", state_dir(home))
}

/// The built binary as Helm runs it as a plugin from `home`.
pub fn hau_for(home: &HelmHome, helm: Helm) -> Command {
    let mut cmd = Command::new(hau_bin());
    plugin_env(&mut cmd, home, helm);
    cmd
}

/// The simulator, its ARC controller (with the fake GitHub behind
/// `arc.github()`) and a Helm home of one Helm version pointed at it.
pub struct SimEnv {
    /// The API server.
    pub sim: Sim,
    /// The simulated ARC controller.
    pub arc: ArcController,
    /// Isolated Helm/kubectl environment; its kubeconfig is the simulator's.
    pub home: HelmHome,
    /// The Helm version that installs and that the binary is told about (HELM_BIN).
    pub helm: Helm,
}

impl SimEnv {
    /// Start the simulator with ARC's CRDs and controller; no release yet.
    pub fn start(helm: Helm, sim_config: SimConfig, arc_config: ArcConfig) -> SimEnv {
        let sim = Sim::start(sim_config).expect("start simulator");
        let home = HelmHome::new();
        sim.write_kubeconfig(&home.path().join("kubeconfig"))
            .expect("kubeconfig");
        let arc = sim
            .start_arc(FakeGitHub::new(), arc_config)
            .expect("ARC CRDs and controller");
        SimEnv {
            sim,
            arc,
            home,
            helm,
        }
    }

    /// `helm install arc examples/charts/arc-controller -n arc-systems
    /// --create-namespace` and `extra`.
    pub fn install_controller(&self, extra: &[&str]) {
        let mut cmd = self.helm_cmd(&[
            "install",
            "arc",
            chart("arc-controller").to_str().unwrap(),
            "-n",
            CONTROLLER_NS,
            "--create-namespace",
        ]);
        cmd.args(extra);
        run_ok(&mut cmd);
    }

    /// A `helm` command of this environment.
    pub fn helm_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.helm(self.helm);
        cmd.args(args);
        cmd
    }

    /// Run `helm` (panics unless it exits 0); its stdout.
    pub fn helm_ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.helm_cmd(args))
    }

    /// The built binary as Helm runs it as a plugin ([`hau_for`]).
    pub fn hau(&self) -> Command {
        hau_for(&self.home, self.helm)
    }

    /// [`plugin_env`] of this environment.
    pub fn plugin_env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        plugin_env(cmd, &self.home, self.helm)
    }

    /// [`SimEnv::hau`] with `args` and HELM_NAMESPACE (Helm's `-n`).
    pub fn hau_in(&self, namespace: &str, args: &[&str]) -> Command {
        let mut cmd = self.hau();
        cmd.env("HELM_NAMESPACE", namespace).args(args);
        cmd
    }

    /// Run [`SimEnv::hau_in`] to the end.
    pub fn run_hau(&self, namespace: &str, args: &[&str]) -> Output {
        self.hau_in(namespace, args)
            .output()
            .expect("run helm-arc-uninstall")
    }

    /// The in-process API (not through HTTP: no request gates or faults).
    pub fn api(&self) -> Arc<dyn Api> {
        self.sim.api()
    }

    /// One object, if it exists.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.api()
            .get(&actor(), &Gvk::new(api_version, kind), ns, name)
            .ok()
    }

    /// Objects of a kind in a namespace (or everywhere); none if the kind is unknown.
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        self.list_selected(api_version, kind, ns, &ListOptions::default())
    }

    /// [`SimEnv::list`] with selectors.
    pub fn list_selected(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        options: &ListOptions,
    ) -> Vec<Value> {
        self.api()
            .list(&actor(), &Gvk::new(api_version, kind), ns, options)
            .unwrap_or_default()
    }

    /// Every API call so far.
    pub fn log(&self) -> Vec<LogEntry> {
        self.sim.event_log()
    }
}

/// `impl Deref<Target = SimEnv>` for a test binary's own environment type
/// that wraps a [`SimEnv`] (in field `$field`) and adds its scenario's helpers.
macro_rules! deref_to_sim_env {
    ($wrapper:ty, $field:tt) => {
        impl std::ops::Deref for $wrapper {
            type Target = $crate::scenario::sim_env::SimEnv;

            fn deref(&self) -> &Self::Target {
                &self.$field
            }
        }
    };
}
pub(crate) use deref_to_sim_env;
