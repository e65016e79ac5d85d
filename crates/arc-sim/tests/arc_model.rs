//! The simulated controller against upstream 0.14.2 (shared research
//! arc-upstream-audit.md §2) and the wedges of issue #14: version check,
//! `status.phase`, runner exits, Failed and Outdated runners, what the
//! controller reads to reach GitHub (Secret keys, App, vault), what GitHub can
//! do behind its back (revoked token, deleted or shared scale set), RBAC by
//! subject, single-namespace controllers, a job stranded by a dead pod.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use arc_sim::controller::names::*;
use arc_sim::controller::{
    ArcConfig, ControllerRelease, DEFAULT_TOKEN, GitHubConfigSecret, KeyVault, RunnerSet,
};
use kube_sim::SimConfig;
use kube_sim::api::Gvk;
use serde_json::{Value, json};
use testenv::SimCluster as Cluster;

const CONTROLLER: &str = "system:serviceaccount:arc-systems:arc-gha-rs-controller";
const NS: &str = "arc-runners";

/// A negative check needs a window: many requeue periods of the fast timing.
fn quiet_period(c: &Cluster) {
    let mut rx = c.api.subscribe();
    c.sim.handle().block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while rx.recv().await.is_ok() {}
        })
        .await;
    });
}

fn gvk_of(o: &Value) -> Gvk {
    Gvk::new(str_at(o, "/apiVersion"), str_at(o, "/kind"))
}

fn live(c: &Cluster, o: &Value) -> Option<Value> {
    c.get(&gvk_of(o), namespace(o), name(o))
}

fn ars_of(objs: &[Value]) -> &Value {
    objs.iter()
        .find(|o| str_at(o, "/kind") == "AutoscalingRunnerSet")
        .unwrap()
}

/// Runners of the runner set `ars` (by the propagated scale-set label).
fn runners_of(c: &Cluster, ars: &Value) -> Vec<Value> {
    c.list(&er_gvk(), Some(namespace(ars)))
        .into_iter()
        .filter(|r| label(r, "actions.github.com/scale-set-name") == Some(name(ars)))
        .collect()
}

/// The runner set of `objs` is up: scale set id, listener pod, `n` running runners.
fn wait_set_ready(c: &Cluster, objs: &[Value], n: usize) {
    let ars = ars_of(objs).clone();
    c.wait_until(&format!("{} is ready", name(&ars)), |c| {
        let runners = runners_of(c, &ars);
        c.get(&ars_gvk(), namespace(&ars), name(&ars))
            .is_some_and(|a| annotation(&a, ANN_SCALE_SET_ID).is_some())
            && c.list(&listener_gvk(), Some("arc-systems"))
                .iter()
                .any(|l| {
                    str_at(l, "/spec/autoscalingRunnerSetName") == name(&ars)
                        && str_at(l, "/spec/autoscalingRunnerSetNamespace") == namespace(&ars)
                        && c.get(&core("Pod"), "arc-systems", name(l)).is_some()
                })
            && runners.len() == n
            && runners
                .iter()
                .all(|r| str_at(r, "/status/phase") == "Running")
    });
}

fn install_ready(c: &Cluster, rs: &RunnerSet, n: usize) -> Vec<Value> {
    let objs = c.install(rs);
    wait_set_ready(c, &objs, n);
    objs
}

fn gone(c: &Cluster, objs: &[Value]) -> bool {
    objs.iter().all(|o| live(c, o).is_none())
}

fn one_runner(min_runners: i64) -> RunnerSet {
    RunnerSet {
        min_runners,
        ..RunnerSet::default()
    }
}

fn log_of(c: &Cluster, object: &str) -> Vec<String> {
    c.arc
        .log()
        .into_iter()
        .filter(|l| l.object == object)
        .map(|l| l.message)
        .collect()
}

// ---- §2.2 version check, §2.6 status.phase ---------------------------------------

/// Upstream checks the version before adding the finalizer and allows no
/// missing label: a runner set of another major.minor is deleted without
/// any cleanup, and its chart objects keep `cleanup-protection` for good.
#[test]
fn a_runner_set_of_another_version_is_deleted_before_it_gets_its_finalizer() {
    for version in ["0.13.1", ""] {
        let c = Cluster::start();
        let objs = c.install(&RunnerSet {
            version: version.to_string(),
            ..one_runner(1)
        });
        c.wait_until("the controller deleted the runner set", |c| {
            c.ars().is_none()
        });
        let controller_wrote_ars = c.sim.event_log().iter().any(|e| {
            e.actor == CONTROLLER
                && e.kind == "AutoscalingRunnerSet"
                && matches!(e.verb.as_str(), "patch" | "update" | "update-status")
        });
        assert!(
            !controller_wrote_ars,
            "no finalizer, no status: {version:?}"
        );
        assert!(c.sim.event_log().iter().any(|e| e.actor == CONTROLLER
            && e.verb == "delete"
            && e.kind == "AutoscalingRunnerSet"));
        quiet_period(&c);
        for o in objs
            .iter()
            .filter(|o| str_at(o, "/kind") != "AutoscalingRunnerSet")
        {
            let v = live(&c, o).expect("chart objects stay");
            assert_eq!(finalizers(&v), vec![CLEANUP_PROTECTION], "{}", name(o));
        }
        assert!(c.listener().is_none() && c.runners().is_empty());
        assert!(c.github.is_empty(), "nothing was registered");
        assert_eq!(
            c.logged("Autoscaling runner set version doesn't match the build version. Deleting the resource."),
            1
        );
    }
}

