//! The scheduler and kubelet of the pods the controller creates: pods get a
//! node and the API server's default grace period (so deleting a running
//! pod is graceful, as on a cluster: kube-sim's kubelet ends it after its
//! delay; only with `Timing::pods_on_node`), start `Running` with a running container status, and end with
//! an exit code in `containerStatuses`, which is what the runner
//! reconciler reads (`runnerContainerStatus`).

use serde_json::{Value, json};

use super::client::Timing;
use super::names::*;
use kube_sim::api::{Actor, Api};

/// The node every ARC pod is scheduled to.
pub const NODE_NAME: &str = "kube-sim-node";

fn kubelet() -> Actor {
    Actor("system:node:kube-sim".to_string())
}

/// With [`Timing::pods_on_node`], bind a new pod to the node and default
/// `terminationGracePeriodSeconds` (30, as the API server does).
pub(crate) fn schedule(mut pod: Value, timing: &Timing) -> Value {
    if !timing.pods_on_node {
        return pod;
    }
    pod["spec"]["nodeName"] = json!(NODE_NAME);
    if pod.pointer("/spec/terminationGracePeriodSeconds").is_none() {
        pod["spec"]["terminationGracePeriodSeconds"] = json!(30);
    }
    pod
}

fn now() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

fn container_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(|c| str_at(c, "/name").to_string()).collect())
        .unwrap_or_default()
}

/// Write a pod status (best effort: the pod may be gone).
fn write_status(api: &dyn Api, pod: &Value, status: impl Fn(&Value) -> Value) {
    let Ok(mut current) = api.get(&kubelet(), &core("Pod"), Some(namespace(pod)), name(pod)) else {
        return;
    };
    let new = status(&current);
    if current.get("status") == Some(&new) {
        return;
    }
    current["status"] = new;
    let _ = api.update_status(&kubelet(), current);
}

/// The pod starts: phase `Running`, Ready, every container running.
pub(crate) fn run(api: &dyn Api, pod: &Value) {
    write_status(api, pod, |current| {
        let started = now();
        let statuses: Vec<Value> = container_names(current)
            .into_iter()
            .map(|n| {
                json!({"name": n, "ready": true, "restartCount": 0,
                            "state": {"running": {"startedAt": started}}})
            })
            .collect();
        json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
            "containerStatuses": statuses,
        })
    });
}

/// The container `container` exits with `exit_code` (the others are stopped
/// too): phase `Succeeded` for 0, else `Failed`.
pub(crate) fn terminate(api: &dyn Api, pod: &Value, container: &str, exit_code: i64, reason: &str) {
    write_status(api, pod, |current| {
        let finished = now();
        let statuses: Vec<Value> = container_names(current)
            .into_iter()
            .map(|n| {
                let (code, why) = if n == container {
                    (exit_code, reason)
                } else {
                    (0, "Completed")
                };
                json!({"name": n, "ready": false, "restartCount": 0,
                       "state": {"terminated": {"exitCode": code, "reason": why, "finishedAt": finished}}})
            })
            .collect();
        json!({
            "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": finished}],
            "containerStatuses": statuses,
        })
    });
}

/// The `state.terminated.exitCode` of a container, if it ended.
pub(crate) fn exit_code(pod: &Value, container: &str) -> Option<i64> {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| str_at(c, "/name") == container)?
        .pointer("/state/terminated/exitCode")
        .and_then(Value::as_i64)
}

/// A status for the container exists (the kubelet has reported it).
pub(crate) fn has_container_status(pod: &Value, container: &str) -> bool {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| str_at(c, "/name") == container))
}
