//! ARC release lines and their finalizers: which finalizer each line's
//! controller puts on which kind, and who removes it. The line comes from the
//! controller Deployment's version (label or image tag) and, when that is
//! unknown, from the finalizers actually present; a finalizer the tool does
//! not know is never stripped (see [`strippable`]).
//!
//! Facts: upstream `controllers/actions.github.com/*_controller.go` at the
//! tags `gha-runner-scale-set-0.13.0`, `-0.14.2` and at HEAD (commit 767e58e4,
//! "Upgrade resources in-place"): 0.13 and 0.14 name the EphemeralRunnerSet
//! finalizer `ephemeralrunner.actions.github.com/finalizer`; HEAD renames it
//! `ephemeralrunnerset.actions.github.com/finalizer`, and its reconciler
//! returns at once for a deleting set that lacks the new name, so a set
//! created under 0.14 keeps the old one after an upgrade with nobody to
//! remove it.

use super::{
    ARS_FINALIZER, ARS_KIND, CLEANUP_PROTECTION, ER_FINALIZER, ER_KIND, ER_REGISTRATION_FINALIZER,
    ERS_FINALIZER_HEAD, ERS_KIND, LISTENER_FINALIZER, LISTENER_KIND,
};
use serde::Serialize;

/// An ARC release line whose finalizers the tool knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Line {
    /// gha-runner-scale-set-controller 0.13.x.
    #[serde(rename = "0.13")]
    V0_13,
    /// gha-runner-scale-set-controller 0.14.x.
    #[serde(rename = "0.14")]
    V0_14,
    /// The next line (0.15.x, upstream HEAD): the EphemeralRunnerSet finalizer is renamed.
    #[serde(rename = "0.15")]
    Next,
}

impl Line {
    /// Every known line, oldest first.
    pub const ALL: [Line; 3] = [Line::V0_13, Line::V0_14, Line::Next];

    /// `0.13`, `0.14` or `0.15`.
    pub fn label(self) -> &'static str {
        match self {
            Line::V0_13 => "0.13",
            Line::V0_14 => "0.14",
            Line::Next => "0.15",
        }
    }

    /// The EphemeralRunnerSet finalizer this line's controller adds and removes.
    pub fn ers_finalizer(self) -> &'static str {
        match self {
            Line::V0_13 | Line::V0_14 => ER_FINALIZER,
            Line::Next => ERS_FINALIZER_HEAD,
        }
    }
}

/// The line of a version string (`0.14.2`, `v0.13.1`, `0.15.0-rc1`); `None`
/// for versions the tool does not know (older, newer, or not a version).
pub fn line_of(version: &str) -> Option<Line> {
    match major_minor(version)? {
        (0, 13) => Some(Line::V0_13),
        (0, 14) => Some(Line::V0_14),
        (0, 15) => Some(Line::Next),
        _ => None,
    }
}

/// `major.minor` of a version string (`v` prefix allowed).
pub fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.split(['-', '+']).next()?.parse().ok()?;
    Some((major, minor))
}

/// `major.minor.patch` of a version string (`v` prefix allowed; a missing
/// patch is 0; a pre-release or build suffix is ignored).
pub fn semver(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let number = |p: Option<&str>| -> Option<u64> { p?.split(['-', '+']).next()?.parse().ok() };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    let patch = match parts.next() {
        Some(p) => number(Some(p))?,
        None => 0,
    };
    Some((major, minor, patch))
}

/// Whether a controller of `version` hashes namespace, runner group and
/// config URL into the listener name (0.13.1+, upstream #4299) rather than
/// the namespace alone. Unknown versions (`canary-…`, `dev`, none) are
/// builds of the current naming.
pub fn listener_name_hashes_group_and_url(version: Option<&str>) -> bool {
    version.and_then(semver).is_none_or(|v| v >= (0, 13, 1))
}

/// The line the running controller belongs to: from its version when known;
/// otherwise a live EphemeralRunnerSet carrying the renamed finalizer shows
/// the next line (HEAD builds are still labelled 0.14.x); otherwise unknown.
pub fn detect<'f>(
    controller_version: Option<&str>,
    ers_finalizers: impl IntoIterator<Item = &'f str>,
) -> Option<Line> {
    let mut saw_head = false;
    for f in ers_finalizers {
        saw_head |= f == ERS_FINALIZER_HEAD;
    }
    match controller_version.and_then(line_of) {
        Some(Line::Next) => Some(Line::Next),
        _ if saw_head => Some(Line::Next),
        known => known,
    }
}

