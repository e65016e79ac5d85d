//! `render --hooks` end to end (slow): real Helm 4.1.4 against the simulator
//! with the simulated ARC controller and the Job runner (the hook Jobs run
//! the real kubectl 1.35 against the simulator).
//!
//! - With `--post-renderer-args=--hooks`, a plain `helm uninstall --wait`
//!   deletes the AutoscalingRunnerSet and waits for it to be gone before any
//!   DELETE of its dependents; the hook resources are cleaned up; the fake
//!   GitHub is empty. Without `--hooks`, Helm's own order (dependents first).
//! - Controller stopped: the first hook Job fails on its deadline, `helm
//!   uninstall` reports it, only the runner set was deleted.
//! - Helm 3.17.3: `render --hooks` refuses, plain `render` works.
//!
//! On the local control plane (`*_on_the_local_cluster`; kube-apiserver
//! v1.35.4, the real Job controller and scheduler, a kwok node; no ARC
//! controller), read from the test's own watch: the hook Jobs are run by
//! kwok, which completes a Job's pod without running its container, so no
//! hook command has any effect there. What the real control plane decides is
//! checked instead: the generated hooks pass real validation and the
//! PodSecurity `restricted` admission of their namespace, Helm 4 creates the
//! wave Jobs one at a time in weight order and waits for each to complete
//! before it deletes anything itself, and removes them afterwards; every
//! wave's exact kubectl command, run as the hooks' ServiceAccount (server
//! dry run, impersonated), is authorized by the real RBAC authorizer with
//! the generated Role, which grants nothing else. That the commands delete
//! the runner set first and wait for it is shown on the simulator, which
//! runs them. Without `--hooks`, Helm's own order (dependents first) is
//! seen there too. The chart is installed without its cleanup-protection
//! finalizers (no controller would remove them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use std::time::{Duration, Instant};

use arc_sim::SimExt;
use arc_sim::controller::{ArcConfig, Timing};
use arc_sim::jobs::JobRunner;
use kube_sim::LogEntry;
use kube_sim::SimConfig;
use kube_sim::api::ListOptions;
use scenario::event_log::dump;
use scenario::order::{DEPENDENTS as DEPENDENT_NAMES, RUNNER_SET};
use scenario::sim_env::{
    ScenarioEnv, chart, runner_set_chart_without_cleanup_protection, start, wait_until,
};
use serde_json::Value;
use support::{
    Helm, HelmHome, install_plugin, kubectl_objects, output, run_ok, with_post_renderer,
};
use testenv::Target;
use testenv::watch::{ApiWatch, Change, JOBS, RUNNER_SET_KINDS, Seen};

const NS: &str = "arc-runners";
const ARS: (&str, &str) = ("actions.github.com/v1alpha1", "AutoscalingRunnerSet");
/// The release's objects other than the runner set (its dependents).
const DEPENDENTS: [(&str, &str, &str); 6] = [
    ("v1", "ServiceAccount", "arc-runner-set-gha-rs-kube-mode"),
    ("v1", "Secret", "arc-runner-set-gha-rs-github-secret"),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        "arc-runner-set-gha-rs-kube-mode",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        "arc-runner-set-gha-rs-manager",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "arc-runner-set-gha-rs-kube-mode",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "arc-runner-set-gha-rs-manager",
    ),
];

/// The simulator with ARC (fast timing), the Job runner, the plugin
/// installed in Helm 4 and the controller release `arc`.
struct Rig {
    env: ScenarioEnv,
    jobs: JobRunner,
    plugin_dir: std::path::PathBuf,
}

impl Rig {
    fn start() -> Self {
        let env = start(
            Helm::V4,
            SimConfig::default(),
            ArcConfig {
                timing: Timing::fast(),
                ..ArcConfig::default()
            },
        );
        let jobs = env
            .sim()
            .sim
            .start_job_runner(Helm::V4.kubectl())
            .expect("job runner");
        let plugin_dir = install_plugin(&env.helm.home, Helm::V4);
        env.install_controller(&["--wait", "--timeout", "60s"]);
        Rig {
            env,
            jobs,
            plugin_dir,
        }
    }