/// 0.14: `status.phase` (Pending, then Running), never `status.state`; the
/// change hash is recorded; the runner set reports its phase too.
#[test]
fn status_carries_a_phase_and_counts() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    c.wait_until("the runner set reports Running with its runner", |c| {
        c.ars().is_some_and(|a| {
            a["status"]["phase"] == "Running" && a["status"]["currentRunners"] == 1
        })
    });
    let ars = c.ars().unwrap();
    assert!(ars["status"].get("state").is_none());
    assert!(annotation(&ars, ANN_CHANGE_HASH).is_some());
    let pending_seen = c.sim.event_log().iter().any(|e| {
        e.actor == CONTROLLER && e.kind == "AutoscalingRunnerSet" && e.verb == "update-status"
    });
    assert!(pending_seen, "the status subresource was written");
    let ers = c.list(&ers_gvk(), Some(NS)).remove(0);
    assert_eq!(ers["status"]["phase"], "Running");
    assert_eq!(ers["status"]["currentReplicas"], 1);
    assert!(
        annotation(&ers, ANN_RUNNER_SPEC_HASH).is_some(),
        "the runner set records the spec it was built from"
    );
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
}

// ---- §2.7 the runner lifecycle ------------------------------------------------

/// Upstream removes the registration finalizer and finalizes the runner in
/// the same pass.
#[test]
fn runner_finalization_goes_on_after_leaving_the_service() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    let runner = format!("{NS}/{}", name(&c.runners()[0]));
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    let log = log_of(&c, &runner);
    let at = log
        .iter()
        .position(|m| m == "Removed finalizer from ephemeral runner")
        .expect("left the service");
    assert_eq!(log[at + 1], "Finalizing ephemeral runner", "{log:#?}");
}

/// A runner whose job ended exits 0: upstream deletes it (it does not keep
/// a Succeeded runner) and the set creates a new one.
#[test]
fn a_finished_runner_is_deleted_and_replaced() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    let first = name(&c.runners()[0]).to_string();
    c.arc
        .start_job(NS, &first, Some(Duration::from_millis(100)))
        .unwrap();
    c.wait_until("a new runner replaced the finished one", |c| {
        let runners = c.runners();
        runners.len() == 1
            && name(&runners[0]) != first
            && str_at(&runners[0], "/status/phase") == "Running"
    });
    assert!(c.logged("Ephemeral runner has finished successfully, deleting ephemeral runner") >= 1);
    assert_eq!(c.github.runners().len(), 1);
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// Scaling down removes idle runners only; a busy one stays until its job ends.
#[test]
fn scale_down_keeps_busy_runners() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(2), 2);
    let busy = name(&c.runners()[0]).to_string();
    c.arc.start_job(NS, &busy, None).unwrap();
    c.patch(
        &ars_gvk(),
        Some(NS),
        "arc-runner-set",
        json!({"spec": {"minRunners": 0}}),
    );
    c.wait_until("the idle runner left", |c| c.runners().len() == 1);
    assert_eq!(name(&c.runners()[0]), busy);
    assert!(c.logged("Skipping ephemeral runner since it is running a job") >= 1);
    let runner_id = c.runners()[0]["status"]["runnerId"].as_i64().unwrap();
    c.github.finish_job(runner_id);
    c.wait_until("the busy runner finished and left", |c| {
        c.runners().is_empty()
    });
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// Calls in the controller namespace are granted by the controller chart's
/// listener Role only.
#[test]
fn the_controller_namespace_needs_the_listener_role_binding() {
    let c = Cluster::start();
    c.delete(
        &rbac("RoleBinding"),
        Some("arc-systems"),
        "arc-gha-rs-controller-listener",
    );
    c.install(&one_runner(0));
    let forbidden = format!(
        "serviceaccounts \"arc-runner-set-6c9b97c4-listener\" is forbidden: User \"{CONTROLLER}\" cannot create resource \"serviceaccounts\" in API group \"\" in the namespace \"arc-systems\""
    );
    c.wait_until("the listener cannot get its ServiceAccount", |c| {
        c.errors_containing(&forbidden) >= 2
    });
    assert!(c.listener().is_some());
    assert!(
        c.get(
            &core("Pod"),
            "arc-systems",
            "arc-runner-set-6c9b97c4-listener"
        )
        .is_none()
    );
}

