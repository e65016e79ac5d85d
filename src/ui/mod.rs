//! Output for people and pipelines: progress bars on a terminal, one plain
//! line per event otherwise, or JSON Lines (`-o json`) ending in a summary.
//!
//! The engine emits [`Event`]s (defined beside it, in `teardown::events`); a
//! [`Reporter`] renders them. Events carry
//! names, finalizers and counts only, never object payloads, so Secret data
//! cannot reach any output.

mod plain;
mod tty;

pub use crate::teardown::events::{Event, Reporter};
pub use plain::{PlainReporter, line};
pub use tty::TtyReporter;

use std::io::Write;
use std::sync::Mutex;

/// `-o json`: one JSON object per line on stdout.
pub struct JsonReporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonReporter {
    /// Write to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl Reporter for JsonReporter {
    fn emit(&self, event: &Event) {
        if let (Ok(line), Ok(mut out)) = (serde_json::to_string(event), self.out.lock()) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// Choose the reporter: JSON, progress bars on a terminal, or plain lines.
pub fn reporter(json: bool) -> Box<dyn Reporter> {
    use std::io::IsTerminal;
    if json {
        Box::new(JsonReporter::new(Box::new(std::io::stdout())))
    } else if std::io::stderr().is_terminal() {
        Box::new(TtyReporter::new())
    } else {
        Box::new(PlainReporter::new(Box::new(std::io::stdout())))
    }
}
