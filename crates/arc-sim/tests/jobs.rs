//! The Job runner: kubectl Jobs run the real kubectl (Helm 4.1.4's, 1.35,
//! from `scripts/fetch-tools`) against the simulator and get the status the
//! Job controller writes: Complete, Failed after the backoff limit, Failed
//! on the active deadline (kubectl killed); other images are left alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arc_sim::SimExt;
use kube_sim::api::{Actor, Api, Gvk};
use kube_sim::{Sim, SimConfig};
use serde_json::{Value, json};

/// Helm 4.1.4's kubectl (1.35), from `scripts/fetch-tools`.
fn kubectl() -> PathBuf {
    testenv::Helm::V4.kubectl()
}

fn actor() -> Actor {
    Actor("test".into())
}

fn setup() -> Sim {
    let sim = Sim::start(SimConfig::default()).unwrap();
    let api = sim.api();
    api.create(
        &actor(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
    )
    .unwrap();
    sim
}

fn job(name: &str, image: &str, args: &[&str], backoff: u32, deadline: u64) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "backoffLimit": backoff,
            "activeDeadlineSeconds": deadline,
            "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": image, "args": args}
            ]}}
        }
    })
}

fn get(api: &dyn Api, kind: (&str, &str), name: &str) -> Option<Value> {
    api.get(&actor(), &Gvk::new(kind.0, kind.1), Some("ns"), name)
        .ok()
}

fn condition(job: &Value) -> Option<(String, String)> {
    job.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
        .map(|c| {
            (
                c["type"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap_or("").into(),
            )
        })
}

fn wait_finished(api: &dyn Api, name: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let job = get(api, ("batch/v1", "Job"), name).expect("job exists");
        if condition(&job).is_some() {
            return job;
        }
        assert!(
            start.elapsed() < limit,
            "job {name} did not finish: {job:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kubectl_job_deletes_and_completes() {
    let sim = setup();
    let runner = sim.start_job_runner(kubectl()).unwrap();
    let api = sim.api();
    api.create(
        &actor(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}}),
    )
    .unwrap();
    api.create(
        &actor(),
        job(
            "del",
            "registry.k8s.io/kubectl:v1.35.2",
            &[
                "delete",
                "--namespace=ns",
                "--wait=true",
                "--timeout=30s",
                "Secret.v1./s",
            ],
            1,
            60,
        ),
    )
    .unwrap();
    let done = wait_finished(&*api, "del", Duration::from_secs(30));
    assert_eq!(
        condition(&done),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    let status = &done["status"];
    assert_eq!(status["succeeded"], 1);
    assert_eq!(status["active"], 0);
    assert!(status["startTime"].is_string() && status["completionTime"].is_string());
    assert!(get(&*api, ("v1", "Secret"), "s").is_none());
    let runs = runner.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].exit_code, Some(0), "{runs:?}");
    assert!(runs[0].stdout.contains("deleted"), "{runs:?}");
}

#[test]
fn failing_kubectl_job_fails_after_its_backoff_limit() {
    let sim = setup();
    let runner = sim.start_job_runner(kubectl()).unwrap();
    let api = sim.api();
    api.create(
        &actor(),
        job(
            "fail",
            "registry.k8s.io/kubectl@sha256:0123",
            &["get", "--namespace=ns", "Secret.v1./missing"],
            1,
            60,
        ),
    )
    .unwrap();
    let done = wait_finished(&*api, "fail", Duration::from_secs(30));
    assert_eq!(
        condition(&done),
        Some(("Failed".into(), "BackoffLimitExceeded".into()))
    );
    assert_eq!(done["status"]["failed"], 2);
    assert!(done["status"].get("completionTime").is_none());
    let runs = runner.runs();
    assert_eq!(runs.len(), 2, "one run plus one retry: {runs:?}");
    assert!(runs.iter().all(|r| r.exit_code == Some(1)), "{runs:?}");
}

#[test]
fn deadline_kills_kubectl_and_fails_the_job() {
    let sim = setup();
    let runner = sim.start_job_runner(kubectl()).unwrap();
    let api = sim.api();
    // A finalizer nobody removes: `kubectl delete --wait` would wait 60 s.
    api.create(
        &actor(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "stuck", "namespace": "ns", "finalizers": ["example.com/never"]}}),
    )
    .unwrap();
    let start = Instant::now();
    api.create(
        &actor(),
        job(
            "slow",
            "registry.k8s.io/kubectl:v1.35.2",
            &[
                "delete",
                "--namespace=ns",
                "--wait=true",
                "--timeout=60s",
                "ConfigMap.v1./stuck",
            ],
            3,
            2,
        ),
    )
    .unwrap();
    let done = wait_finished(&*api, "slow", Duration::from_secs(20));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(
        condition(&done),
        Some(("Failed".into(), "DeadlineExceeded".into()))
    );
    let runs = runner.runs();
    assert_eq!(runs.len(), 1, "no retry after the deadline: {runs:?}");
    assert_eq!(runs[0].exit_code, None);
    let pid = runs[0].pid.expect("kubectl started");
    // The killed kubectl is gone (reaped, not a zombie).
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !PathBuf::from(format!("/proc/{pid}")).exists(),
        "kubectl {pid} still running"
    );
    // The object is still there, terminating.
    assert!(get(&*api, ("v1", "ConfigMap"), "stuck").is_some());
}

#[test]
fn other_images_are_left_alone() {
    let sim = setup();
    let runner = sim.start_job_runner(kubectl()).unwrap();
    let api = sim.api();
    api.create(&actor(), job("busy", "busybox:1.36", &["true"], 0, 5))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let job = get(&*api, ("batch/v1", "Job"), "busy").unwrap();
    assert!(
        job.get("status")
            .is_none_or(|s| s.get("conditions").is_none()),
        "{job:#}"
    );
    assert!(runner.runs().is_empty());
}
