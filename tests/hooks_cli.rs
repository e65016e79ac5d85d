//! `render --hooks` through the binary: Helm 3 input is refused with exit 2
//! and a message pointing to `helm arc-uninstall`; Helm 4 input gets the
//! hook documents appended; hook flags reach the output or are rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use assert_cmd::Command;
use predicates::prelude::*;

const HELM4: &str = include_str!("../examples/runner-set/helm4-postrender-input.yaml");
const HELM3: &str = include_str!("../examples/runner-set/rendered.yaml");

fn render(args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
    let log = tempfile::NamedTempFile::new().unwrap();
    Command::new(support::hau_bin())
        .arg("render")
        .args(args)
        .env("HELM_ARC_UNINSTALL_LOG", log.path())
        .env_remove("HELM_NAMESPACE")
        .write_stdin(stdin)
        .assert()
}

#[test]
fn helm3_input_with_hooks_is_refused_with_exit_2_and_no_output() {
    render(&["--hooks"], HELM3)
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--hooks needs Helm 4"))
        .stderr(predicate::str::contains("helm arc-uninstall RELEASE"));
}

#[test]
fn helm3_input_without_hooks_still_renders() {
    render(&[], HELM3)
        .success()
        .stdout(predicate::str::contains("teardown.helm-arc-uninstall/wave"))
        .stdout(predicate::str::contains("helm.sh/hook: pre-delete").not());
}

#[test]
fn helm4_input_with_hooks_gets_pre_delete_hooks() {
    render(&["--hooks"], HELM4)
        .success()
        .stdout(predicate::str::starts_with(HELM4.lines().next().unwrap()))
        .stdout(predicate::str::contains("kind: Job").count(2))
        .stdout(predicate::str::contains("helm.sh/hook: pre-delete").count(5))
        .stdout(predicate::str::contains(
            "image: \"registry.k8s.io/kubectl:v1.35.2\"",
        ));
}

#[test]
fn hook_flags_reach_the_jobs() {
    render(
        &[
            "--hooks",
            "--hook-image=registry.example/kubectl@sha256:abc",
            "--hook-namespace=ops",
            "--hook-timeout=30s",
            "--hook-deadline=1m",
            "--hook-backoff-limit=0",
            "--hook-image-pull-secret=pull",
            "--hook-node-selector=kubernetes.io/os=linux",
            "--hook-toleration=dedicated=ci:NoSchedule",
        ],
        HELM4,
    )
    .success()
    .stdout(predicate::str::contains(
        "image: \"registry.example/kubectl@sha256:abc\"",
    ))
    .stdout(predicate::str::contains("\"--timeout=30s\""))
    .stdout(predicate::str::contains("activeDeadlineSeconds: 60"))
    .stdout(predicate::str::contains("backoffLimit: 0"))
    .stdout(predicate::str::contains("kubernetes.io/os: linux"))
    .stdout(predicate::str::contains("effect: NoSchedule"))
    .stdout(predicate::str::contains("namespace: ops"));
}

#[test]
fn malformed_hook_flags_are_usage_errors() {
    render(&["--hooks", "--hook-toleration=k:Sometimes"], HELM4).code(2);
    render(&["--hooks", "--hook-node-selector=novalue"], HELM4).code(2);
    render(&["--hooks", "--hook-timeout=0s"], HELM4).code(2);
    render(&["--hooks", "--hook-namespace=Bad_NS"], HELM4)
        .code(2)
        .stdout("");
}

/// Every `render` hook flag is documented in README.md.
#[test]
fn every_hook_flag_is_in_the_readme() {
    use clap::CommandFactory;
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    let cli = helm_arc_uninstall::cli::Cli::command();
    let render = cli.find_subcommand("render").unwrap();
    let flags: Vec<String> = render
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| l.starts_with("hook"))
        .map(|l| format!("`--{l}"))
        .collect();
    assert!(flags.len() >= 9, "{flags:?}");
    for flag in flags {
        assert!(readme.contains(&flag), "README.md does not document {flag}");
    }
}

/// `render --help` names every annotation the hooks carry.
#[test]
fn render_help_documents_the_hook_annotations() {
    let help = helm_arc_uninstall::commands::help::RENDER;
    for key in [
        "helm.sh/hook ",
        "helm.sh/hook-weight",
        "helm.sh/hook-delete-policy",
        helm_arc_uninstall::hooks::DELETE_POLICY,
        helm_arc_uninstall::hooks::HOOK_WAVE_ANNOTATION,
        helm_arc_uninstall::hooks::COMPONENT,
    ] {
        assert!(help.contains(key), "render --help: no {key}");
    }
}
