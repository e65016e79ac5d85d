//! README.md opens with exactly two commands and the first one works: the
//! demo of the main job, run here with the test-built binary.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

/// The commands of README.md's first code block, comments stripped.
fn opening_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a sh code block");
    block
        .lines()
        .map(|line| line.split(" # ").next().unwrap_or(line).trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn readme_opens_with_the_main_job_and_the_test_command() {
    let commands = opening_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert_eq!(commands[1], "scripts/test");
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/test")
            .is_file(),
        "scripts/test exists"
    );
}

#[test]
fn readme_first_command_runs_the_demo() {
    let commands = opening_commands();
    let args = commands[0]
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| {
            panic!(
                "first command is not `cargo run --release -- ...`: {}",
                commands[0]
            )
        });
    assert_eq!(args, "demo");
    let out = Command::new(support::hau_bin())
        .args(args.split_whitespace())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wave0 = stdout
        .split("wave 1:")
        .next()
        .and_then(|head| head.split("wave 0:").nth(1))
        .expect("plan shows wave 0 and wave 1");
    assert_eq!(
        wave0.trim(),
        "AutoscalingRunnerSet/arc-runners/arc-runner-set",
        "the runner set alone goes first:\n{stdout}"
    );
    assert!(
        stdout.contains("proof: the AutoscalingRunnerSet was gone at #"),
        "{stdout}"
    );
}

#[test]
fn readme_names_the_plan_of_the_bundled_example() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    assert!(readme.contains("cargo run --release -- plan -f examples/runner-set/rendered.yaml"));
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/runner-set/rendered.yaml")
            .is_file()
    );
}
