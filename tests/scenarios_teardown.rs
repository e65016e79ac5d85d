//! Scenario tests of `helm arc-uninstall` against the API simulator with its
//! simulated ARC controller and fake GitHub service, driven through real
//! Helm 3.17.3 and Helm 4.1.4 (installs) and the built binary (teardown).
//!
//! The scenarios that need no ARC controller also run on the local control
//! plane (`<scenario>::<helm>::local`; kube-apiserver v1.35.4 of
//! `scripts/local-cluster`, one per test process, a namespace per test):
//! the teardown of the example runner set where no controller runs
//! (refused, then `--force-finalizers`, through the plugin installed from
//! this checkout, with and without `--wait`), `plan` of a live release and
//! a chart's own pre-delete hooks. Their order is read from the test's own
//! watch of the namespace on both targets.
//!
//! Slow (seconds each): their own test binary.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use arc_sim::controller::ArcConfig;
use kube_sim::api::{Actor, DeleteOptions, Gvk, ListOptions, Patch};
use kube_sim::{LogEntry, SimConfig};
use scenario::cli_output::{FollowedStdout, describe, first_event, json_lines as events, summary};
use scenario::event_log::{is_ours, is_write, last_ars_write as ars_gone_at};
use scenario::order::{
    DEPENDENTS, assert_nothing_went, assert_runner_set_gone_first, watch_runner_set,
};
use scenario::sim_env::{
    ARC_API, ScenarioEnv, actor, chart, hau, hau_for, hau_in, plugin_env, start, state_dir,
    wait_until,
};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{Helm, PLUGIN_DIR_NAME, hau_bin, install_plugin, output, plugin_checkout, run_ok};
use testenv::{Target, TargetKind};

/// The fake token in examples/charts/arc-runner-set/values.yaml.
const TOKEN: &str = "ghp_EXAMPLEexampleEXAMPLE000000000000";
/// The same token as stored in the Secret's `data` (base64).
const TOKEN_B64: &str = "Z2hwX0VYQU1QTEVleGFtcGxlRVhBTVBMRTAwMDAwMDAwMDAwMA==";
const RELEASE: &str = "arc-runner-set";
const NS: &str = "arc-runners";

/// A simulator with ARC's CRDs, the controller chart and a runner-set release.
struct Env {
    scenario: ScenarioEnv,
}

impl Env {
    /// Install the controller and a runner set with `min_runners` runners; wait
    /// until the controller has registered the scale set and the runners.
    fn new(helm: Helm, min_runners: u32) -> Env {
        Env::with(
            helm,
            min_runners,
            SimConfig::default(),
            ArcConfig::default(),
        )
    }

    fn with(helm: Helm, min_runners: u32, sim_config: SimConfig, arc_config: ArcConfig) -> Env {
        let env = Env {
            scenario: start(helm, sim_config, arc_config),
        };
        env.scenario.install_controller(&[]);
        env.scenario.helm_ok(&[
            "install",
            RELEASE,
            chart("arc-runner-set").to_str().unwrap(),
            "-n",
            NS,
            "--create-namespace",
            "--set",
            &format!("minRunners={min_runners}"),
        ]);
        env.wait_for("runner set ready", Duration::from_secs(20), |env| {
            let ars = env
                .scenario
                .get(ARC_API, "AutoscalingRunnerSet", Some(NS), RELEASE);
            let registered = ars
                .as_ref()
                .and_then(|a| a.pointer("/metadata/annotations/runner-scale-set-id"))
                .is_some();
            let runners = env
                .runners()
                .iter()
                .filter(|r| r.pointer("/status/runnerId").is_some())
                .count();
            registered && env.listener().is_some() && runners == min_runners as usize
        });
        env
    }

    /// Run the built binary as Helm would: `uninstall RELEASE` in NS and `args`.
    fn teardown(&self, args: &[&str]) -> Output {
        hau_in(&self.scenario, NS, &["uninstall", RELEASE])
            .args(args)
            .output()
            .expect("run helm-arc-uninstall")
    }

    fn runners(&self) -> Vec<Value> {
        self.scenario.list(ARC_API, "EphemeralRunner", Some(NS))
    }

    fn listener(&self) -> Option<Value> {
        self.scenario
            .list(ARC_API, "AutoscalingListener", None)
            .into_iter()
            .next()
    }

