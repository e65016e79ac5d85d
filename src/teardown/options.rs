//! How one release's teardown runs: the options resolved once from the
//! command line (or the demo, or the fleet driver).

use crate::kube::Cascade;
use std::time::Duration;

/// How to run a teardown.
#[derive(Clone, Debug)]
pub struct Options {
    /// Release name.
    pub release: String,
    /// Release namespace.
    pub namespace: String,
    /// Per-wave timeout.
    pub timeout: Duration,
    /// Show every step, write nothing.
    pub dry_run: bool,
    /// Run the finalizer ladder when the plan would wedge.
    pub force_finalizers: bool,
    /// `propagationPolicy` of our DELETEs.
    pub cascade: Cascade,
    /// The command line to suggest for a rerun.
    pub rerun: crate::teardown::rerun::Rerun,
    /// `pre-delete` hooks of the release.
    pub pre_delete_hooks: Vec<String>,
    /// The user passed `--no-hooks`.
    pub no_hooks: bool,
    /// Tear down a runner set that shares its GitHub registration, leaving the registration to the others.
    pub keep_registration: bool,
}
