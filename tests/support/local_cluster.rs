//! The local control plane for tests lives in `testenv::local_cluster`
//! ([`LocalCluster`]); this file re-exports it for test binaries that
//! include it with `#[path = "support/local_cluster.rs"] mod local_cluster;`.
#![allow(unused_imports)]

pub use testenv::local_cluster::*;