    /// Install the runner set through the post-renderer with `render_args`.
    fn install_runner_set(&self, render_args: &[&str]) {
        let mut cmd = self.env.helm_cmd(&["install", "arc-runner-set"]);
        cmd.arg(chart("arc-runner-set")).args([
            "-n",
            NS,
            "--create-namespace",
            "--set",
            "minRunners=1",
        ]);
        with_post_renderer(&mut cmd, &self.env.helm.home, Helm::V4, &self.plugin_dir);
        for arg in render_args {
            cmd.arg(format!("--post-renderer-args={arg}"));
        }
        run_ok(&mut cmd);
        self.wait_until("one runner is registered", |r| {
            r.env.sim().arc.github().runners().len() == 1
        });
    }

    fn uninstall(&self) -> std::process::Output {
        output(&mut self.env.helm_cmd(&[
            "uninstall",
            "arc-runner-set",
            "-n",
            NS,
            "--wait",
            "--timeout",
            "90s",
        ]))
    }

    /// An object in NS, if it exists.
    fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.env.get(api_version, kind, Some(NS), name)
    }

    fn wait_until(&self, what: &str, cond: impl Fn(&Rig) -> bool) {
        wait_until(what, Duration::from_secs(60), || cond(self));
    }

    /// Generated hook objects left in the namespace.
    fn hook_objects(&self) -> Vec<String> {
        let hooks = ListOptions {
            label_selector: Some("app.kubernetes.io/component=teardown-hook".into()),
            field_selector: None,
        };
        let mut left = Vec::new();
        for (av, kind) in [
            ("v1", "ServiceAccount"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("batch/v1", "Job"),
        ] {
            left.extend(
                self.env
                    .list_selected(av, kind, Some(NS), &hooks)
                    .iter()
                    .map(|o| format!("{kind}/{}", o["metadata"]["name"].as_str().unwrap())),
            );
        }
        left
    }
}

fn is(entry: &LogEntry, kind: &str, name: &str) -> bool {
    entry.kind == kind && entry.name == name && entry.namespace.as_deref() == Some(NS)
}

/// The resourceVersion at which the runner set left storage (its DELETED
/// watch event; the last finalizer removal shows as a patch in the log).
fn ars_deleted_rv(
    rx: &mut tokio::sync::broadcast::Receiver<kube_sim::api::WatchEvent>,
) -> Option<u64> {
    let mut found = None;
    while let Ok(ev) = rx.try_recv() {
        if ev.kind == kube_sim::api::WatchEventType::Deleted
            && ev.gvk.kind == ARS.1
            && ev.object["metadata"]["name"] == "arc-runner-set"
        {
            found = Some(ev.resource_version);
        }
    }
    found
}

/// Index of the first DELETE call on a dependent.
fn first_dependent_delete(log: &[LogEntry]) -> Option<usize> {
    log.iter().position(|e| {
        e.verb == "delete" && DEPENDENTS.iter().any(|(_, kind, name)| is(e, kind, name))
    })
}

