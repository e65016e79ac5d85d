//! `completions SHELL`: print a shell completion script (clap_complete).

use crate::cli::Cli;
use crate::exit::{self, Code};
use clap::CommandFactory;
use clap_complete::Shell;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Install:\n  \
    bash: helm-arc-uninstall completions bash > ~/.local/share/bash-completion/completions/helm-arc-uninstall\n  \
    zsh:  helm-arc-uninstall completions zsh > \"${fpath[1]}/_helm-arc-uninstall\"\n  \
    fish: helm-arc-uninstall completions fish > ~/.config/fish/completions/helm-arc-uninstall.fish\n\n\
    Exit codes: 0 the script is on stdout; 2 unknown shell.")]
pub struct Args {
    /// The shell to generate completions for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: ShellArg,
}

/// Supported shells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShellArg {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

impl From<ShellArg> for Shell {
    fn from(shell: ShellArg) -> Self {
        match shell {
            ShellArg::Bash => Shell::Bash,
            ShellArg::Zsh => Shell::Zsh,
            ShellArg::Fish => Shell::Fish,
        }
    }
}

/// The completion script for `shell`.
pub fn script(shell: ShellArg) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(
        Shell::from(shell),
        &mut command,
        "helm-arc-uninstall",
        &mut out,
    );
    out
}

/// Run `completions`.
pub fn run(args: Args) -> anyhow::Result<Code> {
    exit::write_stdout(&script(args.shell))?;
    Ok(Code::Success)
}
