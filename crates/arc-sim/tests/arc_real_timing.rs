//! The simulated controller with upstream's delays (`Timing::real()`: 5 s
//! runner-set requeue, 1 s listener requeue, pods on a node) and a kubelet
//! that takes a second to end a pod: the gaps a teardown really has (audit
//! §2.1). Seconds per test, so its own binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use arc_sim::controller::names::*;
use arc_sim::controller::{ArcConfig, ControllerRelease, NODE_NAME, RunnerSet, Timing};
use kube_sim::SimConfig;
use kube_sim::api::Gvk;
use testenv::SimCluster;

const CONTROLLER: &str = "system:serviceaccount:arc-systems:arc-gha-rs-controller";

fn real_cluster() -> SimCluster {
    SimCluster::start_custom(
        SimConfig {
            gc_delay: Duration::from_secs(1),
            ..SimConfig::default()
        },
        ArcConfig {
            timing: Timing::real(),
            ..ArcConfig::default()
        },
        &ControllerRelease::default(),
    )
}

fn at(time: &str) -> jiff::Timestamp {
    time.parse().unwrap()
}

/// When `actor` first did `verb` on a `kind` (writes are in the event log).
fn first(c: &SimCluster, actor: &str, verb: &str, kind: &str) -> jiff::Timestamp {
    let log = c.sim.event_log();
    let e = log
        .iter()
        .find(|e| e.actor == actor && e.verb == verb && e.kind == kind && e.code < 300)
        .unwrap_or_else(|| panic!("no {verb} of a {kind} by {actor}"));
    at(&e.time)
}

#[test]
fn real_timing_leaves_seconds_between_the_runner_set_and_its_runner_sets() {
    let c = real_cluster();
    let objs = c.install(&RunnerSet {
        min_runners: 1,
        ..RunnerSet::default()
    });
    c.wait_ready(1);
    let listener_pod = c
        .get(
            &core("Pod"),
            "arc-systems",
            "arc-runner-set-6c9b97c4-listener",
        )
        .unwrap();
    assert_eq!(listener_pod["spec"]["nodeName"], NODE_NAME);
    assert_eq!(listener_pod["spec"]["terminationGracePeriodSeconds"], 30);

    let started = Instant::now();
    c.helm_delete(&objs);
    c.wait_until("the listener pod terminates gracefully", |c| {
        c.get(
            &core("Pod"),
            "arc-systems",
            "arc-runner-set-6c9b97c4-listener",
        )
        .is_some_and(|p| is_deleting(&p))
    });
    c.wait_until("the release is gone", |c| {
        c.ars().is_none()
            && objs.iter().all(|o| {
                c.get(
                    &Gvk::new(str_at(o, "/apiVersion"), str_at(o, "/kind")),
                    namespace(o),
                    name(o),
                )
                .is_none()
            })
    });
    let took = started.elapsed();
    let ars_deleted = first(&c, "kubernetes-admin", "delete", "AutoscalingRunnerSet");
    let ers_deleted = first(&c, CONTROLLER, "delete", "EphemeralRunnerSet");
    let gap = ers_deleted.duration_since(ars_deleted);
    eprintln!("real timing: runner sets deleted {gap:#} after the runner set; teardown {took:?}");
    assert!(
        gap >= jiff::SignedDuration::from_secs(1),
        "the listener's pod and requeue hold the runner sets back: {gap:#}"
    );
    assert!(
        c.arc
            .log()
            .iter()
            .any(|l| l.controller == "AutoscalingListener"
                && l.message == "Waiting for resources to be deleted before removing finalizer"),
        "the listener requeued while its pod terminated"
    );
    assert!(took < Duration::from_secs(25), "{took:?}");
    assert!(c.github.is_empty());
}

/// With upstream's 5 s requeue, the runner set waits on a busy runner in
/// 5 s steps (not the fast timing's 50 ms).
#[test]
fn real_timing_requeues_the_runner_set_every_five_seconds() {
    let c = real_cluster();
    let objs = c.install(&RunnerSet {
        min_runners: 1,
        ..RunnerSet::default()
    });
    c.wait_ready(1);
    let runner = name(&c.runners()[0]).to_string();
    let runner_id = c.arc.start_job("arc-runners", &runner, None).unwrap();
    c.helm_delete(&objs);
    let waiting = "Waiting for resources to be cleaned up before removing finalizer";
    let longest_wait = |c: &SimCluster| {
        let times: Vec<jiff::Timestamp> = c
            .arc
            .log()
            .iter()
            .filter(|l| l.controller == "AutoscalingRunnerSet" && l.message == waiting)
            .map(|l| l.time)
            .collect();
        times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]))
            .max()
            .unwrap_or_default()
    };
    c.wait_until("the runner set requeued on the busy runner", |c| {
        longest_wait(c) >= jiff::SignedDuration::from_millis(4900)
    });
    assert!(
        longest_wait(&c) < jiff::SignedDuration::from_secs(7),
        "{:#}",
        longest_wait(&c)
    );
    c.github.finish_job(runner_id);
    c.wait_until("the runner set is gone", |c| c.ars().is_none());
}
