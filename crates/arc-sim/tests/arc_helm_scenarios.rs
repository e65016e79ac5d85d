//! The seed failures, reproduced with real Helm 3.17.3 and Helm 4.1.4 against
//! the simulator with the simulated ARC controller, plus the healthy path.
//! Charts: the project's examples/charts (arc-controller, arc-runner-set in
//! kubernetes mode, 7 objects); the CRDs are installed through the API.
//!
//! Each scenario is one function over a [`Scenario`]: it acts and observes
//! through Helm, kubectl and the API only, and adds the simulator's own
//! evidence (controller log, fake GitHub record) when the target is the
//! simulator. The `real_cluster_*` tests run them against a real cluster
//! (opt-in, see the README); the `real_cluster_mode_*` tests run that same
//! code path against the simulator so it cannot rot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod arc_scenario;

use std::time::Instant;

use arc_scenario::{JobStandIn, Scenario, real_cluster};
use arc_sim::controller::names::*;
use arc_sim::controller::{ArcConfig, Timing};
use testenv::SimCluster;

/// Simulator with the ARC CRDs and a started controller that waits for its
/// Deployment (Helm installs it).
fn cluster() -> SimCluster {
    SimCluster::start_bare(ArcConfig {
        timing: Timing::fast(),
        ..ArcConfig::default()
    })
}

fn for_each_helm(test: impl Fn(&str)) {
    for slot in ["helm3", "helm4"] {
        eprintln!("=== {slot} ===");
        test(slot);
    }
}

/// The healthy path: controller running, `helm uninstall --wait` finishes,
/// nothing of the set is left (and the fake GitHub service is empty).
fn healthy_path_on(t: &Scenario) {
    let started = Instant::now();
    if let Some(c) = t.sim_cluster() {
        c.wait_until("the controller is active", |c| c.arc.is_active());
        let deployment = c
            .get(&deployment_gvk(), "arc-systems", "arc-gha-rs-controller")
            .unwrap();
        assert_eq!(deployment["status"]["availableReplicas"], 1);
    }
    t.install_runner_set(2);
    t.wait_ready(2);
    if let Some(c) = t.sim_cluster() {
        assert_eq!(c.github.scale_sets().len(), 1);
        assert_eq!(c.github.runners().len(), 2);
    }
    let installed = started.elapsed();

    t.helm.ok(&[
        "uninstall",
        &t.set,
        "-n",
        &t.ns,
        "--wait",
        "--timeout",
        &t.helm_timeout(),
    ]);
    assert!(
        t.release_gone(),
        "helm --wait returned before the release objects were gone"
    );
    t.wait_until("listener and runners are gone", || {
        t.listener().is_none() && t.runners().is_empty() && t.runner_sets().is_empty()
    });
    let left = t.helm.kubectl_items(&[
        "serviceaccounts,secrets,roles,rolebindings",
        "-n",
        &t.ns,
        "-l",
        "app.kubernetes.io/part-of=gha-rs",
    ]);
    let names: Vec<&str> = left.iter().map(name).collect();
    assert!(
        names.is_empty(),
        "chart objects left in {}: {names:?}",
        t.ns
    );
    if let Some(c) = t.sim_cluster() {
        assert!(
            c.github.is_empty(),
            "leaked: {:?} {:?}",
            c.github.scale_sets(),
            c.github.runners()
        );
        let list = t.helm.ok(&["list", "-A", "-q"]);
        assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "arc");
    }
    eprintln!(
        "install (controller + runner set, 2 runners ready) {:?}, full install-and-uninstall {:?}",
        installed,
        started.elapsed()
    );
    t.finish();
}

