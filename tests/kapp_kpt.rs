//! Third-party deploy tools driven by what `render` stamps on the example
//! runner set, on both targets, each watched by the test itself: the tool
//! deletes the AutoscalingRunnerSet and waits until it is gone before it
//! deletes any of its dependents (the order ARC needs).
//!
//! - kapp 0.64.2 (`carvel.dev/kapp`, built by scripts/build-go-tools):
//!   `kapp deploy` / `kapp delete` of `render --kapp` output (change groups
//!   and `delete before deleting` rules).
//! - kpt 1.0.0-beta.57: `kpt live init/apply/destroy` of `render
//!   --depends-on` output (`config.kubernetes.io/depends-on`), with kpt's
//!   ResourceGroup inventory CRD (`kpt live install-resource-group`).
//!
//! On the simulator the ARC controller runs (its chart installed through
//! Helm) and the chart's objects keep their finalizers: the runner set is
//! gone only after the controller's cleanup, which also removes the
//! cleanup-protection of its dependents, and GitHub is empty at the end. On
//! the local control plane no ARC controller runs (issue #13), so nothing
//! would ever remove the chart's `actions.github.com/cleanup-protection`
//! finalizers and every tool would wait on them forever: there the objects
//! are deployed without that finalizer (the test removes it from the
//! rendered stream, the one change it makes), and the order is what the
//! real API server's watch reports. There the runner set would go at once
//! (no controller finalizer), which cannot tell a tool that waits for it
//! from one that merely deletes it first: the test holds it Terminating for
//! 2 s with a finalizer of its own (`scenario::order::with_runner_set_held`).
//!
//! Needs the tools of `scripts/fetch-tools` and `scripts/build-go-tools`
//! (`HAU_KAPP_DIR`, `HAU_KPT_DIR`, `HAU_CLUSTER_DIR`; scripts/test sets them).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use scenario::order::{
    RUNNER_SET, assert_runner_set_gone_first, watch_runner_set, with_runner_set_held,
};
use scenario::sim_env::{ARC_API, CLEANUP_PROTECTION_BLOCK, chart, wait_until};
use support::{Helm, go_tool, hau_bin, run_ok};
use testenv::{ScenarioEnv, Target, TargetKind};

/// A target for one tool: Helm 4 pointed at it; on the simulator the ARC
/// controller chart installed (the controller reconciles).
fn start(target: TargetKind) -> ScenarioEnv {
    let env = ScenarioEnv::new(Target::of(target), Helm::V4);
    if target == TargetKind::Sim {
        env.install_controller(&["--wait", "--timeout", "60s"]);
    }
    env
}

/// `helm template` of the example runner set into `ns` (a GitHub URL of its
/// own), through `render` with `render_flags`; on the local cluster without
/// the chart's cleanup-protection finalizers (see the module doc).
fn rendered(env: &ScenarioEnv, ns: &str, render_flags: &[&str]) -> String {
    let plain = env.helm_ok(&[
        "template",
        RUNNER_SET,
        chart("arc-runner-set").to_str().unwrap(),
        "-n",
        ns,
        "--set",
        &format!("githubConfigUrl=https://github.com/example/{ns}"),
    ]);
    let input = env.helm.home.path().join("plain.yaml");
    fs::write(&input, plain).unwrap();
    let mut render = Command::new(hau_bin());
    render
        .arg("render")
        .args(render_flags)
        .args(["-n", ns])
        .stdin(fs::File::open(&input).unwrap());
    let out = render.output().expect("run render");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    if env.target.kind() == Some(TargetKind::Local) {
        assert_eq!(
            rendered.matches(CLEANUP_PROTECTION_BLOCK).count(),
            6,
            "{rendered}"
        );
        rendered.replace(CLEANUP_PROTECTION_BLOCK, "")
    } else {
        rendered
    }
}