// ---- §2.3 Failed runners, Outdated runners ----------------------------------------

/// A runner whose pod the cluster refuses is marked Failed: the set counts
/// it, neither deletes nor replaces it, and at teardown it still holds both
/// finalizers and needs GitHub to go.
#[test]
fn failed_runners_are_counted_kept_and_need_github_at_teardown() {
    let c = Cluster::start();
    c.arc.reject_runner_pods(Some(
        "violates PodSecurity \"restricted:latest\": runAsNonRoot != true",
    ));
    let objs = c.install(&one_runner(1));
    c.wait_until("the runner is Failed", |c| {
        c.runners()
            .iter()
            .any(|r| str_at(r, "/status/phase") == "Failed")
    });
    c.arc.reject_runner_pods(None);
    quiet_period(&c);
    let runners = c.runners();
    assert_eq!(runners.len(), 1, "neither replaced nor deleted");
    let failed = &runners[0];
    assert_eq!(failed["status"]["reason"], "InvalidPod");
    assert!(
        str_at(failed, "/status/message").contains("pods \"")
            && str_at(failed, "/status/message").contains("is forbidden: violates PodSecurity")
    );
    assert!(!is_deleting(failed));
    assert!(
        has_finalizer(failed, ER_FINALIZER) && has_finalizer(failed, ER_REGISTRATION_FINALIZER)
    );
    let ers = c.list(&ers_gvk(), Some(NS)).remove(0);
    assert_eq!(ers["status"]["failedEphemeralRunners"], 1);
    assert_eq!(
        ers["status"]["currentReplicas"], 1,
        "a failed runner counts"
    );
    c.wait_until("the runner set reports the failed runner", |c| {
        c.ars()
            .is_some_and(|a| a["status"]["failedEphemeralRunners"] == 1)
    });
    assert!(
        c.github.runners().is_empty(),
        "markAsFailed removed it from GitHub"
    );

    c.github.fail_all(Some((503, "Service Unavailable")));
    c.helm_delete(&objs);
    c.wait_until("the failed runner cannot leave GitHub", |c| {
        c.errors_containing("failed to remove runner from the service") >= 2
    });
    let held = c.get(&er_gvk(), NS, name(failed)).expect("still there");
    assert!(is_deleting(&held) && has_finalizer(&held, ER_REGISTRATION_FINALIZER));
    assert!(c.ars().is_some());
    c.github.fail_all(None);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// A runner exiting 7 is Outdated: the runner set turns Outdated, the
/// controller removes listener, runner sets and the scale set, and keeps the
/// runner set in that phase; its teardown then needs no GitHub call.
#[test]
fn an_outdated_runner_retires_the_runner_set() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    let runner = name(&c.runners()[0]).to_string();
    c.arc.kill_runner(NS, &runner, 7).unwrap();
    c.wait_until("the runner set is Outdated and cleaned up", |c| {
        c.ars().is_some_and(|a| {
            a["status"]["phase"] == "Outdated" && annotation(&a, ANN_SCALE_SET_ID).is_none()
        }) && c.listener().is_none()
            && c.list(&ers_gvk(), Some(NS)).is_empty()
    });
    assert!(c.github.is_empty(), "the scale set was deleted on GitHub");
    quiet_period(&c);
    assert!(
        c.listener().is_none() && c.list(&ers_gvk(), Some(NS)).is_empty(),
        "not recreated"
    );
    let calls = c.github.calls().len();
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert_eq!(c.github.calls().len(), calls, "no GitHub call at teardown");
}

// ---- #14: what the controller reads, what GitHub does --------------------------

/// The config Secret must hold a token or a complete App; otherwise the
/// runner set never registers (0.14.2 `appconfig.FromSecret`).
#[test]
fn a_config_secret_without_credentials_never_registers() {
    let c = Cluster::start();
    c.api
        .create(
            &c.user,
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "github-config", "namespace": NS},
                   "data": {"github_app_id": "MTIz"}}),
        )
        .unwrap();
    c.install(&RunnerSet {
        github_config_secret: GitHubConfigSecret::Named("github-config".to_string()),
        ..one_runner(1)
    });
    c.wait_until("registration fails for want of credentials", |c| {
        c.errors_containing("failed to resolve app config: failed to validate config: no credentials provided: either a PAT or GitHub App credentials should be provided") >= 2
    });
    assert!(
        c.ars()
            .is_some_and(|a| annotation(&a, ANN_SCALE_SET_ID).is_none())
    );
    assert!(c.github.is_empty());
}