/// Whether the AutoscalingRunnerSet cleanup of a controller of `line` waits
/// for its EphemeralRunnerSet `runner_set` before it drops the runner set's
/// finalizer. 0.13 and 0.14 delete every set the runner set owns and wait for
/// them (`cleanupEphemeralRunnerSets`); HEAD's `cleanupEphemeralRunnerSet`
/// gets only the set named after the runner set, so a set created under 0.14
/// (generateName `<ars>-`) outlives the runner set and is deleted by the
/// garbage collector afterwards. Unknown lines: assumed to wait.
pub fn cleanup_waits_for(
    line: Option<Line>,
    autoscaling_runner_set: &str,
    runner_set: &str,
) -> bool {
    match line {
        Some(Line::Next) => runner_set == autoscaling_runner_set,
        _ => true,
    }
}

/// Who removes a finalizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// A reconciler of the ARC controller (its description).
    Controller(&'static str),
    /// The Kubernetes garbage collector.
    GarbageCollector,
    /// Nobody: the running line does not remove this name (why).
    Nobody(&'static str),
    /// A finalizer the tool does not know.
    Unknown,
}

impl Owner {
    /// One phrase for people.
    pub fn text(self) -> &'static str {
        match self {
            Owner::Controller(who) | Owner::Nobody(who) => who,
            Owner::GarbageCollector => "Kubernetes garbage collector",
            Owner::Unknown => "an unknown controller",
        }
    }
}

const LEFT_BY_0_14: &str = "nobody: the ARC 0.15 controller removes only ephemeralrunnerset.actions.github.com/finalizer \
     from an EphemeralRunnerSet; this one was added by 0.14 before the upgrade";
const HEAD_NAME_ON_OLD_LINE: &str = "nobody: this ARC 0.13/0.14 controller does not know ephemeralrunnerset.actions.github.com/finalizer \
     (added by a 0.15 controller before a downgrade)";

/// Who removes `finalizer` on an object of `kind` when the controller is of
/// `line` (`None`: unknown line, answered from the names alone).
pub fn owner(line: Option<Line>, finalizer: &str, kind: &str) -> Owner {
    match (finalizer, kind) {
        ("foregroundDeletion" | "orphan", _) => Owner::GarbageCollector,
        (ARS_FINALIZER, _) => Owner::Controller("ARC controller (AutoscalingRunnerSet reconciler)"),
        (CLEANUP_PROTECTION, _) => {
            Owner::Controller("ARC controller, while it finalizes the AutoscalingRunnerSet")
        }
        (LISTENER_FINALIZER, _) => {
            Owner::Controller("ARC controller (AutoscalingListener reconciler)")
        }
        (ER_FINALIZER, ERS_KIND) if line == Some(Line::Next) => Owner::Nobody(LEFT_BY_0_14),
        (ERS_FINALIZER_HEAD, ERS_KIND) if matches!(line, Some(Line::V0_13 | Line::V0_14)) => {
            Owner::Nobody(HEAD_NAME_ON_OLD_LINE)
        }
        (ER_FINALIZER | ERS_FINALIZER_HEAD, ERS_KIND) => {
            Owner::Controller("ARC controller (EphemeralRunnerSet reconciler)")
        }
        (ER_FINALIZER, _) => Owner::Controller("ARC controller (EphemeralRunner reconciler)"),
        (ER_REGISTRATION_FINALIZER, _) => {
            Owner::Controller("ARC controller, after the runner is removed from GitHub")
        }
        _ => Owner::Unknown,
    }
}

/// The ARC finalizers a ladder may strip from an object of `kind`: the names
/// of every known line (an EphemeralRunnerSet may carry either name after an
/// upgrade). Names outside this list are never stripped.
pub fn strippable(kind: &str) -> &'static [&'static str] {
    match kind {
        ER_KIND => &[ER_REGISTRATION_FINALIZER, ER_FINALIZER],
        ERS_KIND => &[ER_FINALIZER, ERS_FINALIZER_HEAD],
        LISTENER_KIND => &[LISTENER_FINALIZER],
        ARS_KIND => &[ARS_FINALIZER],
        _ => &[CLEANUP_PROTECTION],
    }
}

