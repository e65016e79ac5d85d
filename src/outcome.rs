//! How a run ended, for every command: one [`Outcome`] with its exit code
//! ([`Outcome::code`]) and its JSON name (`outcome` of `summary` and
//! `fleet_summary` events).

use crate::exit::Code;
use serde::Serialize;

/// How a run (of a release, a fleet, the demo or doctor) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything asked for is done (doctor: nothing to report).
    Success,
    /// A dry run: nothing was written.
    DryRun,
    /// Refused before any write (preflight, or a fix whose object changed).
    Refused,
    /// A wave ran out of time; objects are left.
    TimedOut,
    /// The run failed (cluster, Helm, I/O, interrupted).
    Failed,
    /// `doctor` found problems.
    ProblemsFound,
}

impl Outcome {
    /// The process exit code of this outcome.
    pub fn code(self) -> Code {
        match self {
            Outcome::Success | Outcome::DryRun => Code::Success,
            Outcome::Refused => Code::Refused,
            Outcome::TimedOut => Code::TimedOut,
            Outcome::Failed => Code::Failure,
            Outcome::ProblemsFound => Code::ProblemsFound,
        }
    }

    /// The outcome a run ending with `code` had (`dry_run`: a success wrote
    /// nothing).
    pub fn of_code(code: Code, dry_run: bool) -> Self {
        match code {
            Code::Success if dry_run => Outcome::DryRun,
            Code::Success => Outcome::Success,
            Code::Refused => Outcome::Refused,
            Code::TimedOut => Outcome::TimedOut,
            Code::ProblemsFound => Outcome::ProblemsFound,
            Code::Failure | Code::BadInput => Outcome::Failed,
        }
    }

    /// The JSON name (`success`, `dry_run`, `refused`, `timed_out`, `failed`,
    /// `problems_found`).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::DryRun => "dry_run",
            Outcome::Refused => "refused",
            Outcome::TimedOut => "timed_out",
            Outcome::Failed => "failed",
            Outcome::ProblemsFound => "problems_found",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::DryRun,
        Outcome::Refused,
        Outcome::TimedOut,
        Outcome::Failed,
        Outcome::ProblemsFound,
    ];

    #[test]
    fn the_json_name_is_the_serialized_name() {
        for outcome in ALL {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.name());
        }
    }

    #[test]
    fn codes_round_trip_and_only_successes_share_one() {
        for outcome in ALL {
            let dry_run = outcome == Outcome::DryRun;
            assert_eq!(Outcome::of_code(outcome.code(), dry_run), outcome);
        }
        assert_eq!(Outcome::Success.code() as u8, 0);
        assert_eq!(Outcome::Failed.code() as u8, 1);
        assert_eq!(Outcome::TimedOut.code() as u8, 3);
        assert_eq!(Outcome::Refused.code() as u8, 4);
        assert_eq!(Outcome::ProblemsFound.code() as u8, 5);
        assert_eq!(Outcome::of_code(Code::BadInput, false), Outcome::Failed);
    }
}
