//! Command-line definition (clap derive) and argv normalisation.
//!
//! Helm runs the CLI plugin as `helm arc-uninstall RELEASE [flags]`, so the
//! binary's argv starts with the release name. [`normalize_args`] inserts the
//! default subcommand ([`DEFAULT_SUBCOMMAND`]) when the first argument is not
//! a known subcommand or a top-level flag. A release that is literally named
//! like a subcommand is uninstalled with `helm arc-uninstall uninstall NAME`.

use crate::commands;
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::{OsStr, OsString};

/// The subcommand run when argv does not name one.
pub const DEFAULT_SUBCOMMAND: &str = "uninstall";

/// Tear down GitHub Actions Runner Controller scale sets in dependency order.
#[derive(Debug, Parser)]
#[command(
    name = "helm-arc-uninstall",
    version,
    about,
    long_about = "Tear down GitHub Actions Runner Controller (ARC) runner scale sets in the order \
                  the controller needs: the AutoscalingRunnerSet first, then the RBAC, Secret and \
                  ServiceAccounts it depends on.\n\n\
                  As a Helm plugin: `helm arc-uninstall RELEASE [flags]` (uninstall is the default \
                  subcommand).",
    arg_required_else_help = true,
    after_help = "Exit codes: 0 ok, 1 failed, 2 usage or bad input, 3 timed out with objects left, \
                  4 refused, 5 doctor found problems.",
    after_long_help = commands::help::TOP
)]
pub struct Cli {
    /// Log the Kubernetes requests (method, URL, status, time), retries and
    /// watch reconnects to stderr (also with HELM_DEBUG=true, as
    /// `helm --debug` sets it; RUST_LOG overrides the filter).
    #[arg(long, global = true)]
    pub debug: bool,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands. Each one's arguments and `run` live in `commands::<name>`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the teardown order (waves, objects, reasons) of a rendered manifest.
    #[command(after_long_help = commands::help::PLAN)]
    Plan(commands::plan::Args),
    /// Tear a release down in dependency order, waiting on each wave, then
    /// remove its record with `helm uninstall` (the default subcommand).
    #[command(after_long_help = commands::help::UNINSTALL)]
    Uninstall(commands::uninstall::Args),
    /// Helm post-renderer: add teardown annotations to the manifest on stdin.
    #[command(after_long_help = commands::help::RENDER)]
    Render(commands::render::Args),
    /// Run the real teardown against an embedded simulated cluster with ARC (no cluster or Helm needed).
    #[cfg(feature = "demo")]
    #[command(after_long_help = commands::help::DEMO)]
    Demo(commands::demo::Args),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(commands::completions::Args),
    /// Read-only: what is stuck in ARC and why, with the fix for each
    /// (exit 0 clean, 5 problems found, 4 refused); `--fix` applies only safe fixes.
    #[command(after_long_help = commands::help::DOCTOR)]
    Doctor(commands::doctor::Args),
}

/// Parse argv (as given by the OS, program name first). Exits the process on
/// usage errors, `--help` and `--version`, as clap does.
pub fn parse<I, T>(args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Cli::parse_from(normalize_args(args))
}

/// Insert [`DEFAULT_SUBCOMMAND`] after the program name when the first
/// argument is neither a subcommand nor a top-level flag (`-h`, `--help`,
/// `-V`, `--version`), and the default subcommand exists.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let Some(first) = argv.get(1) else {
        return argv;
    };
    let command = Cli::command();
    let has_default = command.find_subcommand(DEFAULT_SUBCOMMAND).is_some();
    let is_subcommand = first.to_str().is_some_and(|name| {
        name == "help"
            || command
                .get_subcommands()
                .any(|sub| sub.get_name() == name || sub.get_all_aliases().any(|a| a == name))
    });
    let top_level_flags = ["-h", "--help", "-V", "--version"].map(OsStr::new);
    if has_default && !is_subcommand && !top_level_flags.contains(&first.as_os_str()) {
        argv.insert(1, OsString::from(DEFAULT_SUBCOMMAND));
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().copied())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn known_subcommands_and_top_level_flags_are_kept() {
        assert_eq!(
            norm(&["bin", "plan", "-f", "x"]),
            ["bin", "plan", "-f", "x"]
        );
        assert_eq!(norm(&["bin", "--help"]), ["bin", "--help"]);
        assert_eq!(norm(&["bin", "-V"]), ["bin", "-V"]);
        assert_eq!(norm(&["bin", "help", "plan"]), ["bin", "help", "plan"]);
        assert_eq!(norm(&["bin"]), ["bin"]);
    }

    #[test]
    fn release_name_first_gets_the_default_subcommand() {
        assert_eq!(
            norm(&["bin", "arc-runner-set", "--timeout", "5m"]),
            [
                "bin",
                DEFAULT_SUBCOMMAND,
                "arc-runner-set",
                "--timeout",
                "5m"
            ]
        );
        // Helm passes unknown flags through in order, so a flag may come first.
        assert_eq!(
            norm(&["bin", "--dry-run", "arc-runner-set"]),
            ["bin", DEFAULT_SUBCOMMAND, "--dry-run", "arc-runner-set"]
        );
    }
}
