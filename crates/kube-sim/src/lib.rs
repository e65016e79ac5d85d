//! kube-sim: an in-memory Kubernetes API server for tests.
//!
//! [`Sim::start`] runs the store, the control-plane controllers (garbage
//! collector, namespace and CRD cleanup) and an HTTP server on 127.0.0.1 that
//! real `kubectl` and Helm talk to. Simulated controllers use the in-process
//! [`api::Api`]. Semantics follow kube-apiserver; see docs/design.md ("Simulator").
//! The model of ARC on top of it (controller, fake GitHub, Job runner) is the
//! `arc-sim` crate, which uses only this public API.

// ApiError carries the full Status body by design (the contract in api.rs).
#![allow(clippy::result_large_err)]
// Store calls mirror the REST call shape (actor, type, namespace, name, body, options).
#![allow(clippy::too_many_arguments)]

pub mod api;
pub mod control;
pub mod controllers;
pub mod http;
pub mod managed;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod requests;
pub mod selector;
pub mod sim;
pub mod status;
pub mod store;
#[cfg(test)]
mod store_tests;
mod sync;
pub mod tls;
pub mod value;
pub mod yaml;

pub use control::{Control, Faults, Gate};
pub use requests::RequestRecord;
pub use sim::{Sim, SimConfig};
pub use store::{LogEntry, Store};
pub use tls::{TestCa, TlsIdentity};
