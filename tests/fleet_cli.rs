//! CLI contract of the fleet flags and `doctor` (no cluster needed).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use predicates::str::contains;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("helm-arc-uninstall").unwrap();
    cmd.env_remove("HELM_NAMESPACE")
        .env_remove("HELM_KUBECONTEXT")
        .env("KUBECONFIG", "/nonexistent/kubeconfig");
    cmd
}

#[test]
fn uninstall_needs_a_release_or_all_runner_sets() {
    bin()
        .arg("uninstall")
        .assert()
        .code(2)
        .stderr(contains("a RELEASE is required (or --all-runner-sets)"));
}

#[test]
fn fleet_flags_need_all_runner_sets() {
    for flag in [
        vec!["-A"],
        vec!["--with-controller", "arc"],
        vec!["--delete-crds"],
    ] {
        bin()
            .arg("uninstall")
            .args(&flag)
            .assert()
            .code(2)
            .stderr(contains("--all-runner-sets"));
    }
    bin()
        .args(["--all-runner-sets", "--cascade-runner-sets"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    bin()
        .args(["--all-runner-sets", "--concurrency", "0"])
        .assert()
        .code(2);
}

#[test]
fn doctor_takes_a_release_or_all_not_both() {
    bin()
        .args(["doctor", "arc-runner-set", "--all"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    bin()
        .args(["doctor", "--help"])
        .assert()
        .success()
        .stdout(contains("--fix"));
}

#[test]
fn wait_is_accepted_as_helm_accepts_it_but_never_turned_off() {
    // `--wait` and its Helm 3/4 spellings parse (the run then stops on the
    // missing kubeconfig, not on the flag).
    for flag in ["--wait", "--wait=true", "--wait=watcher", "--wait=legacy"] {
        bin()
            .args(["uninstall", "rel", flag])
            .assert()
            .code(2)
            .stderr(contains("KUBECONFIG: cannot read /nonexistent/kubeconfig"));
    }
    for (flag, says) in [
        ("--wait=false", "always waits for every wave"),
        ("--wait=hookOnly", "always waits for every wave"),
        ("--wait=sometimes", "is not a wait strategy"),
    ] {
        bin()
            .args(["uninstall", "rel", flag])
            .assert()
            .code(2)
            .stderr(contains(says));
    }
}