#[test]
fn helm4_hooks_make_plain_helm_uninstall_delete_the_runner_set_first() {
    let rig = Rig::start();
    rig.install_runner_set(&["--hooks"]);
    let hooks = rig
        .env
        .helm_ok(&["get", "hooks", "arc-runner-set", "-n", NS]);
    assert_eq!(hooks.matches("kind: Job").count(), 2, "{hooks}");
    assert!(
        rig.hook_objects().is_empty(),
        "hooks are not created at install"
    );
    let before = rig.env.log().len();
    let mut watch = rig.env.api().subscribe();

    let out = rig.uninstall();
    assert!(
        out.status.success(),
        "helm uninstall failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = rig.env.log()[before..].to_vec();
    let gone = ars_deleted_rv(&mut watch).expect("the runner set left storage");
    let first = first_dependent_delete(&log).expect("dependents were deleted");
    assert!(
        gone < log[first].rv,
        "the runner set must be gone before any DELETE of its dependents:\n{}",
        dump(&log)
    );
    for (av, kind, name) in DEPENDENTS {
        assert!(rig.get(av, kind, name).is_none(), "{kind}/{name} left");
    }
    assert!(rig.get(ARS.0, ARS.1, "arc-runner-set").is_none());
    assert_eq!(
        rig.hook_objects(),
        Vec::<String>::new(),
        "hook resources cleaned up"
    );
    rig.wait_until("GitHub is empty", |r| r.env.sim().arc.github().is_empty());
    let runs = rig.jobs.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(runs.iter().all(|r| r.exit_code == Some(0)), "{runs:#?}");
    assert!(runs[0].job.ends_with("-w0") && runs[1].job.ends_with("-w1"));
}

#[test]
fn helm4_without_hooks_deletes_dependents_first() {
    let rig = Rig::start();
    rig.install_runner_set(&[]);
    let before = rig.env.log().len();
    let out = rig.uninstall();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = rig.env.log()[before..].to_vec();
    let first = first_dependent_delete(&log).expect("dependents were deleted");
    let ars_delete = log
        .iter()
        .position(|e| e.verb == "delete" && is(e, ARS.1, "arc-runner-set"))
        .expect("runner set deleted");
    assert!(
        first < ars_delete,
        "Helm's default order deletes the dependents before the runner set:\n{}",
        dump(&log)
    );
    assert!(rig.jobs.runs().is_empty());
}

#[test]
fn helm4_hook_job_fails_on_its_deadline_when_the_controller_is_stopped() {
    let rig = Rig::start();
    rig.install_runner_set(&["--hooks", "--hook-timeout=2s", "--hook-deadline=4s"]);
    rig.env.sim().arc.stop();
    let before = rig.env.log().len();
    let started = Instant::now();
    let out = rig.uninstall();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "helm uninstall must fail");
    assert!(
        stderr.contains("-w0") && stderr.contains("Failed"),
        "Helm names the failed hook Job: {stderr}"
    );
    eprintln!("helm uninstall failed after {took:?}: {stderr}");

    let job = rig
        .hook_objects()
        .into_iter()
        .find(|o| o.starts_with("Job/"))
        .expect("the failed hook Job is kept for inspection");
    assert!(job.ends_with("-w0"), "{job}");
    let name = job.trim_start_matches("Job/");
    let status = rig.get("batch/v1", "Job", name).unwrap()["status"].clone();
    let failed = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .expect("Failed condition");
    assert_eq!(failed["reason"], "DeadlineExceeded");

    // Only the runner set was deleted (it waits on its finalizer); nothing else.
    let log = rig.env.log()[before..].to_vec();
    assert_eq!(first_dependent_delete(&log), None, "{}", dump(&log));
    let ars = rig
        .get(ARS.0, ARS.1, "arc-runner-set")
        .expect("runner set still there");
    assert!(ars["metadata"]["deletionTimestamp"].is_string());
    for (av, kind, name) in DEPENDENTS {
        let o = rig
            .get(av, kind, name)
            .unwrap_or_else(|| panic!("{kind}/{name} deleted"));
        assert!(
            o["metadata"].get("deletionTimestamp").is_none(),
            "{kind}/{name}"
        );
    }
    let status = rig
        .env
        .helm_ok(&["status", "arc-runner-set", "-n", NS, "-o", "json"]);
    assert!(status.contains("\"status\":\"uninstalling\""), "{status}");

    // Recoverable: with the controller back, `helm arc-uninstall` finishes
    // (the generated hooks do not block it).
    rig.env.sim().arc.restart();
    let out = output(&mut rig.env.helm_cmd(&[
        "arc-uninstall",
        "arc-runner-set",
        "-n",
        NS,
        "--timeout",
        "60s",
    ]));
    assert!(
        out.status.success(),
        "helm arc-uninstall: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rig.get(ARS.0, ARS.1, "arc-runner-set").is_none());
    for (av, kind, name) in DEPENDENTS {
        assert!(rig.get(av, kind, name).is_none(), "{kind}/{name} left");
    }
    rig.wait_until("GitHub is empty", |r| r.env.sim().arc.github().is_empty());
}

#[test]
fn helm3_render_hooks_refuses_and_plain_render_works() {
    let home = HelmHome::new();
    let plugin_dir = install_plugin(&home, Helm::V3);
    let chart = chart("arc-runner-set");
    let template = |extra: &[&str]| {
        let mut cmd = home.helm(Helm::V3);
        cmd.args(["template", "arc-runner-set"])
            .arg(&chart)
            .args(["-n", NS]);
        with_post_renderer(&mut cmd, &home, Helm::V3, &plugin_dir);
        for arg in extra {
            cmd.args(["--post-renderer-args", arg]);
        }
        output(&mut cmd)
    };
    let refused = template(&["--hooks"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("--hooks needs Helm 4"), "{stderr}");
    assert!(stderr.contains("helm arc-uninstall"), "{stderr}");
    let plain = template(&[]);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(stdout.contains("teardown.helm-arc-uninstall/wave"));
    assert!(!stdout.contains("helm.sh/hook"));
}

/// The README's Flux command: Helm 4 `helm template` with `--hooks` prints
/// the hooks (Helm names them `templates/helm-arc-uninstall-hooks.yaml`),
/// and selecting them by label gives exactly the vendored Flux example file.
#[test]
fn helm4_template_with_hooks_matches_the_vendored_flux_hooks() {
    let home = HelmHome::new();
    let plugin_dir = install_plugin(&home, Helm::V4);
    let chart = chart("arc-runner-set");
    let mut cmd = home.helm(Helm::V4);
    cmd.args(["template", "arc-runner-set"])
        .arg(&chart)
        .args(["-n", NS]);
    with_post_renderer(&mut cmd, &home, Helm::V4, &plugin_dir);
    cmd.arg("--post-renderer-args=--hooks");
    let rendered = run_ok(&mut cmd);
    assert!(rendered.contains("# Source: arc-runner-set/templates/helm-arc-uninstall-hooks.yaml"));
    let hooks = |stream: &str| -> Vec<Value> {
        support::kubectl_objects(&home, stream)
            .into_iter()
            .filter(|o| o["metadata"]["labels"]["app.kubernetes.io/component"] == "teardown-hook")
            .collect()
    };
    let vendored = std::fs::read_to_string(
        support::repo_root()
            .join("examples/pipelines/flux/arc-runner-set-teardown/templates/teardown-hooks.yaml"),
    )
    .unwrap();
    let from_helm = hooks(&rendered);
    assert_eq!(from_helm.len(), 5);
    assert_eq!(from_helm, hooks(&vendored));
}

/// The local cluster, Helm 4 with the plugin, and the example runner set
/// (without its cleanup-protection finalizers) installed through the
/// post-renderer with `render_args` into `ns`, which enforces the
/// PodSecurity `restricted` profile. Returns the environment.
fn local_release(ns: &str, render_args: &[&str]) -> ScenarioEnv {
    let env = ScenarioEnv::new(Target::local(), Helm::V4);
    let home = &env.helm.home;
    let plugin_dir = install_plugin(home, Helm::V4);
    env.helm.kubectl(&["create", "namespace", ns]);
    env.helm.kubectl(&[
        "label",
        "namespace",
        ns,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    ]);
    let chart = runner_set_chart_without_cleanup_protection(home.path());
    let mut cmd = env.helm_cmd(&["install", RUNNER_SET]);
    cmd.arg(&chart).args([
        "-n",
        ns,
        "--set",
        &format!("githubConfigUrl=https://github.com/example/{ns}"),
    ]);
    with_post_renderer(&mut cmd, home, Helm::V4, &plugin_dir);
    for arg in render_args {
        cmd.arg(format!("--post-renderer-args={arg}"));
    }
    run_ok(&mut cmd);
    env
}

/// Whether a watched Job is complete in this event.
fn complete(s: &Seen) -> bool {
    s.object["status"]["conditions"]
        .as_array()
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Complete" && c["status"] == "True")
        })
}

