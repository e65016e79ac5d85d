//! What a teardown reports: the [`Event`]s the engine emits and the
//! [`Reporter`] trait that renders them (the renderers are in `crate::ui`).
//! Events carry names, finalizers and counts only, never object payloads, so
//! Secret data cannot reach any output.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One thing that happened during a teardown.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run starts.
    Start {
        /// Release name.
        release: String,
        /// Release namespace.
        namespace: String,
        /// Objects per wave.
        waves: Vec<usize>,
        /// No writes.
        dry_run: bool,
        /// Working without the release record (`--rescue`).
        rescue: bool,
        /// Where the objects came from.
        source: ManifestSource,
        /// The API server, context and user the run acts on and as
        /// (flattened: `server`, `context`, `user`, `as_user`, `as_groups`).
        #[serde(flatten)]
        target: crate::kube::connection::Target,
    },
    /// The manifest was copied to the state directory.
    ManifestSaved {
        /// Path of the copy.
        path: String,
    },
    /// The manifest copy was removed: the release is gone.
    ManifestRemoved {
        /// Path of the copy.
        path: String,
    },
    /// A preflight finding.
    Check {
        /// What was checked.
        check: String,
        /// Whether it is fine.
        ok: bool,
        /// Details.
        detail: String,
    },
    /// The run stops before deleting anything.
    Refused {
        /// Machine-readable cause.
        cause: String,
        /// The paragraph for the user.
        message: String,
    },
    /// A wave starts.
    WaveStart {
        /// Wave index.
        wave: usize,
        /// Objects of the wave.
        objects: Vec<String>,
    },
    /// An object of a wave is skipped.
    Skip {
        /// The object.
        object: String,
        /// Why.
        reason: SkipReason,
    },
    /// A DELETE was sent (or would be).
    Delete {
        /// Wave index.
        wave: usize,
        /// The object.
        object: String,
        /// What the API server answered.
        result: DeleteResult,
    },
    /// An object of the wave is gone (UID-aware).
    Gone {
        /// Wave index.
        wave: usize,
        /// The object.
        object: String,
    },
    /// What the ARC controller is doing while we wait.
    Progress {
        /// Wave index.
        wave: usize,
        /// Objects of the wave still present.
        waiting_for: usize,
        /// The AutoscalingListener, if still present.
        listener: Option<String>,
        /// EphemeralRunnerSets present.
        runner_sets: usize,
        /// Runners by phase.
        runners: BTreeMap<String, usize>,
        /// Runners running a job.
        busy: Vec<String>,
        /// Finalizers still on the wave's objects.
        finalizers_left: Vec<String>,
    },
    /// A wave finished.
    WaveDone {
        /// Wave index.
        wave: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// A wave ran out of time.
    WaveTimedOut {
        /// Wave index.
        wave: usize,
        /// The timeout, in Helm syntax.
        timeout: String,
    },
    /// The diagnosis of a stuck wave.
    Diagnosis {
        /// The diagnosis.
        #[serde(flatten)]
        diagnosis: super::diagnosis::Diagnosis,
    },
    /// A finalizer-ladder step (or what it would do under --dry-run).
    Ladder {
        /// Rung label.
        rung: String,
        /// The object.
        object: String,
        /// What the step did.
        action: LadderAction,
        /// The JSON patch sent (or that would be).
        patch: Option<Value>,
        /// The finalizers (or the annotation) the patch removes.
        removes: Vec<String>,
        /// Nothing was written.
        dry_run: bool,
    },
    /// What stays registered on GitHub and must be removed there.
    Leak {
        /// The leak.
        #[serde(flatten)]
        leak: super::ladder::Leak,
    },
    /// `helm uninstall` for the release record.
    Helm {
        /// The argv (after the Helm binary).
        args: Vec<String>,
        /// Not run (dry run).
        dry_run: bool,
        /// Exit status, when run.
        status: Option<i32>,
    },
    /// The final summary.
    Summary {
        /// How the run ended (`success`, `failed`, `timed_out`, `refused`, `dry_run`).
        outcome: crate::outcome::Outcome,
        /// The process exit code.
        exit_code: i32,
        /// Objects deleted by this run.
        deleted: usize,
        /// Wall time.
        seconds: f64,
        /// Non-watch API requests made.
        requests: u64,
        /// One line for people.
        message: String,
    },
    /// A fleet run starts (`--all-runner-sets`).
    FleetStart {
        /// `namespace NS` or `all namespaces`.
        scope: String,
        /// The releases to tear down.
        releases: Vec<crate::fleet::ReleaseRef>,
        /// Releases torn down at the same time.
        concurrency: u16,
        /// No writes.
        dry_run: bool,
        /// The API server, context and user the run acts on and as.
        #[serde(flatten)]
        target: crate::kube::connection::Target,
    },
    /// A release of a fleet ended in an error before its own summary.
    ReleaseError {
        /// The error, one line.
        message: String,
    },
    /// `--delete-crds`: one CustomResourceDefinition.
    Crd {
        /// The CRD.
        object: String,
        /// What the API server answered its DELETE (or `would_delete`).
        result: DeleteResult,
    },
    /// The fleet's summary: every release, and the run's totals.
    FleetSummary {
        /// How the fleet run ended.
        outcome: crate::outcome::Outcome,
        /// The process exit code.
        exit_code: i32,
        /// Each release's outcome.
        releases: Vec<crate::fleet::ReleaseOutcome>,
        /// Objects deleted by this run, every release together.
        deleted: usize,
        /// Wall time.
        seconds: f64,
        /// Non-watch API requests made.
        requests: u64,
        /// One line for people.
        message: String,
    },
}

