//! Subcommands: the thin I/O layer over the pure core. Each module defines
//! `Args` (clap) and `run(args) -> anyhow::Result<exit::Code>`.

pub mod completions;
pub mod connection;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod fleet;
pub mod help;
pub mod plan;
pub mod render;
pub mod render_hooks;
pub mod uninstall;

use crate::cli::Command;
use crate::exit;

/// Run the parsed subcommand.
pub fn run(command: Command) -> anyhow::Result<exit::Code> {
    match command {
        Command::Plan(args) => plan::run(args),
        Command::Uninstall(args) => uninstall::run(args),
        Command::Render(args) => render::run(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Doctor(args) => doctor::run(args),
    }
}
