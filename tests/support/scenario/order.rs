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

/// A finalizer of the test's own (no ARC name), see [`with_runner_set_held`].
pub const HOLD: &str = "helm-arc-uninstall.test/hold";

/// How long [`with_runner_set_held`] keeps the runner set Terminating.
pub const HOLD_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `teardown` (a tool deleting the example runner set in `ns`) where
/// the runner set takes time to go, as it does under ARC (its controller's
/// cleanup): on a target without a controller, the test puts its own
/// finalizer [`HOLD`] on the runner set first and removes it [`HOLD_FOR`]
/// after the runner set's deletion started, so a tool that deletes the
/// dependents without waiting for the runner set to be gone does so while
/// the watch still sees it. Where a controller reconciled the runner set
/// (the simulator with ARC) its own finalizer does this; there `teardown`
/// just runs.
pub fn with_runner_set_held<T>(
    env: &testenv::ScenarioEnv,
    ns: &str,
    teardown: impl FnOnce() -> T,
) -> T {
    let current = env
        .get(
            "actions.github.com/v1alpha1",
            "AutoscalingRunnerSet",
            Some(ns),
            RUNNER_SET,
        )
        .expect("the runner set exists");
    if current["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
    {
        return teardown();
    }
    let ars = format!("autoscalingrunnerset.v1alpha1.actions.github.com/{RUNNER_SET}");
    let add = format!(r#"[{{"op":"add","path":"/metadata/finalizers","value":["{HOLD}"]}}]"#);
    env.helm
        .kubectl(&["patch", &ars, "-n", ns, "--type=json", "-p", &add]);
    std::thread::scope(|scope| {
        let holder = scope.spawn(|| {
            let start = std::time::Instant::now();
            loop {
                let ars = env
                    .get(
                        "actions.github.com/v1alpha1",
                        "AutoscalingRunnerSet",
                        Some(ns),
                        RUNNER_SET,
                    )
                    .expect("the held runner set cannot go");
                if ars["metadata"]["deletionTimestamp"].is_string() {
                    break;
                }
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(120),
                    "the runner set was not deleted within 120s"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            std::thread::sleep(HOLD_FOR);
            let remove = r#"[{"op":"remove","path":"/metadata/finalizers"}]"#;
            env.helm
                .kubectl(&["patch", &ars, "-n", ns, "--type=json", "-p", remove]);
        });
        let result = teardown();
        holder.join().expect("the holder thread");
        result
    })
}
