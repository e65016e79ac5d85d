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

    /// One object, if it exists (on the simulator read in process, as its
    /// `user`; elsewhere through kubectl).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let Some(sim) = self.target.as_sim() else {
            let resource = kubectl_resource(api_version, kind);
            let mut args = vec!["get", resource.as_str(), name];
            args.extend(ns.map_or(vec![], |ns| vec!["-n", ns]));
            args.extend(["--ignore-not-found", "-o", "json"]);
            let out = self.helm.kubectl(&args);
            return serde_json::from_slice(&out.stdout).ok();
        };
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
        let Some(sim) = self.target.as_sim() else {
            let resource = kubectl_resource(api_version, kind);
            let mut args = vec![resource.as_str()];
            args.extend(ns.map_or(vec!["-A"], |ns| vec!["-n", ns]));
            if let Some(labels) = &options.label_selector {
                args.extend(["-l", labels]);
            }
            if let Some(fields) = &options.field_selector {
                args.extend(["--field-selector", fields]);
            }
            return self.helm.kubectl_items(&args);
        };
        sim.api
            .list(&sim.user, &Gvk::new(api_version, kind), ns, options)
            .unwrap_or_default()
    }

    /// Every API call so far (the simulator's event log).
    pub fn log(&self) -> Vec<LogEntry> {
        self.sim().sim.event_log()
    }
}

/// kubectl's name for a kind of `api_version`: `kind.version.group`, or
/// the kind alone in the core group (kubectl resolves kinds as resources).
pub fn kubectl_resource(api_version: &str, kind: &str) -> String {
    match api_version.split_once('/') {
        Some((group, version)) => format!("{}.{version}.{group}", kind.to_lowercase()),
        None => kind.to_lowercase(),
    }
}