/// GitHub App credentials work like a token; an App uninstalled on GitHub
/// stalls the teardown until it is back.
#[test]
fn an_uninstalled_github_app_stalls_the_teardown() {
    let c = Cluster::start();
    let objs = install_ready(
        &c,
        &RunnerSet {
            github_config_secret: GitHubConfigSecret::App {
                app_id: "123".to_string(),
                installation_id: 42,
                private_key: "-----BEGIN RSA PRIVATE KEY-----".to_string(),
            },
            ..one_runner(1)
        },
        1,
    );
    c.github.uninstall_app(42);
    c.helm_delete(&objs);
    c.wait_until("GitHub refuses the App", |c| {
        c.errors_containing(
            "request POST https://api.github.com/app/installations/42/access_tokens failed(status=\"404 Not Found\")",
        ) >= 2
    });
    assert!(c.ars().is_some());
    assert_eq!(c.github.scale_sets().len(), 1);
    c.github.restore_credentials();
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// A revoked token: the Secret is fine, GitHub answers 401, and every step
/// that needs GitHub retries until the token works again.
#[test]
fn a_revoked_token_stalls_the_teardown_until_restored() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    c.github.revoke_token(DEFAULT_TOKEN);
    c.helm_delete(&objs);
    c.wait_until("GitHub answers 401", |c| {
        c.errors_containing("failed(status=\"401 Unauthorized\")") >= 3
            && c.errors_containing("Bad credentials") >= 3
    });
    assert!(c.ars().is_some_and(|a| has_finalizer(&a, ARS_FINALIZER)));
    assert!(
        c.runners()
            .iter()
            .all(|r| has_finalizer(r, ER_REGISTRATION_FINALIZER))
    );
    assert_eq!(c.github.scale_sets().len(), 1);
    c.github.restore_credentials();
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// A scale set deleted on GitHub behind the controller's back: listener and
/// runner sets go, then `DeleteRunnerScaleSet` answers 404 for ever and the
/// runner set stays with `runner-scale-set-id`. Dropping the annotation (the
/// credentials ladder) lets it finish.
#[test]
fn a_scale_set_deleted_on_github_wedges_the_runner_set_after_its_children() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    let id: i64 = annotation(&c.ars().unwrap(), ANN_SCALE_SET_ID)
        .unwrap()
        .parse()
        .unwrap();
    assert!(c.github.delete_scale_set(id).is_some());
    c.helm_delete(&objs);
    c.wait_until(
        "only the runner set is left, failing on the scale set",
        |c| {
            c.listener().is_none()
                && c.list(&ers_gvk(), Some(NS)).is_empty()
                && c.errors_containing("failed(status=\"404 Not Found\")") >= 3
        },
    );
    let ars = c.ars().expect("stuck");
    assert_eq!(
        annotation(&ars, ANN_SCALE_SET_ID),
        Some(id.to_string().as_str())
    );
    let rb = c
        .get(&rbac("RoleBinding"), NS, "arc-runner-set-gha-rs-manager")
        .unwrap();
    assert!(has_finalizer(&rb, CLEANUP_PROTECTION));
    c.patch(
        &ars_gvk(),
        Some(NS),
        "arc-runner-set",
        json!({"metadata": {"annotations": {ANN_SCALE_SET_ID: null}}}),
    );
    c.wait_until("the release is gone", |c| gone(c, &objs));
}

/// Two runner sets with the same scale-set name, runner group and URL share
/// one registration: tearing one down deletes it, and the other's teardown
/// then fails on `DeleteRunnerScaleSet` for ever.
#[test]
fn runner_sets_sharing_a_registration_wedge_the_second_teardown() {
    let c = Cluster::start();
    c.ensure_namespace("team-b");
    let a = install_ready(
        &c,
        &RunnerSet {
            name: "shared".to_string(),
            ..one_runner(1)
        },
        1,
    );
    let b = install_ready(
        &c,
        &RunnerSet {
            name: "shared".to_string(),
            namespace: "team-b".to_string(),
            ..one_runner(1)
        },
        1,
    );
    let id_of = |objs: &[Value]| {
        let ars = ars_of(objs);
        annotation(
            &c.get(&ars_gvk(), namespace(ars), "shared").unwrap(),
            ANN_SCALE_SET_ID,
        )
        .unwrap()
        .to_string()
    };
    assert_eq!(id_of(&a), id_of(&b), "one registration");
    assert_eq!(c.github.scale_sets().len(), 1);
    assert_eq!(c.github.runners().len(), 2);

    c.helm_delete(&a);
    c.wait_until("the first runner set is gone", |c| gone(c, &a));
    assert!(
        c.github.scale_sets().is_empty(),
        "the shared registration went with it"
    );
    c.helm_delete(&b);
    c.wait_until("the second fails on the scale set", |c| {
        c.errors_containing("RunnerScaleSetNotFoundException") >= 3
    });
    assert!(c.get(&ars_gvk(), "team-b", "shared").is_some());
}

