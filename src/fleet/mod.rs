//! Fleet operations: every runner set before the controller, CRDs last.
//!
//! The pure decisions ([`releases_of`], [`is_controller_manifest`],
//! [`controller_watch_namespace`], [`split_release`], [`worst`]);
//! `commands::fleet` does the I/O: discovery, bounded concurrent teardowns
//! through `release::Session::teardown`, the controller guard,
//! `--with-controller` and `--delete-crds`.

use crate::arc::{self, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use crate::exit::Code;
use crate::manifest::Object;
use crate::model::Live;
use crate::outcome::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;

/// One Helm release that owns runner sets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ReleaseRef {
    /// Release namespace.
    pub namespace: String,
    /// Release name.
    pub name: String,
    /// Its AutoscalingRunnerSets (`namespace/name`).
    pub runner_sets: Vec<String>,
}

/// How one release of a fleet ended.
#[derive(Clone, Debug, Serialize)]
pub struct ReleaseOutcome {
    /// Release namespace.
    pub namespace: String,
    /// Release name.
    pub release: String,
    /// How the release's teardown ended.
    pub outcome: Outcome,
    /// Its exit code.
    pub exit_code: i32,
    /// Objects deleted.
    pub deleted: usize,
    /// Wall time.
    pub seconds: f64,
    /// One line.
    pub message: String,
}

/// The fleet's exit code from its releases': a failure over a refusal over
/// a timeout; success only when every release succeeded.
pub fn worst(outcomes: &[ReleaseOutcome]) -> Code {
    let codes: Vec<i32> = outcomes.iter().map(|o| o.exit_code).collect();
    if codes.contains(&(Code::Failure as i32)) {
        Code::Failure
    } else if codes.contains(&(Code::Refused as i32)) {
        Code::Refused
    } else if codes.contains(&(Code::TimedOut as i32)) {
        Code::TimedOut
    } else if codes.iter().any(|&c| c != 0) {
        Code::Failure
    } else {
        Code::Success
    }
}

/// Releases owning `runner_sets` (from `meta.helm.sh/release-name/-namespace`),
/// sorted, and the runner sets that name no release.
pub fn releases_of(runner_sets: &[Live]) -> (Vec<ReleaseRef>, Vec<String>) {
    let mut releases: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for ars in runner_sets {
        let ars_ns = ars.id.namespace.clone().unwrap_or_default();
        let label = format!("{ars_ns}/{}", ars.id.name);
        match ars.annotation(RELEASE_NAME_ANNOTATION) {
            Some(name) if !name.is_empty() => {
                let ns = ars
                    .annotation(RELEASE_NAMESPACE_ANNOTATION)
                    .filter(|n| !n.is_empty())
                    .map_or(ars_ns, str::to_string);
                releases
                    .entry((ns, name.to_string()))
                    .or_default()
                    .push(label);
            }
            _ => unmapped.push(label),
        }
    }
    let releases = releases
        .into_iter()
        .map(|((namespace, name), runner_sets)| ReleaseRef {
            namespace,
            name,
            runner_sets,
        })
        .collect();
    (releases, unmapped)
}

fn controller_deployment(objects: &[Object]) -> Option<&Object> {
    objects
        .iter()
        .find(|o| o.id.kind == "Deployment" && arc::is_controller_deployment(&o.value))
}

/// Whether a release manifest holds the gha-rs-controller Deployment.
pub fn is_controller_manifest(objects: &[Object]) -> bool {
    controller_deployment(objects).is_some()
}

/// The namespace a controller release watches (`None`: all namespaces).
pub fn controller_watch_namespace(objects: &[Object]) -> Option<String> {
    controller_deployment(objects)
        .and_then(|d| d.label(arc::WATCH_SINGLE_NAMESPACE_LABEL))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// Split `NAMESPACE/RELEASE` (or a bare `RELEASE`).
pub fn split_release(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('/') {
        Some((ns, name)) if !ns.is_empty() => (Some(ns), name),
        _ => (None, spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest;
    use crate::model::ObjectId;
    use serde_json::json;

    fn ars(ns: &str, name: &str, release: Option<(&str, &str)>) -> Live {
        let mut value = json!({"metadata": {"name": name, "namespace": ns}});
        if let Some((rns, r)) = release {
            value["metadata"]["annotations"] = json!({
                "meta.helm.sh/release-name": r, "meta.helm.sh/release-namespace": rns});
        }
        Live::new(
            ObjectId {
                group: "actions.github.com".into(),
                version: "v1alpha1".into(),
                kind: "AutoscalingRunnerSet".into(),
                namespace: Some(ns.into()),
                name: name.into(),
            },
            value,
        )
    }

    #[test]
    fn groups_runner_sets_by_release_and_reports_unmapped() {
        let (releases, unmapped) = releases_of(&[
            ars("b", "s2", Some(("b", "rel-b"))),
            ars("a", "s1", Some(("a", "rel-a"))),
            // A release may hold several runner sets.
            ars("b", "s3", Some(("b", "rel-b"))),
            ars("c", "hand-made", None),
        ]);
        assert_eq!(
            releases,
            vec![
                ReleaseRef {
                    namespace: "a".into(),
                    name: "rel-a".into(),
                    runner_sets: vec!["a/s1".into()]
                },
                ReleaseRef {
                    namespace: "b".into(),
                    name: "rel-b".into(),
                    runner_sets: vec!["b/s2".into(), "b/s3".into()]
                },
            ]
        );
        assert_eq!(unmapped, vec!["c/hand-made"]);
    }

    fn objects(text: &str) -> Vec<Object> {
        let opts = manifest::ParseOptions {
            default_namespace: "arc-systems".into(),
        };
        manifest::parse(text, &opts)
            .unwrap()
            .objects()
            .cloned()
            .collect()
    }

    #[test]
    fn recognises_the_controller_release() {
        let controller = objects(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: arc-gha-rs-controller\n  labels:\n    \
             app.kubernetes.io/part-of: gha-rs-controller\n    actions.github.com/controller-watch-single-namespace: runners\n",
        );
        assert!(is_controller_manifest(&controller));
        assert_eq!(
            controller_watch_namespace(&controller).as_deref(),
            Some("runners")
        );
        let other = objects(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/part-of: shop\n",
        );
        assert!(!is_controller_manifest(&other));
        let template_only = objects(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: c\nspec:\n  template:\n    metadata:\n      labels:\n        \
             app.kubernetes.io/part-of: gha-rs-controller\n",
        );
        assert!(is_controller_manifest(&template_only));
        assert_eq!(controller_watch_namespace(&template_only), None);
    }

    #[test]
    fn splits_namespaced_release_names() {
        assert_eq!(
            split_release("arc-systems/arc"),
            (Some("arc-systems"), "arc")
        );
        assert_eq!(split_release("arc"), (None, "arc"));
    }
}
