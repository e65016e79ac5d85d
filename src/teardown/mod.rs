//! The teardown engine: preflight, wave executor, watched waits, diagnosis,
//! the opt-in finalizer ladder, and rescue.
//!
//! Decisions are pure functions ([`preflight::assess`], [`checks::checks`],
//! [`diagnosis::diagnose`], [`ladder::plan`], [`rescue::dependent_ids`]);
//! the I/O goes through [`crate::kube::Cluster`] in parts of their own:
//! [`observe`] reads, `delete` deletes a wave, `ladder::run` carries out
//! ladder steps and `wait` follows a wave with watches; [`engine::Engine`]
//! sequences them. Everything is reported as [`events::Event`]s.

pub mod checks;
mod delete;
pub mod diagnosis;
pub mod engine;
pub mod error;
pub mod events;
pub mod ladder;
pub mod observe;
pub mod options;
pub mod preflight;
pub mod rerun;
pub mod rescue;
pub mod state;
mod wait;

pub use engine::{Engine, Outcome, Report};
pub use error::TeardownError;
pub use options::Options;