/// With `spec.vaultConfig` the credentials come from the vault: no
/// Kubernetes Secret is read (none exists); an unreachable vault stalls the
/// teardown until it is back.
#[test]
fn a_vault_backed_runner_set_reads_the_vault_not_a_secret() {
    let c = Cluster::start();
    c.arc.vault().put_token("github-pat", "vault-token");
    let url = "https://arc-kv.vault.azure.net";
    let objs = install_ready(
        &c,
        &RunnerSet {
            github_config_secret: GitHubConfigSecret::Named("github-pat".to_string()),
            key_vault: Some(KeyVault {
                url: url.to_string(),
                proxy: None,
            }),
            ..one_runner(1)
        },
        1,
    );
    let read_secret = c
        .sim
        .event_log()
        .iter()
        .any(|e| e.actor == CONTROLLER && e.kind == "Secret" && e.name == "github-pat");
    assert!(!read_secret, "the vault key is not a Kubernetes Secret");
    assert!(objs.iter().all(|o| str_at(o, "/kind") != "Secret"));
    c.arc.vault().set_reachable(false);
    c.helm_delete(&objs);
    c.wait_until("the vault cannot be reached", |c| {
        c.errors_containing(&format!(
            "failed to resolve app config: failed to resolve secret: failed to get secret: Get \"{url}/secrets/github-pat/"
        )) >= 2
    });
    assert!(c.ars().is_some());
    c.arc.vault().set_reachable(true);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// The manager RoleBinding must bind the ServiceAccount the running
/// controller uses (its Deployment's labels): bound to another one, every
/// Secret read in the runner namespace is Forbidden, which reads as missing.
#[test]
fn the_manager_role_binding_must_bind_the_running_controller() {
    let c = Cluster::start();
    let objs = c.install(&RunnerSet {
        controller: ControllerRelease {
            release: "other".to_string(),
            ..ControllerRelease::default()
        },
        ..one_runner(1)
    });
    c.wait_until("the runner set cannot read its Secret", |c| {
        c.errors_containing(
            "failed to get kubernetes secret: \"arc-runners/arc-runner-set-gha-rs-github-secret\"",
        ) >= 2
    });
    assert!(
        c.ars()
            .is_some_and(|a| annotation(&a, ANN_SCALE_SET_ID).is_none())
    );
    c.patch(
        &rbac("RoleBinding"),
        Some(NS),
        "arc-runner-set-gha-rs-manager",
        json!({"subjects": [{"kind": "ServiceAccount", "name": "arc-gha-rs-controller", "namespace": "arc-systems"}]}),
    );
    wait_set_ready(&c, &objs, 1);
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
}

/// A single-namespace controller serves only that namespace: a runner set
/// elsewhere gets nothing, not even the finalizer, so deleting it leaves its
/// chart objects protected for good.
#[test]
fn a_single_namespace_controller_serves_only_its_namespace() {
    let c = Cluster::start_custom(
        SimConfig::default(),
        ArcConfig::default(),
        &ControllerRelease {
            watch_single_namespace: Some(NS.to_string()),
            ..ControllerRelease::default()
        },
    );
    c.ensure_namespace("elsewhere");
    let served = install_ready(&c, &one_runner(1), 1);
    let ignored = c.install(&RunnerSet {
        namespace: "elsewhere".to_string(),
        ..one_runner(1)
    });
    quiet_period(&c);
    let ars = c.get(&ars_gvk(), "elsewhere", "arc-runner-set").unwrap();
    assert!(finalizers(&ars).is_empty() && annotation(&ars, ANN_SCALE_SET_ID).is_none());
    assert!(
        c.arc
            .log()
            .iter()
            .all(|l| !l.object.starts_with("elsewhere/"))
    );
    assert_eq!(c.github.scale_sets().len(), 1);
    c.helm_delete(&ignored);
    c.wait_until("the runner set went at once", |c| {
        c.get(&ars_gvk(), "elsewhere", "arc-runner-set").is_none()
    });
    quiet_period(&c);
    let rb = c
        .get(
            &rbac("RoleBinding"),
            "elsewhere",
            "arc-runner-set-gha-rs-manager",
        )
        .expect("left Terminating");
    assert!(is_deleting(&rb) && has_finalizer(&rb, CLEANUP_PROTECTION));
    c.helm_delete(&served);
    c.wait_until("the served release is gone", |c| gone(c, &served));
}

/// Upstream #4585: a runner whose pod died mid-job is deleted (it has a
/// job), and its registration finalizer then waits on JobStillRunning for
/// ever, its pod terminal, GitHub still holding the job.
#[test]
fn a_runner_whose_pod_died_mid_job_waits_for_ever() {
    let c = Cluster::start();
    install_ready(&c, &one_runner(1), 1);
    let runner = name(&c.runners()[0]).to_string();
    c.arc.start_job(NS, &runner, None).unwrap();
    c.arc.kill_runner(NS, &runner, 137).unwrap();
    c.wait_until("the runner waits on its job", |c| {
        c.get(&er_gvk(), NS, &runner)
            .is_some_and(|r| is_deleting(&r))
            && c.logged("Runner is not finished yet, retrying in 30s") >= 3
    });
    let er = c.get(&er_gvk(), NS, &runner).unwrap();
    assert!(has_finalizer(&er, ER_REGISTRATION_FINALIZER));
    assert!(!str_at(&er, "/status/jobId").is_empty());
    let pod = c.get(&core("Pod"), NS, &runner).expect("the pod is kept");
    assert_eq!(pod["status"]["phase"], "Failed");
    assert!(c.github.runners().iter().any(|r| r.job.is_some()));
    c.delete(&core("Pod"), Some(NS), &runner);
    let before = c.logged("Runner is not finished yet, retrying in 30s");
    c.wait_until("with the pod gone it still waits", |c| {
        c.logged("Runner is not finished yet, retrying in 30s") >= before + 3
    });
    assert!(c.get(&er_gvk(), NS, &runner).is_some());
}

// ---- versions and upgrade states (audit §2.4, #14 items 5 and 8) ----------------

/// Point the controller Deployment at another image tag (what `helm upgrade`
/// of the controller chart does): the simulated controller restarts as that build.
fn set_controller_version(c: &Cluster, tag: &str) {
    let mut d = c
        .get(&deployment_gvk(), "arc-systems", "arc-gha-rs-controller")
        .unwrap();
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(format!(
        "ghcr.io/actions/gha-runner-scale-set-controller:{tag}"
    ));
    d["metadata"]["labels"][LABEL_VERSION] = json!(tag);
    c.api.update(&c.user, d).unwrap();
}

fn start_at(version: &str) -> Cluster {
    Cluster::start_custom(
        SimConfig::default(),
        ArcConfig::default(),
        &ControllerRelease {
            version: version.to_string(),
            ..ControllerRelease::default()
        },
    )
}

fn runner_set_at(version: &str, min_runners: i64) -> RunnerSet {
    RunnerSet {
        version: version.to_string(),
        ..one_runner(min_runners)
    }
}

fn listeners_of(c: &Cluster, ars: &str) -> Vec<Value> {
    c.list(&listener_gvk(), Some("arc-systems"))
        .into_iter()
        .filter(|l| str_at(l, "/spec/autoscalingRunnerSetName") == ars)
        .collect()
}

/// The build version comes from the controller Deployment's image tag.
#[test]
fn the_controller_runs_the_version_its_deployment_names() {
    let c = start_at("0.13.1");
    c.wait_until("the controller runs 0.13.1", |c| {
        c.arc.is_active() && c.arc.version().as_str() == "0.13.1"
    });
    set_controller_version(&c, "0.15.0");
    c.wait_until("the controller runs 0.15.0", |c| {
        c.arc.version().as_str() == "0.15.0"
    });
    assert_eq!(c.arc.version().line(), arc_sim::controller::ArcLine::Head);
}

/// 0.13.x: no `status.phase`, and the deletion steps run inline, each waiting
/// for watch events rather than requeueing.
#[test]
fn a_0_13_controller_has_no_phase_and_finalizes_without_requeue() {
    let c = start_at("0.13.1");
    let objs = install_ready(&c, &runner_set_at("0.13.1", 1), 1);
    c.wait_until("the runner count is reported", |c| {
        c.ars().is_some_and(|a| a["status"]["currentRunners"] == 1)
    });
    let ars = c.ars().unwrap();
    assert!(ars["status"].get("phase").is_none() && ars["status"].get("state").is_none());
    assert!(annotation(&ars, ANN_CHANGE_HASH).is_none());
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert_eq!(
        c.logged("Waiting for resources to be cleaned up before removing finalizer"),
        0
    );
    assert!(c.logged("Cleanup finished or failed ephemeral runners") >= 1);
    assert!(c.github.is_empty());
}

/// HEAD: one EphemeralRunnerSet named after the runner set, with
/// `ephemeralrunnerset.actions.github.com/finalizer`.
#[test]
fn head_names_the_runner_set_after_the_ars_with_its_own_finalizer() {
    let c = start_at("0.15.0");
    let objs = install_ready(&c, &runner_set_at("0.15.0", 1), 1);
    let sets = c.list(&ers_gvk(), Some(NS));
    assert_eq!(sets.len(), 1);
    assert_eq!(name(&sets[0]), "arc-runner-set");
    assert_eq!(finalizers(&sets[0]), vec![ERS_FINALIZER_HEAD]);
    assert!(annotation(&c.ars().unwrap(), ANN_INTEGRITY_HASH).is_some());
    assert_eq!(
        c.listener().unwrap()["spec"]["ephemeralRunnerSetName"],
        "arc-runner-set"
    );
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.list(&ers_gvk(), Some(NS)).is_empty());
    assert!(c.github.is_empty());
}

