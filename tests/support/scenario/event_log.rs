//! Reading the simulator's event log (one [`LogEntry`] per API call).

use kube_sim::LogEntry;

/// The actor of calls made over HTTP by the binary under test (its
/// User-Agent `helm-arc-uninstall/<version>`).
pub const OURS: &str = "helm-arc-uninstall";

/// Whether the binary under test made this call.
pub fn is_ours(e: &LogEntry) -> bool {
    e.actor == OURS
}

/// Whether the call writes (as opposed to get/list/watch).
pub fn is_write(e: &LogEntry) -> bool {
    matches!(
        e.verb.as_str(),
        "delete" | "patch" | "update" | "create" | "apply" | "update-status"
    )
}

/// Index of the last successful write to any AutoscalingRunnerSet: where the
/// last one disappeared (the patch that removed its last finalizer, or a
/// DELETE without any).
pub fn last_ars_write(log: &[LogEntry]) -> usize {
    log.iter()
        .rposition(|e| e.kind == "AutoscalingRunnerSet" && e.code < 300 && is_write(e))
        .expect("an AutoscalingRunnerSet was written")
}

/// The calls in `log` other than get and list, one line each
/// (`seq actor verb Kind/name -> result`),
/// for an assertion message.
pub fn dump(log: &[LogEntry]) -> String {
    log.iter()
        .filter(|e| e.verb != "get" && e.verb != "list")
        .map(|e| {
            format!(
                "{} {} {} {}/{} -> {}",
                e.seq, e.actor, e.verb, e.kind, e.name, e.result
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
