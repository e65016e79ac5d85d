//! `helm-arc-uninstall demo`: the real engine against the embedded simulator.
//! Each run takes a few seconds (a runner is busy for a job): own test binary.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

fn demo(args: &[&str]) -> (i32, String) {
    let out = Command::new(support::hau_bin())
        .arg("demo")
        .args(args)
        .env_remove("HELM_NAMESPACE")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains("Z2hwX2Zha2VUb2tlbkZvckZpeHR1cmVzT25seQ"),
        "Secret data printed"
    );
    (
        out.status.code().unwrap_or(-1),
        format!("{stdout}\n--- stderr\n{stderr}"),
    )
}

/// `seq` of the event-log line carrying `marker`, in the section after `from`.
fn marked_seq(text: &str, from: &str, marker: &str) -> u64 {
    let section = text.split(from).last().unwrap();
    let line = section
        .lines()
        .find(|l| l.ends_with(marker))
        .unwrap_or_else(|| panic!("no line marked {marker:?}:\n{text}"));
    line.trim()
        .trim_start_matches('#')
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn assert_proof(out: &str, section: &str) {
    let gone = marked_seq(out, section, "<- AutoscalingRunnerSet gone");
    let first = marked_seq(out, section, "<- first dependent DELETE");
    assert!(
        gone < first,
        "ARS gone at #{gone}, dependent at #{first}:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "proof: the AutoscalingRunnerSet was gone at #{gone}, before the first DELETE of a dependent at #{first}"
        )),
        "{out}"
    );
}

fn github_row<'a>(out: &'a str, section: &str, row: &str) -> &'a str {
    out.split(section)
        .last()
        .unwrap()
        .lines()
        .find(|l| l.trim_start().starts_with(row))
        .unwrap_or_else(|| panic!("no {row} row:\n{out}"))
}

#[test]
fn healthy_demo_deletes_the_runner_set_first_and_leaves_nothing() {
    let (code, out) = demo(&[]);
    assert_eq!(code, 0, "{out}");
    // The plan: the runner set alone in wave 0.
    let wave0 = out
        .split("wave 0:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    assert_eq!(
        wave0.trim(),
        "AutoscalingRunnerSet/arc-runners/arc-runner-set"
    );
    // The real engine waited on the busy runner.
    assert!(
        out.contains("preflight ok: busy runners: 1 running a job"),
        "{out}"
    );
    assert!(out.contains("; busy arc-runner-set-"), "{out}");
    assert!(
        out.contains("success: every object of the release is gone (7 deleted"),
        "{out}"
    );
    assert!(
        !out.contains("force-finalizers ["),
        "no finalizer was stripped:\n{out}"
    );
    assert_proof(&out, "Event log of the API server");
    // The ARS's last finalizer was removed by the controller, not by us.
    let gone_line = out
        .lines()
        .find(|l| l.ends_with("<- AutoscalingRunnerSet gone"))
        .unwrap();
    assert!(gone_line.contains("arc-gha-rs-controller"), "{gone_line}");
    let after = out.split("Before and after:").nth(1).unwrap();
    let scale_sets = github_row(after, "fake GitHub", "scale sets");
    assert!(scale_sets.trim_end().ends_with("none"), "{scale_sets}");
    assert!(scale_sets.contains("arc-runner-set (id 1)"), "{scale_sets}");
}