/// The first event of `events` satisfying `what`, its position (panics
/// with every event otherwise).
fn position(seen: &[Seen], label: &str, what: impl Fn(&Seen) -> bool) -> usize {
    seen.iter().position(what).unwrap_or_else(|| {
        panic!(
            "the watch never saw {label}:\n{}",
            testenv::watch::dump(seen)
        )
    })
}

#[test]
fn helm4_hooks_on_the_local_cluster_are_admitted_authorized_and_run_in_order() {
    let ns = "hooks-arc-runners";
    let env = local_release(ns, &["--hooks"]);
    let hooks = kubectl_objects(
        &env.helm.home,
        &env.helm_ok(&["get", "hooks", RUNNER_SET, "-n", ns]),
    );
    let of_kind =
        |kind: &str| -> Vec<&Value> { hooks.iter().filter(|h| h["kind"] == kind).collect() };
    let jobs = of_kind("Job");
    assert_eq!(jobs.len(), 2, "{hooks:#?}");
    let sa = of_kind("ServiceAccount")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let as_sa = format!("--as=system:serviceaccount:{ns}:{sa}");

    // The real RBAC authorizer with the generated Role: each wave's exact
    // command (server dry run: authorized and admitted, nothing persisted),
    // the list/watch of `--wait` on each named object, and nothing else.
    let rbac: Vec<&Value> = hooks
        .iter()
        .filter(|h| {
            ["ServiceAccount", "Role", "RoleBinding"].contains(&h["kind"].as_str().unwrap())
        })
        .collect();
    let rbac_file = env.helm.home.path().join("hook-rbac.json");
    std::fs::write(
        &rbac_file,
        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": rbac}).to_string(),
    )
    .unwrap();
    env.helm
        .kubectl(&["apply", "-n", ns, "-f", rbac_file.to_str().unwrap()]);
    for job in &jobs {
        for container in job["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            let mut args: Vec<&str> = container["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            args.extend(["--dry-run=server", &as_sa]);
            let out = env.helm.kubectl(&args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let targets: Vec<&&str> = args
                .iter()
                .filter(|a| a.contains('/') && !a.starts_with("--"))
                .collect();
            assert_eq!(
                stdout.matches("(server dry run)").count(),
                targets.len(),
                "{args:?}: {stdout}"
            );
            for target in targets {
                for verb in ["get", "list", "watch", "delete"] {
                    let out = env
                        .helm
                        .kubectl_try(&["auth", "can-i", verb, target, "-n", ns, &as_sa]);
                    assert!(
                        out.status.success(),
                        "{verb} {target}: {}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                }
            }
        }
    }
    for (verb, what) in [
        ("delete", "secrets/another-secret"),
        ("delete", "secrets"),
        ("list", "secrets"),
        (
            "patch",
            "autoscalingrunnersets.actions.github.com/arc-runner-set",
        ),
        (
            "delete",
            "autoscalingrunnersets.actions.github.com/another-runner-set",
        ),
        ("delete", "deployments.apps/arc-gha-rs-controller"),
    ] {
        let out = env
            .helm
            .kubectl_try(&["auth", "can-i", verb, what, "-n", ns, &as_sa]);
        assert!(!out.status.success(), "the hook identity may {verb} {what}");
    }
    env.helm
        .kubectl(&["delete", "-n", ns, "-f", rbac_file.to_str().unwrap()]);
    assert!(
        env.get(
            "actions.github.com/v1alpha1",
            "AutoscalingRunnerSet",
            Some(ns),
            RUNNER_SET
        )
        .is_some(),
        "the dry runs deleted nothing"
    );

    // Helm 4 runs the hooks: each wave Job created, run (kwok) and complete
    // before the next, and before Helm deletes anything itself.
    let mut kinds = RUNNER_SET_KINDS.to_vec();
    kinds.push(JOBS);
    let watch = ApiWatch::start(env.helm.home.kubeconfig(), ns, &kinds);
    let out = output(&mut env.helm_cmd(&[
        "uninstall",
        RUNNER_SET,
        "-n",
        ns,
        "--wait",
        "--timeout",
        "90s",
    ]));
    assert!(
        out.status.success(),
        "helm uninstall: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = watch.seen();
    let job = |k: usize| jobs[k]["metadata"]["name"].as_str().unwrap().to_string();
    let w0_added = position(&seen, "w0 created", |s| {
        s.is("Job", &job(0)) && s.change == Change::Added
    });
    let w0_done = position(&seen, "w0 complete", |s| {
        s.is("Job", &job(0)) && complete(s)
    });
    let w1_added = position(&seen, "w1 created", |s| {
        s.is("Job", &job(1)) && s.change == Change::Added
    });
    let w1_done = position(&seen, "w1 complete", |s| {
        s.is("Job", &job(1)) && complete(s)
    });
    let first_release_delete = position(&seen, "a delete of the release's objects", |s| {
        s.going()
            && (s.is("AutoscalingRunnerSet", RUNNER_SET)
                || DEPENDENT_NAMES.iter().any(|(k, n)| s.is(k, n)))
    });
    assert!(
        w0_added < w0_done
            && w0_done < w1_added
            && w1_added < w1_done
            && w1_done < first_release_delete,
        "{}",
        testenv::watch::dump(&seen)
    );
    for (k, _) in jobs.iter().enumerate() {
        let done = seen
            .iter()
            .find(|s| s.is("Job", &job(k)) && complete(s))
            .unwrap();
        assert_eq!(done.object["status"]["succeeded"], 1, "{done}");
    }
    // Everything is gone: the release's objects and the hook resources.
    for (kind, name) in DEPENDENT_NAMES
        .iter()
        .chain([&("AutoscalingRunnerSet", RUNNER_SET)])
    {
        assert!(watch.gone_at(kind, name).is_some(), "{kind}/{name} left");
    }
    for hook in &hooks {
        let kind = hook["kind"].as_str().unwrap();
        let api_version = hook["apiVersion"].as_str().unwrap();
        let name = hook["metadata"]["name"].as_str().unwrap();
        assert!(
            env.get(api_version, kind, Some(ns), name).is_none(),
            "{kind}/{name} left"
        );
    }
}

#[test]
fn helm4_without_hooks_deletes_dependents_first_on_the_local_cluster() {
    let ns = "nohooks-arc-runners";
    let env = local_release(ns, &[]);
    let watch = ApiWatch::start(env.helm.home.kubeconfig(), ns, &RUNNER_SET_KINDS);
    let out = output(&mut env.helm_cmd(&[
        "uninstall",
        RUNNER_SET,
        "-n",
        ns,
        "--wait",
        "--timeout",
        "90s",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ars_going = watch
        .going_at("AutoscalingRunnerSet", RUNNER_SET)
        .expect("runner set deleted");
    let first_dependent = DEPENDENT_NAMES
        .iter()
        .map(|(k, n)| watch.going_at(k, n).expect("dependent deleted"))
        .min()
        .unwrap();
    assert!(
        first_dependent < ars_going,
        "Helm's default order deletes the dependents before the runner set:\n{}",
        testenv::watch::dump(&watch.seen())
    );
}
