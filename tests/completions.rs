//! Shell completions generate for bash, zsh and fish and know every
//! subcommand and flag; `--help` documents every flag, exit code, and the
//! annotations `render` writes.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clap::CommandFactory;
use helm_arc_uninstall::cli::Cli;
use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(support::hau_bin())
        .args(args)
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Every long flag of every subcommand, with its subcommand.
fn long_flags() -> Vec<(String, String)> {
    let cli = Cli::command();
    let mut flags = Vec::new();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            if let Some(long) = arg.get_long() {
                flags.push((sub.get_name().to_string(), long.to_string()));
            }
        }
    }
    assert!(flags.len() > 20, "{flags:?}");
    flags
}

/// Whether `shell` is installed (its syntax check is then run).
fn has(shell: &str) -> bool {
    Command::new(shell)
        .args(["-c", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completions_generate_for_three_shells_with_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for sub in ["uninstall", "plan", "render", "demo", "completions"] {
            assert!(script.contains(sub), "{shell}: no {sub}");
        }
        for (sub, flag) in long_flags() {
            assert!(
                script.contains(&format!("--{flag}"))
                    || (shell == "fish" && script.contains(&format!("-l {flag}"))),
                "{shell}: no --{flag} of {sub}"
            );
        }
        // Values of enum flags complete too.
        assert!(
            script.contains("controller-down"),
            "{shell}: --broken values"
        );
        if has(shell) {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("completion");
            std::fs::write(&file, &script).unwrap();
            let check = Command::new(shell).arg("-n").arg(&file).output().unwrap();
            assert!(
                check.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
}

#[test]
fn bash_completion_completes_subcommands_when_sourced() {
    if !has("bash") {
        return;
    }
    let script = run(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("completion.bash");
    std::fs::write(&file, &script).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(helm-arc-uninstall de); COMP_CWORD=1; COMP_LINE='helm-arc-uninstall de'; COMP_POINT=${{#COMP_LINE}}; \
         _helm__arc__uninstall helm-arc-uninstall de helm-arc-uninstall; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let replies = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        replies.trim(),
        "demo",
        "{replies}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = Command::new(support::hau_bin())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn every_argument_has_help_text_and_long_help_shows_it() {
    let cli = Cli::command();
    for sub in cli.get_subcommands() {
        let help = run(&[sub.get_name(), "--help"]);
        for arg in sub.get_arguments() {
            let name = arg.get_id().as_str();
            if name == "help" || name == "version" {
                continue;
            }
            assert!(
                arg.get_help().is_some() || arg.get_long_help().is_some(),
                "{} {name} has no help text",
                sub.get_name()
            );
            if let Some(long) = arg.get_long() {
                assert!(
                    help.contains(&format!("--{long}")),
                    "{} --help: no --{long}",
                    sub.get_name()
                );
            }
        }
        assert!(
            help.contains("Exit codes"),
            "{} --help: no exit codes",
            sub.get_name()
        );
    }
}

#[test]
fn long_help_documents_every_exit_code_and_environment_variable() {
    let help = run(&["--help"]);
    for code in [
        "0  success",
        "1  the command failed",
        "2  usage error or bad input",
        "3  teardown timed out",
        "4  refused by preflight",
    ] {
        assert!(help.contains(code), "--help: no {code:?}");
    }
    for var in [
        "HELM_BIN",
        "HELM_NAMESPACE",
        "HELM_KUBECONTEXT",
        "HELM_ARC_UNINSTALL_STATE_DIR",
        "HELM_ARC_UNINSTALL_LOG",
        "HELM_ARC_UNINSTALL_VERIFY",
    ] {
        assert!(help.contains(var), "--help: no {var}");
    }
    // `-h` stays short.
    assert!(!run(&["-h"]).contains("HELM_ARC_UNINSTALL_STATE_DIR"));
}

#[test]
fn render_help_documents_every_annotation_it_writes() {
    use helm_arc_uninstall::render::stamps;
    let help = run(&["render", "--help"]);
    for key in [
        stamps::WAVE_ANNOTATION,
        helm_arc_uninstall::graph::AFTER_ANNOTATION,
        helm_arc_uninstall::graph::BEFORE_ANNOTATION,
        stamps::ARGOCD_SYNC_WAVE,
        stamps::KAPP_CHANGE_GROUP,
        stamps::KAPP_CHANGE_RULE,
        stamps::DEPENDS_ON,
    ] {
        assert!(help.contains(key), "render --help: no {key}");
    }
}
