//! The `helm-arc-uninstall` binary: parse argv, run the subcommand, map the
//! outcome to a documented exit code (see `exit`).

use helm_arc_uninstall::{cli, commands, exit, logging};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse(std::env::args_os());
    logging::init(cli.debug);
    let code = match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) if exit::is_broken_pipe(&err) => exit::Code::Success,
        Err(err) => {
            // Nothing sensible is left to do if stderr is gone too.
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            exit::code_for(&err)
        }
    };
    code.into()
}