/// Where a run's objects came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestSource {
    /// The release record (`helm get manifest`).
    Release,
    /// The copy saved by an earlier run (`--rescue`).
    SavedManifest,
    /// Found from the runner sets on the cluster (`--rescue`, no copy).
    Cluster,
}

/// Why an object of a wave is not deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SkipReason {
    /// It exists but the release does not own it.
    #[serde(rename = "not owned by this release")]
    NotOwned,
    /// `helm.sh/resource-policy: keep`.
    #[serde(rename = "kept by helm.sh/resource-policy")]
    KeptByPolicy,
    /// It does not exist.
    #[serde(rename = "already gone")]
    AlreadyGone,
}

/// What the API server answered a DELETE (or what a dry run would send).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteResult {
    /// Deleted and gone at once.
    Gone,
    /// Deleted; finalizers keep it until they are removed.
    Terminating,
    /// Not found.
    AlreadyGone,
    /// An object of the same name with another UID: not the one planned, left alone.
    UidChanged,
    /// Already being deleted: not sent again.
    AlreadyTerminating,
    /// Dry run: would be sent.
    WouldDelete,
    /// Changed since it was read (resourceVersion precondition): read again and retried.
    Changed,
    /// The DELETE failed; the run then stops with an error naming every
    /// object of the wave whose DELETE failed.
    Failed,
}

impl DeleteResult {
    /// Whether the object is gone with this answer.
    pub fn is_gone(self) -> bool {
        matches!(self, Self::Gone | Self::AlreadyGone | Self::UidChanged)
    }

    /// Whether the DELETE took effect (it counts as deleted by this run).
    pub fn took_effect(self) -> bool {
        matches!(self, Self::Gone | Self::Terminating)
    }
}

/// What a finalizer-ladder step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderAction {
    /// DELETE the object.
    Delete,
    /// Patch its finalizers (or annotation) away.
    Patch,
    /// Nothing it names is left on the object.
    NothingToRemove,
    /// The object changed between every read and patch.
    GaveUpAfterConflicts,
}

/// Renders events.
pub trait Reporter: Send + Sync {
    /// Render one event.
    fn emit(&self, event: &Event);

    /// Render one event of `release`, one of several torn down side by side
    /// (a fleet). Renderers that write lines tag it with the release.
    fn emit_tagged(&self, release: &str, event: &Event) {
        let _ = release;
        self.emit(event);
    }
}

impl<R: Reporter + ?Sized> Reporter for &R {
    fn emit(&self, event: &Event) {
        (**self).emit(event);
    }

    fn emit_tagged(&self, release: &str, event: &Event) {
        (**self).emit_tagged(release, event);
    }
}

impl<R: Reporter + ?Sized> Reporter for Box<R> {
    fn emit(&self, event: &Event) {
        (**self).emit(event);
    }

    fn emit_tagged(&self, release: &str, event: &Event) {
        (**self).emit_tagged(release, event);
    }
}