/// 0.14 → HEAD: the runner set of the 0.14 era (generateName) is not looked
/// up any more; HEAD adds its own finalizer to it and later removes only
/// that one, so after the teardown it stays Terminating on
/// `ephemeralrunner.actions.github.com/finalizer`.
#[test]
fn an_upgrade_to_head_leaves_the_old_runner_set_on_its_old_finalizer() {
    let c = start_at("0.14.2");
    let objs = install_ready(&c, &one_runner(1), 1);
    let old = c.list(&ers_gvk(), Some(NS)).remove(0);
    assert_ne!(name(&old), "arc-runner-set");
    c.arc.stop();
    set_controller_version(&c, "0.15.0");
    c.patch(
        &ars_gvk(),
        Some(NS),
        "arc-runner-set",
        json!({"metadata": {"labels": {LABEL_VERSION: "0.15.0"}}}),
    );
    c.arc.restart();
    c.wait_until("HEAD made its own runner set and marked the old one", |c| {
        c.get(&ers_gvk(), NS, "arc-runner-set").is_some()
            && c.get(&ers_gvk(), NS, name(&old))
                .is_some_and(|o| has_finalizer(&o, ERS_FINALIZER_HEAD))
    });
    let marked = c.get(&ers_gvk(), NS, name(&old)).unwrap();
    assert!(
        has_finalizer(&marked, ER_FINALIZER),
        "the 0.14 finalizer stays"
    );
    c.helm_delete(&objs);
    // The old set is deleted by the garbage collector once the runner set is
    // gone, after Helm deleted the GitHub Secret and the manager RBAC: its
    // idle runner cannot leave GitHub.
    c.wait_until("the old set is Terminating without credentials", |c| {
        c.ars().is_none()
            && c.get(&ers_gvk(), NS, name(&old))
                .is_some_and(|o| is_deleting(&o))
            && c.errors_containing("failed to get kubernetes secret") >= 2
    });
    for o in objs
        .iter()
        .filter(|o| str_at(o, "/kind") == "Secret" || name(o) == "arc-runner-set-gha-rs-manager")
    {
        let mut restored = o.clone();
        restored["metadata"]["finalizers"] = json!([]);
        c.api.create(&c.user, restored).unwrap();
    }
    c.wait_until("HEAD drained it and removed only its own finalizer", |c| {
        c.get(&ers_gvk(), NS, name(&old))
            .is_some_and(|o| finalizers(&o) == vec![ER_FINALIZER])
            && c.runners().is_empty()
    });
    quiet_period(&c);
    let stuck = c.get(&ers_gvk(), NS, name(&old)).expect("stuck for good");
    assert_eq!(finalizers(&stuck), vec![ER_FINALIZER]);
}