    /// Objects of the runner-set release still in the cluster.
    fn release_objects_left(&self) -> Vec<String> {
        let mut left = Vec::new();
        for (api_version, kind) in [
            ("v1", "ServiceAccount"),
            ("v1", "Secret"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            (ARC_API, "AutoscalingRunnerSet"),
        ] {
            for o in self.scenario.list(api_version, kind, Some(NS)) {
                if o.pointer("/metadata/annotations/meta.helm.sh~1release-name")
                    .and_then(Value::as_str)
                    == Some(RELEASE)
                {
                    left.push(format!(
                        "{kind}/{}",
                        o["metadata"]["name"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
        left
    }

    fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&Env) -> bool) {
        wait_until(what, limit, || done(self));
    }

    fn release_exists(&self) -> bool {
        self.scenario
            .helm_cmd(&["status", RELEASE, "-n", NS])
            .output()
            .expect("helm status")
            .status
            .success()
    }

    /// Every object of the release is gone, and its Helm record too.
    fn assert_torn_down(&self) {
        assert!(
            self.release_objects_left().is_empty(),
            "left: {:?}",
            self.release_objects_left()
        );
        assert!(!self.release_exists(), "the release record is gone");
    }

    /// No runner, runner set or listener of the runner set is left once
    /// garbage collection has run (a ladder that leaves one behind leaves
    /// it stuck on its finalizers).
    fn assert_no_runner_left(&self) {
        self.wait_for(
            "every runner, runner set and listener is gone",
            Duration::from_secs(5),
            |env| {
                env.runners().is_empty()
                    && env.listener().is_none()
                    && env
                        .scenario
                        .list(
                            "actions.github.com/v1alpha1",
                            "EphemeralRunnerSet",
                            Some(NS),
                        )
                        .is_empty()
            },
        );
    }
}

fn healthy(helm: Helm) {
    let env = Env::new(helm, 2);
    let out = env.teardown(&["-o", "json", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(summary(&out)["outcome"], "success");

    let log = env.scenario.log();
    let gone = ars_gone_at(&log);
    let first_ars_delete = log
        .iter()
        .position(|e| is_ours(e) && e.verb == "delete" && e.kind == "AutoscalingRunnerSet")
        .expect("our DELETE of the ARS");
    let dependent_deletes: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e.verb == "delete"
                && e.namespace.as_deref() == Some(NS)
                && ["ServiceAccount", "Secret", "Role", "RoleBinding"].contains(&e.kind.as_str())
                && e.name.starts_with(&format!("{RELEASE}-gha-rs-"))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(!dependent_deletes.is_empty(), "dependents were deleted");
    assert!(first_ars_delete < gone);
    assert!(
        dependent_deletes.iter().all(|&i| i > gone),
        "a dependent DELETE came before the ARS was gone: {:?}",
        dependent_deletes
            .iter()
            .map(|&i| &log[i])
            .collect::<Vec<_>>()
    );
    assert!(
        !log.iter().any(|e| is_ours(e) && e.verb == "patch"),
        "the tool patched something (finalizers) on the healthy path"
    );
    assert!(
        env.scenario.sim().arc.github().is_empty(),
        "GitHub still lists {:?}",
        env.scenario.sim().arc.github().scale_sets()
    );
    env.assert_torn_down();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(TOKEN));
}

fn stop_controller(env: &Env) {
    env.scenario.sim().arc.stop();
}

fn controller_stopped_refuses_then_force_finalizers_completes(helm: Helm) {
    let env = Env::new(helm, 1);
    stop_controller(&env);
    let before = env.scenario.log().len();

    // Default run: refused, nothing written.
    let out = env.teardown(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let refused: Vec<Value> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "refused")
        .collect();
    assert_eq!(refused[0]["cause"], "controller_down");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("--force-finalizers")
    );
    assert!(
        !env.scenario.log()[before..]
            .iter()
            .any(|e| is_ours(e) && is_write(e)),
        "refusal wrote to the cluster"
    );

    // Dry run with the ladder: shows patches, writes nothing.
    let out = env.teardown(&["-o", "json", "--force-finalizers", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let ladder: Vec<Value> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "ladder")
        .collect();
    assert!(
        ladder
            .iter()
            .any(|e| e["action"] == "patch" && e["dry_run"] == true),
        "{}",
        describe(&out)
    );
    assert!(
        !env.scenario.log()[before..]
            .iter()
            .any(|e| is_ours(e) && is_write(e)),
        "dry run wrote to the cluster"
    );
    assert!(env.release_exists());

    // Forced: completes, strips only documented finalizers in order, reports the leak.
    let out = env.teardown(&["-o", "json", "--force-finalizers", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    let rungs: Vec<String> = evs
        .iter()
        .filter(|e| e["event"] == "ladder" && e["action"] == "patch")
        .map(|e| e["rung"].as_str().unwrap().to_string())
        .collect();
    let order = [
        "EphemeralRunners",
        "EphemeralRunnerSets",
        "AutoscalingListener",
        "AutoscalingRunnerSet",
        "cleanup-protection",
    ];
    let mut last = 0;
    for rung in &rungs {
        let pos = order.iter().position(|o| o == rung).expect("known rung");
        assert!(pos >= last, "rung order {rungs:?}");
        last = pos;
    }
    assert!(rungs.contains(&"AutoscalingRunnerSet".to_string()));
    let documented = [
        "ephemeralrunner.actions.github.com/finalizer",
        "ephemeralrunner.actions.github.com/runner-registration-finalizer",
        "ephemeralrunnerset.actions.github.com/finalizer",
        "autoscalinglistener.actions.github.com/finalizer",
        "autoscalingrunnerset.actions.github.com/finalizer",
        "actions.github.com/cleanup-protection",
    ];
    for e in evs
        .iter()
        .filter(|e| e["event"] == "ladder" && e["action"] == "patch")
    {
        for op in e["patch"].as_array().unwrap() {
            match op["op"].as_str().unwrap() {
                "test" => assert_eq!(op["path"], "/metadata/resourceVersion"),
                "remove" => assert!(
                    op["path"]
                        .as_str()
                        .unwrap()
                        .starts_with("/metadata/finalizers/")
                ),
                other => panic!("unexpected op {other}"),
            }
        }
        let removes = e["removes"].as_array().unwrap();
        assert!(!removes.is_empty(), "{e}");
        for f in removes {
            assert!(
                documented.contains(&f.as_str().unwrap()),
                "undocumented finalizer stripped: {e}"
            );
        }
        if e["rung"] == "cleanup-protection" {
            assert_eq!(
                removes,
                &vec![json!("actions.github.com/cleanup-protection")]
            );
        }
    }
    let leak = evs
        .iter()
        .find(|e| e["event"] == "leak")
        .expect("leak reported");
    assert!(leak["scale_set_id"].is_string(), "{leak}");
    assert!(
        env.release_objects_left().is_empty(),
        "left: {:?}",
        env.release_objects_left()
    );
    assert!(env.listener().is_none());
    assert!(env.runners().is_empty());
    assert!(!env.release_exists());
    assert!(
        !env.scenario.sim().arc.github().scale_sets().is_empty(),
        "the scale set is leaked on GitHub, as reported"
    );
}

/// Give a registered, live runner a job that runs until ended; its name.
/// Waits for one: the runner set may still be replacing a runner (seen
/// once under load right after the set reported ready).
fn busy_runner(env: &Env) -> String {
    let mut busy = None;
    wait_until(
        "a registered runner takes a job",
        Duration::from_secs(20),
        || {
            busy = env
                .runners()
                .into_iter()
                .filter(|r| {
                    r.pointer("/status/runnerId").is_some()
                        && r.pointer("/metadata/deletionTimestamp").is_none()
                })
                .filter_map(|r| r["metadata"]["name"].as_str().map(str::to_string))
                .find(|name| env.scenario.sim().arc.start_job(NS, name, None).is_ok());
            busy.is_some()
        },
    );
    busy.expect("a busy runner")
}

/// End the job of the (first) busy runner after `delay`, on another thread.
fn finish_the_job_after(env: &Env, delay: Duration) -> std::thread::JoinHandle<()> {
    let id = env.runners()[0]["status"]["runnerId"].as_i64().unwrap();
    let github = env.scenario.sim().arc.github().clone();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        github.finish_job(id);
    })
}

fn busy_runner_times_out_with_diagnosis_then_completes_when_the_job_ends(helm: Helm) {
    let env = Env::new(helm, 1);
    let runner = busy_runner(&env);
    let out = env.teardown(&["-o", "json", "--timeout", "2s"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let evs = events(&out);
    let diag = evs
        .iter()
        .find(|e| e["event"] == "diagnosis")
        .expect("diagnosis");
    assert_eq!(diag["cause"], "busy_runner", "{diag}");
    assert!(diag["explanation"].as_str().unwrap().contains(&runner));
    assert!(diag["next_command"].as_str().unwrap().contains("--timeout"));
    assert!(
        evs.iter()
            .any(|e| e["event"] == "progress" && !e["busy"].as_array().unwrap().is_empty())
    );

    // The job ends while a rerun waits: it completes.
    let finisher = finish_the_job_after(&env, Duration::from_millis(800));
    let out = env.teardown(&["-o", "json", "--timeout", "30s"]);
    finisher.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(env.scenario.sim().arc.github().is_empty());
    assert!(!env.release_exists());
}

/// Someone strips the manager RoleBinding's finalizer and deletes it after `delay`.
fn lose_manager_role_binding_after(env: &Env, delay: Duration) -> std::thread::JoinHandle<()> {
    lose_manager_role_binding_when(env, move |_| {
        std::thread::sleep(delay);
    })
}

/// Someone strips the manager RoleBinding's finalizer and deletes it once the
/// runner set is Terminating: after the run's preflight, during its wait
/// (not after a fixed delay, which a slow start outruns).
fn lose_manager_role_binding_mid_run(env: &Env) -> std::thread::JoinHandle<()> {
    lose_manager_role_binding_when(env, |api| {
        let ars = Gvk::new(ARC_API, "AutoscalingRunnerSet");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let terminating = api
                .get(&Actor("someone-else".into()), &ars, Some(NS), RELEASE)
                .is_ok_and(|a| a.pointer("/metadata/deletionTimestamp").is_some());
            if terminating {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn lose_manager_role_binding_when(
    env: &Env,
    wait: impl FnOnce(&dyn kube_sim::api::Api) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let api = env.scenario.api();
    let rb = format!("{RELEASE}-gha-rs-manager");
    std::thread::spawn(move || {
        wait(api.as_ref());
        let rbac = Gvk::new("rbac.authorization.k8s.io/v1", "RoleBinding");
        let actor = Actor("someone-else".into());
        let strip = Patch::Merge(json!({"metadata": {"finalizers": null}}));
        let _ = api.patch(&actor, &rbac, Some(NS), &rb, strip);
        let _ = api.delete(&actor, &rbac, Some(NS), &rb, &DeleteOptions::default());
    })
}

fn lost_manager_role_binding_is_diagnosed_as_lost_rbac(helm: Helm) {
    let env = Env::new(helm, 1);
    // Keep the teardown in the ARS wave (busy runner), then lose the RoleBinding.
    busy_runner(&env);
    let killer = lose_manager_role_binding_mid_run(&env);
    let out = env.teardown(&["-o", "json", "--timeout", "3s"]);
    killer.join().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let diag = first_event(&out, "diagnosis");
    assert_eq!(diag["cause"], "lost_rbac", "{diag}");
    assert!(
        diag["next_command"]
            .as_str()
            .unwrap()
            .ends_with("--force-finalizers")
    );

    // The suggested rerun: preflight sees the lost RBAC and strips bottom-up.
    let out = env.teardown(&["-o", "json", "--timeout", "10s", "--force-finalizers"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    env.assert_torn_down();
    env.assert_no_runner_left();
}

fn lost_rbac_before_the_run_refuses_then_the_forced_ladder_leaves_no_runner(helm: Helm) {
    let env = Env::new(helm, 2);
    lose_manager_role_binding_after(&env, Duration::ZERO)
        .join()
        .unwrap();
    let out = env.teardown(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert_eq!(first_event(&out, "refused")["cause"], "lost_rbac");

    // The controller still runs (only its RBAC in the namespace is gone): the
    // ladder must not let it scale the runner set back up behind it.
    let out = env.teardown(&["-o", "json", "--timeout", "10s", "--force-finalizers"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    env.assert_torn_down();
    env.assert_no_runner_left();
}

fn lost_rbac_during_a_forced_run_gets_the_ladder_after_the_timeout(helm: Helm) {
    let env = Env::new(helm, 1);
    busy_runner(&env);
    let killer = lose_manager_role_binding_mid_run(&env);
    let out = env.teardown(&["-o", "json", "--timeout", "3s", "--force-finalizers"]);
    killer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    let diag = evs
        .iter()
        .position(|e| e["event"] == "diagnosis")
        .expect("diagnosis");
    assert_eq!(evs[diag]["cause"], "lost_rbac");
    let first_ladder = evs
        .iter()
        .position(|e| e["event"] == "ladder")
        .expect("ladder");
    assert!(diag < first_ladder, "the ladder runs after the diagnosis");
    env.assert_torn_down();
    env.assert_no_runner_left();
}

fn rescue_finishes_after_plain_helm_uninstall_left_objects_terminating(helm: Helm) {
    let env = Env::new(helm, 1);
    stop_controller(&env);
    env.scenario.helm_ok(&["uninstall", RELEASE, "-n", NS]);
    assert!(!env.release_exists());
    assert!(
        !env.release_objects_left().is_empty(),
        "objects stay Terminating"
    );
    env.scenario.sim().arc.restart();

    let out = env.teardown(&["-o", "json"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--rescue"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        summary(&out)["outcome"],
        "failed",
        "JSON mode ends with a summary on errors too"
    );

    // The state dir has no copy (the release was never seen by the tool): rescue from the ARS.
    let out = env.teardown(&["-o", "json", "--rescue", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let start = first_event(&out, "start");
    assert_eq!(start["source"], "cluster");
    assert!(
        env.release_objects_left().is_empty(),
        "left: {:?}",
        env.release_objects_left()
    );
    assert!(env.scenario.sim().arc.github().is_empty());
}

fn secret_data_never_appears_in_any_output_mode(helm: Helm) {
    let env = Env::new(helm, 0);
    let leaks = |text: &str| {
        text.contains(TOKEN) || text.contains(TOKEN_B64) || text.contains("github_token\":\"")
    };
    for mode in [
        &["-o", "json", "--dry-run"][..],
        &["--dry-run"][..],
        &["-o", "text", "--dry-run", "--force-finalizers"][..],
    ] {
        let out = env.teardown(mode);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!leaks(&all), "secret data leaked with {mode:?}");
    }
    // Progress bars on a terminal (util-linux `script` gives the binary a pty).
    if std::path::Path::new("/usr/bin/script").exists() {
        let shell_cmd = format!(
            "{} uninstall {RELEASE} --dry-run --force-finalizers",
            hau_bin().display()
        );
        let mut cmd = Command::new("/usr/bin/script");
        plugin_env(&mut cmd, &env.scenario.helm.home, env.scenario.helm.version)
            .env("HELM_NAMESPACE", NS)
            .args(["-qefc", &shell_cmd, "/dev/null"]);
        let out = cmd.output().expect("run under script");
        let all = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(all.contains("wave 0"), "terminal output: {all}");
        assert!(!leaks(&all), "secret data leaked on a terminal");
    }
    // A real run too.
    let out = env.teardown(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!leaks(&String::from_utf8_lossy(&out.stdout)));
    assert!(!leaks(&String::from_utf8_lossy(&out.stderr)));
}

fn faults_5xx_429_and_dropped_watches_still_complete_and_touch_nothing_else(helm: Helm) {
    use kube_sim::Faults;
    let env = Env::new(helm, 2);
    // A bystander in the same namespace that the tool must not touch.
    env.scenario
        .api()
        .create(
            &actor(),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "bystander", "namespace": NS}, "data": {"k": "v"}}),
        )
        .expect("create bystander");
    let control = env.scenario.sim().sim.control();
    control.set_faults(Faults {
        error_rate: 0.1,
        throttle_rate: 0.1,
        seed: 7,
        ..Faults::default()
    });
    control.drop_watches_every(Some(Duration::from_millis(700)));
    // Faults cover the ordered teardown; they are lifted once the release's
    // objects are gone so the final `helm uninstall` (client-go, no retries
    // on 500) runs on a healthy server.
    let api = env.scenario.api();
    let lifter = std::thread::spawn(move || {
        let start = Instant::now();
        loop {
            let left = ["ServiceAccount", "Secret"].iter().any(|k| {
                api.list(
                    &actor(),
                    &Gvk::new("v1", k),
                    Some(NS),
                    &ListOptions::default(),
                )
                .unwrap_or_default()
                .iter()
                .any(|o| {
                    o["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with(RELEASE)
                })
            });
            if !left || start.elapsed() > Duration::from_secs(60) {
                control.clear_faults();
                control.drop_watches_every(None);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let out = env.teardown(&["-o", "json", "--timeout", "30s"]);
    lifter.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        env.release_objects_left().is_empty(),
        "left: {:?}",
        env.release_objects_left()
    );
    assert!(
        env.scenario
            .get("v1", "ConfigMap", Some(NS), "bystander")
            .is_some()
    );
    let ours_deleted: Vec<String> = env
        .scenario
        .log()
        .iter()
        .filter(|e| is_ours(e) && e.verb == "delete" && e.code < 300)
        .map(|e| format!("{}/{}", e.kind, e.name))
        .collect();
    for d in &ours_deleted {
        assert!(
            d.contains(RELEASE),
            "deleted something outside the release: {d}"
        );
    }
    assert!(env.scenario.sim().arc.github().is_empty());
}

fn sigint_in_the_middle_then_rerun_completes(helm: Helm) {
    let env = Env::new(helm, 1);
    busy_runner(&env);
    let mut child = hau_in(
        &env.scenario,
        NS,
        &["uninstall", RELEASE, "-o", "json", "--timeout", "60s"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    // Interrupted once the run has reported the ARS DELETE (the API server
    // applying it is not the client having counted it).
    let stdout = FollowedStdout::follow(&mut child);
    env.wait_for(
        "the ARS DELETE to be reported",
        Duration::from_secs(20),
        |_| stdout.deletes_reported("AutoscalingRunnerSet") >= 1,
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut out = child.wait_with_output().expect("wait");
    stdout.finish(&mut out);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Rerun"),
        "{}",
        describe(&out)
    );
    assert!(
        summary(&out)["message"]
            .as_str()
            .unwrap()
            .contains("interrupted")
    );
    assert_eq!(summary(&out)["deleted"], 1, "the ARS DELETE is counted");
    // The manifest copy was kept before anything was deleted.
    assert!(
        state_dir(&env.scenario.helm.home)
            .join(NS)
            .join(RELEASE)
            .join("manifest.yaml")
            .is_file()
    );

    // Rerun while the ARS is still Terminating; the job ends meanwhile (after
    // the rerun's start-up, which takes about a second here: the runner exits
    // as soon as its job ends and the teardown then finishes in milliseconds).
    let finisher = finish_the_job_after(&env, Duration::from_secs(3));
    let out = env.teardown(&["-o", "json", "--timeout", "30s"]);
    finisher.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    assert!(
        evs.iter()
            .any(|e| e["event"] == "delete" && e["result"] == "already_terminating"),
        "the rerun resumed from the live state"
    );
    env.assert_torn_down();
}

/// Seconds since midnight of an RFC 3339 time with milliseconds (same day).
fn clock(time: &str) -> f64 {
    let t = time
        .split('T')
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches('Z');
    let parts: Vec<f64> = t.split(':').map(|p| p.parse().unwrap_or(0.0)).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// Benchmark (not a timed test; run with `--ignored --nocapture` and quote the
/// numbers): teardown of a kubernetes-mode runner set with 5 runners
/// (`HAU_BENCH_RUNNERS`) while the controller waits a fixed 100 ms before each
/// reconcile step.
#[test]
#[ignore = "benchmark: run explicitly and read the printed figures"]
fn bench_teardown_against_fixed_controller_delays() {
    use arc_sim::controller::Timing;
    let arc_config = ArcConfig {
        timing: Timing {
            step_delay: Duration::from_millis(100),
            ..Timing::fast()
        },
        ..ArcConfig::default()
    };
    let sim_config = SimConfig {
        log_reads: true,
        ..SimConfig::default()
    };
    let runners: u32 = std::env::var("HAU_BENCH_RUNNERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let env = Env::with(Helm::V4, runners, sim_config, arc_config);
    let start_len = env.scenario.log().len();
    let started = Instant::now();
    let out = env.teardown(&["-o", "json", "--timeout", "60s"]);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let log: Vec<LogEntry> = env.scenario.log().split_off(start_len);
    let ours: Vec<&LogEntry> = log.iter().filter(|e| is_ours(e)).collect();
    let ars_delete = ours
        .iter()
        .find(|e| e.verb == "delete" && e.kind == "AutoscalingRunnerSet")
        .expect("ARS delete");
    let ars_gone = &log[ars_gone_at(&log)];
    let next_delete = ours
        .iter()
        .find(|e| e.verb == "delete" && e.seq > ars_gone.seq)
        .expect("a DELETE of the next wave");
    let last_release_delete = log
        .iter()
        .rfind(|e| {
            is_ours(e) && e.verb == "delete" && e.code < 300 && e.namespace.as_deref() == Some(NS)
        })
        .expect("last delete");
    let helm_after = log
        .iter()
        .find(|e| {
            e.actor != "helm-arc-uninstall"
                && e.actor.to_lowercase().starts_with("helm")
                && e.seq > last_release_delete.seq
        })
        .map(|e| clock(&e.time));
    let first_ours = clock(&ours[0].time);
    let controller_path = clock(&ars_gone.time) - clock(&ars_delete.time);
    let tool_done = clock(&last_release_delete.time) - first_ours;
    let release_objects = 7.0;
    let mut by_verb: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in &ours {
        *by_verb.entry(e.verb.as_str()).or_default() += 1;
    }
    let requests = summary(&out)["requests"].as_u64().unwrap_or_default();
    println!(
        "BENCH non-watch API calls by the tool (discovery, GETs, LISTs, DELETEs; retries included): {requests} \
         for {release_objects} release objects ({:.1}/object)",
        requests as f64 / release_objects
    );
    println!("BENCH wall time of the process (incl. helm get/uninstall): {wall:.3}s");
    println!("BENCH first API call -> last release object gone: {tool_done:.3}s");
    println!("BENCH controller critical path (ARS DELETE -> ARS gone): {controller_path:.3}s");
    println!(
        "BENCH overhead over the critical path: {:.3}s",
        tool_done - controller_path
    );
    println!(
        "BENCH detection latency (ARS gone -> next wave DELETE): {:.0}ms",
        (clock(&next_delete.time) - clock(&ars_gone.time)) * 1000.0
    );
    if let Some(h) = helm_after {
        println!(
            "BENCH last object gone -> helm uninstall's first call: {:.0}ms",
            (h - clock(&last_release_delete.time)) * 1000.0
        );
    }
    println!(
        "BENCH writes by the tool in the simulator log: {} for {release_objects} release objects ({:.1}/object), by verb {by_verb:?}",
        ours.len(),
        ours.len() as f64 / release_objects
    );
}

fn credentials_gone_refuses_then_credential_ladder_lets_the_controller_finish(helm: Helm) {
    let env = Env::new(helm, 1);
    // The GitHub config Secret disappears (someone stripped its finalizer and deleted it).
    let secret = format!("{RELEASE}-gha-rs-github-secret");
    let core = Gvk::new("v1", "Secret");
    let actor = Actor("someone-else".into());
    env.scenario
        .api()
        .patch(
            &actor,
            &core,
            Some(NS),
            &secret,
            Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .expect("strip");
    env.scenario
        .api()
        .delete(&actor, &core, Some(NS), &secret, &DeleteOptions::default())
        .expect("delete secret");

    let out = env.teardown(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let refused = first_event(&out, "refused");
    assert_eq!(refused["cause"], "missing_credentials");

    let out = env.teardown(&["-o", "json", "--force-finalizers", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    let patches: Vec<&Value> = evs
        .iter()
        .filter(|e| e["event"] == "ladder" && e["action"] == "patch")
        .collect();
    assert_eq!(
        patches[0]["removes"],
        json!(["runner-scale-set-id"]),
        "{patches:?}"
    );
    for p in &patches[1..] {
        assert_eq!(
            p["removes"],
            json!(["ephemeralrunner.actions.github.com/runner-registration-finalizer"])
        );
    }
    // Only the registration finalizer and the annotation: the controller did the rest.
    let ours_patches = env
        .scenario
        .log()
        .iter()
        .filter(|e| is_ours(e) && e.verb == "patch")
        .count();
    assert_eq!(ours_patches, patches.len());
    assert!(evs.iter().any(|e| e["event"] == "leak"));
    env.assert_torn_down();
}

/// On the simulator the controller has registered the set; on the local
/// cluster no controller runs (the plan is read from the release alone).
fn plan_of_a_live_release_reads_it_through_helm(helm: Helm, target: TargetKind) {
    let (scenario, ns) = match target {
        TargetKind::Sim => (Env::new(helm, 0).scenario, NS.to_string()),
        TargetKind::Local => without_controller(helm, target, "plan"),
    };
    let mut cmd = hau(&scenario);
    cmd.args(["plan", RELEASE, "-n", &ns, "-o", "json"]);
    let plan: Value = serde_json::from_str(&run_ok(&mut cmd)).expect("plan JSON");
    let wave0 = &plan["steps"][0]["resources"];
    assert_eq!(wave0.as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(wave0[0]["kind"], "AutoscalingRunnerSet");
}

fn through_the_helm_plugin(helm: Helm) {
    let env = Env::new(helm, 1);
    let checkout = plugin_checkout(&env.scenario.helm.home.path().join("src"));
    let mut install = env
        .scenario
        .helm_cmd(&["plugin", "install", checkout.to_str().unwrap()]);
    install.env("HELM_ARC_UNINSTALL_BIN", hau_bin());
    run_ok(&mut install);
    assert!(
        env.scenario
            .helm
            .home
            .plugins_dir()
            .join(PLUGIN_DIR_NAME)
            .is_dir()
    );
    // Helm strips -n/--kube-context and passes them as HELM_NAMESPACE/HELM_KUBECONTEXT (""), HELM_BIN = argv[0].
    let mut cmd = env.scenario.helm_cmd(&[
        "arc-uninstall",
        RELEASE,
        "-n",
        NS,
        "--wait",
        "-o",
        "json",
        "--timeout",
        "30s",
    ]);
    cmd.env(
        "HELM_ARC_UNINSTALL_STATE_DIR",
        state_dir(&env.scenario.helm.home),
    );
    let out = output(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(summary(&out)["outcome"], "success");
    env.assert_torn_down();
    assert!(env.scenario.sim().arc.github().is_empty());
}

/// A chart with a pre-delete hook and a kept ConfigMap, on a bare target.
fn pre_delete_hooks_are_refused_without_no_hooks_and_kept_objects_stay(
    helm: Helm,
    target: TargetKind,
) {
    let env = ScenarioEnv::new(Target::of(target), helm);
    let home = &env.helm.home;
    let ns = format!("apps-{}", helm.slot());
    let chart = home.path().join("hooked");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/objects.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata: {a: b}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  annotations:\n    helm.sh/resource-policy: keep\ndata: {a: b}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pre-delete-hook\n  annotations:\n    helm.sh/hook: pre-delete\ndata: {a: b}\n",
    )
    .unwrap();
    run_ok(home.helm(helm).args([
        "install",
        "hooked",
        chart.to_str().unwrap(),
        "-n",
        &ns,
        "--create-namespace",
    ]));
    let run = |args: &[&str]| {
        let mut cmd = hau_for(home, helm);
        cmd.args(["uninstall", "hooked", "-n", &ns, "-o", "json"])
            .args(args);
        cmd.output().expect("run")
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let refused = first_event(&out, "refused");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains(&format!("ConfigMap/{ns}/pre-delete-hook")),
        "{refused}"
    );

    let out = run(&["--no-hooks"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    assert!(
        evs.iter()
            .any(|e| e["event"] == "skip" && e["reason"] == "kept by helm.sh/resource-policy")
    );
    let helm_event = evs
        .iter()
        .find(|e| e["event"] == "helm")
        .expect("helm event");
    assert!(
        helm_event["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--no-hooks"))
    );
    let cm = |name: &str| env.get("v1", "ConfigMap", Some(&ns), name).is_some();
    assert!(!cm("plain"));
    assert!(cm("kept"), "helm.sh/resource-policy: keep is respected");
    assert!(!cm("pre-delete-hook"), "the hook never ran");
}

fn rescue_uses_the_saved_manifest_copy_when_there_is_one(helm: Helm) {
    let env = Env::new(helm, 1);
    stop_controller(&env);
    // A refused run still saved the manifest before anything else.
    let out = env.teardown(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(events(&out).iter().any(|e| e["event"] == "manifest_saved"));
    env.scenario.helm_ok(&["uninstall", RELEASE, "-n", NS]);
    env.scenario.sim().arc.restart();
    let out = env.teardown(&["-o", "json", "--rescue", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let start = first_event(&out, "start");
    assert_eq!(start["source"], "saved_manifest");
    assert_eq!(start["rescue"], true);
    assert!(
        env.release_objects_left().is_empty(),
        "left: {:?}",
        env.release_objects_left()
    );
    assert!(env.scenario.sim().arc.github().is_empty());
}

/// A runner-set release where no ARC controller runs, in a namespace of its
/// own (`arc-runners-<helm>-<name>`), on `target`: ARC's CRDs and the example
/// chart, no controller chart (the simulated controller stays idle; the
/// local cluster has none until issue #13). Each release registers with a
/// GitHub URL of its own (`https://github.com/example/<namespace>`): runner
/// sets of one URL and scale set name in other namespaces of the shared
/// cluster would be one registration (preflight refuses:
/// `shared_registration`). Its scenario environment and namespace.
fn without_controller(helm: Helm, target: TargetKind, name: &str) -> (ScenarioEnv, String) {
    let scenario = ScenarioEnv::new(Target::of(target), helm);
    let ns = format!("arc-runners-{}-{name}", helm.slot());
    scenario.helm_ok(&[
        "install",
        RELEASE,
        chart("arc-runner-set").to_str().unwrap(),
        "-n",
        &ns,
        "--create-namespace",
        "--set",
        &format!("githubConfigUrl=https://github.com/example/{ns}"),
    ]);
    (scenario, ns)
}

/// The teardown of the example runner set where no ARC controller runs,
/// through the plugin installed from this checkout (`helm arc-uninstall`),
/// with and without `--wait`. Without a controller nothing ever removes the
/// `actions.github.com/cleanup-protection` finalizers the chart puts on the
/// runner set's RBAC, ServiceAccount and Secret, so the only teardown that
/// finishes is the one the user asks for: preflight refuses
/// (`controller_down`, nothing deleted), then `--force-finalizers` deletes
/// the runner set (which has no finalizer: only the controller adds one),
/// strips exactly cleanup-protection from the chart's objects once it is
/// gone, and deletes them. The order is read from the test's own watch of
/// the namespace; the wall time of the forced run is printed.
fn without_a_controller_refused_then_the_forced_ladder_tears_down(helm: Helm, target: TargetKind) {
    for wait in [true, false] {
        let (scenario, ns) = without_controller(helm, target, if wait { "wait" } else { "nowait" });
        let home = &scenario.helm.home;
        install_plugin(home, helm);
        let watch = watch_runner_set(home.kubeconfig(), &ns);
        let run = |extra: &[&str]| {
            let mut args = vec!["arc-uninstall", RELEASE, "-n", &ns, "-o", "json"];
            if wait {
                args.push("--wait");
            }
            args.extend_from_slice(extra);
            let mut cmd = scenario.helm_cmd(&args);
            cmd.env("HELM_ARC_UNINSTALL_STATE_DIR", state_dir(home));
            output(&mut cmd)
        };

        let out = run(&[]);
        assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
        assert_eq!(first_event(&out, "refused")["cause"], "controller_down");
        assert_nothing_went(&watch);

        let started = Instant::now();
        let out = run(&["--force-finalizers", "--timeout", "60s"]);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let done = summary(&out);
        assert_eq!(done["outcome"], "success");
        eprintln!(
            "{target:?} {helm:?} --wait={wait}: forced teardown of the example runner set \
             without ARC: {:.2} s wall through Helm, {:.2} s in the tool, {} API requests",
            took.as_secs_f64(),
            done["seconds"].as_f64().unwrap(),
            done["requests"]
        );
        let seen = assert_runner_set_gone_first(&watch);

        // The ladder: exactly cleanup-protection, once per chart object,
        // each patch guarded by the object's resourceVersion.
        let patches: Vec<Value> = events(&out)
            .into_iter()
            .filter(|e| e["event"] == "ladder" && e["action"] == "patch")
            .collect();
        assert_eq!(patches.len(), DEPENDENTS.len(), "{}", describe(&out));
        for p in &patches {
            assert_eq!(p["rung"], "cleanup-protection", "{p}");
            assert_eq!(
                p["removes"],
                json!(["actions.github.com/cleanup-protection"])
            );
            assert_eq!(p["patch"][0]["op"], "test", "{p}");
            assert_eq!(p["patch"][0]["path"], "/metadata/resourceVersion", "{p}");
        }
        // The server's view: each chart object lost that finalizer (and
        // nothing else of it) before its DELETE; none was ever Terminating.
        for (kind, name) in DEPENDENTS {
            let mine: Vec<_> = seen.iter().filter(|s| s.is(kind, name)).collect();
            assert!(
                mine.iter().all(|s| s.finalizers.is_empty() && !s.deleting),
                "{kind}/{name}: {mine:#?}"
            );
        }
        let release = scenario
            .helm_cmd(&["status", RELEASE, "-n", &ns])
            .output()
            .unwrap();
        assert!(!release.status.success(), "the release record is gone");
        for (kind, name) in DEPENDENTS {
            let api_version = if kind.starts_with("Role") {
                "rbac.authorization.k8s.io/v1"
            } else {
                "v1"
            };
            assert!(scenario.get(api_version, kind, Some(&ns), name).is_none());
        }
    }
}

/// The scenario environment's steps by hand (a merge patch, a status patch,
/// a DELETE), its controller probe and its record of API calls act alike on
/// the simulator and on the real control plane, so a scenario written with
/// them reads the same on both.
fn steps_by_hand_act_alike_on_every_target(helm: Helm, target: TargetKind) {
    let (scenario, ns) = without_controller(helm, target, "byhand");
    assert!(!scenario.controller_running(), "no controller reconciles");
    let secret = format!("{RELEASE}-gha-rs-github-secret");
    scenario.patch_by_hand(
        "v1",
        "Secret",
        Some(&ns),
        &secret,
        &json!({"metadata": {"labels": {"by": "hand"}}}),
    );
    let labelled = scenario.get("v1", "Secret", Some(&ns), &secret).unwrap();
    assert_eq!(
        labelled.pointer("/metadata/labels/by"),
        Some(&json!("hand"))
    );
    scenario.patch_status_by_hand(
        ARC_API,
        "AutoscalingRunnerSet",
        Some(&ns),
        RELEASE,
        &json!({"currentRunners": 3}),
    );
    let ars = scenario
        .get(ARC_API, "AutoscalingRunnerSet", Some(&ns), RELEASE)
        .unwrap();
    assert_eq!(
        ars.pointer("/status/currentRunners"),
        Some(&json!(3)),
        "{ars}"
    );
    // Without a controller the runner set has no finalizer: gone at once.
    assert!(scenario.delete_by_hand(ARC_API, "AutoscalingRunnerSet", Some(&ns), RELEASE));
    assert!(
        scenario
            .get(ARC_API, "AutoscalingRunnerSet", Some(&ns), RELEASE)
            .is_none()
    );
    assert!(
        !scenario.delete_by_hand(ARC_API, "AutoscalingRunnerSet", Some(&ns), RELEASE),
        "a second DELETE finds nothing"
    );
    // The target's record of API calls (the simulator's event log, the local
    // API server's audit log) has the DELETE, made by hand.
    let by_hand = match target {
        TargetKind::Sim => "someone-else",
        TargetKind::Local => "kubectl",
    };
    wait_until("the DELETE in the record", Duration::from_secs(10), || {
        scenario.log().iter().any(|e| {
            e.verb == "delete"
                && e.kind == "AutoscalingRunnerSet"
                && e.namespace.as_deref() == Some(ns.as_str())
                && e.name == RELEASE
                && e.actor == by_hand
                && e.code == 200
        })
    });
}

crate::on_both_helms!(
    healthy,
    controller_stopped_refuses_then_force_finalizers_completes,
    credentials_gone_refuses_then_credential_ladder_lets_the_controller_finish,
    busy_runner_times_out_with_diagnosis_then_completes_when_the_job_ends,
    lost_manager_role_binding_is_diagnosed_as_lost_rbac,
    lost_rbac_during_a_forced_run_gets_the_ladder_after_the_timeout,
    lost_rbac_before_the_run_refuses_then_the_forced_ladder_leaves_no_runner,
    faults_5xx_429_and_dropped_watches_still_complete_and_touch_nothing_else,
    sigint_in_the_middle_then_rerun_completes,
    rescue_finishes_after_plain_helm_uninstall_left_objects_terminating,
    rescue_uses_the_saved_manifest_copy_when_there_is_one,
    secret_data_never_appears_in_any_output_mode,
    through_the_helm_plugin,
);

/// The scenarios that need no ARC controller, on both Helm versions and both
/// targets: `<scenario>::<helm>::sim` and `<scenario>::<helm>::local`.
macro_rules! on_both_helms_and_targets {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            mod helm3 {
                use super::*;
                #[test]
                fn sim() {
                    super::super::$name(Helm::V3, TargetKind::Sim)
                }
                #[test]
                fn local() {
                    super::super::$name(Helm::V3, TargetKind::Local)
                }
            }
            mod helm4 {
                use super::*;
                #[test]
                fn sim() {
                    super::super::$name(Helm::V4, TargetKind::Sim)
                }
                #[test]
                fn local() {
                    super::super::$name(Helm::V4, TargetKind::Local)
                }
            }
        }
    )*};
}

on_both_helms_and_targets!(
    without_a_controller_refused_then_the_forced_ladder_tears_down,
    plan_of_a_live_release_reads_it_through_helm,
    pre_delete_hooks_are_refused_without_no_hooks_and_kept_objects_stay,
    steps_by_hand_act_alike_on_every_target,
);
