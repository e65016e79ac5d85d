//! Reading what `helm-arc-uninstall` printed.

use serde_json::Value;
use std::process::Output;

/// Every stdout line of a `-o json` run, parsed (panics on a line that is not JSON).
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The first event called `name` of a `-o json` run (panics without one).
pub fn first_event(out: &Output, name: &str) -> Value {
    json_lines(out)
        .into_iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} event:\n{}", describe(out)))
}

/// The last `summary` event of a single-release run.
pub fn summary(out: &Output) -> Value {
    json_lines(out)
        .into_iter()
        .rfind(|e| e["event"] == "summary")
        .expect("a summary event")
}

/// Exit status, stdout and stderr, for an assertion message.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// As [`describe`], with only the last `lines` lines of stdout (latest
/// first), for runs that print a line per event of many releases.
pub fn describe_tail(out: &Output, lines: usize) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tail: Vec<&str> = stdout.lines().rev().take(lines).collect();
    format!(
        "status {:?}\n--- stdout (last {lines} lines, reversed)\n{}\n--- stderr\n{}",
        out.status.code(),
        tail.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    )
}
