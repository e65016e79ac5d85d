//! Scenario tests of issue #14: what really wedges ARC, each named by
//! preflight or diagnosis and fixed safely, against the API simulator with
//! its ARC controller and fake GitHub, installed through real Helm 3 and
//! Helm 4 (each scenario runs on both) and torn down by the built binary. Every test names the item it covers; each fails without its fix.
//!
//! Slow (seconds each, the real-timing one about a minute): its own binary.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use arc_sim::controller::names::{ER_FINALIZER, ERS_FINALIZER_HEAD};
use arc_sim::controller::{ArcConfig, ArcVersion, Timing};
use kube_sim::SimConfig;
use scenario::cli_output::{describe, first_event, json_lines as events};
use scenario::event_log::{is_ours, is_write};
use scenario::sim_env::{ARC_API, CONTROLLER_NS, ScenarioEnv, chart, hau_in, start, wait_until};
use scenario::upgrade;
use serde_json::{Value, json};
use std::process::Output;
use std::time::Duration;
use support::Helm;

const RELEASE: &str = "arc-runner-set";
const NS: &str = "arc-runners";
/// The fake token in examples/charts/arc-runner-set/values.yaml.
const TOKEN: &str = "ghp_EXAMPLEexampleEXAMPLE000000000000";

struct Env {
    scenario: ScenarioEnv,
}

impl Env {
    fn new(helm: Helm, min_runners: u32) -> Env {
        Env::with(helm, min_runners, ArcConfig::default())
    }

    /// Controller and one runner-set release, ready (registered, listener, runners).
    fn with(helm: Helm, min_runners: u32, arc_config: ArcConfig) -> Env {
        let env = Env {
            scenario: start(helm, SimConfig::default(), arc_config),
        };
        env.scenario.install_controller(&[]);
        env.install_runner_set(RELEASE, NS, min_runners, &[]);
        env
    }

