//! The `demo` world: the embedded API simulator with the simulated ARC
//! controller and fake GitHub, and the two releases Helm would have left in
//! it (the controller chart `arc` and the runner-set chart `arc-runner-set`).
//!
//! Objects are created through the simulator's API with Helm's release
//! annotations and labels; the runner-set release's manifest (what
//! `helm get manifest` would print) is kept so the real teardown engine can
//! plan from it without Helm on the machine.

pub mod report;

use crate::arc::{RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use arc_sim::SimExt;
use arc_sim::controller::{ArcConfig, ArcController, ControllerRelease, RunnerSet};
use arc_sim::github::FakeGitHub;
use kube_sim::api::{Actor, Api, DeleteOptions, Gvk, ListOptions};
use kube_sim::{LogEntry, Sim, SimConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Release name of the runner set (also the scale set name).
pub const RELEASE: &str = "arc-runner-set";
/// Namespace of the runner set release.
pub const NAMESPACE: &str = "arc-runners";
/// Namespace of the controller release.
pub const CONTROLLER_NAMESPACE: &str = "arc-systems";
/// Who creates the releases' objects (as `helm install` would).
pub const HELM_ACTOR: &str = "helm";

/// Errors of the demo world.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The simulator did not start.
    #[error("cannot start the embedded simulator: {0}")]
    Start(String),
    /// An API call to the simulator failed.
    #[error("simulator API: {0}")]
    Api(String),
    /// The controller did not bring the runner set up in time.
    #[error("the simulated ARC controller did not {0} within {1:?}")]
    NotReady(&'static str, Duration),
}

fn api_err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Api(e.to_string())
}

/// A running simulator with both releases installed and the runner set up.
pub struct World {
    sim: Sim,
    arc: ArcController,
    manifest: String,
    busy_runner: Option<String>,
}

/// How the world is set up.
#[derive(Clone, Debug)]
pub struct Setup {
    /// `minRunners` of the runner set.
    pub min_runners: u32,
    /// One runner runs a job for this long (`None`: no job).
    pub busy_for: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            min_runners: 2,
            busy_for: Some(Duration::from_secs(3)),
        }
    }
}

fn helm() -> Actor {
    Actor(HELM_ACTOR.to_string())
}

/// Add Helm's ownership annotations and label to a chart object.
pub fn as_helm_left_it(mut object: Value, release: &str, namespace: &str) -> Value {
    let meta = &mut object["metadata"];
    meta["annotations"][RELEASE_NAME_ANNOTATION] = json!(release);
    meta["annotations"][RELEASE_NAMESPACE_ANNOTATION] = json!(namespace);
    meta["labels"]["app.kubernetes.io/managed-by"] = json!("Helm");
    object
}

/// The manifest `helm get manifest` would print for these objects (one
/// document per object; JSON is YAML).
pub fn manifest_text(objects: &[Value]) -> String {
    let mut text = String::new();
    for o in objects {
        text.push_str("---\n");
        text.push_str(&serde_json::to_string_pretty(o).unwrap_or_default());
        text.push('\n');
    }
    text
}