/// Up to 0.13.0 the listener name hashed the namespace only; 0.13.1 (#4299)
/// looks for the new name, creates a second listener and never deletes the
/// first (upstream #4629): it outlives the runner set.
#[test]
fn an_upgrade_from_0_13_0_leaves_a_second_listener_behind() {
    let c = start_at("0.13.0");
    let objs = install_ready(&c, &runner_set_at("0.13.0", 1), 1);
    let ars = c.ars().unwrap();
    let legacy = legacy_listener_name(&ars);
    assert!(c.get(&listener_gvk(), "arc-systems", &legacy).is_some());
    set_controller_version(&c, "0.13.1");
    c.wait_until("a second listener serves the runner set", |c| {
        listeners_of(c, "arc-runner-set").len() == 2
            && c.get(&core("Pod"), "arc-systems", &listener_name(&ars))
                .is_some()
    });
    c.helm_delete(&objs);
    c.wait_until("the runner set is gone", |c| c.ars().is_none());
    let orphan = c
        .get(&listener_gvk(), "arc-systems", &legacy)
        .expect("left behind");
    assert!(!is_deleting(&orphan));
    assert!(
        c.get(&core("Pod"), "arc-systems", &legacy).is_some(),
        "still running"
    );
    // Nothing triggers it until the controller re-lists (a restart, or the
    // informers' resync): then it fails on every pass.
    c.arc.stop();
    c.arc.restart();
    c.wait_until("the orphan fails on its missing runner set", |c| {
        c.arc.log().iter().any(|l| {
            l.object == format!("arc-systems/{legacy}")
                && l.message == "Failed to find AutoscalingRunnerSet."
        })
    });
}

