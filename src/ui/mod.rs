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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

impl JsonReporter {
    fn write(&self, value: &impl serde::Serialize) {
        if let (Ok(line), Ok(mut out)) = (serde_json::to_string(value), self.out.lock()) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

impl Reporter for JsonReporter {
    fn emit(&self, event: &Event) {
        self.write(event);
    }

    /// The event's object with `release` set to the tag (it replaces a
    /// `release` field the event has: the fleet's tag is `namespace/name`).
    fn emit_tagged(&self, release: &str, event: &Event) {
        if let Ok(mut value) = serde_json::to_value(event) {
            if let Some(map) = value.as_object_mut() {
                map.insert("release".into(), release.into());
            }
            self.write(&value);
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

/// The reporter of a fleet: JSON, or plain lines tagged with their release
/// (bars per wave do not fit releases running side by side).
pub fn fleet_reporter(json: bool) -> Box<dyn Reporter> {
    if json {
        Box::new(JsonReporter::new(Box::new(std::io::stdout())))
    } else {
        Box::new(PlainReporter::new(Box::new(std::io::stdout())))
    }
}

/// The reporter of one release among several: every event tagged with it.
pub struct Tagged<'a> {
    inner: &'a dyn Reporter,
    release: String,
}

impl<'a> Tagged<'a> {
    /// Tag the events passed to `inner` with `release`.
    pub fn new(inner: &'a dyn Reporter, release: impl Into<String>) -> Self {
        Self {
            inner,
            release: release.into(),
        }
    }
}

impl Reporter for Tagged<'_> {
    fn emit(&self, event: &Event) {
        self.inner.emit_tagged(&self.release, event);
    }

    fn emit_tagged(&self, release: &str, event: &Event) {
        self.inner.emit_tagged(release, event);
    }
}

/// A reporter that passes every event on and keeps the run's statistics:
/// the DELETEs that took effect (from the `delete` events) and the API
/// requests (the cluster client counts into [`Counting::request_counter`]).
/// A run that fails or is interrupted still reports them.
pub struct Counting<R> {
    inner: R,
    deleted: AtomicUsize,
    requests: Arc<AtomicU64>,
}

impl<R: Reporter> Counting<R> {
    /// Count what passes to `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            deleted: AtomicUsize::new(0),
            requests: Arc::default(),
        }
    }

    /// DELETEs that took effect so far.
    pub fn deleted(&self) -> usize {
        self.deleted.load(Ordering::Relaxed)
    }

    /// The counter for the cluster client's requests
    /// ([`crate::kube::Cluster::count_requests_in`]).
    pub fn request_counter(&self) -> Arc<AtomicU64> {
        self.requests.clone()
    }

    /// Non-watch API requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn count(&self, event: &Event) {
        if let Event::Delete { result, .. } = event
            && result.took_effect()
        {
            self.deleted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<R: Reporter> Reporter for Counting<R> {
    fn emit(&self, event: &Event) {
        self.count(event);
        self.inner.emit(event);
    }

    fn emit_tagged(&self, release: &str, event: &Event) {
        self.count(event);
        self.inner.emit_tagged(release, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::teardown::events::DeleteResult;

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().unwrap().clone();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    fn delete(result: DeleteResult) -> Event {
        Event::Delete {
            wave: 0,
            object: "Secret/ns/s".into(),
            result,
        }
    }

    #[test]
    fn counting_counts_the_deletes_that_took_effect_tagged_or_not() {
        let out = Captured::default();
        let counting = Counting::new(JsonReporter::new(Box::new(out.clone())));
        counting.emit(&delete(DeleteResult::Terminating));
        counting.emit(&delete(DeleteResult::WouldDelete));
        counting.emit(&delete(DeleteResult::AlreadyGone));
        Tagged::new(&counting, "ns/rel").emit(&delete(DeleteResult::Gone));
        assert_eq!(counting.deleted(), 2);
        counting.request_counter().fetch_add(7, Ordering::Relaxed);
        assert_eq!(counting.requests(), 7);
        assert_eq!(out.lines().len(), 4, "every event passes on");
    }

    #[test]
    fn a_tagged_event_names_its_release_in_json_and_in_lines() {
        let json = Captured::default();
        let reporter = JsonReporter::new(Box::new(json.clone()));
        Tagged::new(&reporter, "ns/rel").emit(&delete(DeleteResult::Gone));
        let value: serde_json::Value = serde_json::from_str(&json.lines()[0]).unwrap();
        assert_eq!(value["event"], "delete");
        assert_eq!(value["release"], "ns/rel");
        assert_eq!(value["result"], "gone");

        let text = Captured::default();
        let reporter = PlainReporter::new(Box::new(text.clone()));
        Tagged::new(&reporter, "ns/rel").emit(&delete(DeleteResult::Gone));
        assert_eq!(text.lines(), ["[ns/rel] wave 0: DELETE Secret/ns/s: gone"]);
    }
}
