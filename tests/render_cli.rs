//! `helm-arc-uninstall render` as Helm runs it: stdin to stdout, and failing
//! closed (nothing on stdout, exit 2, one line on stderr and in the log file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use assert_cmd::Command;
use std::path::Path;

fn render(home: &Path) -> Command {
    let mut cmd = Command::new(support::hau_bin());
    cmd.arg("render")
        .env_remove("HELM_NAMESPACE")
        .env_remove("HELM_ARC_UNINSTALL_VERIFY")
        .env("HELM_ARC_UNINSTALL_LOG", home.join("render.log"));
    cmd
}

fn example(name: &str) -> String {
    std::fs::read_to_string(support::repo_root().join("examples/runner-set").join(name)).unwrap()
}

#[test]
fn renders_stdin_to_stdout_with_waves_only_added() {
    let home = tempfile::tempdir().unwrap();
    let input = example("rendered.yaml");
    let out = render(home.path())
        .arg("--verify")
        .write_stdin(input.clone())
        .assert()
        .success();
    let output = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(out.get_output().stderr.is_empty());
    let added: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("teardown.helm-arc-uninstall/wave"))
        .collect();
    assert_eq!(
        added.len(),
        input.matches("\nkind: ").count(),
        "one wave per object"
    );
    assert!(output.contains("teardown.helm-arc-uninstall/wave: \"0\""));
    // Every input line is in the output, in order; the other lines are added annotations.
    let mut rest = input.split_inclusive('\n').peekable();
    for line in output.split_inclusive('\n') {
        if rest.peek() == Some(&line) {
            rest.next();
        } else {
            let t = line.trim();
            assert!(
                t == "annotations:" || t.starts_with("teardown.helm-arc-uninstall/"),
                "{line:?}"
            );
        }
    }
    assert_eq!(rest.next(), None);
    // `HELM_ARC_UNINSTALL_VERIFY=1` is `--verify`; the result is the same.
    render(home.path())
        .env("HELM_ARC_UNINSTALL_VERIFY", "1")
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(output.clone());
    // Idempotent.
    render(home.path())
        .write_stdin(output.clone())
        .assert()
        .success()
        .stdout(output);
}

#[test]
fn helm4_postrender_input_keeps_filenames_and_opt_in_forms() {
    let home = tempfile::tempdir().unwrap();
    let input = example("helm4-postrender-input.yaml");
    let out = render(home.path())
        .args(["--argocd", "--kapp", "--depends-on", "-n", "arc-runners"])
        .write_stdin(input.clone())
        .assert()
        .success();
    let output = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for key in [
        "argocd.argoproj.io/sync-wave",
        "kapp.k14s.io/change-group",
        "kapp.k14s.io/change-rule",
        "config.kubernetes.io/depends-on",
    ] {
        assert!(output.contains(key), "{key} missing");
    }
    assert_eq!(
        output
            .matches("postrenderer.helm.sh/postrender-filename")
            .count(),
        input
            .matches("postrenderer.helm.sh/postrender-filename")
            .count()
    );
}

/// Runs `render` on bad input and checks the fail-closed contract; returns the stderr line.
fn refuses(input: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = render(home.path())
        .write_stdin(input.to_string())
        .assert()
        .code(2);
    let output = out.get_output();
    assert!(output.stdout.is_empty(), "stdout must stay empty");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    let log = std::fs::read_to_string(home.path().join("render.log")).unwrap();
    let message = stderr.trim_start_matches("error: render: ").trim_end();
    assert!(
        log.trim_end().ends_with(message),
        "log {log:?} lacks {message:?}"
    );
    stderr
}

#[test]
fn fails_closed_on_bad_input() {
    let e = refuses(
        "---\n# Source: c/templates/ok.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\n# Source: c/templates/bad.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
    );
    assert!(
        e.contains("document 2 (# Source: c/templates/bad.yaml)"),
        "{e}"
    );
    let e = refuses(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'c/templates/x.yaml'\n  name: x\ndata:\n  a: 1\n  a: 2\n",
    );
    assert!(
        e.contains("(postrenderer.helm.sh/postrender-filename: c/templates/x.yaml)")
            && e.contains("duplicate mapping key `a`"),
        "{e}"
    );
    let e = refuses(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  \"x\\ny\": 1\n  \"x\\ny\": 2\n",
    );
    assert!(e.contains("duplicate mapping key `x\\ny`"), "{e}");
    let e = refuses("---\n# Source: c/templates/values.yaml\nreplicas: 3\n");
    assert!(e.contains("not a Kubernetes object"), "{e}");
    let e = refuses("apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: a\n");
    assert!(e.contains("cannot add annotations safely"), "{e}");
    let e = refuses("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: .inf\n");
    assert!(e.contains("not representable in JSON"), "{e}");
}

#[test]
fn empty_input_gives_empty_output() {
    let home = tempfile::tempdir().unwrap();
    render(home.path())
        .write_stdin("")
        .assert()
        .success()
        .stdout("");
    render(home.path())
        .write_stdin("---\n# Source: c/templates/none.yaml\n")
        .assert()
        .success()
        .stdout("---\n# Source: c/templates/none.yaml\n");
}
