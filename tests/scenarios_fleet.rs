//! Fleet scenarios against the API simulator with its simulated ARC
//! controller and fake GitHub, installed through real Helm: every runner set
//! before the controller (`--all-runner-sets --with-controller --delete-crds`),
//! the controller-first guard, and `doctor` on seeded problems.
//!
//! Slow (Helm installs of many releases): their own test binary.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use arc_sim::controller::ArcConfig;
use kube_sim::LogEntry;
use kube_sim::SimConfig;
use kube_sim::api::{DeleteOptions, Gvk, Patch};
use scenario::cli_output::{describe_tail, json_lines as lines};
use scenario::event_log::{is_write, last_ars_write};
use scenario::sim_env::{
    ARC_API as ARS, CONTROLLER_NS, ScenarioEnv, actor, chart, hau_in, plugin_env, run_hau, start,
    wait_until,
};
use scenario::upgrade;
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{Helm, hau_bin};

/// The simulator with ARC and the controller release `arc`.
struct Env {
    scenario: ScenarioEnv,
}

impl Env {
    /// The simulator with ARC's CRDs, its controller and the controller chart (release `arc`).
    fn new(helm: Helm) -> Env {
        let env = Env {
            scenario: start(helm, SimConfig::default(), ArcConfig::default()),
        };
        env.scenario.install_controller(&[]);
        env
    }

    /// Install runner-set releases `(namespace, release)` with `min_runners`,
    /// a few Helm processes at a time; wait until every one is registered.
    fn install_runner_sets(&self, sets: &[(String, String)], min_runners: u32, extra: &[&str]) {
        let chart = chart("arc-runner-set");
        for batch in sets.chunks(4) {
            let children: Vec<_> = batch
                .iter()
                .map(|(ns, release)| {
                    let mut cmd = self.scenario.helm_cmd(&[
                        "install",
                        release,
                        chart.to_str().unwrap(),
                        "-n",
                        ns,
                    ]);
                    cmd.args(["--create-namespace", "--set"])
                        .arg(format!("minRunners={min_runners}"))
                        .args(extra);
                    cmd.stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped());
                    (release.clone(), cmd.spawn().expect("spawn helm"))
                })
                .collect();
            for (release, child) in children {
                let out = child.wait_with_output().expect("helm install");
                assert!(
                    out.status.success(),
                    "helm install {release}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        wait_until("runner sets ready", Duration::from_secs(120), || {
            let registered = self
                .scenario
                .list(ARS, "AutoscalingRunnerSet", None)
                .iter()
                .filter(|a| {
                    a.pointer("/metadata/annotations/runner-scale-set-id")
                        .is_some()
                })
                .count();
            let runners = self
                .scenario
                .list(ARS, "EphemeralRunner", None)
                .iter()
                .filter(|r| r.pointer("/status/runnerId").is_some())
                .count();
            registered >= sets.len() && runners >= sets.len() * min_runners as usize
        });
    }

    /// `helm upgrade` that drops the kube-mode SA, Role and RoleBinding of
    /// `release` (containerMode kubernetes -> default): they keep
    /// cleanup-protection forever (the upgrade trap). Returns once the
    /// controller has replaced the runner set and nothing runs as the
    /// dropped ServiceAccount any more (the trap is then safe to fix).
    /// Their name.
    fn spring_upgrade_trap(&self, ns: &str, release: &str) -> String {
        let kube_mode = upgrade::drop_kube_mode(&self.scenario, ns, release);
        upgrade::wait_kube_mode_unused(&self.scenario, ns, release, Duration::from_secs(30));
        kube_mode
    }

    /// Run the built binary as Helm would.
    fn run(&self, namespace: &str, args: &[&str]) -> Output {
        run_hau(&self.scenario, namespace, args)
    }

    fn releases(&self) -> String {
        self.scenario.helm_ok(&["list", "-A", "-q"])
    }
}

fn describe(out: &Output) -> String {
    describe_tail(out, 40)
}