/// Seed 1: the controller goes first (simulator: its release is uninstalled;
/// real mode: its Deployment is scaled to 0), then `helm uninstall` of the
/// runner set leaves the ARS, its dependents, listener and runners
/// Terminating with the documented finalizers and the scale set registered;
/// starting the controller again resumes the cleanup.
fn seed_1_on(t: &Scenario) {
    t.install_runner_set(1);
    t.wait_ready(1);

    let stopped = t.stop_controller();
    t.helm.ok(&["uninstall", &t.set, "-n", &t.ns]);
    t.settle();

    for (kind, name, obj) in t.release_objects() {
        let obj = obj.unwrap_or_else(|| panic!("{kind} {name} was deleted"));
        assert!(is_deleting(&obj), "{kind} {name} is Terminating");
        let expected = if kind == "AutoscalingRunnerSet" {
            ARS_FINALIZER
        } else {
            CLEANUP_PROTECTION
        };
        assert_eq!(finalizers(&obj), vec![expected], "{kind} {name}");
    }
    let ars = t.ars().unwrap();
    assert!(
        annotation(&ars, ANN_SCALE_SET_ID).is_some(),
        "the scale set was never deleted from GitHub"
    );
    let listener = t.listener().expect("listener left behind");
    assert_eq!(finalizers(&listener), vec![LISTENER_FINALIZER]);
    let sets = t.runner_sets();
    assert_eq!(sets.len(), 1);
    assert_eq!(finalizers(&sets[0]), vec![ER_FINALIZER]);
    let runners = t.runners();
    assert_eq!(runners.len(), 1);
    assert!(
        has_finalizer(&runners[0], ER_FINALIZER)
            && has_finalizer(&runners[0], ER_REGISTRATION_FINALIZER)
    );
    if let Some(c) = t.sim_cluster() {
        assert_eq!(
            c.github.scale_sets().len(),
            1,
            "the scale set is still registered on GitHub"
        );
        assert_eq!(c.github.runners().len(), 1);
    }

    // Starting the controller again resumes the cleanup (RBAC and secret still exist).
    stopped.restart();
    t.wait_until("the release objects are gone after the restart", || {
        t.release_gone() && t.listener().is_none() && t.runners().is_empty()
    });
    if let Some(c) = t.sim_cluster() {
        assert!(c.github.is_empty());
    }
    t.finish();
}

/// Seed 2: a busy runner keeps the ARS finalizing; the Terminating manager
/// RoleBinding is "unstuck" by hand; after the job ends the cleanup stalls
/// (Secret reads Forbidden). Real mode then restores the RoleBinding and
/// restarts the controller so the cluster is cleaned up.
fn seed_2_on(t: &Scenario) {
    t.install_runner_set(1);
    t.wait_ready(1);
    let job = t.start_busy_job();
    let busy = t.wait_busy_runner();

    t.helm.ok(&["uninstall", &t.set, "-n", &t.ns]);
    t.wait_until(
        "the listener is gone and the runner set waits for the busy runner",
        || {
            t.listener().is_none()
                && t.sim_cluster().is_none_or(|c| {
                    c.logged("Runner is still running a job, skipping deletion") >= 1
                })
                && !t.runner_sets().is_empty()
                && t.runner_sets().iter().all(is_deleting)
                && t.get(&er_gvk(), &t.ns, &busy).is_some()
        },
    );
    // The Terminating manager RoleBinding is "unstuck" by hand: RBAC is lost.
    let lost = t.lose_manager_role_binding();
    assert!(
        t.get(&rbac("RoleBinding"), &t.ns, &t.manager_role_binding())
            .is_none()
    );
    t.end_busy_job(job);
    t.wait_until("the busy runner's job ended (its pod exited)", || {
        t.pod_phase(&busy)
            .is_none_or(|phase| phase == "Succeeded" || phase == "Failed")
    });

    if let Some(c) = t.sim_cluster() {
        // Every runner-namespace Secret read (JIT secret, GitHub secret) is now Forbidden.
        let forbidden = "is forbidden: User \"system:serviceaccount:arc-systems:arc-gha-rs-controller\" cannot get resource \"secrets\" in API group \"\" in the namespace \"arc-runners\"";
        c.wait_until("runner reconciles fail with Forbidden three times", |c| {
            c.errors_containing(forbidden) >= 3
        });
    } else {
        t.settle();
    }
    let stuck = t.get(&er_gvk(), &t.ns, &busy).expect("runner stuck");
    assert!(
        has_finalizer(&stuck, ER_REGISTRATION_FINALIZER) && has_finalizer(&stuck, ER_FINALIZER)
    );
    assert_eq!(t.runner_sets().len(), 1, "runner set stuck");
    let ars = t.ars().expect("ARS stuck");
    assert!(is_deleting(&ars) && has_finalizer(&ars, ARS_FINALIZER));
    assert!(
        annotation(&ars, ANN_SCALE_SET_ID).is_some(),
        "the scale set was never deleted from GitHub"
    );
    let manager_role = t
        .get(&rbac("Role"), &t.ns, &format!("{}-gha-rs-manager", t.set))
        .expect("manager Role stuck");
    assert!(has_finalizer(&manager_role, CLEANUP_PROTECTION));
    if let Some(c) = t.sim_cluster() {
        assert_eq!(c.github.scale_sets().len(), 1, "scale set leaked on GitHub");
        return;
    }

    // Clean up: RBAC back, controller restarted (its retries may be backing off).
    lost.restore();
    t.stop_controller().restart();
    t.wait_until("the release objects are gone after RBAC is back", || {
        t.release_gone() && t.listener().is_none() && t.runners().is_empty()
    });
    t.finish();
}

