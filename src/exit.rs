//! Documented process exit codes and the mapping from errors to them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: stdout closed early by its reader, e.g. `| head`, when written through [`write_stdout`]) |
//! | 1 | the command failed (cluster, Helm, I/O or an unexpected error) |
//! | 2 | usage error or bad input: unknown flag, unreadable or invalid manifest, dependency cycle, unknown explicit-edge reference |
//! | 3 | teardown timed out with objects left |
//! | 4 | refused: by preflight checks, nothing was deleted (`--all-runner-sets`: a later `--with-controller` or `--delete-crds` step was refused after the runner sets were torn down); `doctor --fix`: a safe fix found its object changed and did not patch it |
//! | 5 | `doctor` found problems (after `--fix`: problems left) |
//!
//! Each code means one thing in every subcommand.
//!
//! Commands return `Ok(Code)` for outcomes that are not errors, and errors
//! otherwise. An error carries its code either by its type (see [`code_for`])
//! or explicitly through [`WithCode::exit_code`].

use std::fmt;

/// A documented exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// 0: the command did what was asked.
    Success = 0,
    /// 1: the command failed.
    Failure = 1,
    /// 2: usage error or bad input.
    BadInput = 2,
    /// 3: teardown timed out with objects left.
    TimedOut = 3,
    /// 4: refused by preflight checks; nothing was deleted (fleet: a later
    /// `--with-controller`/`--delete-crds` step was refused; doctor: a safe
    /// fix found its object changed and did not patch it).
    Refused = 4,
    /// 5: `doctor` found problems (after `--fix`: problems left).
    ProblemsFound = 5,
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// An error with an explicit exit code. Its message is the wrapped error's
/// full chain, so `{:#}` of an outer context still reads as one line.
#[derive(Debug)]
pub struct Coded {
    /// The exit code to use.
    pub code: Code,
    /// The underlying error.
    pub error: anyhow::Error,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Coded {}

/// Attach an exit code to an error: `result.exit_code(Code::Refused)?`.
pub trait WithCode<T> {
    /// Wrap the error (if any) so that the process exits with `code`.
    fn exit_code(self, code: Code) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> WithCode<T> for Result<T, E> {
    fn exit_code(self, code: Code) -> anyhow::Result<T> {
        self.map_err(|e| {
            anyhow::Error::new(Coded {
                code,
                error: e.into(),
            })
        })
    }
}

/// The exit code for an error: an explicit [`Coded`] anywhere in the chain
/// wins; then typed library errors that mean bad input; else [`Code::Failure`].
pub fn code_for(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(coded) = cause.downcast_ref::<Coded>() {
            return coded.code;
        }
    }
    for cause in err.chain() {
        if cause.is::<crate::manifest::ObjectError>()
            || cause.is::<crate::manifest::ManifestError>()
            || cause.is::<crate::graph::GraphError>()
        {
            return Code::BadInput;
        }
    }
    Code::Failure
}

/// The reader of stdout went away (as with `| head`): not a failure of the
/// command. Only [`write_stdout`] produces it, so a broken pipe anywhere else
/// (a socket to the API server, a subprocess) stays an error.
#[derive(Debug, thiserror::Error)]
#[error("stdout closed by its reader")]
pub struct StdoutClosed;

/// Write `bytes` to stdout and flush. A broken pipe becomes [`StdoutClosed`].
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("write to stdout")),
    }
}

/// Whether the error is [`StdoutClosed`] (exit 0, nothing printed).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<StdoutClosed>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn explicit_code_survives_context() {
        let err: anyhow::Result<()> =
            Err(anyhow::anyhow!("3 objects left")).exit_code(Code::TimedOut);
        let err = err.context("uninstall arc").unwrap_err();
        assert_eq!(code_for(&err), Code::TimedOut);
        assert_eq!(format!("{err:#}"), "uninstall arc: 3 objects left");
    }

    #[test]
    fn typed_bad_input_and_default_failure() {
        let bad =
            anyhow::Error::new(crate::manifest::ObjectError::NotAMapping).context("document 2");
        assert_eq!(code_for(&bad), Code::BadInput);
        assert_eq!(code_for(&anyhow::anyhow!("boom")), Code::Failure);
    }

    #[test]
    fn only_a_closed_stdout_counts_as_a_broken_pipe() {
        let closed = anyhow::Error::new(StdoutClosed).context("write plan");
        assert!(is_broken_pipe(&closed));
        // A broken pipe elsewhere (a socket, a subprocess) is a failure.
        let socket = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("PATCH secrets/x");
        assert!(!is_broken_pipe(&socket));
        assert_eq!(code_for(&socket), Code::Failure);
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
