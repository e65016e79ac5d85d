//! One plain line per event (CI logs).

use super::{Event, Reporter};
use crate::teardown::events::{DeleteResult, LadderAction, ManifestSource, SkipReason};
use std::io::Write;
use std::sync::Mutex;

/// Plain lines to a writer.
pub struct PlainReporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl PlainReporter {
    /// Write to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl PlainReporter {
    fn write(&self, text: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}

impl Reporter for PlainReporter {
    fn emit(&self, event: &Event) {
        self.write(&line(event));
    }

    fn emit_tagged(&self, release: &str, event: &Event) {
        self.write(&format!("[{release}] {}", line(event)));
    }
}

/// The text of one event (shared with the terminal reporter).
pub fn line(event: &Event) -> String {
    match event {
        Event::Start {
            release,
            namespace,
            waves,
            dry_run,
            rescue,
            source,
            target,
        } => format!(
            "{}{} release {release} in {namespace} on {}: {} objects in {} waves (from {})",
            if *dry_run { "dry run: " } else { "" },
            if *rescue { "rescuing" } else { "tearing down" },
            target.describe(),
            waves.iter().sum::<usize>(),
            waves.len(),
            match source {
                ManifestSource::Release => "release",
                ManifestSource::SavedManifest => "saved manifest",
                ManifestSource::Cluster => "cluster",
            }
        ),
        Event::ManifestSaved { path } => {
            format!("saved the release manifest (Secret values removed) to {path}")
        }
        Event::ManifestRemoved { path } => {
            format!("removed the manifest copy {path}: the release is gone")
        }
        Event::Check { check, ok, detail } => {
            format!(
                "preflight {}: {check}: {detail}",
                if *ok { "ok" } else { "PROBLEM" }
            )
        }
        Event::Refused { cause, message } => format!("refused ({cause}): {message}"),
        Event::WaveStart { wave, objects } => {
            format!("wave {wave}: deleting {}", objects.join(", "))
        }
        Event::Skip { object, reason } => format!("skip {object}: {}", skip_reason(*reason)),
        Event::Delete {
            wave,
            object,
            result,
        } => format!("wave {wave}: DELETE {object}: {}", delete_result(*result)),
        Event::Gone { wave, object } => format!("wave {wave}: {object} is gone"),
        Event::Progress {
            wave,
            waiting_for,
            listener,
            runner_sets,
            runners,
            busy,
            finalizers_left,
        } => {
            let phases: Vec<String> = runners.iter().map(|(p, n)| format!("{n} {p}")).collect();
            let mut parts = vec![format!("waiting for {waiting_for}")];
            parts.push(format!(
                "listener {}",
                listener.as_deref().unwrap_or("gone")
            ));
            parts.push(format!("runner sets {runner_sets}"));
            parts.push(format!(
                "runners {}",
                if phases.is_empty() {
                    "0".into()
                } else {
                    phases.join(", ")
                }
            ));
            if !busy.is_empty() {
                parts.push(format!("busy {}", busy.join(", ")));
            }
            if !finalizers_left.is_empty() {
                parts.push(format!("finalizers left {}", finalizers_left.join(", ")));
            }
            format!("wave {wave}: {}", parts.join("; "))
        }
        Event::WaveDone { wave, seconds } => format!("wave {wave}: done in {seconds:.2}s"),
        Event::WaveTimedOut { wave, timeout } => {
            format!("wave {wave}: not finished after {timeout}")
        }
        Event::Diagnosis { diagnosis } => {
            let mut text = format!("diagnosis ({}): {}", diagnosis.cause, diagnosis.explanation);
            for o in &diagnosis.objects {
                let fins: Vec<String> = o
                    .finalizers
                    .iter()
                    .zip(&o.removed_by)
                    .map(|(f, by)| format!("{f} (removed by {by})"))
                    .collect();
                text.push_str(&format!(
                    "\n  still there: {}{}; finalizers: {}",
                    o.object,
                    if o.terminating { " (Terminating)" } else { "" },
                    if fins.is_empty() {
                        "none".into()
                    } else {
                        fins.join(", ")
                    }
                ));
            }
            text.push_str(&format!("\n  next: {}", diagnosis.next_command));
            text
        }
        Event::Ladder {
            rung,
            object,
            action,
            patch,
            removes,
            dry_run,
        } => format!(
            "{}force-finalizers [{rung}] {} {object}{}{}",
            if *dry_run { "would " } else { "" },
            ladder_action(*action),
            if removes.is_empty() {
                String::new()
            } else {
                format!(" removing {}", removes.join(", "))
            },
            patch
                .as_ref()
                .map(|p| format!(" with patch {p}"))
                .unwrap_or_default()
        ),
        Event::Leak { leak } => format!(
            "left on GitHub (remove it there): scale set {} of {}{}{}",
            leak.scale_set_id
                .as_deref()
                .map(|id| format!("id {id}"))
                .unwrap_or_else(|| "(id unknown)".into()),
            leak.runner_set,
            leak.github_config_url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default(),
            if leak.runners.is_empty() {
                String::new()
            } else {
                format!("; runners: {}", leak.runners.join(", "))
            }
        ),
        Event::Helm {
            args,
            dry_run,
            status,
        } => format!(
            "{}helm {}{}",
            if *dry_run { "would run: " } else { "" },
            args.join(" "),
            status.map(|s| format!(" (exit {s})")).unwrap_or_default()
        ),
        Event::Summary {
            outcome,
            exit_code,
            deleted,
            seconds,
            message,
            ..
        } => {
            format!("{outcome}: {message} ({deleted} deleted, {seconds:.2}s, exit {exit_code})")
        }
        Event::FleetStart {
            scope,
            releases,
            concurrency,
            dry_run,
            target,
        } => format!(
            "{}tearing down {} runner-set release(s) in {scope} on {}, {concurrency} at a time",
            if *dry_run { "dry run: " } else { "" },
            releases.len(),
            target.describe(),
        ),
        Event::ReleaseError { message } => format!("error: {message}"),
        Event::Crd { object, result } => format!(
            "CRD {}: {}",
            object.rsplit('/').next().unwrap_or(object),
            delete_result(*result)
        ),
        Event::FleetSummary {
            outcome,
            deleted,
            seconds,
            requests,
            message,
            ..
        } => format!(
            "fleet {outcome} in {seconds:.1}s: {message} ({deleted} deleted, {requests} API requests)"
        ),
    }
}

/// A skip reason in words.
fn skip_reason(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::NotOwned => "not owned by this release",
        SkipReason::KeptByPolicy => "kept by helm.sh/resource-policy",
        SkipReason::AlreadyGone => "already gone",
    }
}

/// A DELETE's answer in words.
fn delete_result(result: DeleteResult) -> &'static str {
    match result {
        DeleteResult::Gone => "gone",
        DeleteResult::Terminating => "terminating",
        DeleteResult::AlreadyGone => "already gone",
        DeleteResult::UidChanged => "uid changed",
        DeleteResult::AlreadyTerminating => "already terminating",
        DeleteResult::WouldDelete => "would delete",
        DeleteResult::Changed => "changed",
        DeleteResult::Failed => "failed",
    }
}

/// A ladder step's action in words.
fn ladder_action(action: LadderAction) -> &'static str {
    match action {
        LadderAction::Delete => "delete",
        LadderAction::Patch => "patch",
        LadderAction::NothingToRemove => "nothing_to_remove",
        LadderAction::GaveUpAfterConflicts => "gave_up_after_conflicts",
    }
}