/// A runner group (or URL) change renames the listener: the new one is
/// created, the old one is never looked up again (upstream #4346/#4629).
#[test]
fn a_runner_group_change_leaves_the_old_listener_behind() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    let old = listener_name(&c.ars().unwrap());
    c.patch(
        &ars_gvk(),
        Some(NS),
        "arc-runner-set",
        json!({"spec": {"runnerGroup": "larger-runners"}}),
    );
    c.wait_until("the runner set moved and has a second listener", |c| {
        c.ars().is_some_and(|a| {
            annotation(&a, ANN_RUNNER_GROUP_NAME) == Some("larger-runners")
                && c.get(&core("Pod"), "arc-systems", &listener_name(&a))
                    .is_some()
        }) && listeners_of(c, "arc-runner-set").len() == 2
    });
    assert_eq!(c.github.scale_sets()[0].runner_group, "larger-runners");
    c.helm_delete(&objs);
    c.wait_until("the runner set is gone", |c| c.ars().is_none());
    let orphan = c
        .get(&listener_gvk(), "arc-systems", &old)
        .expect("left behind");
    assert!(!is_deleting(&orphan) && has_finalizer(&orphan, LISTENER_FINALIZER));
}

/// A runner spec change makes a new EphemeralRunnerSet; the old one is
/// deleted and drains: a busy runner holds it until its job ends.
#[test]
fn a_template_change_starts_a_new_runner_set_while_the_old_one_drains() {
    let c = Cluster::start();
    let objs = install_ready(&c, &one_runner(1), 1);
    let old = c.list(&ers_gvk(), Some(NS)).remove(0);
    let busy = name(&c.runners()[0]).to_string();
    let runner_id = c.arc.start_job(NS, &busy, None).unwrap();
    let mut ars = c.ars().unwrap();
    ars["spec"]["template"]["metadata"] = json!({"labels": {"team": "build"}});
    c.api.update(&c.user, ars).unwrap();
    c.wait_until("a new runner set runs while the old one drains", |c| {
        let sets = c.list(&ers_gvk(), Some(NS));
        sets.len() == 2
            && sets.iter().any(|s| name(s) == name(&old) && is_deleting(s))
            && sets
                .iter()
                .any(|s| name(s) != name(&old) && s["status"]["runningEphemeralRunners"] == 1)
    });
    assert!(c.logged("Runner is still running a job, skipping deletion") >= 1);
    let held = c.get(&er_gvk(), NS, &busy).unwrap();
    assert!(has_finalizer(&held, ER_REGISTRATION_FINALIZER));
    let listener = c.listener().unwrap();
    assert_ne!(
        listener["spec"]["ephemeralRunnerSetName"],
        json!(name(&old))
    );
    c.github.finish_job(runner_id);
    c.wait_until("the old runner set drained", |c| {
        c.get(&ers_gvk(), NS, name(&old)).is_none()
    });
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| gone(c, &objs));
    assert!(c.github.is_empty());
}

/// Scale-down passes over runners that have not registered yet (0.14.2
/// `deleteIdleEphemeralRunners`).
#[test]
fn scale_down_skips_unregistered_runners() {
    let c = Cluster::start();
    install_ready(&c, &one_runner(1), 1);
    c.github.revoke_token(DEFAULT_TOKEN);
    c.patch(
        &ars_gvk(),
        Some(NS),
        "arc-runner-set",
        json!({"spec": {"minRunners": 2}}),
    );
    c.wait_until("a second runner cannot register", |c| {
        c.runners().len() == 2
            && c.errors_containing("failed to get actions client for generating JIT config")
                + c.errors_containing("failed to generate JIT config")
                >= 1
    });
    c.patch(
        &ars_gvk(),
        Some(NS),
        "arc-runner-set",
        json!({"spec": {"minRunners": 0}}),
    );
    c.wait_until("scale-down skipped the unregistered runner", |c| {
        c.logged("Skipping ephemeral runner since it is not registered yet") >= 1
    });
    assert!(
        c.runners()
            .iter()
            .any(|r| r.pointer("/status/runnerId").is_none()),
        "the unregistered runner is kept"
    );
}

/// The vault's own proxy credentials (`vaultConfig.proxy.*.credentialSecretRef`)
/// are Kubernetes Secrets the controller reads before it reaches the vault.
#[test]
fn a_vault_proxy_credential_secret_is_read_from_kubernetes() {
    let c = Cluster::start();
    c.arc.vault().put_token("github-pat", "vault-token");
    let objs = c.install(&RunnerSet {
        github_config_secret: GitHubConfigSecret::Named("github-pat".to_string()),
        key_vault: Some(KeyVault {
            url: "https://arc-kv.vault.azure.net".to_string(),
            proxy: Some(json!({"https": {"url": "http://proxy.example:3128", "credentialSecretRef": "vault-proxy"}})),
        }),
        ..one_runner(1)
    });
    c.wait_until("the vault proxy Secret is missing", |c| {
        c.errors_containing(
            "failed to get resolver for object: failed to create proxy config: failed to get secret vault-proxy for https proxy: failed to get secret vault-proxy: secrets \"vault-proxy\" not found",
        ) >= 2
    });
    assert!(c.github.is_empty());
    c.api
        .create(
            &c.user,
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "vault-proxy", "namespace": NS},
                   "data": {"username": "dQ==", "password": "cA=="}}),
        )
        .unwrap();
    wait_set_ready(&c, &objs, 1);
}