/// Seed 3: a busy runner keeps everything (and `helm uninstall --wait`) until
/// its job ends; then the uninstall finishes.
fn seed_3_on(t: &Scenario) {
    t.install_runner_set(1);
    t.wait_ready(1);
    let job = t.start_busy_job();
    let busy = t.wait_busy_runner();

    let mut uninstall = t.helm.spawn(&[
        "uninstall",
        &t.set,
        "-n",
        &t.ns,
        "--wait",
        "--timeout",
        &t.helm_timeout(),
    ]);
    t.wait_until("the runner set skipped the busy runner", || {
        t.sim_cluster().map_or_else(
            || {
                t.listener().is_none()
                    && !t.runner_sets().is_empty()
                    && t.runner_sets().iter().all(is_deleting)
            },
            |c| c.logged("Runner is still running a job, skipping deletion") >= 1,
        )
    });
    if let Some(c) = t.sim_cluster() {
        let waits = c.logged("Waiting for ephemeral runner sets to be deleted");
        c.wait_until("the ARS requeued three more times", |c| {
            c.logged("Waiting for ephemeral runner sets to be deleted") >= waits + 3
        });
    } else {
        t.settle();
    }
    assert!(
        uninstall.try_wait().unwrap().is_none(),
        "helm uninstall --wait is still waiting"
    );
    for (kind, name, obj) in t.release_objects() {
        assert!(
            obj.as_ref().is_some_and(is_deleting),
            "{kind} {name} held while the job runs"
        );
    }
    assert!(t.get(&er_gvk(), &t.ns, &busy).is_some());
    let ars = t.ars().unwrap();
    assert!(annotation(&ars, ANN_SCALE_SET_ID).is_some());
    if let Some(c) = t.sim_cluster() {
        assert_eq!(c.github.scale_sets().len(), 1);
    }
    assert_eq!(
        t.pod_phase(&busy).as_deref(),
        Some("Running"),
        "the job ended before the hold was observed (make it run longer)"
    );

    t.end_busy_job(job);
    let out = uninstall.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "helm uninstall --wait: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.release_gone());
    t.wait_until("runners are gone", || t.runners().is_empty());
    if let Some(c) = t.sim_cluster() {
        assert!(c.github.is_empty());
    }
    t.finish();
}

#[test]
fn healthy_path_helm_uninstall_wait_finishes_and_github_is_empty() {
    for_each_helm(|slot| healthy_path_on(&Scenario::sim(&cluster(), slot)));
}

#[test]
fn seed_1_controller_uninstalled_first_leaves_everything_terminating() {
    for_each_helm(|slot| seed_1_on(&Scenario::sim(&cluster(), slot)));
}

