//! Which ARC release the simulated controller is, and what differs between
//! the lines it models: 0.13.x (tags `gha-runner-scale-set-0.13.0`/`0.13.1`),
//! 0.14.x (`0.14.2`) and upstream HEAD (unreleased 0.15 line, commit
//! `2ee6b3b8`). Each method names the upstream change it follows.

use super::names::{ER_FINALIZER, ERS_FINALIZER_HEAD};

/// A release line of the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArcLine {
    /// 0.13.x and older: no `status.phase`, cleanup without requeue.
    V0_13,
    /// 0.14.x: `cleanUpResources` with a 5 s requeue, `status.phase`, Outdated runners.
    V0_14,
    /// Upstream HEAD (unreleased, 0.15 line): one EphemeralRunnerSet named
    /// after the runner set, with its own finalizer name.
    Head,
}

/// The controller's build version (`build.Version`, the image tag), for
/// example `0.14.2`, `0.13.0`, `canary-2ee6b3b` or `dev`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArcVersion(String);

impl Default for ArcVersion {
    fn default() -> Self {
        Self::v0_14_2()
    }
}

impl std::fmt::Display for ArcVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `major.minor.patch` of a plain version string (`v` prefix allowed).
fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.strip_prefix('v').unwrap_or(v).splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    let patch = parts
        .next()
        .map(|p| p.split(['-', '+']).next().unwrap_or(p))
        .unwrap_or("0")
        .parse()
        .ok()?;
    Some((major, minor, patch))
}

/// `parseSemver` of `apis/actions.github.com/v1alpha1/version.go`: the
/// major and minor of `M`, `M.m` or `M.m.p` (digits only, no leading zeros).
fn major_minor(v: &str) -> Option<(&str, &str)> {
    fn int(v: &str) -> Option<(&str, &str)> {
        let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
        if end == 0 || (v.starts_with('0') && end != 1) {
            return None;
        }
        Some(v.split_at(end))
    }
    let (major, rest) = int(v)?;
    if rest.is_empty() {
        return Some((major, "0"));
    }
    let (minor, rest) = int(rest.strip_prefix('.')?)?;
    if rest.is_empty() {
        return Some((major, minor));
    }
    let (_, rest) = int(rest.strip_prefix('.')?)?;
    rest.is_empty().then_some((major, minor))
}

impl ArcVersion {
    /// Any build version string.
    pub fn new(version: impl Into<String>) -> Self {
        Self(version.into())
    }

    /// 0.13.0: listener names hash the namespace only; runner finalizers are
    /// added by the runner reconciler.
    pub fn v0_13_0() -> Self {
        Self::new("0.13.0")
    }

    /// 0.13.1: listener names hash namespace, runner group and URL (#4299);
    /// runners are created with their finalizers (#4320).
    pub fn v0_13_1() -> Self {
        Self::new("0.13.1")
    }

    /// 0.14.2, the latest release.
    pub fn v0_14_2() -> Self {
        Self::new("0.14.2")
    }

    /// Upstream HEAD, as a 0.15.0 build.
    pub fn head() -> Self {
        Self::new("0.15.0")
    }

    /// The version string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The release line whose behaviour this build has. `dev` and `canary-*`
    /// builds come from HEAD.
    pub fn line(&self) -> ArcLine {
        match semver(&self.0) {
            Some((0, minor, _)) if minor <= 13 => ArcLine::V0_13,
            Some((0, 14, _)) => ArcLine::V0_14,
            _ => ArcLine::Head,
        }
    }

    /// `v1alpha1.IsVersionAllowed(resourceVersion, build.Version)`: same
    /// major.minor (0.12.0, #4080), or a `dev`/`canary-` build, or the exact
    /// string. An empty or unparsable label is not allowed.
    pub fn allows(&self, resource_version: &str) -> bool {
        let build = self.0.as_str();
        if build == "dev" || resource_version == build || build.starts_with("canary-") {
            return true;
        }
        match (major_minor(resource_version), major_minor(build)) {
            (Some(r), Some(b)) => r == b,
            _ => false,
        }
    }

    /// 0.13.1+ (#4299): the listener name hashes `ns@runnerGroup@url`;
    /// before, the namespace only.
    pub fn listener_hash_includes_group_and_url(&self) -> bool {
        match semver(&self.0) {
            Some(v) => v >= (0, 13, 1),
            None => true,
        }
    }

    /// 0.13.1+ (#4320): EphemeralRunners are created with both finalizers.
    pub fn runner_finalizers_at_creation(&self) -> bool {
        self.listener_hash_includes_group_and_url()
    }

    /// The finalizer the EphemeralRunnerSet reconciler owns: 0.14.x and
    /// older reuse the runner's name (sic); HEAD has its own.
    pub fn ers_finalizer(&self) -> &'static str {
        match self.line() {
            ArcLine::Head => ERS_FINALIZER_HEAD,
            _ => ER_FINALIZER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_version_allowed_matches_upstream() {
        let build = ArcVersion::v0_14_2();
        assert!(build.allows("0.14.0"));
        assert!(build.allows("0.14.2"));
        assert!(build.allows("0.14"));
        assert!(!build.allows("0.13.1"));
        assert!(!build.allows(""), "a missing version label is not allowed");
        assert!(!build.allows("v0.14.2"));
        assert!(!build.allows("0.14.02"));
        assert!(ArcVersion::new("dev").allows(""));
        assert!(ArcVersion::new("canary-2ee6b3b").allows("0.1.0"));
    }

    #[test]
    fn lines_and_their_differences() {
        assert_eq!(ArcVersion::v0_13_0().line(), ArcLine::V0_13);
        assert_eq!(ArcVersion::v0_14_2().line(), ArcLine::V0_14);
        assert_eq!(ArcVersion::head().line(), ArcLine::Head);
        assert_eq!(ArcVersion::new("canary-2ee6b3b").line(), ArcLine::Head);
        assert!(!ArcVersion::v0_13_0().listener_hash_includes_group_and_url());
        assert!(ArcVersion::v0_13_1().listener_hash_includes_group_and_url());
        assert_eq!(ArcVersion::v0_14_2().ers_finalizer(), ER_FINALIZER);
        assert_eq!(ArcVersion::head().ers_finalizer(), ERS_FINALIZER_HEAD);
    }
}