/// Index of the successful DELETE of the controller Deployment.
fn controller_deployment_delete(log: &[LogEntry]) -> usize {
    log.iter()
        .position(|e| {
            e.kind == "Deployment"
                && e.verb == "delete"
                && e.code < 300
                && e.namespace.as_deref() == Some(CONTROLLER_NS)
        })
        .expect("the controller Deployment was deleted")
}

fn fleet_sets(count: usize, namespaces: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| (format!("runners-{}", i % namespaces), format!("set-{i:03}")))
        .collect()
}

/// Releases in the big scenario: `HAU_FLEET_RELEASES` (default 50) in 10 namespaces.
fn fleet_size() -> usize {
    std::env::var("HAU_FLEET_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

#[test]
fn all_runner_sets_then_controller_then_crds() {
    let env = Env::new(Helm::V4);
    let n = fleet_size();
    let sets = fleet_sets(n, 10);
    let started = Instant::now();
    env.install_runner_sets(&sets, 1, &[]);
    eprintln!(
        "installed {n} runner-set releases in {:?}",
        started.elapsed()
    );
    assert!(!env.scenario.sim().arc.github().is_empty());

    let started = Instant::now();
    let out = env.run(
        "default",
        &[
            "--all-runner-sets",
            "-A",
            "--concurrency",
            "8",
            "--with-controller",
            "arc",
            "--delete-crds",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    );
    eprintln!(
        "fleet teardown of {n} releases took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let events = lines(&out);
    let summary = events.last().expect("a summary");
    assert_eq!(summary["event"], "fleet_summary", "{summary}");
    assert_eq!(summary["outcome"], "success", "{summary}");
    let releases = summary["releases"].as_array().unwrap();
    assert_eq!(
        releases.len(),
        n + 1,
        "every runner set release and the controller"
    );
    assert!(
        releases.iter().all(|r| r["outcome"] == "success"),
        "{summary}"
    );
    assert_eq!(releases.last().unwrap()["release"], "arc");
    // Engine events carry their release.
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "wave_start")
            .all(|e| e["release"].as_str().is_some_and(|r| r.contains('/')))
    );

    // Every runner set was gone before the controller's Deployment was deleted.
    let log = env.scenario.log();
    assert!(
        last_ars_write(&log) < controller_deployment_delete(&log),
        "a runner set was still being finalized when the controller was deleted"
    );
    assert!(
        env.scenario
            .list(ARS, "AutoscalingRunnerSet", None)
            .is_empty()
    );
    assert!(env.scenario.list(ARS, "EphemeralRunner", None).is_empty());
    assert!(
        env.scenario.sim().arc.github().is_empty(),
        "GitHub still lists {:?}",
        env.scenario.sim().arc.github().scale_sets()
    );
    assert_eq!(env.releases().trim(), "", "no release is left");
    // CRDs last.
    for crd in [
        "autoscalingrunnersets.actions.github.com",
        "ephemeralrunners.actions.github.com",
    ] {
        let left = env.scenario.get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            crd,
        );
        assert!(
            left.is_none_or(|c| c.pointer("/metadata/deletionTimestamp").is_some()),
            "{crd} was not deleted"
        );
    }
    assert!(events.iter().any(|e| e["event"] == "crd"));
}

#[test]
fn guard_refuses_controller_first_and_cascade_does_runner_sets_first() {
    let env = Env::new(Helm::V3);
    let sets = vec![
        ("team-a".to_string(), "build".to_string()),
        ("team-b".to_string(), "deploy".to_string()),
    ];
    env.install_runner_sets(&sets, 1, &[]);
    let before = env.scenario.log().len();

    let out = env.run(CONTROLLER_NS, &["arc", "-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let events = lines(&out);
    let refused = events
        .iter()
        .find(|e| e["event"] == "refused")
        .expect("a refused event");
    assert_eq!(refused["cause"], "runner_sets_exist");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("AutoscalingRunnerSet/team-a/build"),
        "{message}"
    );
    assert!(
        message.contains("AutoscalingRunnerSet/team-b/deploy"),
        "{message}"
    );
    assert!(message.contains("--cascade-runner-sets"), "{message}");
    assert_eq!(events.last().unwrap()["outcome"], "refused");
    assert!(
        !env.scenario.log()[before..]
            .iter()
            .any(|e| e.actor == "helm-arc-uninstall" && is_write(e)),
        "the guard wrote something"
    );
    assert!(
        env.scenario
            .get(
                "apps/v1",
                "Deployment",
                Some(CONTROLLER_NS),
                "arc-gha-rs-controller"
            )
            .is_some()
    );
    assert!(env.releases().contains("arc"));

    // The same with --cascade-runner-sets: runner sets first, then the controller.
    let out = env.run(
        CONTROLLER_NS,
        &[
            "arc",
            "--cascade-runner-sets",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let log = env.scenario.log();
    assert!(last_ars_write(&log) < controller_deployment_delete(&log));
    assert!(
        env.scenario
            .list(ARS, "AutoscalingRunnerSet", None)
            .is_empty()
    );
    assert!(env.scenario.sim().arc.github().is_empty());
    assert_eq!(env.releases().trim(), "");
}

fn findings(out: &Output) -> Vec<(String, String)> {
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {}", describe(out)));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn doctor_finds_each_seeded_problem_and_fixes_only_the_upgrade_trap() {
    let env = Env::new(Helm::V4);
    let ns = "runners";
    let sets: Vec<(String, String)> = ["healthy", "upgraded", "skewed", "stuck"]
        .iter()
        .map(|r| (ns.to_string(), r.to_string()))
        .collect();
    env.install_runner_sets(&sets, 1, &[]);

    // A clean installation is clean.
    let out = env.run(ns, &["doctor", "-A", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(findings(&out), vec![]);

    // Upgrade trap: containerMode kubernetes -> default drops the kube-mode
    // SA, Role and RoleBinding; they keep cleanup-protection forever.
    let kube_mode = env.spring_upgrade_trap(ns, "upgraded");
    let kube_mode = kube_mode.as_str();
    let role = env
        .scenario
        .get("rbac.authorization.k8s.io/v1", "Role", Some(ns), kube_mode)
        .expect("the dropped Role stays");
    assert!(role.pointer("/metadata/deletionTimestamp").is_some());

    // Controller down, then: a version-skewed runner set, a deleted runner set
    // stuck on its finalizer, orphaned listener RBAC.
    env.scenario.sim().arc.stop();
    let api = env.scenario.api();
    let ars_gvk = Gvk::new(ARS, "AutoscalingRunnerSet");
    api.patch(
        &actor(),
        &ars_gvk,
        Some(ns),
        "skewed",
        Patch::Merge(json!({"metadata": {"labels": {"app.kubernetes.io/version": "0.13.1"}}})),
    )
    .unwrap();
    api.delete(
        &actor(),
        &ars_gvk,
        Some(ns),
        "stuck",
        &DeleteOptions::default(),
    )
    .unwrap();
    let labels = json!({"auto-scaling-listener-name": "gone-1234abcd-listener",
                        "auto-scaling-listener-namespace": CONTROLLER_NS});
    api.create(
        &actor(),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "gone-1234abcd-listener", "namespace": ns, "labels": labels},
               "rules": []}),
    )
    .unwrap();

    let out = env.run(ns, &["doctor", "-A", "-o", "json"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let found = findings(&out);
    let has = |kind: &str, object: &str| found.iter().any(|(k, o)| k == kind && o == object);
    assert!(
        has(
            "controller_unavailable",
            "Deployment/arc-systems/arc-gha-rs-controller"
        ),
        "{found:?}"
    );
    assert!(
        has("stuck_terminating", "AutoscalingRunnerSet/runners/stuck"),
        "{found:?}"
    );
    for kind in ["ServiceAccount", "Role", "RoleBinding"] {
        assert!(
            has("upgrade_trap", &format!("{kind}/runners/{kube_mode}")),
            "{found:?}"
        );
    }
    assert!(
        has(
            "orphaned_listener_rbac",
            "Role/runners/gone-1234abcd-listener"
        ),
        "{found:?}"
    );
    assert!(
        has("version_skew", "AutoscalingRunnerSet/runners/skewed"),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(_, o)| o.contains("/healthy")),
        "the healthy runner set has no finding: {found:?}"
    );

    // Text output names the fix commands.
    let text = env.run(ns, &["doctor", "-A"]);
    assert_eq!(text.status.code(), Some(5));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("kubectl -n arc-systems scale deployment/arc-gha-rs-controller --replicas=1")
    );
    assert!(text.contains("doctor --fix"));

    // A release filter keeps that release's findings (and the controller's).
    let only = findings(&env.run(ns, &["doctor", "stuck", "-o", "json"]));
    assert!(
        only.iter()
            .all(|(k, o)| o.ends_with("/stuck") || k == "controller_unavailable")
    );

    // --fix patches only the upgrade-trap objects.
    let before = env.scenario.log().len();
    let out = env.run(ns, &["doctor", "-A", "--fix", "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "problems are left: {}",
        describe(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fixed: Vec<&str> = report["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["object"].as_str().unwrap())
        .collect();
    assert_eq!(fixed.len(), 3, "{report}");
    let writes: Vec<String> = env.scenario.log()[before..]
        .iter()
        .filter(|e| e.actor == "helm-arc-uninstall" && is_write(e))
        .map(|e| format!("{} {}/{}", e.verb, e.kind, e.name))
        .collect();
    let mut writes_sorted = writes.clone();
    writes_sorted.sort();
    assert_eq!(
        writes_sorted,
        vec![
            format!("patch Role/{kube_mode}"),
            format!("patch RoleBinding/{kube_mode}"),
            format!("patch ServiceAccount/{kube_mode}"),
        ]
    );
    for (api_version, kind) in [
        ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ] {
        assert!(
            env.scenario
                .get(api_version, kind, Some(ns), kube_mode)
                .is_none(),
            "{kind} is gone"
        );
    }
    // The rest is untouched and still reported.
    let after = findings(&env.run(ns, &["doctor", "-A", "-o", "json"]));
    assert!(!after.iter().any(|(k, _)| k == "upgrade_trap"), "{after:?}");
    assert!(after.iter().any(|(k, _)| k == "stuck_terminating"));
    assert!(after.iter().any(|(k, _)| k == "orphaned_listener_rbac"));
    assert!(after.iter().any(|(k, _)| k == "version_skew"));
    let stuck = env
        .scenario
        .get(ARS, "AutoscalingRunnerSet", Some(ns), "stuck")
        .expect("still there");
    assert!(
        stuck
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    );
}

#[test]
fn delete_crds_keeps_the_crds_while_custom_resources_remain() {
    let env = Env::new(Helm::V4);
    let sets = vec![
        ("team-a".to_string(), "build".to_string()),
        ("team-b".to_string(), "other".to_string()),
    ];
    env.install_runner_sets(&sets, 1, &[]);
    let before = env.scenario.log().len();

    // Only team-a's runner sets are in scope (`-n team-a`): team-b's survive.
    let out = env.run(
        "team-a",
        &[
            "--all-runner-sets",
            "--delete-crds",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "a refused step exits 4: {}",
        describe(&out)
    );
    let events = lines(&out);
    let summary = events.last().expect("a summary");
    assert_eq!(summary["event"], "fleet_summary", "{summary}");
    assert_eq!(summary["outcome"], "refused", "{summary}");
    assert_eq!(summary["exit_code"], 4, "{summary}");
    let releases = summary["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1, "{summary}");
    assert_eq!(releases[0]["release"], "build");
    assert_eq!(releases[0]["outcome"], "success");
    let message = summary["message"].as_str().unwrap();
    assert!(
        message.starts_with("1 of 1 runner-set release(s) torn down; CRDs kept: "),
        "{message}"
    );
    assert!(
        message.contains("custom resource(s) of them remain"),
        "{message}"
    );
    assert!(
        message.contains("AutoscalingRunnerSet/team-b/other"),
        "{message}"
    );
    // Every ARC custom resource still there is named.
    for kind in ["AutoscalingRunnerSet", "AutoscalingListener"] {
        for live in env.scenario.list(ARS, kind, None) {
            let id = format!(
                "{kind}/{}/{}",
                live["metadata"]["namespace"].as_str().unwrap(),
                live["metadata"]["name"].as_str().unwrap()
            );
            assert!(message.contains(&id), "{id} is not named: {message}");
        }
    }
    assert!(!events.iter().any(|e| e["event"] == "crd"), "no CRD event");

    // No CRD was deleted (or even attempted); the CRDs and team-b stay.
    let crd_deletes: Vec<LogEntry> = env.scenario.log()[before..]
        .iter()
        .filter(|e| e.kind == "CustomResourceDefinition" && e.verb == "delete")
        .cloned()
        .collect();
    assert!(crd_deletes.is_empty(), "{crd_deletes:?}");
    for crd in [
        "autoscalingrunnersets.actions.github.com",
        "autoscalinglisteners.actions.github.com",
        "ephemeralrunnersets.actions.github.com",
        "ephemeralrunners.actions.github.com",
    ] {
        let live = env
            .scenario
            .get(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                crd,
            )
            .unwrap_or_else(|| panic!("{crd} is gone"));
        assert!(
            live.pointer("/metadata/deletionTimestamp").is_none(),
            "{crd} is being deleted"
        );
    }
    assert!(
        env.scenario
            .get(ARS, "AutoscalingRunnerSet", Some("team-b"), "other")
            .is_some()
    );
    assert!(
        env.scenario
            .get(ARS, "AutoscalingRunnerSet", Some("team-a"), "build")
            .is_none()
    );
    let left = env.releases();
    assert!(left.contains("other") && !left.contains("build"), "{left}");
    assert_eq!(env.scenario.sim().arc.github().scale_sets().len(), 1);
}

#[test]
fn doctor_fix_refuses_an_object_that_changed_since_it_was_read() {
    let env = Env::new(Helm::V4);
    let ns = "runners";
    env.install_runner_sets(&[(ns.to_string(), "upgraded".to_string())], 0, &[]);
    let kube_mode = env.spring_upgrade_trap(ns, "upgraded");
    let kube_mode = kube_mode.as_str();
    let role_api = "rbac.authorization.k8s.io/v1";

    // Hold doctor's PATCH of the Role; meanwhile someone else writes it, so
    // the resourceVersion doctor read (and tests in its patch) is stale.
    let gate = env
        .scenario
        .sim()
        .sim
        .control()
        .gate("PATCH", &format!("/roles/{kube_mode}"));
    let mut doctor = hau_in(&env.scenario, ns, &["doctor", "--fix", "-o", "json"]);
    doctor
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = doctor.spawn().expect("spawn doctor");
    let held = gate.wait_held(1, Duration::from_secs(60));
    if held {
        env.scenario
            .api()
            .patch(
                &actor(),
                &Gvk::new(role_api, "Role"),
                Some(ns),
                kube_mode,
                Patch::Merge(json!({"metadata": {"annotations": {"example.com/touched": "yes"}}})),
            )
            .expect("another writer changes the Role");
    }
    gate.open();
    let out = child.wait_with_output().expect("doctor");
    assert!(held, "doctor never patched the Role: {}", describe(&out));

    assert_eq!(out.status.code(), Some(4), "refused: {}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {}", describe(&out)));
    assert_eq!(report["exit_code"], 4, "{report}");
    let results: Vec<(String, String)> = report["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["object"].as_str().unwrap().to_string(),
                f["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            (
                format!("Role/{ns}/{kube_mode}"),
                "refused: the object changed since it was read; run doctor again".to_string()
            ),
            (format!("RoleBinding/{ns}/{kube_mode}"), "fixed".to_string()),
            (
                format!("ServiceAccount/{ns}/{kube_mode}"),
                "fixed".to_string()
            ),
        ],
        "{report}"
    );
    // The server turned the stale patch down; the finalizer is still there,
    // and the other writer's change too.
    let refused_patch: Vec<LogEntry> = env
        .scenario
        .log()
        .into_iter()
        .filter(|e| {
            e.actor == "helm-arc-uninstall"
                && e.verb == "patch"
                && e.kind == "Role"
                && e.name == kube_mode
        })
        .collect();
    assert_eq!(refused_patch.len(), 1, "{refused_patch:?}");
    assert_eq!(refused_patch[0].code, 422, "{refused_patch:?}");
    let role = env
        .scenario
        .get(role_api, "Role", Some(ns), kube_mode)
        .expect("the Role stays");
    assert_eq!(
        role["metadata"]["finalizers"],
        json!(["actions.github.com/cleanup-protection"]),
        "{role}"
    );
    assert_eq!(
        role["metadata"]["annotations"]["example.com/touched"],
        "yes"
    );
    assert!(
        env.scenario
            .get(role_api, "RoleBinding", Some(ns), kube_mode)
            .is_none()
    );
    assert!(
        env.scenario
            .get("v1", "ServiceAccount", Some(ns), kube_mode)
            .is_none()
    );

    // Run again, as the message says: a fresh read, and the fix applies.
    let out = env.run(ns, &["doctor", "--fix", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        env.scenario
            .get(role_api, "Role", Some(ns), kube_mode)
            .is_none()
    );
}

/// Scale benchmark (run by hand, release build):
/// `HAU_BENCH_RELEASES=200 HAU_BENCH_CONCURRENCY=1,8,32 cargo test --release --test scenarios_fleet fleet_scale_benchmark -- --ignored --nocapture`.
/// Per concurrency: a fresh simulator with the controller and N runner-set
/// releases (minRunners 1), then `--all-runner-sets -A` under `/usr/bin/time`;
/// prints wall time, API requests per deleted object and the plugin's peak RSS.
#[test]
#[ignore = "benchmark: run by hand"]
fn fleet_scale_benchmark() {
    let n: usize = std::env::var("HAU_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let levels: Vec<String> = std::env::var("HAU_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,8,32".to_string())
        .split(',')
        .map(str::to_string)
        .collect();
    for level in levels {
        let env = Env::new(Helm::V4);
        let sets = fleet_sets(n, 10);
        env.install_runner_sets(&sets, 1, &[]);
        let rss_file = env.scenario.helm.home.path().join("rss");
        let mut cmd = Command::new("/usr/bin/time");
        plugin_env(&mut cmd, &env.scenario.helm.home, env.scenario.helm.version)
            .env("HELM_NAMESPACE", "default")
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg(hau_bin())
            .args(["--all-runner-sets", "-A", "--concurrency", &level])
            .args(["--timeout", "120s", "-o", "json"]);
        let started = Instant::now();
        let out = cmd.output().expect("run");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let summary = lines(&out).pop().unwrap();
        let deleted = summary["deleted"].as_u64().unwrap().max(1);
        let requests = summary["requests"].as_u64().unwrap();
        let rss_kib = std::fs::read_to_string(&rss_file).unwrap_or_default();
        let per_release: Vec<f64> = summary["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seconds"].as_f64().unwrap())
            .collect();
        let mean = per_release.iter().sum::<f64>() / per_release.len() as f64;
        eprintln!(
            "BENCH releases={n} concurrency={level} wall={seconds:.1}s mean_release={mean:.2}s deleted={deleted} \
             requests={requests} requests_per_object={:.1} peak_rss_kib={}",
            requests as f64 / deleted as f64,
            rss_kib.trim().lines().last().unwrap_or("?")
        );
        assert!(
            env.scenario
                .list(ARS, "AutoscalingRunnerSet", None)
                .is_empty()
        );
    }
}
