//! The teardown order as the API server's watch saw it ([`ApiWatch`], opened
//! by the test, on any target): the runner set left storage before any of
//! its dependents started to go (a DELETE or a deletionTimestamp).

use testenv::watch::{ApiWatch, Change, RUNNER_SET_KINDS, Seen, dump};

/// Name of the example runner set (release `arc-runner-set`).
pub const RUNNER_SET: &str = "arc-runner-set";

/// The example runner set's dependents (kubernetes mode): `(kind, name)`.
pub const DEPENDENTS: [(&str, &str); 6] = [
    ("ServiceAccount", "arc-runner-set-gha-rs-kube-mode"),
    ("Secret", "arc-runner-set-gha-rs-github-secret"),
    ("Role", "arc-runner-set-gha-rs-kube-mode"),
    ("Role", "arc-runner-set-gha-rs-manager"),
    ("RoleBinding", "arc-runner-set-gha-rs-kube-mode"),
    ("RoleBinding", "arc-runner-set-gha-rs-manager"),
];

/// Watches the runner-set kinds of `ns` through `kubeconfig`.
pub fn watch_runner_set(kubeconfig: &std::path::Path, ns: &str) -> ApiWatch {
    ApiWatch::start(kubeconfig, ns, &RUNNER_SET_KINDS)
}

/// Waits until the runner set and every dependent left storage, then
/// asserts that the runner set was gone before any dependent started to go.
/// Returns the events.
pub fn assert_runner_set_gone_first(watch: &ApiWatch) -> Vec<Seen> {
    watch.wait_until(
        "the runner set and its dependents are gone",
        std::time::Duration::from_secs(60),
        |seen| {
            std::iter::once(("AutoscalingRunnerSet", RUNNER_SET))
                .chain(DEPENDENTS)
                .all(|(kind, name)| {
                    seen.iter()
                        .any(|s| s.is(kind, name) && s.change == Change::Deleted)
                })
        },
    );
    let seen = watch.seen();
    let gone = watch
        .gone_at("AutoscalingRunnerSet", RUNNER_SET)
        .expect("the runner set left storage");
    for (kind, name) in DEPENDENTS {
        let going = watch.going_at(kind, name).expect("a dependent went");
        assert!(
            gone < going,
            "{kind}/{name} started to go (rv {going}) before the runner set was gone (rv {gone}):\n{}",
            dump(&seen)
        );
    }
    seen
}

/// Asserts that nothing of the runner-set kinds was deleted or marked for
/// deletion in what `watch` saw.
pub fn assert_nothing_went(watch: &ApiWatch) {
    let seen = watch.seen();
    assert!(
        !seen.iter().any(Seen::going),
        "something was deleted:\n{}",
        dump(&seen)
    );
}
