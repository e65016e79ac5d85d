//! The scenario harness shared by `tests/scenarios_*.rs`: the API simulator
//! with ARC's controller and a fake GitHub, driven through real Helm from an
//! isolated Helm home ([`sim_env`]), readers of the simulator's event log
//! ([`event_log`]) and of the binary's output ([`cli_output`]), upgrade
//! states staged through `helm upgrade` ([`upgrade`]), and the teardown
//! order as the API server's watch saw it, on any target ([`order`]).
//!
//! Include it beside `mod support;` with
//! `#[path = "support/scenario/mod.rs"] mod scenario;`: it lives apart from
//! `support` so that the test binaries that need no simulator do not build
//! and link it.
// Each scenario binary uses its own subset of these helpers.
#![allow(dead_code)]

pub mod cli_output;
pub mod event_log;
pub mod order;
pub mod sim_env;
pub mod upgrade;
