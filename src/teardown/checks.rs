//! The preflight findings shown before a teardown starts (`check` events):
//! controller, manager RBAC, GitHub access, notes, busy runners. Pure.

use super::preflight::{self, ClusterFacts};
use crate::arc;
use std::time::Duration;

/// One preflight finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub check: String,
    /// Whether it is fine.
    pub ok: bool,
    /// Details.
    pub detail: String,
}

impl Check {
    /// `check: detail`, the line a problem is named by.
    pub fn problem(&self) -> String {
        format!("{}: {}", self.check, self.detail)
    }
}

/// The preflight findings of `facts` and their `assessment`, in the order
/// they are shown.
pub fn checks(facts: &ClusterFacts, assessment: &preflight::Assessment) -> Vec<Check> {
    let mut found = Vec::new();
    let mut check = |check: String, ok: bool, detail: String| {
        found.push(Check { check, ok, detail });
    };
    if !facts.runner_sets.is_empty() {
        let available: Vec<&str> = facts
            .controllers
            .iter()
            .filter(|c| c.available)
            .map(|c| c.name.as_str())
            .collect();
        check(
            "ARC controller".into(),
            !available.is_empty(),
            if available.is_empty() {
                format!(
                    "no available Deployment labelled {}",
                    arc::CONTROLLER_SELECTOR
                )
            } else {
                format!("{} available", available.join(", "))
            },
        );
    }
    for set in &facts.runner_sets {
        let Some(refs) = &set.refs else { continue };
        let present = |v: Option<bool>| match v {
            Some(true) => "present",
            Some(false) => "MISSING",
            None => "not annotated",
        };
        // The manager RBAC matters while the runner set exists; once it
        // is gone, so may its RBAC be (a rerun after our own teardown).
        let gone = set.ars.is_none();
        let ok =
            gone || (set.manager_role != Some(false) && set.manager_role_binding != Some(false));
        check(
            format!("manager RBAC of {}/{}", refs.namespace, refs.name),
            ok,
            format!(
                "Role {} {}, RoleBinding {} {}{}",
                refs.manager_role.as_deref().unwrap_or("-"),
                present(set.manager_role),
                refs.manager_role_binding.as_deref().unwrap_or("-"),
                present(set.manager_role_binding),
                if gone {
                    " (not needed: the AutoscalingRunnerSet is gone)"
                } else {
                    ""
                }
            ),
        );
        let credentials = match (&refs.github.vault, set.github_secret) {
            (Some(vault), _) => format!(
                "{} is a key in a vault ({vault}): not checked",
                refs.github_config_secret.as_deref().unwrap_or("-")
            ),
            (None, Some(true)) => format!(
                "{} present, {}",
                refs.github_config_secret.as_deref().unwrap_or("-"),
                match crate::arc::credentials::config_secret_problem(&set.github_secret_keys) {
                    Some(problem) => problem,
                    None => "holds credentials (keys checked, values not read)".to_string(),
                }
            ),
            (None, other) => format!(
                "{} {}",
                refs.github_config_secret.as_deref().unwrap_or("-"),
                present(other)
            ),
        };
        let broken = assessment.wedges.iter().any(|w| {
            matches!(
                w,
                preflight::Wedge::CredentialsGone { .. }
                    | preflight::Wedge::CredentialsInvalid { .. }
                    | preflight::Wedge::ProxySecretMissing { .. }
                    | preflight::Wedge::TlsConfigMissing { .. }
            )
        });
        check(
            format!("GitHub access of {}/{}", refs.namespace, refs.name),
            !broken,
            credentials,
        );
    }
    for note in &assessment.notes {
        check("note".into(), true, note.clone());
    }
    for narrowed in &facts.narrowed {
        check("permissions".into(), true, narrowed.clone());
    }
    if !assessment.busy.is_empty() {
        let names: Vec<String> = assessment
            .busy
            .iter()
            .map(|b| match b.since.as_deref().and_then(running_for) {
                Some(age) => format!("{} (running for {age})", b.name),
                None => b.name.clone(),
            })
            .collect();
        check(
            "busy runners".into(),
            true,
            format!(
                "{} running a job; the teardown waits for them: {}",
                names.len(),
                names.join(", ")
            ),
        );
    }
    for t in &assessment.terminating {
        check("already terminating".into(), true, t.clone());
    }
    found
}

/// How long ago an RFC 3339 timestamp was, in Helm's duration syntax (seconds).
fn running_for(since: &str) -> Option<String> {
    let since: k8s_openapi::jiff::Timestamp = since.parse().ok()?;
    let elapsed = k8s_openapi::jiff::Timestamp::now().duration_since(since);
    let seconds = u64::try_from(elapsed.as_secs()).ok()?;
    Some(crate::duration::format_duration(Duration::from_secs(
        seconds,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_runner_age_is_a_helm_duration() {
        let age = running_for("2000-01-01T00:00:00Z").unwrap();
        assert!(age.contains('h') && age.ends_with('s'), "{age}");
        assert_eq!(running_for("yesterday"), None);
    }
}