    fn install_runner_set(&self, release: &str, ns: &str, min_runners: u32, extra: &[&str]) {
        let mut args = vec![
            "install".to_string(),
            release.to_string(),
            chart("arc-runner-set").to_str().unwrap().to_string(),
            "-n".into(),
            ns.into(),
            "--create-namespace".into(),
            "--set".into(),
            format!("minRunners={min_runners}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.scenario
            .helm_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        if !self.scenario.controller_running() {
            return;
        }
        self.wait_ready(ns, min_runners);
    }

    /// Wait until a runner set of `ns` is registered and has `min_runners`
    /// registered runners.
    fn wait_ready(&self, ns: &str, min_runners: u32) {
        wait_until("runner set ready", Duration::from_secs(30), || {
            // The chart names the runner set after runnerScaleSetName, else the release.
            let registered = self
                .scenario
                .list(ARC_API, "AutoscalingRunnerSet", Some(ns))
                .iter()
                .any(|a| {
                    a.pointer("/metadata/annotations/runner-scale-set-id")
                        .is_some()
                });
            let runners = self
                .scenario
                .list(ARC_API, "EphemeralRunner", Some(ns))
                .iter()
                .filter(|r| r.pointer("/status/runnerId").is_some())
                .count();
            registered && runners == min_runners as usize
        });
    }

    /// `helm install release chart -n ns --set minRunners=...` of a chart
    /// directory, then wait until the runner set is ready.
    fn install_chart(&self, release: &str, ns: &str, chart: &std::path::Path, min_runners: u32) {
        self.scenario.helm_ok(&[
            "install",
            release,
            chart.to_str().unwrap(),
            "-n",
            ns,
            "--create-namespace",
            "--set",
            &format!("minRunners={min_runners}"),
        ]);
        self.wait_ready(ns, min_runners);
    }

    fn ars_in(&self, ns: &str, name: &str) -> Option<Value> {
        self.scenario
            .get(ARC_API, "AutoscalingRunnerSet", Some(ns), name)
    }

    fn teardown_of(&self, release: &str, ns: &str, args: &[&str]) -> Output {
        hau_in(&self.scenario, ns, &["uninstall", release, "-o", "json"])
            .args(args)
            .output()
            .expect("run helm-arc-uninstall")
    }

    fn teardown(&self, args: &[&str]) -> Output {
        self.teardown_of(RELEASE, NS, args)
    }

    fn patch(&self, api_version: &str, kind: &str, ns: Option<&str>, name: &str, patch: Value) {
        self.scenario
            .patch_by_hand(api_version, kind, ns, name, &patch);
    }

    fn runners(&self) -> Vec<Value> {
        self.scenario.list(ARC_API, "EphemeralRunner", Some(NS))
    }

    fn release_gone(&self, release: &str, ns: &str) -> bool {
        !self
            .scenario
            .helm_cmd(&["status", release, "-n", ns])
            .output()
            .expect("helm status")
            .status
            .success()
    }

    /// No write by the binary since log position `from`.
    fn assert_no_write_since(&self, from: usize) {
        let writes: Vec<String> = self.scenario.log()[from..]
            .iter()
            .filter(|e| is_ours(e) && is_write(e))
            .map(|e| format!("{} {}/{}", e.verb, e.kind, e.name))
            .collect();
        assert!(writes.is_empty(), "a refusal wrote: {writes:?}");
    }

    /// `kubectl -n ns args` (any target), which must succeed.
    fn kubectl(&self, ns: &str, args: &[&str]) -> Output {
        let mut all = vec!["-n", ns];
        all.extend_from_slice(args);
        self.scenario.helm.kubectl(&all)
    }

    /// `doctor -n ns args -o json` of the built binary: exit code and report.
    fn doctor(&self, ns: &str, args: &[&str]) -> (Option<i32>, Value) {
        let out = hau_in(&self.scenario, ns, &["doctor", "-o", "json"])
            .args(args)
            .output()
            .expect("run doctor");
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor JSON ({e}): {}", describe(&out)));
        (out.status.code(), report)
    }

    /// Run a fix command doctor printed, as a shell line with this
    /// environment's kubectl first on PATH (any target).
    fn run_fix(&self, fix: &str) {
        let kubectl_dir = self.scenario.helm.version.kubectl();
        let path = format!(
            "{}:{}",
            kubectl_dir.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", fix]);
        self.scenario.helm.home.isolate(&mut cmd);
        cmd.env("PATH", path);
        support::run_ok(&mut cmd);
    }

    /// The AutoscalingListeners of runner set `ns/name` (by spec), by name.
    fn listeners_of(&self, ns: &str, name: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .scenario
            .list(ARC_API, "AutoscalingListener", Some(CONTROLLER_NS))
            .iter()
            .filter(|l| {
                l["spec"]["autoscalingRunnerSetName"] == name
                    && l["spec"]["autoscalingRunnerSetNamespace"] == ns
            })
            .map(|l| l["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    fn controller_deployment(&self) -> String {
        self.scenario
            .list("apps/v1", "Deployment", Some(CONTROLLER_NS))[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn refused(out: &Output, cause: &str) -> Value {
    assert_eq!(out.status.code(), Some(4), "{}", describe(out));
    let refused = first_event(out, "refused");
    assert_eq!(refused["cause"], cause, "{refused}");
    refused
}

fn no_secret_values(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(TOKEN), "the token was printed");
}

/// #14 item 2: a config Secret without usable keys is named (key names
/// only), the credentials ladder is the forced fix.
fn item2_config_secret_without_credentials_is_invalid_credentials(helm: Helm) {
    let env = Env::new(helm, 1);
    let secret = format!("{RELEASE}-gha-rs-github-secret");
    env.patch(
        "v1",
        "Secret",
        Some(NS),
        &secret,
        json!({"data": {"github_token": null}, "stringData": null}),
    );
    let before = env.scenario.log().len();
    let out = env.teardown(&[]);
    let r = refused(&out, "invalid_credentials");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("holds neither github_token nor the GitHub App keys"),
        "{message}"
    );
    no_secret_values(&out);
    env.assert_no_write_since(before);

    let out = env.teardown(&["--force-finalizers", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(events(&out).iter().any(|e| e["event"] == "leak"));
    assert!(env.release_gone(RELEASE, NS));
}

/// #14 item 2: a missing proxy credential Secret is named.
fn item2_missing_proxy_credential_secret_is_named(helm: Helm) {
    let env = Env::new(helm, 0);
    env.patch(ARC_API, "AutoscalingRunnerSet", Some(NS), RELEASE,
        json!({"spec": {"proxy": {"https": {"url": "http://proxy.example:3128", "credentialSecretRef": "proxy-creds"}}}}));
    let r = refused(&env.teardown(&[]), "missing_proxy_secret");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("arc-runners/proxy-creds named by spec.proxy.https.credentialSecretRef")
    );
}

/// #14 item 2: the githubServerTLS ConfigMap the controller reads for every
/// GitHub call is gone: named, and refused (the controller would retry forever).
fn item2_missing_github_server_tls_config_map_is_named(helm: Helm) {
    let env = Env::new(helm, 0);
    env.patch(ARC_API, "AutoscalingRunnerSet", Some(NS), RELEASE,
        json!({"spec": {"githubServerTLS": {"certificateFrom": {"configMapKeyRef": {"name": "ghes-ca", "key": "ca.crt"}}}}}));
    let before = env.scenario.log().len();
    let r = refused(&env.teardown(&[]), "missing_tls_config");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("The ConfigMap arc-runners/ghes-ca named by spec.githubServerTLS"),
        "{r}"
    );
    env.assert_no_write_since(before);
}

/// #14 item 2: a vault-backed runner set is not "missing credentials": the
/// tool says it cannot check the vault and offers no credentials ladder.
fn item2_vault_backed_runner_set_is_not_missing_credentials(helm: Helm) {
    let env = Env::new(helm, 0);
    env.patch(ARC_API, "AutoscalingRunnerSet", Some(NS), RELEASE,
        json!({"spec": {"githubConfigSecret": "github-app-in-vault",
               "vaultConfig": {"type": "azure_key_vault", "azureKeyVault": {"url": "https://v.example/"}}}}));
    let out = env.teardown(&["--dry-run", "--force-finalizers"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    assert!(!evs.iter().any(|e| e["event"] == "refused"));
    assert!(
        !evs.iter().any(|e| e["event"] == "ladder"),
        "no ladder on that ground"
    );
    let note = evs
        .iter()
        .find(|e| {
            e["event"] == "check"
                && e["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("cannot check")
        })
        .unwrap_or_else(|| panic!("a vault note:\n{}", describe(&out)));
    assert!(note["detail"].as_str().unwrap().contains("cannot check"));
}

/// #14 item 2: a scale set GitHub refuses to delete (here: already deleted
/// on GitHub) leaves the ARS with its scale set id after the listener and
/// runner sets are gone; diagnosed as such, and the forced run finishes.
fn item2_scale_set_gone_on_github_is_scale_set_undeletable(helm: Helm) {
    let env = Env::new(helm, 1);
    let id: i64 =
        env.ars_in(NS, RELEASE).unwrap()["metadata"]["annotations"]["runner-scale-set-id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    // Deleted on GitHub behind the controller's back.
    assert!(env.scenario.delete_scale_set_on_github(id));
    let out = env.teardown(&["--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let diag = first_event(&out, "diagnosis");
    assert_eq!(diag["cause"], "scale_set_undeletable", "{diag}");
    assert!(
        diag["next_command"]
            .as_str()
            .unwrap()
            .ends_with("--force-finalizers")
    );

    // A loaded machine needs more than one 3 s wait for the late ladder.
    let out = env.teardown(&["--force-finalizers", "--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.release_gone(RELEASE, NS));
}

/// #14 item 3: two runner sets with the same scale set name, group and URL
/// share one registration: refused, then `--keep-registration` leaves it to
/// the other, whose own teardown then deletes it.
fn item3_shared_registration_is_refused_then_kept_for_the_other(helm: Helm) {
    // Pods on a node, ended by the kubelet after 1 s: the listener takes
    // seconds to go, as on a cluster.
    shared_registration_is_refused_then_kept(
        helm,
        Timing {
            pods_on_node: true,
            ..reacting_as_over_github()
        },
    );
}

/// #14 item 3, the race: with nothing to wait for before the controller's
/// deletion branch reads the scale set id (no listener pod), the id must
/// already be gone when the runner set is deleted, or the controller deletes
/// the shared scale set.
fn item3_kept_registration_survives_a_deletion_branch_with_nothing_to_wait_for(helm: Helm) {
    shared_registration_is_refused_then_kept(helm, reacting_as_over_github());
}

/// The real controller puts a removed scale set id back only after a GitHub
/// round trip (GetRunnerScaleSet by name); 100 ms before each reaction models
/// it. (With none, the simulated controller re-adds the id between the
/// product's PATCH and DELETE, and the product retries until it wins.)
fn reacting_as_over_github() -> Timing {
    Timing {
        step_delay: Duration::from_millis(100),
        ..Timing::fast()
    }
}

fn shared_registration_is_refused_then_kept(helm: Helm, timing: Timing) {
    let env = Env {
        scenario: start(
            helm,
            SimConfig {
                gc_delay: Duration::from_secs(1),
                ..SimConfig::default()
            },
            ArcConfig {
                timing,
                ..ArcConfig::default()
            },
        ),
    };
    env.scenario.install_controller(&[]);
    env.install_runner_set(RELEASE, NS, 1, &[]);
    env.install_runner_set(
        "team-b",
        "team-b",
        1,
        &["--set", &format!("runnerScaleSetName={RELEASE}")],
    );
    let id_a =
        env.ars_in(NS, RELEASE).unwrap()["metadata"]["annotations"]["runner-scale-set-id"].clone();
    let id_b =
        env.ars_in("team-b", RELEASE).unwrap()["metadata"]["annotations"]["runner-scale-set-id"]
            .clone();
    assert_eq!(id_a, id_b, "the controller reused the scale set by name");
    let before = env.scenario.log().len();
    let r = refused(&env.teardown(&[]), "shared_registration");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("with team-b/arc-runner-set"), "{message}");
    assert!(message.contains("--keep-registration"), "{message}");
    env.assert_no_write_since(before);

    let before = env.scenario.log().len();
    let out = env.teardown(&["--keep-registration", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        env.scenario.scale_sets_on_github(),
        1,
        "the shared registration is kept"
    );
    // The id is removed from the live runner set, then it is deleted on that
    // exact version (the API server's log, not timing).
    let log = env.scenario.log();
    let ours: Vec<_> = log[before..]
        .iter()
        .filter(|e| {
            is_ours(e)
                && is_write(e)
                && e.code < 300
                && e.kind == "AutoscalingRunnerSet"
                && e.namespace.as_deref() == Some(NS)
        })
        .map(|e| (e.verb.as_str(), e.rv))
        .collect();
    // One DELETE, last, after the PATCH removing the id (more than one PATCH
    // when the controller put the id back in between and the DELETE's
    // resourceVersion precondition failed).
    let verbs: Vec<&str> = ours.iter().map(|(verb, _)| *verb).collect();
    assert_eq!(verbs.last(), Some(&"delete"), "{ours:?}");
    assert!(
        verbs.len() >= 2 && verbs[..verbs.len() - 1].iter().all(|v| *v == "patch"),
        "{ours:?}"
    );
    let out = env.teardown_of("team-b", "team-b", &["--timeout", "20s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the other's teardown still works: {}",
        describe(&out)
    );
    assert!(env.scenario.nothing_on_github());
}

/// #14 item 4: a manager RoleBinding that binds another ServiceAccount than
/// the running controller's is named; forced, the bottom-up ladder finishes.
fn item4_role_binding_not_binding_the_controller_is_rbac_not_bound(helm: Helm) {
    let env = Env::new(helm, 1);
    let rb = format!("{RELEASE}-gha-rs-manager");
    env.patch("rbac.authorization.k8s.io/v1", "RoleBinding", Some(NS), &rb,
        json!({"subjects": [{"kind": "ServiceAccount", "name": "old-controller", "namespace": CONTROLLER_NS}]}));
    let r = refused(&env.teardown(&[]), "rbac_not_bound");
    assert!(r["message"].as_str().unwrap().contains(
        "binds arc-systems/old-controller but the running controller is ServiceAccount arc-systems/arc-gha-rs-controller"
    ), "{r}");
    let out = env.teardown(&["--force-finalizers", "--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.runners().is_empty());
}

/// #14 item 4: a single-namespace controller that watches another namespace
/// does not serve the runner set: "controller down" for it.
fn item4_single_namespace_controller_elsewhere_is_controller_down(helm: Helm) {
    let env = Env::new(helm, 0);
    let deployment = env.controller_deployment();
    env.patch("apps/v1", "Deployment", Some(CONTROLLER_NS), &deployment,
        json!({"metadata": {"labels": {"actions.github.com/controller-watch-single-namespace": "team-a"}}}));
    let r = refused(&env.teardown(&[]), "controller_down");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("No running ARC controller serves arc-runners/arc-runner-set"),
        "{r}"
    );
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("watches only team-a"),
        "{r}"
    );
}

/// An available controller Deployment that does not reconcile (the
/// simulator stopped, its Deployment reporting a ready replica), so a state
/// the controller would change at once stays as staged.
fn hold_controller(env: &Env) {
    env.scenario.stop_controller();
    let name = env.controller_deployment();
    env.scenario.patch_status_by_hand(
        "apps/v1",
        "Deployment",
        Some(CONTROLLER_NS),
        &name,
        &json!({"availableReplicas": 1, "readyReplicas": 1}),
    );
}

/// #14 item 7: a runner set of another major.minor that never got its
/// finalizer is deleted by the controller with no cleanup: refused, and
/// forced, its objects are freed of cleanup-protection once it is gone.
fn item7_version_skew_without_finalizer_is_refused_then_forced_frees_the_chart_objects(helm: Helm) {
    let env = Env {
        scenario: start(helm, SimConfig::default(), ArcConfig::default()),
    };
    env.scenario.install_controller(&[]);
    hold_controller(&env);
    env.install_runner_set(RELEASE, NS, 0, &[]);
    env.patch(
        ARC_API,
        "AutoscalingRunnerSet",
        Some(NS),
        RELEASE,
        json!({"metadata": {"labels": {"app.kubernetes.io/version": "0.13.1"}}}),
    );
    let r = refused(&env.teardown(&[]), "version_skew");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("without any cleanup"),
        "{r}"
    );

    let out = env.teardown(&["--force-finalizers", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.release_gone(RELEASE, NS));
    assert!(
        env.scenario
            .list("v1", "ServiceAccount", Some(NS))
            .is_empty()
    );
}

/// #14 items 2/7: chart objects a runner set left behind when it went
/// without cleanup keep cleanup-protection: diagnosed, and freed when forced.
fn item7_chart_objects_left_by_a_runner_set_gone_without_cleanup(helm: Helm) {
    let env = Env {
        scenario: start(helm, SimConfig::default(), ArcConfig::default()),
    };
    env.scenario.install_controller(&[]);
    hold_controller(&env);
    env.install_runner_set(RELEASE, NS, 0, &[]);
    // The controller deleted it on a version skew before it had a finalizer.
    assert!(
        env.scenario
            .delete_by_hand(ARC_API, "AutoscalingRunnerSet", Some(NS), RELEASE)
    );
    let out = env.teardown(&["--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(
        first_event(&out, "diagnosis")["cause"],
        "orphaned_cleanup_protection"
    );
    let out = env.teardown(&["--force-finalizers", "--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.release_gone(RELEASE, NS));
}

/// #14 item 8: an EphemeralRunnerSet carrying the 0.15 finalizer under a 0.14
/// controller (a downgrade): the controller removes only its own name, the
/// diagnosis names the one nobody removes and the forced run strips exactly
/// it (unknown names are never stripped: unit tests of `arc::versions` and
/// `teardown::ladder`).
fn item8_finalizer_of_another_line_is_stale_and_stripped_alone(helm: Helm) {
    let env = Env::new(helm, 1);
    let ers = env.scenario.list(ARC_API, "EphemeralRunnerSet", Some(NS))[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    env.patch(ARC_API, "EphemeralRunnerSet", Some(NS), &ers, json!({"metadata": {"finalizers": [
        "ephemeralrunner.actions.github.com/finalizer", "ephemeralrunnerset.actions.github.com/finalizer"]}}));
    let out = env.teardown(&["--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let diag = first_event(&out, "diagnosis");
    assert_eq!(diag["cause"], "stale_finalizer", "{diag}");
    assert!(
        diag["explanation"]
            .as_str()
            .unwrap()
            .contains("ephemeralrunnerset.actions.github.com/finalizer")
    );

    let out = env.teardown(&["--force-finalizers", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let patches: Vec<Value> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "ladder" && e["action"] == "patch")
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(
        patches[0]["removes"],
        json!(["ephemeralrunnerset.actions.github.com/finalizer"])
    );
    assert!(env.release_gone(RELEASE, NS));
}

/// #14 item 9: a runner stuck on a job whose pod is gone (upstream #4585) is
/// named as such, not as a busy runner; forced, only its registration goes.
fn item9_busy_runner_whose_pod_is_gone_is_runner_pod_gone(helm: Helm) {
    let env = Env::new(helm, 1);
    let runner = env.runners()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    env.scenario.start_job(NS, &runner, None);
    // The runner is being deleted (as a scale-down would) and its pod dies;
    // GitHub still counts the job.
    assert!(
        env.scenario
            .delete_by_hand(ARC_API, "EphemeralRunner", Some(NS), &runner)
    );
    // A reconcile that read the runner before its deletion reached the
    // controller's cache creates the pod again (as the real controller's
    // informers may): deleted until it stays gone.
    let mut absent_since: Option<std::time::Instant> = None;
    wait_until("the pod stays gone", Duration::from_secs(20), || {
        if env.scenario.get("v1", "Pod", Some(NS), &runner).is_some() {
            env.scenario.delete_by_hand("v1", "Pod", Some(NS), &runner);
            absent_since = None;
            return false;
        }
        absent_since
            .get_or_insert_with(std::time::Instant::now)
            .elapsed()
            >= Duration::from_secs(1)
    });
    assert!(
        env.scenario
            .get(ARC_API, "EphemeralRunner", Some(NS), &runner)
            .is_some_and(|r| r["status"]["jobRequestId"].as_i64().unwrap_or(0) != 0),
        "the runner is still busy"
    );
    // The runner never finishes: the wave times out whatever --timeout is
    // (5 s leaves room for a loaded machine to reach the wait).
    let out = env.teardown(&["--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let diag = first_event(&out, "diagnosis");
    assert_eq!(diag["cause"], "runner_pod_gone", "{diag}");
    assert!(diag["explanation"].as_str().unwrap().contains(&runner));

    let out = env.teardown(&["--force-finalizers", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.release_gone(RELEASE, NS));
}

/// #14 item 1: with the controller's real requeues (1 s listener, 5 s runner
/// set) and a second between its steps, credentials lost: one forced
/// invocation finishes although the live runner set recreates runners.
fn item1_credentials_ladder_with_real_timings_finishes_in_one_run(helm: Helm) {
    let timing = Timing {
        step_delay: Duration::from_millis(1000),
        ..Timing::real()
    };
    let env = Env::with(
        helm,
        2,
        ArcConfig {
            timing,
            ..ArcConfig::default()
        },
    );
    let secret = format!("{RELEASE}-gha-rs-github-secret");
    env.patch(
        "v1",
        "Secret",
        Some(NS),
        &secret,
        json!({"metadata": {"finalizers": null}}),
    );
    assert!(
        env.scenario
            .delete_by_hand("v1", "Secret", Some(NS), &secret)
    );
    // Within one --timeout: the ladder is planned again while the wave waits
    // (without that, the runners the live set recreated wedge its cleanup
    // until the wave times out).
    let out = env.teardown(&["--force-finalizers", "--timeout", "45s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    assert!(
        !evs.iter().any(|e| e["event"] == "wave_timed_out"),
        "{}",
        describe(&out)
    );
    let first_ladder = evs.iter().find(|e| e["event"] == "ladder").expect("ladder");
    assert_eq!(
        first_ladder["rung"], "EphemeralRunnerSets",
        "{first_ladder}"
    );
    assert_eq!(first_ladder["action"], "delete");
    assert!(env.release_gone(RELEASE, NS));
    wait_until(
        "no runner or runner set left",
        Duration::from_secs(20),
        || {
            env.runners().is_empty()
                && env
                    .scenario
                    .list(ARC_API, "EphemeralRunnerSet", Some(NS))
                    .is_empty()
        },
    );
}

/// The findings of one kind in a doctor report, by object.
fn findings_of<'r>(report: &'r Value, kind: &str) -> Vec<&'r Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

/// #14 item 6: after a `helm upgrade` that changes containerMode and
/// githubConfigSecret while a runner is busy, the dropped kube-mode
/// ServiceAccount/Role/RoleBinding and the old GitHub Secret keep
/// cleanup-protection and no runner set names them (the upgrade trap), but
/// the old runner set drains through them. `doctor --fix` reports them,
/// names their users and patches nothing; once the drain is over, the same
/// command frees them, and the release still tears down.
fn item6_doctor_fix_leaves_what_a_draining_runner_set_still_uses(helm: Helm) {
    let env = Env::new(helm, 1);
    let runner = env.runners()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    // Simulator-only control: a job on the runner (fake GitHub).
    let job = env.scenario.start_job(NS, &runner, None);
    env.kubectl(
        NS,
        &[
            "create",
            "secret",
            "generic",
            "github-new",
            "--from-literal=github_token=ghp_EXAMPLEnewNEW00000000000000000000",
        ],
    );
    let kube_mode = upgrade::drop_kube_mode_and(
        &env.scenario,
        NS,
        RELEASE,
        &["--set", "githubConfigSecret=github-new"],
    );
    let old_secret = format!("{RELEASE}-gha-rs-github-secret");
    let no_permission = format!("{RELEASE}-gha-rs-no-permission");
    upgrade::wait_new_runner_set(&env.scenario, NS, &no_permission, Duration::from_secs(30));
    let trapped = [
        ("v1", "ServiceAccount", kube_mode.as_str()),
        ("rbac.authorization.k8s.io/v1", "Role", kube_mode.as_str()),
        (
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            kube_mode.as_str(),
        ),
        ("v1", "Secret", old_secret.as_str()),
    ];
    wait_until(
        "the old runner set drains behind its busy runner",
        Duration::from_secs(30),
        || {
            let draining = env
                .scenario
                .list(ARC_API, "EphemeralRunnerSet", Some(NS))
                .iter()
                .any(|s| {
                    upgrade::runs_as(s) == Some(kube_mode.as_str())
                        && s.pointer("/metadata/deletionTimestamp").is_some()
                });
            let dropped = trapped.iter().all(|(api_version, kind, name)| {
                env.scenario
                    .get(api_version, kind, Some(NS), name)
                    .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some())
            });
            draining && dropped
        },
    );
    assert!(
        env.scenario
            .get(ARC_API, "EphemeralRunner", Some(NS), &runner)
            .is_some(),
        "the busy runner is still there"
    );

    let before = env.scenario.log().len();
    let (code, report) = env.doctor(NS, &["--fix"]);
    assert_eq!(code, Some(5), "problems left: {report:#}");
    assert_eq!(report["fixed"], json!([]), "{report:#}");
    let traps = findings_of(&report, "upgrade_trap");
    assert_eq!(traps.len(), 4, "{report:#}");
    for (_, kind, name) in trapped {
        let f = traps
            .iter()
            .find(|f| f["object"] == format!("{kind}/{NS}/{name}"))
            .unwrap_or_else(|| panic!("{kind}/{name} is reported: {report:#}"));
        assert_eq!(f["safe_patch"], Value::Null, "{f:#}");
        let message = f["message"].as_str().unwrap();
        assert!(message.contains("still used by"), "{message}");
        let user = if kind == "Role" {
            format!("RoleBinding/{NS}/{kube_mode}")
        } else {
            format!("EphemeralRunner/{NS}/{runner}")
        };
        assert!(message.contains(&user), "{message}");
        assert!(
            f["fix"]
                .as_str()
                .unwrap()
                .starts_with("kubectl -n arc-runners patch ")
        );
    }
    // Nothing was patched: the server saw no write of the binary
    // (simulator's event log), and every object keeps its finalizer.
    env.assert_no_write_since(before);
    for (api_version, kind, name) in trapped {
        let o = env.scenario.get(api_version, kind, Some(NS), name).unwrap();
        assert_eq!(
            o["metadata"]["finalizers"],
            json!(["actions.github.com/cleanup-protection"]),
            "{kind}/{name}"
        );
    }

    // Simulator-only control: the job ends, the runner exits and the old
    // runner set drains.
    env.scenario.finish_job(job);
    upgrade::wait_kube_mode_unused(&env.scenario, NS, RELEASE, Duration::from_secs(30));
    wait_until(
        "nothing names the old Secret",
        Duration::from_secs(30),
        || {
            ["EphemeralRunnerSet", "EphemeralRunner"]
                .iter()
                .all(|kind| {
                    env.scenario.list(ARC_API, kind, Some(NS)).iter().all(|o| {
                        o.pointer("/spec/ephemeralRunnerSpec/githubConfigSecret")
                            .or_else(|| o.pointer("/spec/githubConfigSecret"))
                            != Some(&json!(old_secret))
                    })
                })
        },
    );
    let (code, report) = env.doctor(NS, &["--fix"]);
    assert_eq!(code, Some(0), "{report:#}");
    let mut fixed: Vec<String> = report["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["object"].as_str().unwrap(),
                f["result"].as_str().unwrap()
            )
        })
        .collect();
    fixed.sort();
    let mut want: Vec<String> = trapped
        .iter()
        .map(|(_, kind, name)| format!("{kind}/{NS}/{name} fixed"))
        .collect();
    want.sort();
    assert_eq!(fixed, want, "{report:#}");
    for (api_version, kind, name) in trapped {
        assert!(
            env.scenario
                .get(api_version, kind, Some(NS), name)
                .is_none(),
            "{kind}/{name} is gone"
        );
    }
    let out = env.teardown(&["--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.release_gone(RELEASE, NS));
}

/// The one finding of a doctor report, as `(kind, object)`, and that finding.
fn only_finding(report: &Value) -> (String, String, &Value) {
    let all = report["findings"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{report:#}");
    let f = &all[0];
    (
        f["kind"].as_str().unwrap().to_string(),
        f["object"].as_str().unwrap().to_string(),
        f,
    )
}

/// #14 item 5 (doctor): a runner group change renames the listener
/// (upstream #4629). While the runner set lives, doctor names the old one
/// as a stale second listener; the runner set's teardown deletes only the
/// current one, and doctor then names the one left as orphaned, with a fix
/// that removes it (run as printed).
fn item5_runner_group_change_leaves_a_listener_doctor_names_and_its_fix_removes(helm: Helm) {
    let env = Env::new(helm, 1);
    let before = env.listeners_of(NS, RELEASE);
    assert_eq!(before.len(), 1);
    let old = before[0].clone();
    env.scenario.helm_ok(&[
        "upgrade",
        RELEASE,
        chart("arc-runner-set").to_str().unwrap(),
        "-n",
        NS,
        "--reuse-values",
        "--set",
        "runnerGroup=larger-runners",
    ]);
    wait_until("a second listener", Duration::from_secs(30), || {
        env.listeners_of(NS, RELEASE).len() == 2
    });
    let current = env
        .listeners_of(NS, RELEASE)
        .into_iter()
        .find(|l| *l != old)
        .unwrap();

    let (code, report) = env.doctor(NS, &[]);
    assert_eq!(code, Some(5), "{report:#}");
    let (kind, object, f) = only_finding(&report);
    assert_eq!(kind, "stale_listener");
    assert_eq!(object, format!("AutoscalingListener/{CONTROLLER_NS}/{old}"));
    assert!(f["message"].as_str().unwrap().contains(&current), "{f:#}");
    assert_eq!(f["release"], RELEASE);

    let out = env.teardown(&["--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        env.listeners_of(NS, RELEASE),
        vec![old.clone()],
        "left behind"
    );

    let (code, report) = env.doctor(NS, &[]);
    assert_eq!(code, Some(5), "{report:#}");
    let (kind, object, f) = only_finding(&report);
    assert_eq!(kind, "orphaned_listener");
    assert_eq!(object, format!("AutoscalingListener/{CONTROLLER_NS}/{old}"));
    env.run_fix(f["fix"].as_str().unwrap());
    wait_until(
        "the orphaned listener is gone",
        Duration::from_secs(30),
        || {
            env.listeners_of(NS, RELEASE).is_empty()
                && env
                    .scenario
                    .get("v1", "Pod", Some(CONTROLLER_NS), &old)
                    .is_none()
        },
    );
    for kind in ["Role", "RoleBinding"] {
        assert!(
            env.scenario
                .get("rbac.authorization.k8s.io/v1", kind, Some(NS), &old)
                .is_none(),
            "the listener's {kind} in the runner namespace is gone"
        );
    }
    let (code, report) = env.doctor(NS, &[]);
    assert_eq!(code, Some(0), "{report:#}");
}

/// #14 items 5 and 8: a 0.13.0 -> 0.13.1 controller upgrade changes the
/// listener name hash (namespace only -> namespace, group and URL), so the
/// runner set gets a second listener (upstream #4629). doctor names the
/// 0.13.0 one; with the controller scaled down, the forced bottom-up ladder
/// strips the finalizer of both listeners.
fn item5_upgrade_from_0_13_0_leaves_a_second_listener_the_ladder_strips_too(helm: Helm) {
    let env = Env {
        scenario: start(helm, SimConfig::default(), ArcConfig::default()),
    };
    let dir = env.scenario.helm.home.path().to_path_buf();
    let controller_at = |version: &str| upgrade::chart_at(&dir, "arc-controller", version);
    env.scenario.helm_ok(&[
        "install",
        "arc",
        controller_at("0.13.0").to_str().unwrap(),
        "-n",
        CONTROLLER_NS,
        "--create-namespace",
    ]);
    let runner_set = upgrade::chart_at(&dir, "arc-runner-set", "0.13.0");
    env.install_chart(RELEASE, NS, &runner_set, 1);
    let legacy = env.listeners_of(NS, RELEASE);
    assert_eq!(legacy.len(), 1);
    let legacy = legacy[0].clone();

    env.scenario.helm_ok(&[
        "upgrade",
        "arc",
        controller_at("0.13.1").to_str().unwrap(),
        "-n",
        CONTROLLER_NS,
    ]);
    wait_until("a second listener", Duration::from_secs(30), || {
        env.listeners_of(NS, RELEASE).len() == 2
    });
    let (code, report) = env.doctor(NS, &[]);
    assert_eq!(code, Some(5), "{report:#}");
    let (kind, object, _) = only_finding(&report);
    assert_eq!(kind, "stale_listener");
    assert_eq!(
        object,
        format!("AutoscalingListener/{CONTROLLER_NS}/{legacy}")
    );

    let deployment = env.controller_deployment();
    // Scaled to zero (a merge patch: kube-sim serves no scale subresource).
    env.kubectl(
        CONTROLLER_NS,
        &[
            "patch",
            &format!("deployment/{deployment}"),
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":0}}"#,
        ],
    );
    let out = env.teardown(&["--force-finalizers", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mut stripped: Vec<String> = events(&out)
        .into_iter()
        .filter(|e| {
            e["event"] == "ladder" && e["action"] == "patch" && e["rung"] == "AutoscalingListener"
        })
        .map(|e| e["object"].as_str().unwrap().to_string())
        .collect();
    stripped.sort();
    stripped.dedup();
    assert_eq!(stripped.len(), 2, "both listeners: {}", describe(&out));
    assert!(
        stripped.iter().any(|o| o.ends_with(&legacy)),
        "{stripped:?}"
    );
    assert!(env.listeners_of(NS, RELEASE).is_empty());
    assert!(env.release_gone(RELEASE, NS));
}

/// #14 item 8, the upgrade: the example runner set installed under ARC
/// 0.14.2 gets an EphemeralRunnerSet `<ars>-xxxxx` carrying 0.14's name for
/// its finalizer (`ephemeralrunner.actions.github.com/finalizer`). With the
/// controller stopped, both charts are upgraded to HEAD (0.15.0): HEAD makes
/// its own set `<ars>`, adds `ephemeralrunnerset.actions.github.com/finalizer`
/// to the old one, later removes only that name, and its runner set cleanup
/// does not look the old set up. The tool deletes the runner set with
/// foreground propagation so the teardown waits for the old set (whose
/// runners leave GitHub while the credentials still exist): the plain run
/// times out on it with `stale_finalizer` naming the 0.14 name, and
/// `--force-finalizers` strips exactly that name, nothing it does not know.
fn item8_runner_set_of_0_14_keeps_its_finalizer_after_an_upgrade_to_head(helm: Helm) {
    let env = Env {
        scenario: start(helm, SimConfig::default(), ArcConfig::default()),
    };
    let dir = env.scenario.helm.home.path().to_path_buf();
    let v0_14 = ArcVersion::v0_14_2();
    let head = ArcVersion::head();
    let at = |name: &str, version: &ArcVersion| upgrade::chart_at(&dir, name, version.as_str());
    env.scenario.helm_ok(&[
        "install",
        "arc",
        at("arc-controller", &v0_14).to_str().unwrap(),
        "-n",
        CONTROLLER_NS,
        "--create-namespace",
    ]);
    env.install_chart(RELEASE, NS, &at("arc-runner-set", &v0_14), 1);
    let sets = || env.scenario.list(ARC_API, "EphemeralRunnerSet", Some(NS));
    let old = sets()[0].clone();
    let old_name = old["metadata"]["name"].as_str().unwrap().to_string();
    assert_ne!(old_name, RELEASE, "0.14 names its set <ars>-xxxxx");
    assert_eq!(old["metadata"]["finalizers"], json!([ER_FINALIZER]));

    // The upgrade, with no controller running in between (a controller of
    // either version deletes a runner set of the other's major.minor).
    let controller = at("arc-controller", &head);
    let controller = controller.to_str().unwrap();
    env.scenario.helm_ok(&[
        "upgrade",
        "arc",
        controller,
        "-n",
        CONTROLLER_NS,
        "--set",
        "replicaCount=0",
    ]);
    env.scenario.helm_ok(&[
        "upgrade",
        RELEASE,
        at("arc-runner-set", &head).to_str().unwrap(),
        "-n",
        NS,
        "--reuse-values",
    ]);
    env.scenario.helm_ok(&[
        "upgrade",
        "arc",
        controller,
        "-n",
        CONTROLLER_NS,
        "--set",
        "replicaCount=1",
    ]);
    wait_until(
        "HEAD made its own set and put its finalizer on the old one",
        Duration::from_secs(30),
        || {
            let with_head_finalizer = |name: &str| {
                env.scenario
                    .get(ARC_API, "EphemeralRunnerSet", Some(NS), name)
                    .is_some_and(|s| {
                        s["metadata"]["finalizers"]
                            .as_array()
                            .is_some_and(|f| f.contains(&json!(ERS_FINALIZER_HEAD)))
                    })
            };
            with_head_finalizer(RELEASE)
                && with_head_finalizer(&old_name)
                && env
                    .runners()
                    .iter()
                    .filter(|r| r.pointer("/status/runnerId").is_some())
                    .count()
                    == 2
        },
    );
    let old = env
        .scenario
        .get(ARC_API, "EphemeralRunnerSet", Some(NS), &old_name)
        .unwrap();
    assert_eq!(
        old["metadata"]["finalizers"],
        json!([ER_FINALIZER, ERS_FINALIZER_HEAD]),
        "the 0.14 name stays"
    );

    // Without flags: the runner set stays (foreground) until the old set is
    // gone, which never happens on its own.
    let out = env.teardown(&["--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let diag = first_event(&out, "diagnosis");
    assert_eq!(diag["cause"], "stale_finalizer", "{diag}");
    let explanation = diag["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(&format!(
            "EphemeralRunnerSet/{NS}/{old_name}: {ER_FINALIZER}"
        )),
        "{explanation}"
    );
    assert!(
        diag["next_command"]
            .as_str()
            .unwrap()
            .ends_with("--force-finalizers")
    );
    let note = events(&out)
        .into_iter()
        .find(|e| e["event"] == "check" && e["check"] == "note")
        .unwrap_or_else(|| panic!("a preflight note:\n{}", describe(&out)));
    let note = note["detail"].as_str().unwrap();
    assert!(
        note.starts_with(&format!(
            "EphemeralRunnerSet/{NS}/{old_name} would outlive {NS}/{RELEASE}"
        )) && note.contains("foreground propagation"),
        "{note}"
    );
    assert!(
        env.ars_in(NS, RELEASE)
            .is_some_and(|a| a.pointer("/metadata/deletionTimestamp").is_some()),
        "the runner set waits for the old set"
    );
    assert!(
        env.scenario
            .get(
                "v1",
                "Secret",
                Some(NS),
                &format!("{RELEASE}-gha-rs-github-secret")
            )
            .is_some_and(|s| s.pointer("/metadata/deletionTimestamp").is_none()),
        "the credentials the old set's cleanup needs are not deleted yet"
    );
    // HEAD's cleanup of the old set: its runner goes (the controller drops
    // its registration finalizer only once GitHub removed it; no ladder ever
    // strips it here, see below), then HEAD's own name.
    wait_until(
        "the old set holds only the 0.14 name, and no runner",
        Duration::from_secs(30),
        || {
            env.runners().is_empty()
                && env
                    .scenario
                    .get(ARC_API, "EphemeralRunnerSet", Some(NS), &old_name)
                    .is_some_and(|s| s["metadata"]["finalizers"] == json!([ER_FINALIZER]))
        },
    );

    let forced = env.teardown(&["--force-finalizers", "--timeout", "10s"]);
    assert_eq!(forced.status.code(), Some(0), "{}", describe(&forced));
    let stripped: Vec<(String, Value)> = events(&out)
        .into_iter()
        .chain(events(&forced))
        .filter(|e| e["event"] == "ladder" && e["action"] == "patch")
        .map(|e| {
            (
                e["object"].as_str().unwrap().to_string(),
                e["removes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        stripped,
        vec![(
            format!("EphemeralRunnerSet/{NS}/{old_name}"),
            json!([ER_FINALIZER])
        )],
        "only the 0.14 name, once: {}",
        describe(&forced)
    );
    assert!(
        !events(&forced).iter().any(|e| e["event"] == "leak"),
        "nothing left registered on GitHub: {}",
        describe(&forced)
    );
    assert!(sets().is_empty());
    assert!(env.release_gone(RELEASE, NS));
}

crate::on_both_helms!(
    item2_config_secret_without_credentials_is_invalid_credentials,
    item2_missing_proxy_credential_secret_is_named,
    item2_missing_github_server_tls_config_map_is_named,
    item2_vault_backed_runner_set_is_not_missing_credentials,
    item2_scale_set_gone_on_github_is_scale_set_undeletable,
    item3_shared_registration_is_refused_then_kept_for_the_other,
    item3_kept_registration_survives_a_deletion_branch_with_nothing_to_wait_for,
    item4_role_binding_not_binding_the_controller_is_rbac_not_bound,
    item4_single_namespace_controller_elsewhere_is_controller_down,
    item7_version_skew_without_finalizer_is_refused_then_forced_frees_the_chart_objects,
    item7_chart_objects_left_by_a_runner_set_gone_without_cleanup,
    item8_finalizer_of_another_line_is_stale_and_stripped_alone,
    item9_busy_runner_whose_pod_is_gone_is_runner_pod_gone,
    item1_credentials_ladder_with_real_timings_finishes_in_one_run,
    item6_doctor_fix_leaves_what_a_draining_runner_set_still_uses,
    item5_runner_group_change_leaves_a_listener_doctor_names_and_its_fix_removes,
    item5_upgrade_from_0_13_0_leaves_a_second_listener_the_ladder_strips_too,
    item8_runner_set_of_0_14_keeps_its_finalizer_after_an_upgrade_to_head,
);