/// `tool` (a Go tool of scripts/build-go-tools) run with the environment of
/// `env`'s Helm home: its kubeconfig, kube cache and a HOME of its own.
fn tool(env: &ScenarioEnv, var: &str, binary: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(go_tool(var, binary));
    env.helm.home.isolate(&mut cmd);
    cmd.env("HOME", env.helm.home.path()).args(args);
    run_ok(&mut cmd)
}

/// On the simulator: the controller registered the runner set and started
/// its listener (so the teardown has the controller's cleanup to wait for).
fn wait_until_registered(env: &ScenarioEnv, ns: &str) {
    if env.target.kind() != Some(TargetKind::Sim) {
        return;
    }
    wait_until(
        "the runner set is registered",
        Duration::from_secs(30),
        || {
            env.get(ARC_API, "AutoscalingRunnerSet", Some(ns), RUNNER_SET)
                .and_then(|a| {
                    a.pointer("/metadata/annotations/runner-scale-set-id")
                        .cloned()
                })
                .is_some()
        },
    );
}

/// After the teardown: on the simulator the controller's cleanup ran to the
/// end (GitHub holds no scale set).
fn assert_cleaned_up(env: &ScenarioEnv) {
    if let Some(sim) = env.target.as_sim() {
        wait_until("GitHub is empty", Duration::from_secs(30), || {
            sim.arc.github().is_empty()
        });
    }
}

fn kapp_deletes_the_runner_set_first(target: TargetKind) {
    let env = start(target);
    let ns = "kapp-arc-runners";
    env.helm.kubectl(&["create", "namespace", ns]);
    let file = env.helm.home.path().join("kapp.yaml");
    fs::write(&file, rendered(&env, ns, &["--kapp"])).unwrap();
    let file = file.to_str().unwrap();
    let kapp = |args: &[&str]| tool(&env, "HAU_KAPP_DIR", "kapp", args);

    kapp(&["deploy", "-a", RUNNER_SET, "-n", ns, "-f", file, "-y"]);
    wait_until_registered(&env, ns);
    let watch = watch_runner_set(env.helm.home.kubeconfig(), ns);
    let out = with_runner_set_held(&env, ns, || {
        kapp(&[
            "delete",
            "-a",
            RUNNER_SET,
            "-n",
            ns,
            "-y",
            "--wait-timeout",
            "2m",
        ])
    });
    assert!(out.contains("Succeeded"), "{out}");
    assert_runner_set_gone_first(&watch);
    assert_cleaned_up(&env);
}

fn kpt_destroys_the_runner_set_first(target: TargetKind) {
    let env = start(target);
    let ns = "kpt-arc-runners";
    env.helm.kubectl(&["create", "namespace", ns]);
    let package = env.helm.home.path().join("package");
    fs::create_dir_all(&package).unwrap();
    fs::write(
        package.join("runner-set.yaml"),
        rendered(&env, ns, &["--depends-on"]),
    )
    .unwrap();
    let package = package.to_str().unwrap();
    let kpt = |args: &[&str]| tool(&env, "HAU_KPT_DIR", "kpt", args);

    kpt(&["live", "install-resource-group"]);
    kpt(&["live", "init", package, "--namespace", ns]);
    kpt(&["live", "apply", package, "--reconcile-timeout", "2m"]);
    wait_until_registered(&env, ns);
    let watch = watch_runner_set(env.helm.home.kubeconfig(), ns);
    let out = with_runner_set_held(&env, ns, || kpt(&["live", "destroy", package]));
    assert!(
        out.contains("delete result: 7 attempted, 7 successful"),
        "{out}"
    );
    assert_runner_set_gone_first(&watch);
    assert_cleaned_up(&env);
    assert!(Path::new(package).join("resourcegroup.yaml").is_file());
}

crate::test_each!(
    [sim: TargetKind::Sim, local: TargetKind::Local],
    kapp_deletes_the_runner_set_first,
    kpt_destroys_the_runner_set_first
);
