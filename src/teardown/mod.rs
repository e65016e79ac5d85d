//! The teardown engine: preflight, wave executor, watched waits, diagnosis,
//! the opt-in finalizer ladder, and rescue.
//!
//! Decisions are pure functions ([`preflight::assess`], [`diagnosis::diagnose`],
//! [`ladder::plan`], [`rescue::dependent_ids`]); [`engine::Engine`] does the
//! I/O through [`crate::kube::Cluster`]; reports as [`events::Event`]s.

pub mod diagnosis;
pub mod engine;
pub mod events;
pub mod ladder;
pub mod preflight;
pub mod rerun;
pub mod rescue;
pub mod state;
