//! [`ScenarioEnv`]: a [`Target`] and real Helm pointed at it, with the
//! calls scenarios share (install the example controller chart, read and
//! list objects, the event log).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use kube_sim::LogEntry;
use kube_sim::api::{Api, Gvk, ListOptions};
use serde_json::Value;

use crate::helm_home::{HelmClient, run_ok};
use crate::sim_cluster::SimCluster;
use crate::target::Target;
use crate::tools::Helm;

/// Namespace of the example controller release `arc`.
pub const CONTROLLER_NS: &str = "arc-systems";

/// The repository's example chart `examples/charts/<name>`.
pub fn chart(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/charts")
        .join(name)
}

/// A target and one Helm version (with its kubectl) in an isolated home
/// whose kubeconfig reaches it.
pub struct ScenarioEnv {
    /// Where the cluster runs.
    pub target: Target,
    /// Real Helm and kubectl pointed at the target.
    pub helm: HelmClient,
}

impl ScenarioEnv {
    /// `version`'s Helm from a fresh home pointed at `target`; no release yet.
    pub fn new(target: Target, version: Helm) -> ScenarioEnv {
        let helm = HelmClient::new(target.helm_home(), version);
        ScenarioEnv { target, helm }
    }

    /// The in-process simulator (panics on another target: the scenario
    /// needs the simulator's controls or records).
    pub fn sim(&self) -> &SimCluster {
        self.target
            .as_sim()
            .expect("this scenario needs the in-process simulator")
    }

    /// `helm install arc examples/charts/arc-controller -n arc-systems
    /// --create-namespace` and `extra`.
    pub fn install_controller(&self, extra: &[&str]) {
        let chart = chart("arc-controller");
        let mut cmd = self.helm_cmd(&[
            "install",
            "arc",
            chart.to_str().expect("chart path is UTF-8"),
            "-n",
            CONTROLLER_NS,
            "--create-namespace",
        ]);
        cmd.args(extra);
        run_ok(&mut cmd);
    }

    /// A `helm args` command of this environment.
    pub fn helm_cmd(&self, args: &[&str]) -> Command {
        self.helm.helm_cmd(args)
    }

    /// Run `helm args` (panics unless it exits 0); its stdout.
    pub fn helm_ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.helm_cmd(args))
    }

    /// The simulator's in-process API (not through HTTP: no request gates or faults).
    pub fn api(&self) -> Arc<dyn Api> {
        self.sim().api.clone()
    }

    /// One object, if it exists (read in process, as the simulator's `user`).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let sim = self.sim();
        sim.api
            .get(&sim.user, &Gvk::new(api_version, kind), ns, name)
            .ok()
    }

    /// Objects of a kind in a namespace (or everywhere); none if the kind is unknown.
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        self.list_selected(api_version, kind, ns, &ListOptions::default())
    }

    /// [`ScenarioEnv::list`] with selectors.
    pub fn list_selected(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        options: &ListOptions,
    ) -> Vec<Value> {
        let sim = self.sim();
        sim.api
            .list(&sim.user, &Gvk::new(api_version, kind), ns, options)
            .unwrap_or_default()
    }

    /// Every API call so far (the simulator's event log).
    pub fn log(&self) -> Vec<LogEntry> {
        self.sim().sim.event_log()
    }
}
