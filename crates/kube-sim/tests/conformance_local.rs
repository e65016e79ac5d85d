//! The differential conformance suite (`differential/cases.rs`) on the real
//! control plane: kube-apiserver, kube-controller-manager, kube-scheduler
//! v1.35.4, etcd 3.6.6 and a kwok node, one cluster for this binary
//! (`testenv::LocalCluster::shared`, stopped when the binary exits), reached
//! over TLS with the admin client certificate. Every case works in a
//! namespace of its own. Needs `$HAU_CLUSTER_DIR` and the kubectl of
//! `scripts/fetch-tools`, as `scripts/test` provides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod differential;

conformance_cases!(Local);