#[test]
fn seed_2_manager_rolebinding_lost_while_finalizing_stalls() {
    for_each_helm(|slot| seed_2_on(&Scenario::sim(&cluster(), slot)));
}

#[test]
fn seed_3_busy_runner_keeps_everything_until_its_job_ends() {
    for_each_helm(|slot| seed_3_on(&Scenario::sim(&cluster(), slot)));
}

/// `--ignored` alone never reaches for the cluster of the current KUBECONFIG.
const OPT_IN: &str = "skipped: set HAU_REAL_CLUSTER=1 (see README) to run against a real cluster";

/// A real cluster's target for `scenario`, or why it is skipped.
fn real_target(scenario: &str, needs_busy_job: bool) -> Option<Scenario<'static>> {
    let Some(t) = real_cluster(scenario) else {
        eprintln!("{OPT_IN}");
        return None;
    };
    if needs_busy_job && t.real().is_some_and(|r| r.busy_job_cmd.is_none()) {
        eprintln!(
            "skipped: {scenario} needs a job on a runner: set HAU_ARC_BUSY_JOB_CMD (see README)"
        );
        return None;
    }
    Some(t)
}

/// Opt-in: the healthy path on a real cluster with the real ARC controller.
#[test]
#[ignore = "opt-in: a real cluster with ARC (HAU_REAL_CLUSTER=1, see README)"]
fn real_cluster_healthy_path() {
    if let Some(t) = real_target("healthy", false) {
        healthy_path_on(&t);
    }
}

/// Opt-in: seed 1 on a real cluster (its controller scaled to 0 meanwhile).
#[test]
#[ignore = "opt-in: a real cluster with ARC (HAU_REAL_CLUSTER=1, see README)"]
fn real_cluster_seed_1_controller_stopped_first() {
    if let Some(t) = real_target("seed-1", false) {
        seed_1_on(&t);
    }
}

/// Opt-in: seed 2 on a real cluster (needs `HAU_ARC_BUSY_JOB_CMD`).
#[test]
#[ignore = "opt-in: a real cluster with ARC (HAU_REAL_CLUSTER=1, see README)"]
fn real_cluster_seed_2_manager_rolebinding_lost() {
    if let Some(t) = real_target("seed-2", true) {
        seed_2_on(&t);
    }
}

/// Opt-in: seed 3 on a real cluster (needs `HAU_ARC_BUSY_JOB_CMD`).
#[test]
#[ignore = "opt-in: a real cluster with ARC (HAU_REAL_CLUSTER=1, see README)"]
fn real_cluster_seed_3_busy_runner() {
    if let Some(t) = real_target("seed-3", true) {
        seed_3_on(&t);
    }
}

/// The opt-in mode's own code path (kubectl and Helm only, polling, controller
/// scaled through its Deployment), against the simulator standing in for the
/// real cluster, so it cannot rot unnoticed. Helm 4 only.
#[test]
fn real_cluster_mode_runs_against_the_simulator() {
    let c = cluster();
    healthy_path_on(&Scenario::real_on_sim(&c, "healthy", None));
    assert!(c.github.is_empty());
}

#[test]
fn real_cluster_mode_seed_1_runs_against_the_simulator() {
    let c = cluster();
    seed_1_on(&Scenario::real_on_sim(&c, "seed-1", None));
    assert!(c.github.is_empty());
}

#[test]
fn real_cluster_mode_seed_2_runs_against_the_simulator() {
    let c = cluster();
    let jobs = JobStandIn::new("seed-2");
    jobs.serve(&c, || {
        seed_2_on(&Scenario::real_on_sim(&c, "seed-2", Some(&jobs)))
    });
    assert!(c.github.is_empty());
}

#[test]
fn real_cluster_mode_seed_3_runs_against_the_simulator() {
    let c = cluster();
    let jobs = JobStandIn::new("seed-3");
    jobs.serve(&c, || {
        seed_3_on(&Scenario::real_on_sim(&c, "seed-3", Some(&jobs)))
    });
    assert!(c.github.is_empty());
}
