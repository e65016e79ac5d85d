//! The test environment of this workspace (dev-only; a dev-dependency of
//! every member that runs real clients).
//!
//! - [`tools`]: the real Helm and kubectl binaries fetched by
//!   `scripts/fetch-tools` ([`tools_dir`], [`Helm`]).
//! - [`helm_home`]: [`HelmHome`], an isolated Helm + kubectl environment,
//!   [`HelmClient`], one Helm version run from it,
//!   and [`run_ok`] / [`output`] to run its commands.
//! - [`local_cluster`]: [`LocalCluster`], the real control plane of
//!   `scripts/local-cluster` (per test, or [`LocalCluster::shared`] per test
//!   binary), and its [`ApiEndpoint`].
//! - [`bin_snapshot`]: [`snapshot`], a per-process copy of a binary under test.
//! - [`target`]: [`Target`], where a scenario's cluster runs (kube-sim in
//!   process as [`SimCluster`], the local control plane as [`LocalCluster`],
//!   or a cluster reached through a kubeconfig).
//! - [`scenario`]: [`ScenarioEnv`], a target and real Helm pointed at it.
//! - [`watch`]: [`ApiWatch`], the order in which an API server's watch saw
//!   objects go, on any target.
//!
//! Everything here panics with a message on a failed setup step: it runs
//! inside tests, where that failure is the test's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bin_snapshot;
pub mod helm_home;
pub mod local_cluster;
pub mod scenario;
pub mod sim_cluster;
pub mod target;
pub mod tools;
pub mod watch;

pub use bin_snapshot::snapshot;
pub use helm_home::{HelmClient, HelmHome, output, run_ok};
pub use local_cluster::{ApiEndpoint, LocalCluster};
pub use scenario::ScenarioEnv;
pub use sim_cluster::SimCluster;
pub use target::{Target, TargetKind};
pub use tools::{Helm, go_tool, tools_dir};
pub use watch::ApiWatch;
