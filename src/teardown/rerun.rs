//! The command line suggested for a rerun: every flag the user gave, so the
//! rerun acts on the same cluster, release and options; a diagnosis may add
//! `--force-finalizers` or a longer `--timeout` without repeating a flag
//! (clap refuses a flag given twice). Pure.

use std::fmt;

/// A suggested rerun.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rerun {
    base: String,
    timeout: Option<String>,
    force_finalizers: bool,
}

impl Rerun {
    /// `base` is the command with every flag but `--timeout` (given here
    /// when it was not the default) and `--force-finalizers`.
    pub fn new(base: impl Into<String>, timeout: Option<String>, force_finalizers: bool) -> Self {
        Self {
            base: base.into(),
            timeout,
            force_finalizers,
        }
    }

    /// The command as the user gave it.
    pub fn as_given(&self) -> String {
        self.build(self.timeout.as_deref(), self.force_finalizers)
    }

    /// The same with `--force-finalizers`.
    pub fn with_force_finalizers(&self) -> String {
        self.build(self.timeout.as_deref(), true)
    }

    /// The same with `--timeout timeout` instead of the given one.
    pub fn with_timeout(&self, timeout: &str) -> String {
        self.build(Some(timeout), self.force_finalizers)
    }

    /// The same with `flag` (a flag without a value), unless it was given.
    pub fn with_flag(&self, flag: &str) -> String {
        if self.base.split(' ').any(|w| w == flag) {
            return self.as_given();
        }
        let with = Rerun {
            base: format!("{} {flag}", self.base),
            ..self.clone()
        };
        with.as_given()
    }

    fn build(&self, timeout: Option<&str>, force_finalizers: bool) -> String {
        let mut cmd = self.base.clone();
        if let Some(t) = timeout {
            cmd.push_str(&format!(" --timeout {t}"));
        }
        if force_finalizers {
            cmd.push_str(" --force-finalizers");
        }
        cmd
    }
}

impl fmt::Display for Rerun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_given())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_flags_replace_given_ones_instead_of_repeating_them() {
        let r = Rerun::new(
            "helm arc-uninstall r -n ns --no-hooks",
            Some("2m0s".into()),
            true,
        );
        assert_eq!(
            r.as_given(),
            "helm arc-uninstall r -n ns --no-hooks --timeout 2m0s --force-finalizers"
        );
        assert_eq!(r.with_force_finalizers(), r.as_given());
        assert_eq!(
            r.with_timeout("30m"),
            "helm arc-uninstall r -n ns --no-hooks --timeout 30m --force-finalizers"
        );
        let plain = Rerun::new("helm arc-uninstall r -n ns", None, false);
        assert_eq!(
            plain.with_force_finalizers(),
            "helm arc-uninstall r -n ns --force-finalizers"
        );
        assert_eq!(plain.to_string(), "helm arc-uninstall r -n ns");
        assert_eq!(
            r.with_flag("--keep-registration"),
            "helm arc-uninstall r -n ns --no-hooks --keep-registration --timeout 2m0s --force-finalizers"
        );
        assert_eq!(r.with_flag("--no-hooks"), r.as_given());
    }
}
