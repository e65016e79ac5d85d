//! Issue #11, items 2 and 3, and the review findings: no success reported
//! over a wedge, no credential on disk, bounded waits and calls, complete
//! error reports. Against the simulator with ARC's controller and real
//! Helm 3.17.3 / 4.1.4, the binary run as Helm runs it.
//!
//! Slow (seconds each): their own test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use arc_sim::controller::ArcConfig;
use kube_sim::SimConfig;
use kube_sim::api::{Actor, DeleteOptions, Gvk, Patch};
use scenario::cli_output::{FollowedStdout, describe, first_event, json_lines as events, summary};
use scenario::event_log::{is_ours, is_write};
use scenario::sim_env::{ARC_API, ScenarioEnv, chart, hau_in, start, state_dir, wait_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use support::Helm;

/// The fake token in examples/charts/arc-runner-set/values.yaml.
const TOKEN: &str = "ghp_EXAMPLEexampleEXAMPLE000000000000";
/// The same token as stored in the Secret's `data` (base64).
const TOKEN_B64: &str = "Z2hwX0VYQU1QTEVleGFtcGxlRVhBTVBMRTAwMDAwMDAwMDAwMA==";
const RELEASE: &str = "arc-runner-set";
const NS: &str = "arc-runners";

/// The release's kinds (apiVersion, kind), runner set last.
const RELEASE_KINDS: [(&str, &str); 5] = [
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    (ARC_API, "AutoscalingRunnerSet"),
];

/// The simulator with ARC, the controller chart and a ready runner set.
struct Env {
    scenario: ScenarioEnv,
}

impl Env {
    /// ARC's controller only.
    fn controller_only(helm: Helm) -> Env {
        let env = Env {
            scenario: start(helm, SimConfig::default(), ArcConfig::default()),
        };
        env.scenario.install_controller(&[]);
        env
    }

    fn new(helm: Helm, min_runners: u32) -> Env {
        let env = Env::controller_only(helm);
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
        wait_until("runner set ready", Duration::from_secs(20), || {
            env.scenario
                .get(ARC_API, "AutoscalingRunnerSet", Some(NS), RELEASE)
                .and_then(|a| {
                    a.pointer("/metadata/annotations/runner-scale-set-id")
                        .cloned()
                })
                .is_some()
                && env
                    .scenario
                    .list(ARC_API, "EphemeralRunner", Some(NS))
                    .iter()
                    .filter(|r| r.pointer("/status/runnerId").is_some())
                    .count()
                    == min_runners as usize
        });
        env
    }

    /// `helm-arc-uninstall uninstall RELEASE -n NS -o json args...` as Helm runs it.
    fn teardown(&self, args: &[&str]) -> Output {
        hau_in(&self.scenario, NS, &["uninstall", RELEASE, "-o", "json"])
            .args(args)
            .output()
            .expect("run helm-arc-uninstall")
    }

    /// The release's objects present now, `Kind/name`, with whether each is Terminating.
    fn release_objects(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for (api_version, kind) in RELEASE_KINDS {
            for o in self.scenario.list(api_version, kind, Some(NS)) {
                if o.pointer("/metadata/annotations/meta.helm.sh~1release-name")
                    .and_then(Value::as_str)
                    == Some(RELEASE)
                {
                    out.push((
                        format!("{kind}/{}", o["metadata"]["name"].as_str().unwrap()),
                        o.pointer("/metadata/deletionTimestamp").is_some(),
                    ));
                }
            }
        }
        out
    }

    fn release_exists(&self) -> bool {
        self.scenario
            .helm_cmd(&["status", RELEASE, "-n", NS])
            .output()
            .expect("helm status")
            .status
            .success()
    }

    /// Someone else deletes the release's objects of `kinds`; with `strip`,
    /// stripping their finalizers until they are gone (a running controller
    /// may add its finalizer back in between), else those with finalizers
    /// stay Terminating.
    fn delete_by_hand(&self, kinds: &[(&str, &str)], strip: bool) {
        let api = self.scenario.api();
        let someone = Actor("someone-else".into());
        let ours = |api_version: &str, kind: &str| -> Vec<String> {
            self.scenario
                .list(api_version, kind, Some(NS))
                .iter()
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
                .filter(|name| name.starts_with(RELEASE))
                .collect()
        };
        for (api_version, kind) in kinds {
            let gvk = Gvk::new(api_version, kind);
            for name in ours(api_version, kind) {
                let _ = api.delete(&someone, &gvk, Some(NS), &name, &DeleteOptions::default());
            }
            if strip {
                wait_until(
                    &format!("{kind}s deleted by hand"),
                    Duration::from_secs(20),
                    || {
                        let left = ours(api_version, kind);
                        for name in &left {
                            let none = Patch::Merge(json!({"metadata": {"finalizers": null}}));
                            let _ = api.patch(&someone, &gvk, Some(NS), name, none);
                        }
                        left.is_empty()
                    },
                );
            }
        }
    }

    /// Strip the finalizers of every Terminating release object after `delay`.
    fn release_them_after(&self, delay: Duration) -> std::thread::JoinHandle<()> {
        let api = self.scenario.api();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let someone = Actor("someone-else".into());
            for (api_version, kind) in RELEASE_KINDS {
                let gvk = Gvk::new(api_version, kind);
                let items = api
                    .list(&someone, &gvk, Some(NS), &Default::default())
                    .unwrap_or_default();
                for o in items {
                    let name = o["metadata"]["name"].as_str().unwrap_or_default();
                    if name.starts_with(RELEASE) {
                        let none = Patch::Merge(json!({"metadata": {"finalizers": null}}));
                        let _ = api.patch(&someone, &gvk, Some(NS), name, none);
                    }
                }
            }
        })
    }

    fn state_dir(&self) -> PathBuf {
        state_dir(&self.scenario.helm.home)
    }

    fn manifest_copy(&self) -> PathBuf {
        self.state_dir()
            .join(NS)
            .join(RELEASE)
            .join("manifest.yaml")
    }

    fn our_writes_since(&self, from: usize) -> Vec<String> {
        self.scenario.log()[from..]
            .iter()
            .filter(|e| is_ours(e) && is_write(e))
            .map(|e| format!("{} {}/{}", e.verb, e.kind, e.name))
            .collect()
    }
}

