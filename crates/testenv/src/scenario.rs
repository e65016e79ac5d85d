//! [`ScenarioEnv`]: a [`Target`] and real Helm pointed at it, with the
//! calls scenarios share (install the example controller chart, read and
//! list objects, the event log).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kube_sim::LogEntry;
use kube_sim::api::{Actor, Api, DeleteOptions, Gvk, ListOptions, Patch};
use serde_json::Value;

use arc_sim::controller::names::{CONTROLLER_PART_OF, LABEL_PART_OF};

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

    /// Every API call so far: the simulator's event log, or on the local
    /// cluster its API server's audit log read as one (every client of the
    /// shared cluster: filter by namespace).
    pub fn log(&self) -> Vec<LogEntry> {
        match &self.target {
            Target::Sim(sim) => sim.sim.event_log(),
            Target::Local(cluster) => (0u64..)
                .zip(cluster.audit())
                .map(|(seq, event)| event.log_entry(seq))
                .collect(),
            Target::Kubeconfig(_) => {
                panic!(
                    "a cluster reached only through its kubeconfig keeps no record of the API calls"
                )
            }
        }
    }
}

/// The selector of the controller Deployments (the chart's part-of label).
fn controller_selector() -> String {
    format!("{LABEL_PART_OF}={CONTROLLER_PART_OF}")
}

/// Writes a person makes by hand (not the tool, not the controller): on the
/// simulator in process as [`by_hand`], elsewhere through kubectl.
impl ScenarioEnv {
    /// A JSON merge patch of one object.
    pub fn patch_by_hand(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
    ) {
        let Some(sim) = self.target.as_sim() else {
            let body = patch.to_string();
            let flags = ["--type=merge", "-p", &body];
            let out = self.kubectl_on("patch", api_version, kind, ns, name, &flags);
            assert!(out.status.success(), "kubectl patch {kind}/{name}: {out:?}");
            return;
        };
        sim.api
            .patch(
                &by_hand(),
                &Gvk::new(api_version, kind),
                ns,
                name,
                Patch::Merge(patch.clone()),
            )
            .unwrap_or_else(|e| panic!("patch {kind}/{name}: {e:?}"));
    }

    /// A JSON merge patch of one object's status.
    pub fn patch_status_by_hand(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        status: &Value,
    ) {
        let Some(sim) = self.target.as_sim() else {
            let body = serde_json::json!({ "status": status }).to_string();
            let flags = ["--subresource=status", "--type=merge", "-p", &body];
            let out = self.kubectl_on("patch", api_version, kind, ns, name, &flags);
            assert!(
                out.status.success(),
                "kubectl patch {kind}/{name} status: {out:?}"
            );
            return;
        };
        let gvk = Gvk::new(api_version, kind);
        let mut object = sim
            .api
            .get(&by_hand(), &gvk, ns, name)
            .unwrap_or_else(|e| panic!("read {kind}/{name}: {e:?}"));
        if let (Some(have), Some(new)) = (
            object.as_object_mut().and_then(|o| {
                o.entry("status")
                    .or_insert_with(|| Value::Object(Default::default()))
                    .as_object_mut()
            }),
            status.as_object(),
        ) {
            have.extend(new.clone());
        }
        sim.api
            .update_status(&by_hand(), object)
            .unwrap_or_else(|e| panic!("update the status of {kind}/{name}: {e:?}"));
    }

    /// DELETE one object; whether it existed.
    pub fn delete_by_hand(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> bool {
        let Some(sim) = self.target.as_sim() else {
            return self
                .kubectl_on("delete", api_version, kind, ns, name, &["--wait=false"])
                .status
                .success();
        };
        sim.api
            .delete(
                &by_hand(),
                &Gvk::new(api_version, kind),
                ns,
                name,
                &DeleteOptions::default(),
            )
            .is_ok()
    }

    /// `kubectl verb <resource> name [-n ns] flags` (not checked).
    fn kubectl_on(
        &self,
        verb: &str,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        flags: &[&str],
    ) -> std::process::Output {
        let resource = kubectl_resource(api_version, kind);
        let mut args = vec![verb, resource.as_str(), name];
        args.extend(ns.map_or(vec![], |ns| vec!["-n", ns]));
        args.extend(flags);
        self.helm.kubectl_try(&args)
    }
}

/// Who makes the writes by hand on the simulator (its event log tells them
/// from the tool's and the controller's).
pub fn by_hand() -> Actor {
    Actor("someone-else".into())
}

/// The ARC side of a scenario, named for what it does so that a scenario
/// reads the same on every target. On the simulator these act on its
/// controller and fake GitHub. Elsewhere the controller steps are plain
/// Kubernetes (its Deployment); the GitHub steps need the fake GitHub the
/// real controller would reach over HTTP, which waits on the real
/// controller (issue #13), and panic until then.
impl ScenarioEnv {
    /// Whether an ARC controller runs: its Deployment exists and (on the
    /// simulator) the simulated controller is not stopped, (elsewhere) it has
    /// an available replica.
    pub fn controller_running(&self) -> bool {
        let deployments = self.list_selected(
            "apps/v1",
            "Deployment",
            Some(CONTROLLER_NS),
            &ListOptions {
                label_selector: Some(controller_selector()),
                ..ListOptions::default()
            },
        );
        match self.target.as_sim() {
            Some(sim) => sim.arc.is_running() && !deployments.is_empty(),
            None => deployments.iter().any(|d| {
                d.pointer("/status/availableReplicas")
                    .and_then(Value::as_i64)
                    .is_some_and(|n| n > 0)
            }),
        }
    }

    /// The controller stops reconciling (elsewhere: its Deployment is
    /// scaled to 0).
    pub fn stop_controller(&self) {
        match self.target.as_sim() {
            Some(sim) => sim.arc.stop(),
            None => {
                self.helm.kubectl(&[
                    "scale",
                    "deployment",
                    "-n",
                    CONTROLLER_NS,
                    "-l",
                    &controller_selector(),
                    "--replicas=0",
                ]);
            }
        }
    }

    /// A job lands on runner `runner` of `ns` (GitHub marks it busy until
    /// `duration` passes, or until [`ScenarioEnv::finish_job`]); returns the
    /// runner id.
    pub fn start_job(&self, ns: &str, runner: &str, duration: Option<Duration>) -> i64 {
        self.fake_github("a job")
            .arc
            .start_job(ns, runner, duration)
            .expect("start a job on the runner")
    }

    /// GitHub ends the job of runner `runner_id`.
    pub fn finish_job(&self, runner_id: i64) {
        self.fake_github("a job's end").github.finish_job(runner_id);
    }

    /// The scale set `id` is deleted on GitHub behind the controller's
    /// back; whether it existed.
    pub fn delete_scale_set_on_github(&self, id: i64) -> bool {
        self.fake_github("a scale set deleted on GitHub")
            .github
            .delete_scale_set(id)
            .is_some()
    }

    /// How many scale sets GitHub lists.
    pub fn scale_sets_on_github(&self) -> usize {
        self.fake_github("GitHub's scale sets")
            .github
            .scale_sets()
            .len()
    }

    /// Whether GitHub lists no scale set and no runner.
    pub fn nothing_on_github(&self) -> bool {
        self.fake_github("GitHub's registrations").github.is_empty()
    }

    fn fake_github(&self, what: &str) -> &SimCluster {
        self.target.as_sim().unwrap_or_else(|| {
            panic!(
                "{what}: the fake GitHub runs only beside the simulated controller until the real ARC \
                 controller can be built (issue #13)"
            )
        })
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