/// Finalizers on an object that the tool does not know (left alone by every ladder).
pub fn unknown_finalizers(finalizers: &[String], kind: &str) -> Vec<String> {
    finalizers
        .iter()
        .filter(|f| owner(None, f, kind) == Owner::Unknown)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_versions() {
        assert_eq!(line_of("0.13.1"), Some(Line::V0_13));
        assert_eq!(line_of("v0.14.2"), Some(Line::V0_14));
        assert_eq!(line_of("0.15.0-rc1"), Some(Line::Next));
        assert_eq!(line_of("0.12.1"), None);
        assert_eq!(line_of("canary"), None);
        assert_eq!(major_minor("0.15-rc1"), Some((0, 15)));
    }

    #[test]
    fn listener_naming_changed_in_0_13_1() {
        assert_eq!(semver("v0.13.1"), Some((0, 13, 1)));
        assert_eq!(semver("0.15"), Some((0, 15, 0)));
        assert_eq!(semver("0.15.0-rc1"), Some((0, 15, 0)));
        assert_eq!(semver("canary-2ee6b3b"), None);
        assert!(!listener_name_hashes_group_and_url(Some("0.13.0")));
        assert!(!listener_name_hashes_group_and_url(Some("0.12.1")));
        assert!(listener_name_hashes_group_and_url(Some("0.13.1")));
        assert!(listener_name_hashes_group_and_url(Some("0.14.2")));
        assert!(listener_name_hashes_group_and_url(Some("canary-2ee6b3b")));
        assert!(listener_name_hashes_group_and_url(None));
    }

    #[test]
    fn the_renamed_finalizer_reveals_the_next_line() {
        assert_eq!(detect(Some("0.14.2"), [ER_FINALIZER]), Some(Line::V0_14));
        assert_eq!(
            detect(Some("0.14.2"), [ER_FINALIZER, ERS_FINALIZER_HEAD]),
            Some(Line::Next)
        );
        assert_eq!(
            detect(Some("canary"), [ERS_FINALIZER_HEAD]),
            Some(Line::Next)
        );
        assert_eq!(detect(None, []), None);
        assert_eq!(Line::Next.ers_finalizer(), ERS_FINALIZER_HEAD);
        assert_eq!(Line::V0_13.ers_finalizer(), ER_FINALIZER);
    }

    #[test]
    fn head_cleanup_waits_only_for_the_set_named_after_the_runner_set() {
        assert!(cleanup_waits_for(Some(Line::Next), "set", "set"));
        assert!(!cleanup_waits_for(Some(Line::Next), "set", "set-x7k2p"));
        for line in [None, Some(Line::V0_13), Some(Line::V0_14)] {
            assert!(cleanup_waits_for(line, "set", "set-x7k2p"));
        }
    }

    #[test]
    fn owners_per_line() {
        assert_eq!(
            owner(Some(Line::V0_14), ER_FINALIZER, ERS_KIND),
            Owner::Controller("ARC controller (EphemeralRunnerSet reconciler)")
        );
        assert!(matches!(
            owner(Some(Line::Next), ER_FINALIZER, ERS_KIND),
            Owner::Nobody(_)
        ));
        assert!(matches!(
            owner(Some(Line::V0_14), ERS_FINALIZER_HEAD, ERS_KIND),
            Owner::Nobody(_)
        ));
        // On a runner the old name is still the runner reconciler's, on every line.
        assert_eq!(
            owner(Some(Line::Next), ER_FINALIZER, ER_KIND),
            Owner::Controller("ARC controller (EphemeralRunner reconciler)")
        );
        // Unknown line: answered from the names alone.
        assert_eq!(
            owner(None, ERS_FINALIZER_HEAD, ERS_KIND).text(),
            "ARC controller (EphemeralRunnerSet reconciler)"
        );
        assert_eq!(owner(None, "example.com/x", ERS_KIND), Owner::Unknown);
        assert_eq!(owner(None, "orphan", ERS_KIND), Owner::GarbageCollector);
    }

    #[test]
    fn unknown_names_are_never_strippable() {
        let on_set = vec![
            ER_FINALIZER.to_string(),
            "example.com/keep".to_string(),
            ERS_FINALIZER_HEAD.to_string(),
        ];
        assert_eq!(
            unknown_finalizers(&on_set, ERS_KIND),
            vec!["example.com/keep"]
        );
        for kind in [ER_KIND, ERS_KIND, LISTENER_KIND, ARS_KIND, "Role"] {
            assert!(!strippable(kind).contains(&"example.com/keep"));
        }
    }
}