#[test]
fn controller_down_is_refused_then_the_ladder_runs_and_reports_the_leak() {
    let (code, out) = demo(&["--broken", "controller-down", "--job", "0s"]);
    assert_eq!(code, 0, "{out}");
    let (refusal, forced) = out
        .split_once("--force-finalizers\n")
        .expect("a --force-finalizers run follows the refusal");
    assert!(
        refusal.contains("refused (controller_down): The ARC controller is not running"),
        "{out}"
    );
    assert!(refusal.contains("nothing was deleted (0 deleted"), "{out}");
    assert!(
        !refusal.contains(": DELETE "),
        "the refused run deleted something:\n{out}"
    );
    // The ladder, bottom-up, as the uninstall scenario tests expect.
    let order = [
        "[EphemeralRunners] patch",
        "[EphemeralRunnerSets] patch",
        "[AutoscalingListener] patch",
        "[AutoscalingRunnerSet] patch",
        "[cleanup-protection] patch",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|rung| {
            forced
                .find(rung)
                .unwrap_or_else(|| panic!("no {rung}:\n{out}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "rung order:\n{out}"
    );
    assert!(
        forced.contains(
            "left on GitHub (remove it there): scale set id 1 of arc-runners/arc-runner-set"
        ),
        "{out}"
    );
    assert!(
        forced.contains("success: every object of the release is gone"),
        "{out}"
    );
    assert_proof(&out, "Event log of the API server");
    // The controller was down: the leak is real, GitHub still lists the scale set.
    let scale_sets = github_row(&out, "Before and after:", "scale sets");
    assert_eq!(
        scale_sets.matches("arc-runner-set (id 1)").count(),
        2,
        "{scale_sets}"
    );
}

#[test]
fn compare_shows_helms_kind_order_leaving_objects_terminating() {
    let (code, out) = demo(&["--compare", "--broken", "controller-down", "--job", "0s"]);
    assert_eq!(code, 0, "{out}");
    let (helm, ours) = out.split_once("== 2/2").expect("two sections");
    let rb = helm.find("DELETE RoleBinding/").unwrap();
    let ars = helm.find("DELETE AutoscalingRunnerSet/").unwrap();
    assert!(rb < ars, "Helm deletes RBAC before the runner set:\n{helm}");
    assert!(helm.contains("still Terminating: 1 AutoscalingRunnerSet, 2 RoleBinding, 2 Role, 1 Secret, 1 ServiceAccount"), "{helm}");
    assert!(
        helm.contains(
            "the AutoscalingRunnerSet is still there; its dependents were deleted from #"
        ),
        "{helm}"
    );
    assert_proof(ours, "Event log of the API server");
}

/// The "after" count of `kind` in the before/after table.
fn after_count(out: &str, kind: &str) -> String {
    let row = github_row(out, "Before and after:", kind);
    row.split_whitespace().last().unwrap().to_string()
}

#[test]
fn lost_credentials_is_refused_then_the_credential_ladder_lets_the_controller_finish() {
    let (code, out) = demo(&["--broken", "lost-credentials", "--job", "0s"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "Broken: Secret/arc-runner-set-gha-rs-github-secret (the GitHub credentials) was deleted by hand."
        ),
        "{out}"
    );
    let (refusal, forced) = out
        .split_once("--force-finalizers\n")
        .expect("a --force-finalizers run follows the refusal");
    assert!(refusal.contains("refused (missing_credentials)"), "{out}");
    assert!(!refusal.contains(": DELETE "), "{out}");
    // Only the credential rungs: the controller (still running) does the rest.
    assert!(
        forced.contains("[AutoscalingRunnerSet scale set id] patch"),
        "{out}"
    );
    assert!(!forced.contains("[cleanup-protection] patch"), "{out}");
    assert!(
        forced.contains("left on GitHub (remove it there): scale set id 1"),
        "{out}"
    );
    assert_proof(&out, "Event log of the API server");
    for kind in ["EphemeralRunner ", "AutoscalingListener", "Pod"] {
        assert_eq!(after_count(&out, kind), "0", "{kind}:\n{out}");
    }
}

#[test]
fn lost_rbac_is_refused_then_the_ladder_leaves_no_runner_behind() {
    let (code, out) = demo(&["--broken", "lost-rbac", "--job", "0s"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Broken: RoleBinding/arc-runner-set-gha-rs-manager (the controller's permissions in arc-runners) was deleted by hand."),
        "{out}"
    );
    let (refusal, forced) = out
        .split_once("--force-finalizers\n")
        .expect("a --force-finalizers run follows the refusal");
    assert!(refusal.contains("refused (lost_rbac)"), "{out}");
    assert!(!refusal.contains(": DELETE "), "{out}");
    // The controller still runs: the runner set is deleting before its
    // runners are stripped, so it cannot scale back up behind the ladder.
    let set_deleted = forced
        .find("[EphemeralRunnerSets] delete")
        .unwrap_or_else(|| panic!("{out}"));
    let runner_stripped = forced
        .find("[EphemeralRunners] patch")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(set_deleted < runner_stripped, "{out}");
    assert!(
        forced.contains("success: every object of the release is gone"),
        "{out}"
    );
    assert_proof(&out, "Event log of the API server");
    for kind in [
        "EphemeralRunner ",
        "EphemeralRunnerSet",
        "AutoscalingListener",
        "Pod",
    ] {
        assert_eq!(after_count(&out, kind), "0", "{kind}:\n{out}");
    }
}
