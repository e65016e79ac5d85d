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

/// The stdout lines of a running child, collected as they are printed (to
/// act on what the run has reported so far, e.g. interrupt it then).
pub struct FollowedStdout {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
}

impl FollowedStdout {
    /// Take `child`'s piped stdout and collect its lines.
    pub fn follow(child: &mut std::process::Child) -> Self {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("a piped stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let reader = {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    lines.lock().unwrap().push(line);
                }
            })
        };
        Self { lines, reader }
    }

    /// `delete` events with result `terminating` for objects of `kind`
    /// printed so far: the DELETEs the run has counted.
    pub fn deletes_reported(&self, kind: &str) -> usize {
        let prefix = format!("{kind}/");
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| {
                e["event"] == "delete"
                    && e["result"] == "terminating"
                    && e["object"].as_str().is_some_and(|o| o.starts_with(&prefix))
            })
            .count()
    }

    /// Once the child has ended: its whole stdout, into `out`.
    pub fn finish(self, out: &mut Output) {
        self.reader.join().expect("the stdout reader");
        out.stdout = self.lines.lock().unwrap().join("\n").into_bytes();
    }
}