impl World {
    /// Start the simulator and the controller, install both releases and
    /// wait until the scale set is registered and its runners are up.
    pub fn start(setup: &Setup) -> Result<World, DemoError> {
        let sim = Sim::start(SimConfig::default()).map_err(|e| DemoError::Start(e.to_string()))?;
        let arc = sim
            .start_arc(FakeGitHub::new(), ArcConfig::default())
            .map_err(api_err)?;
        let api = sim.api();
        for ns in [CONTROLLER_NAMESPACE, NAMESPACE] {
            api.create(
                &helm(),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
            .map_err(api_err)?;
        }
        let controller = ControllerRelease::default();
        for o in arc_sim::controller::controller_objects(&controller) {
            api.create(
                &helm(),
                as_helm_left_it(o, &controller.release, &controller.namespace),
            )
            .map_err(api_err)?;
        }
        let runner_set = RunnerSet {
            name: RELEASE.to_string(),
            namespace: NAMESPACE.to_string(),
            min_runners: i64::from(setup.min_runners),
            controller,
            ..RunnerSet::default()
        };
        let objects: Vec<Value> = arc_sim::controller::runner_set_objects(&runner_set)
            .into_iter()
            .map(|o| as_helm_left_it(o, RELEASE, NAMESPACE))
            .collect();
        for o in &objects {
            api.create(&helm(), o.clone()).map_err(api_err)?;
        }
        let mut world = World {
            sim,
            arc,
            manifest: manifest_text(&objects),
            busy_runner: None,
        };
        world.wait_ready(setup.min_runners as usize)?;
        if let Some(duration) = setup.busy_for
            && let Some(runner) = world.runner_names().into_iter().next()
        {
            world
                .arc
                .start_job(NAMESPACE, &runner, Some(duration))
                .map_err(api_err)?;
            world.busy_runner = Some(runner);
        }
        Ok(world)
    }

    fn wait_ready(&self, runners: usize) -> Result<(), DemoError> {
        let limit = Duration::from_secs(20);
        let started = Instant::now();
        loop {
            let registered = self
                .get(
                    "actions.github.com/v1alpha1",
                    "AutoscalingRunnerSet",
                    NAMESPACE,
                    RELEASE,
                )
                .and_then(|a| {
                    a.pointer("/metadata/annotations/runner-scale-set-id")
                        .cloned()
                })
                .is_some();
            let up = self
                .list(
                    "actions.github.com/v1alpha1",
                    "EphemeralRunner",
                    Some(NAMESPACE),
                )
                .iter()
                .filter(|r| r.pointer("/status/runnerId").is_some())
                .count();
            let listener = !self
                .list("actions.github.com/v1alpha1", "AutoscalingListener", None)
                .is_empty();
            if registered && listener && up == runners {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(DemoError::NotReady("bring the runner set up", limit));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The kubeconfig of the embedded API server.
    pub fn kubeconfig(&self) -> String {
        self.sim.kubeconfig()
    }

    /// The runner-set release's manifest, as `helm get manifest` prints it.
    pub fn manifest(&self) -> &str {
        &self.manifest
    }

    /// Whether the runner set's AutoscalingRunnerSet still exists.
    pub fn ars_present(&self) -> bool {
        self.get(
            "actions.github.com/v1alpha1",
            "AutoscalingRunnerSet",
            NAMESPACE,
            RELEASE,
        )
        .is_some()
    }

    /// The runner that runs a job, if any.
    pub fn busy_runner(&self) -> Option<&str> {
        self.busy_runner.as_deref()
    }

    /// Stop the ARC controller (as if its chart were uninstalled or scaled to zero).
    pub fn stop_controller(&self) {
        self.arc.stop();
    }

    /// Lose one of the objects the runner set's cleanup needs, as people do
    /// by hand: strip its finalizers, then delete it. `annotation` is the
    /// ARS cleanup annotation that names it (names are read, never computed).
    /// Returns `Kind/name` of the lost object.
    pub fn lose_dependent(
        &self,
        annotation: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<String, DemoError> {
        let ars = self
            .get(
                "actions.github.com/v1alpha1",
                "AutoscalingRunnerSet",
                NAMESPACE,
                RELEASE,
            )
            .ok_or_else(|| DemoError::Api("the AutoscalingRunnerSet is gone".into()))?;
        let name = crate::model::annotation(&ars, annotation)
            .ok_or_else(|| DemoError::Api(format!("the AutoscalingRunnerSet has no {annotation}")))?
            .to_string();
        let gvk = Gvk::new(api_version, kind);
        let someone = Actor("someone-else".to_string());
        let strip = kube_sim::api::Patch::Merge(json!({"metadata": {"finalizers": null}}));
        self.api()
            .patch(&someone, &gvk, Some(NAMESPACE), &name, strip)
            .map_err(api_err)?;
        self.api()
            .delete(
                &someone,
                &gvk,
                Some(NAMESPACE),
                &name,
                &DeleteOptions::default(),
            )
            .map_err(api_err)?;
        Ok(format!("{kind}/{name}"))
    }

    /// The fake GitHub service.
    pub fn github(&self) -> &FakeGitHub {
        self.arc.github()
    }

    /// The simulator's ordered event log.
    pub fn event_log(&self) -> Vec<LogEntry> {
        self.sim.event_log()
    }

    fn api(&self) -> Arc<dyn Api> {
        self.sim.api()
    }

    /// GET through the in-process API (as an observer).
    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        self.api()
            .get(&observer(), &Gvk::new(api_version, kind), Some(ns), name)
            .ok()
    }

    /// LIST through the in-process API (as an observer).
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        self.api()
            .list(
                &observer(),
                &Gvk::new(api_version, kind),
                ns,
                &ListOptions::default(),
            )
            .unwrap_or_default()
    }

    fn runner_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .list(
                "actions.github.com/v1alpha1",
                "EphemeralRunner",
                Some(NAMESPACE),
            )
            .iter()
            .filter_map(|r| r.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// `helm uninstall` as Helm does it: DELETE every release object in
    /// Helm's kind order (UninstallOrder; custom resources last) with
    /// background propagation, without waiting. Returns `Kind/name` of each
    /// DELETE with its result, in order.
    pub fn helm_uninstall_order(&self) -> Vec<(String, String)> {
        let mut objects: Vec<Value> = self
            .manifest
            .split("---\n")
            .filter_map(|doc| serde_json::from_str::<Value>(doc).ok())
            .collect();
        objects.sort_by_key(|o| helm_uninstall_rank(o["kind"].as_str().unwrap_or_default()));
        let api = self.api();
        let mut out = Vec::new();
        for o in objects {
            let kind = o["kind"].as_str().unwrap_or_default().to_string();
            let name = o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let gvk = Gvk::new(o["apiVersion"].as_str().unwrap_or_default(), &kind);
            let result = match api.delete(
                &helm(),
                &gvk,
                Some(NAMESPACE),
                &name,
                &DeleteOptions::default(),
            ) {
                Ok(kube_sim::api::DeleteOutcome::Deleted(_)) => "deleted".to_string(),
                Ok(kube_sim::api::DeleteOutcome::Terminating(_)) => "terminating".to_string(),
                Err(e) => format!("error {}", e.code),
            };
            out.push((format!("{kind}/{name}"), result));
        }
        out
    }

    /// Wait until the simulator's event log stops growing for `quiet` (at most `limit`).
    pub fn settle(&self, quiet: Duration, limit: Duration) {
        let started = Instant::now();
        let mut last = self.sim.event_log().len();
        let mut since = Instant::now();
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.sim.event_log().len();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }
}

fn observer() -> Actor {
    Actor("demo-observer".to_string())
}

/// Helm's UninstallOrder (3.17.3 `kind_sorter.go`; Helm 4 prepends the two
/// webhook kinds): the rank of a kind; unknown kinds (custom resources) after
/// every known one.
pub fn helm_uninstall_rank(kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
        "Ingress",
        "IngressClass",
        "Service",
        "CronJob",
        "Job",
        "StatefulSet",
        "HorizontalPodAutoscaler",
        "Deployment",
        "ReplicaSet",
        "ReplicationController",
        "Pod",
        "DaemonSet",
        "RoleBindingList",
        "RoleBinding",
        "RoleList",
        "Role",
        "ClusterRoleBindingList",
        "ClusterRoleBinding",
        "ClusterRoleList",
        "ClusterRole",
        "CustomResourceDefinition",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "StorageClass",
        "ConfigMap",
        "SecretList",
        "Secret",
        "ServiceAccount",
        "PodDisruptionBudget",
        "PodSecurityPolicy",
        "LimitRange",
        "ResourceQuota",
        "NetworkPolicy",
        "Namespace",
        "PriorityClass",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_deletes_rbac_before_secrets_and_custom_resources_last() {
        let mut kinds = vec![
            "AutoscalingRunnerSet",
            "ServiceAccount",
            "Secret",
            "Role",
            "RoleBinding",
        ];
        kinds.sort_by_key(|k| helm_uninstall_rank(k));
        assert_eq!(
            kinds,
            [
                "RoleBinding",
                "Role",
                "Secret",
                "ServiceAccount",
                "AutoscalingRunnerSet"
            ]
        );
    }

    #[test]
    fn objects_get_helm_ownership() {
        let o = as_helm_left_it(json!({"metadata": {"name": "x"}}), "rel", "ns");
        assert_eq!(
            o["metadata"]["annotations"]["meta.helm.sh/release-name"],
            "rel"
        );
        assert_eq!(
            o["metadata"]["annotations"]["meta.helm.sh/release-namespace"],
            "ns"
        );
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
    }
}
