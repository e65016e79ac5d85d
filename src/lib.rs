//! helm-arc-uninstall: tear down GitHub Actions Runner Controller scale sets in
//! dependency order.
//!
//! The crate is split into a pure core (no I/O) and thin edges:
//!
//! * core: [`manifest`] (documents and identities), `graph` (teardown rules and
//!   waves), `plan` (plan rendering), `render` (the post-renderer);
//! * edges: the Kubernetes client, the Helm subprocess and the terminal UI;
//! * the library over both: [`release::Session::teardown`] tears down one
//!   release; `commands` maps the command line onto it.

pub mod arc;
pub mod cli;
pub mod commands;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod duration;
pub mod exit;
pub mod fleet;
pub mod graph;
pub mod helm;
pub mod hooks;
pub mod kube;
pub mod logging;
pub mod manifest;
pub mod model;
pub mod outcome;
pub mod plan;
pub mod release;
pub mod render;
pub mod teardown;
pub mod ui;
