//! Real-cluster access (issue #12 items 5 and 6), on the local control plane
//! of `scripts/local-cluster` (kube-apiserver v1.35.4 with TLS, client
//! certificates, ServiceAccount tokens, RBAC and an audit log):
//!
//! - `connectivity`: one test per way a kubeconfig or Helm's `--kube-*`
//!   flags reach a cluster; the plugin's requests and Helm's must reach the
//!   same server as the same user with the same credential.
//! - `rbac`: the least-privilege Roles and ClusterRoles of `examples/rbac`,
//!   bound to a user of their own: every command works with exactly them,
//!   and with one rule removed fails naming the missing permission.
//!
//! One cluster for the whole binary (`harness::env`). Needs `$HAU_CLUSTER_DIR`
//! and `$HAU_TOOLS_DIR` (set by scripts/test).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "local_access/connectivity.rs"]
mod connectivity;
#[path = "local_access/harness.rs"]
mod harness;
#[path = "support/local_cluster.rs"]
mod local_cluster;
#[path = "local_access/net.rs"]
mod net;
#[path = "local_access/rbac.rs"]
mod rbac;
#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;
