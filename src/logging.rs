//! Diagnostic logging to stderr: the `tracing` events and spans of this
//! crate and of the Kubernetes client (one span per HTTP request), shown
//! only when asked for. Product output (text, JSON events) never goes here.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// The filter used for `--debug` / `HELM_DEBUG=true` when `RUST_LOG` is unset.
pub const DEBUG_FILTER: &str = "helm_arc_uninstall=debug,kube_client=debug";

/// Whether Helm asked its plugin for debug output (`helm --debug` sets
/// `HELM_DEBUG=true` for plugins).
pub fn helm_debug(value: Option<&str>) -> bool {
    matches!(value.map(str::trim), Some("true" | "1"))
}

/// The filter to log with, if logging is on: `RUST_LOG` when set (even
/// with `--debug`), else [`DEBUG_FILTER`] when debugging, else none.
pub fn filter_for(debug: bool, rust_log: Option<&str>) -> Option<String> {
    match rust_log.map(str::trim).filter(|f| !f.is_empty()) {
        Some(filter) => Some(filter.to_string()),
        None if debug => Some(DEBUG_FILTER.to_string()),
        None => None,
    }
}

/// Install the stderr subscriber when `--debug`, `HELM_DEBUG` or `RUST_LOG`
/// asks for it. A filter that does not parse is reported once and replaced
/// by [`DEBUG_FILTER`].
pub fn init(debug: bool) {
    let debug = debug || helm_debug(std::env::var("HELM_DEBUG").ok().as_deref());
    let Some(filter) = filter_for(debug, std::env::var("RUST_LOG").ok().as_deref()) else {
        return;
    };
    let env_filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: RUST_LOG={filter:?} is not a valid filter ({e}); using {DEBUG_FILTER}");
        EnvFilter::new(DEBUG_FILTER)
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_span_events(FmtSpan::CLOSE)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_debug_is_true_or_1() {
        assert!(helm_debug(Some("true")));
        assert!(helm_debug(Some("1")));
        assert!(!helm_debug(Some("false")));
        assert!(!helm_debug(Some("")));
        assert!(!helm_debug(None));
    }

    #[test]
    fn rust_log_wins_then_debug_then_nothing() {
        assert_eq!(filter_for(false, None), None);
        assert_eq!(filter_for(false, Some(" ")), None);
        assert_eq!(filter_for(true, None).as_deref(), Some(DEBUG_FILTER));
        assert_eq!(
            filter_for(true, Some("kube=trace")).as_deref(),
            Some("kube=trace")
        );
        assert_eq!(filter_for(false, Some("warn")).as_deref(), Some("warn"));
    }
}