// ---- Item 2: a wedge is never reported as success ----------------------

/// Preflight finds problems (no controller) and none of the release's
/// objects exists: refused, `helm uninstall` not run, the record kept.
fn nothing_of_the_release_found_with_problems_is_refused(helm: Helm) {
    let env = Env::new(helm, 1);
    env.scenario.sim().arc.stop();
    env.delete_by_hand(&RELEASE_KINDS, true);
    assert!(env.release_objects().is_empty());
    let from = env.scenario.log().len();
    let out = env.teardown(&["--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let refused = first_event(&out, "refused");
    assert_eq!(refused["cause"], "nothing_found", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains(&env.scenario.sim().sim.url()),
        "names the server: {message}"
    );
    assert!(message.contains("ARC controller"), "{message}");
    assert!(
        !events(&out).iter().any(|e| e["event"] == "helm"),
        "helm uninstall was not run"
    );
    assert_ne!(summary(&out)["outcome"], "success");
    assert!(env.release_exists(), "the release record is kept");
    assert_eq!(env.our_writes_since(from), Vec::<String>::new());
}

/// The same with the controller up (a rerun after our own teardown whose
/// `helm uninstall` failed): nothing is wrong, the record is removed.
fn nothing_of_the_release_found_without_problems_removes_the_record(helm: Helm) {
    let env = Env::new(helm, 0);
    // (With the controller stopped meanwhile: it would add its finalizer back.)
    env.scenario.sim().arc.stop();
    env.delete_by_hand(&RELEASE_KINDS, true);
    env.scenario.sim().arc.restart();
    wait_until(
        "the controller is available",
        Duration::from_secs(20),
        || {
            env.scenario
                .list("apps/v1", "Deployment", Some("arc-systems"))
                .iter()
                .any(|d| {
                    d.pointer("/status/availableReplicas")
                        .and_then(Value::as_i64)
                        > Some(0)
                })
        },
    );
    let out = env.teardown(&["--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        events(&out)
            .iter()
            .filter(|e| e["event"] == "check")
            .all(|e| e["ok"] == true),
        "{}",
        describe(&out)
    );
    assert!(!env.release_exists());
}

/// Problems found, the runner set gone, its dependents Terminating: they
/// are waited for and diagnosed at the timeout (exit 3), never success.
fn terminating_objects_are_waited_for_and_diagnosed(helm: Helm) {
    let env = Env::new(helm, 1);
    env.scenario.sim().arc.stop();
    env.delete_by_hand(&RELEASE_KINDS[4..], true);
    env.delete_by_hand(&RELEASE_KINDS[..4], false);
    let left = env.release_objects();
    assert!(!left.is_empty() && left.iter().all(|(_, t)| *t), "{left:?}");
    let out = env.teardown(&["--timeout", "2s"]);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    assert!(
        evs.iter()
            .any(|e| e["event"] == "check" && e["ok"] == false)
    );
    assert!(
        !evs.iter().any(|e| e["event"] == "helm"),
        "{}",
        describe(&out)
    );
    assert!(env.release_exists());
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let diagnosis = first_event(&out, "diagnosis");
    let objects: Vec<&str> = diagnosis["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["object"].as_str().unwrap())
        .collect();
    assert!(
        objects.iter().any(|o| o.starts_with("Secret/")),
        "{diagnosis}"
    );
}

/// The same, but the Terminating objects go away while the run waits: then
/// (and only then) success.
fn terminating_objects_that_go_away_end_in_success(helm: Helm) {
    let env = Env::new(helm, 1);
    env.scenario.sim().arc.stop();
    env.delete_by_hand(&RELEASE_KINDS[4..], true);
    env.delete_by_hand(&RELEASE_KINDS[..4], false);
    let releaser = env.release_them_after(Duration::from_millis(1500));
    let out = env.teardown(&["--timeout", "30s"]);
    releaser.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let evs = events(&out);
    assert!(
        evs.iter()
            .any(|e| e["event"] == "delete" && e["result"] == "already_terminating"),
        "{}",
        describe(&out)
    );
    assert!(env.release_objects().is_empty());
    assert!(!env.release_exists());
}

// ---- Item 3: no credential on disk --------------------------------------

/// Every file under `dir`, recursively, with every directory.
fn walk(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    let mut i = 0;
    while i < dirs.len() {
        for entry in std::fs::read_dir(&dirs[i]).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
        i += 1;
    }
    (files, dirs)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The saved copy holds neither the token nor its base64, is private from
/// its creation, serves `--rescue`, and goes once the release is gone.
fn the_saved_copy_holds_no_token_is_private_and_goes_with_the_release(helm: Helm) {
    let env = Env::new(helm, 1);
    env.scenario.sim().arc.stop();
    // Refused (controller down): the copy was saved before anything else.
    let out = env.teardown(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let copy = env.manifest_copy();
    assert!(copy.is_file(), "{}", describe(&out));
    let (files, dirs) = walk(&env.state_dir());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(TOKEN) && !text.contains(TOKEN_B64),
            "{} holds the token",
            file.display()
        );
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    for dir in &dirs {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    let text = std::fs::read_to_string(&copy).unwrap();
    assert!(
        text.contains("\"github_token\": \"\""),
        "the key stays: {text}"
    );

    // Plain `helm uninstall` leaves everything Terminating; --rescue from the copy finishes.
    env.scenario.helm_ok(&["uninstall", RELEASE, "-n", NS]);
    env.scenario.sim().arc.restart();
    let out = env.teardown(&["--rescue", "--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(first_event(&out, "start")["source"], "saved_manifest");
    assert!(env.release_objects().is_empty());
    assert!(
        !copy.exists(),
        "the copy is removed once the release is gone"
    );
    assert!(
        events(&out)
            .iter()
            .any(|e| e["event"] == "manifest_removed"),
        "{}",
        describe(&out)
    );
}

/// A successful run leaves no copy (and no token) behind.
fn a_successful_run_leaves_nothing_on_disk(helm: Helm) {
    let env = Env::new(helm, 0);
    let out = env.teardown(&["--timeout", "30s"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        events(&out).iter().any(|e| e["event"] == "manifest_saved"),
        "{}",
        describe(&out)
    );
    assert!(!env.manifest_copy().exists());
    let (files, _) = walk(&env.state_dir());
    assert!(files.is_empty(), "left under the state dir: {files:?}");
}

// ---- Review findings ------------------------------------------------------

/// Faults on the simulator's HTTP front end (lifted by [`Env::clear_faults`]).
impl Env {
    fn faults(&self, faults: kube_sim::Faults) {
        self.scenario.sim().sim.control().set_faults(faults);
    }

    fn clear_faults(&self) {
        self.scenario.sim().sim.control().clear_faults();
    }

    /// Hold every request with `method` whose path contains `path` until the gate opens.
    fn gate(&self, method: &str, path: &str) -> kube_sim::Gate {
        self.scenario.sim().sim.control().gate(method, path)
    }

    /// The binary as Helm runs it, started (stdout and stderr piped).
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        hau_in(&self.scenario, NS, &["uninstall", RELEASE, "-o", "json"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn helm-arc-uninstall")
    }

    /// Processes started with this environment's state directory in their
    /// environment (the binary and the `helm` it runs), by pid.
    fn our_processes(&self) -> Vec<String> {
        let marker = self.state_dir().display().to_string();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let pid = entry.file_name().to_string_lossy().to_string();
            if !pid.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let alive = std::fs::read_to_string(entry.path().join("stat"))
                .is_ok_and(|stat| !stat.contains(") Z "));
            if alive && String::from_utf8_lossy(&environ).contains(&marker) {
                pids.push(pid);
            }
        }
        pids
    }
}

/// Give a registered runner of `ns` a job that runs until ended (it holds
/// its runner set Terminating).
fn start_a_job(env: &Env, ns: &str) {
    wait_until(
        "a registered runner takes a job",
        Duration::from_secs(20),
        || {
            env.scenario
                .list(ARC_API, "EphemeralRunner", Some(ns))
                .iter()
                .filter(|r| r.pointer("/status/runnerId").is_some())
                .filter_map(|r| r["metadata"]["name"].as_str())
                .any(|name| env.scenario.sim().arc.start_job(ns, name, None).is_ok())
        },
    );
}

/// Wait for `child` at most `limit`; a run that does not end is killed and fails the test.
fn wait_at_most(mut child: std::process::Child, limit: Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the run did not end within {limit:?} (killed)\n{}",
                describe(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A watch the API server refuses (403) ends the wait at once with an error
/// naming the resource and the verb, not after --timeout as a slow controller.
fn a_refused_watch_ends_the_wait_at_once(helm: Helm) {
    let env = Env::new(helm, 1);
    // A job on the runner keeps the runner set Terminating: the wait must watch.
    start_a_job(&env, NS);
    env.faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(403),
        query_contains: Some("watch=true".into()),
        ..Default::default()
    });
    let out = env.teardown(&["--timeout", "20s"]);
    env.clear_faults();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "missing permission: cannot watch autoscalingrunnersets.actions.github.com in namespace arc-runners"
        ) && stderr.contains("403"),
        "{stderr}"
    );
    let evs = events(&out);
    assert!(
        !evs.iter()
            .any(|e| e["event"] == "wave_timed_out" || e["event"] == "diagnosis"),
        "{}",
        describe(&out)
    );
}

/// An API request that gets no answer ends at its deadline (and the wave at
/// --timeout), instead of hanging the run.
fn a_request_without_answer_ends_at_the_deadline(helm: Helm) {
    let env = Env::new(helm, 0);
    let gate = env.gate("DELETE", "/autoscalingrunnersets/");
    let child = env.spawn(&["--timeout", "2s"]);
    let out = wait_at_most(child, Duration::from_secs(60));
    gate.open();
    assert!(gate.held() >= 1, "the DELETE reached the server");
    assert!(
        matches!(out.status.code(), Some(1 | 3)),
        "{}",
        describe(&out)
    );
    let text = all_output(&out);
    assert!(
        text.contains("no answer from the API server within 2s")
            || text.contains("\"event\":\"wave_timed_out\""),
        "{text}"
    );
}

/// A Helm child is stopped at its deadline (--timeout), and the run says so.
fn helm_is_stopped_at_its_deadline(helm: Helm) {
    let env = Env::new(helm, 0);
    // Helm's read of the release record (its Secrets) gets no answer.
    let gate = env.gate("GET", "/namespaces/arc-runners/secrets");
    let child = env.spawn(&["--timeout", "3s"]);
    let out = wait_at_most(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`helm get manifest arc-runner-set` did not finish within 3s"),
        "{stderr}"
    );
    wait_until("Helm is stopped", Duration::from_secs(10), || {
        env.our_processes().is_empty()
    });
    gate.open();
}

/// Ctrl-C stops the `helm` the run started with it.
fn an_interrupted_run_stops_its_helm(helm: Helm) {
    let env = Env::new(helm, 0);
    let gate = env.gate("GET", "/namespaces/arc-runners/secrets");
    let child = env.spawn(&["--timeout", "60s"]);
    assert!(
        gate.wait_held(1, Duration::from_secs(20)),
        "Helm reached the server"
    );
    assert!(
        env.our_processes().len() >= 2,
        "the binary and its helm run"
    );
    interrupt(&child);
    let out = wait_at_most(child, Duration::from_secs(30));
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        describe(&out)
    );
    wait_until("Helm is stopped", Duration::from_secs(10), || {
        env.our_processes().is_empty()
    });
    gate.open();
}

/// Every DELETE of a wave that fails is reported, not only the first.
fn every_failed_delete_of_a_wave_is_reported(helm: Helm) {
    let env = Env::new(helm, 0);
    env.faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(403),
        methods: vec!["DELETE".into()],
        path_contains: Some("/rolebindings/".into()),
        ..Default::default()
    });
    let out = env.teardown(&["--timeout", "30s"]);
    env.clear_faults();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wave 1: DELETE failed for 2 of 3 objects"),
        "{stderr}"
    );
    for rb in [
        "arc-runner-set-gha-rs-manager",
        "arc-runner-set-gha-rs-kube-mode",
    ] {
        assert!(
            stderr.contains(&format!("RoleBinding/arc-runners/{rb}")),
            "{rb}: {stderr}"
        );
    }
    let failed: Vec<Value> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "delete" && e["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(env.release_exists(), "helm uninstall was not run");
}

/// A finalizer patch that keeps conflicting ends the run with an error.
fn a_patch_that_keeps_conflicting_is_an_error(helm: Helm) {
    let env = Env::new(helm, 1);
    env.scenario.sim().arc.stop();
    env.faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(409),
        methods: vec!["PATCH".into()],
        ..Default::default()
    });
    let out = env.teardown(&["--timeout", "20s", "--force-finalizers"]);
    env.clear_faults();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gave up patching") && stderr.contains("after 8 conflicts"),
        "{stderr}"
    );
    assert!(env.release_exists());
}

/// Two runner-set releases (`set-a` in `team-a`, `set-b` in `team-b`) with
/// `min_runners` runners each.
fn two_runner_sets(env: &Env, min_runners: u32) {
    for (ns, release) in [("team-a", "set-a"), ("team-b", "set-b")] {
        env.scenario.helm_ok(&[
            "install",
            release,
            chart("arc-runner-set").to_str().unwrap(),
            "-n",
            ns,
            "--create-namespace",
            "--set",
            &format!("minRunners={min_runners}"),
        ]);
        wait_until("runners registered", Duration::from_secs(20), || {
            env.scenario
                .list(ARC_API, "EphemeralRunner", Some(ns))
                .iter()
                .filter(|r| r.pointer("/status/runnerId").is_some())
                .count()
                == min_runners as usize
        });
    }
}

fn fleet_summary(out: &Output) -> Value {
    events(out)
        .into_iter()
        .rfind(|e| e["event"] == "fleet_summary")
        .unwrap_or_else(|| panic!("no fleet_summary\n{}", describe(out)))
}

/// `--all-runner-sets` interrupted: its summary still counts what was
/// deleted and the requests made.
fn an_interrupted_fleet_counts_what_it_did(helm: Helm) {
    let env = Env::controller_only(helm);
    two_runner_sets(&env, 1);
    // A job on each set holds its runner set Terminating.
    for ns in ["team-a", "team-b"] {
        start_a_job(&env, ns);
    }
    let mut child = hau_in(
        &env.scenario,
        "team-a",
        &[
            "uninstall",
            "--all-runner-sets",
            "-A",
            "-o",
            "json",
            "--timeout",
            "60s",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Interrupted once the run itself has reported both runner sets'
    // DELETEs (the API server applying a DELETE is not the client having
    // counted it: interrupting in between would make the count racy).
    let stdout = FollowedStdout::follow(&mut child);
    wait_until(
        "both runner sets' DELETEs reported",
        Duration::from_secs(30),
        || stdout.deletes_reported("AutoscalingRunnerSet") >= 2,
    );
    interrupt(&child);
    let mut out = wait_at_most(child, Duration::from_secs(30));
    stdout.finish(&mut out);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = fleet_summary(&out);
    assert_eq!(summary["outcome"], "failed", "{summary}");
    assert!(
        summary["message"].as_str().unwrap().contains("interrupted"),
        "{summary}"
    );
    // At least both runner sets (later waves may have run too).
    assert!(summary["deleted"].as_u64().unwrap() >= 2, "{summary}");
    assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");
}

/// `--all-runner-sets` failing after the runner sets went (the CRD DELETE is
/// refused): its summary counts what was deleted and the requests made.
fn a_failing_fleet_counts_what_it_did(helm: Helm) {
    let env = Env::controller_only(helm);
    two_runner_sets(&env, 0);
    env.faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(403),
        methods: vec!["DELETE".into()],
        path_contains: Some("customresourcedefinitions".into()),
        ..Default::default()
    });
    let out = hau_in(
        &env.scenario,
        "team-a",
        &[
            "uninstall",
            "--all-runner-sets",
            "-A",
            "--delete-crds",
            "-o",
            "json",
            "--timeout",
            "30s",
        ],
    )
    .output()
    .unwrap();
    env.clear_faults();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let summary = fleet_summary(&out);
    assert_eq!(summary["outcome"], "failed", "{summary}");
    // Each release's seven objects, all deleted before the CRD step failed.
    assert_eq!(summary["deleted"], 14, "{summary}");
    assert!(
        summary["message"].as_str().unwrap().contains(
            "delete CustomResourceDefinition/autoscalingrunnersets.actions.github.com: deleting \
             CustomResourceDefinition/autoscalingrunnersets.actions.github.com: missing permission: \
             cannot delete customresourcedefinitions.apiextensions.k8s.io"
        ),
        "{summary}"
    );
    assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");
}

crate::on_both_helms!(
    nothing_of_the_release_found_with_problems_is_refused,
    nothing_of_the_release_found_without_problems_removes_the_record,
    terminating_objects_are_waited_for_and_diagnosed,
    terminating_objects_that_go_away_end_in_success,
    the_saved_copy_holds_no_token_is_private_and_goes_with_the_release,
    a_successful_run_leaves_nothing_on_disk,
    a_refused_watch_ends_the_wait_at_once,
    a_request_without_answer_ends_at_the_deadline,
    helm_is_stopped_at_its_deadline,
    an_interrupted_run_stops_its_helm,
    every_failed_delete_of_a_wave_is_reported,
    a_patch_that_keeps_conflicting_is_an_error,
    an_interrupted_fleet_counts_what_it_did,
    a_failing_fleet_counts_what_it_did,
);
