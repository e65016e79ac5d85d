//! What stops a teardown: the errors of the engine and its parts.

use crate::kube::KubeError;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    /// A Kubernetes call failed.
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// DELETEs of a wave failed (every failed object is named).
    #[error("wave {wave}: DELETE failed for {} of {total} objects: {}", failures.len(), failures.join("; "))]
    Deletes {
        /// The wave.
        wave: usize,
        /// Objects the wave tried to delete.
        total: usize,
        /// `Kind/namespace/name: error`, one per failed DELETE.
        failures: Vec<String>,
    },
    /// The API server refused to list or watch what a wave waits for.
    #[error(
        "{}cannot {verb} {resource} to wait for wave {wave}: {code} {reason}; the wave's objects cannot be \
         followed, so the run stops instead of waiting out --timeout{}",
        if *code == 403 { "missing permission: " } else { "" },
        if *code == 403 { " (README \"Permissions\" lists what each command needs)" } else { "" }
    )]
    WatchRefused {
        /// The wave.
        wave: usize,
        /// `list` or `watch`.
        verb: &'static str,
        /// The RBAC resource and where: `secrets in namespace NS`,
        /// `autoscalinglisteners.actions.github.com in every namespace`.
        resource: String,
        /// HTTP status code (401, 403 or 404).
        code: u16,
        /// The API server's reason and message.
        reason: String,
    },
    /// A step of a wave could not finish within `--timeout`.
    #[error("wave {wave}: {what} did not finish within --timeout")]
    OutOfTime {
        /// The wave.
        wave: usize,
        /// The step.
        what: String,
    },
    /// A finalizer-ladder patch kept finding its object changed.
    #[error(
        "gave up patching {object} after {attempts} conflicts (it changed between every read and patch); \
         rerun the same command"
    )]
    Conflicts {
        /// The object.
        object: String,
        /// Patch attempts made.
        attempts: usize,
    },
}
