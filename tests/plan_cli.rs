//! CLI tests for `plan`, argv handling, exit codes and error lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("helm-arc-uninstall").unwrap();
    cmd.env_remove("HELM_NAMESPACE");
    cmd
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/manifests")
        .join(name)
}

#[test]
fn plan_json_follows_schema_version_1() {
    let out = bin()
        .args(["plan", "-o", "json", "-f"])
        .arg(example("kubernetes-mode-runner-set.yaml"))
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["schemaVersion"], 1);
    assert_eq!(plan["steps"][0]["wave"], 0);
    assert_eq!(
        plan["steps"][0]["resources"],
        serde_json::json!([{"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingRunnerSet", "namespace": "ci", "name": "linux"}])
    );
    let edge = &plan["edges"][0];
    assert_eq!(edge["before"]["kind"], "AutoscalingRunnerSet");
    assert!(
        edge["reason"]
            .as_str()
            .unwrap()
            .contains("actions.github.com/cleanup-")
    );
    assert_eq!(edge["reasons"][0]["rule"], "arc-cleanup-annotation");
    assert_eq!(plan["excluded"], serde_json::json!([]));
}

#[test]
fn plan_reads_stdin_and_applies_the_default_namespace() {
    let manifest = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\n\
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n---\n\
                    apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n";
    bin()
        .args(["plan", "-f", "-", "-n", "apps"])
        .write_stdin(manifest)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "wave 1:\n  Role/apps/r\n    after RoleBinding/apps/rb [binding-role]",
        ));
    // HELM_NAMESPACE (set by Helm for plugins) is the default namespace.
    bin()
        .args(["plan", "-f", "-"])
        .env("HELM_NAMESPACE", "from-helm")
        .write_stdin(manifest)
        .assert()
        .success()
        .stdout(predicate::str::contains("Role/from-helm/r"));
}

#[test]
fn plan_dot_and_mermaid() {
    bin()
        .args(["plan", "-o", "dot", "-f"])
        .arg(example("two-runner-sets.yaml"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("digraph teardown {"))
        .stdout(predicate::str::contains("subgraph cluster_wave0"))
        .stdout(predicate::str::contains("label=\"arc-cleanup-annotation\""))
        .stdout(predicate::str::ends_with("}\n"));
    bin()
        .args(["plan", "--output", "mermaid", "--file"])
        .arg(example("two-runner-sets.yaml"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("flowchart LR\n"))
        .stdout(predicate::str::contains("subgraph wave0[\"wave 0\"]"))
        .stdout(predicate::str::contains("-->|binding-role|"));
}

#[test]
fn bad_input_exits_2_with_one_error_line_and_no_output() {
    let cases: Vec<(Vec<String>, Option<&str>, &str)> = vec![
        (
            vec![
                "plan".into(),
                "-f".into(),
                example("cycle.yaml").display().to_string(),
            ],
            None,
            "error: dependency cycle: RoleBinding/app/reader -(binding-role)-> Role/app/reader",
        ),
        (
            vec![
                "plan".into(),
                "-f".into(),
                "/nonexistent/manifest.yaml".into(),
            ],
            None,
            "error: read manifest /nonexistent/manifest.yaml: No such file",
        ),
        (
            vec!["plan".into(), "-f".into(), "-".into()],
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"),
            "error: document 1",
        ),
        (
            vec!["plan".into(), "-f".into(), "-".into()],
            Some(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    \
                 teardown.helm-arc-uninstall/after: Secret/missing\n",
            ),
            "error: ConfigMap/default/a: annotation teardown.helm-arc-uninstall/after: `Secret/missing` names no object of the manifest",
        ),
        (
            vec!["plan".into(), "-f".into(), "-".into()],
            Some("just: a mapping\n"),
            "error: document 1",
        ),
    ];
    for (args, stdin, message) in cases {
        let mut cmd = bin();
        cmd.args(&args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let assert = cmd.assert().code(2).stdout("");
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert!(stderr.starts_with(message), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    }
}

#[test]
fn usage_errors_exit_2() {
    bin()
        .arg("plan")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage"));
    bin()
        .args(["plan", "-o", "yaml", "-f", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'yaml'"));
    bin()
        .args(["plan", "rel", "-f", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn version_and_help() {
    bin().arg("--version").assert().success().stdout(format!(
        "helm-arc-uninstall {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    bin()
        .arg("-h")
        .assert()
        .success()
        .stdout(predicate::str::contains("plan"))
        .stdout(predicate::str::contains(
            "Exit codes: 0 ok, 1 failed, 2 usage or bad input",
        ));
    bin()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("plan"))
        .stdout(predicate::str::contains(
            "3  teardown timed out with objects left",
        ))
        .stdout(predicate::str::contains(
            "4  refused by preflight checks; nothing was deleted",
        ));
}

#[test]
fn a_release_name_first_runs_uninstall_as_helm_invokes_the_plugin() {
    let uninstall_help = bin()
        .args(["uninstall", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    bin()
        .args(["my-release", "--help"])
        .assert()
        .success()
        .stdout(uninstall_help);
}

#[test]
fn closed_stdout_is_not_an_error() {
    // A plan far larger than a pipe buffer, read by a consumer that stops early.
    let mut manifest = String::new();
    for i in 0..3000 {
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i}\n  namespace: ns\n"
        ));
    }
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), manifest).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("helm-arc-uninstall"))
        .args(["plan", "-o", "json", "-f"])
        .arg(input.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn planning_render_output_gives_the_same_plan() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = ["manifests", "runner-set"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("cycle.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8);
    for file in files {
        let input = std::fs::read_to_string(&file).unwrap();
        let rendered = bin()
            .arg("render")
            .write_stdin(input.clone())
            .assert()
            .success();
        let rendered = rendered.get_output().stdout.clone();
        assert!(String::from_utf8_lossy(&rendered).contains("teardown.helm-arc-uninstall/wave"));
        let plan = |stdin: Vec<u8>| {
            bin()
                .args(["plan", "-o", "json", "-f", "-"])
                .write_stdin(stdin)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone()
        };
        assert_eq!(
            String::from_utf8(plan(input.into_bytes())).unwrap(),
            String::from_utf8(plan(rendered)).unwrap(),
            "{}",
            file.display()
        );
    }
}
