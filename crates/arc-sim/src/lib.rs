//! arc-sim: a model of GitHub's Actions Runner Controller on [`kube_sim`].
//!
//! - [`controller`]: the simulated `gha-runner-scale-set-controller` 0.14.2
//!   (its four reconcilers), ARC's CRDs and the charts' objects.
//! - [`github`]: the fake GitHub Actions service the controller registers with.
//! - [`vault`]: the fake Azure Key Vault of runner sets with `spec.vaultConfig`.
//! - [`jobs`]: the Job runner (Jobs of `registry.k8s.io/kubectl` run the real kubectl).
//!
//! It uses only kube-sim's public API: the in-process [`kube_sim::api::Api`]
//! and the [`kube_sim::Sim`] handle. [`SimExt`] starts the controller and
//! the Job runner on a running simulator.

// ApiError carries the full Status body by design (the contract in kube-sim's api.rs).
#![allow(clippy::result_large_err)]

pub mod controller;
pub mod github;
pub mod jobs;
mod sync;
pub mod vault;

use std::path::PathBuf;

use kube_sim::Sim;
use kube_sim::api::{Actor, ApiError};

use crate::controller::{ArcConfig, ArcController};
use crate::github::FakeGitHub;
use crate::jobs::{JobRunner, JobRunnerConfig, KUBECTL_IMAGE};

/// Starts the ARC model on a running [`Sim`].
pub trait SimExt {
    /// Install the ARC CRDs (those already present are kept) and start the
    /// simulated ARC controller on this simulator's runtime. It reconciles
    /// once a controller Deployment exists (unless `config.require_deployment`
    /// is off); stop, restart or drop the returned handle to control it.
    fn start_arc(&self, github: FakeGitHub, config: ArcConfig) -> Result<ArcController, ApiError>;

    /// Start the Job runner ([`crate::jobs`]) on this simulator's runtime:
    /// Jobs whose images are `registry.k8s.io/kubectl` run `kubectl` (this
    /// binary, for example the one in `$HAU_TOOLS_DIR/helm4`) against this
    /// simulator. Drop the handle to stop it.
    fn start_job_runner(&self, kubectl: impl Into<PathBuf>) -> anyhow::Result<JobRunner>;
}

impl SimExt for Sim {
    fn start_arc(&self, github: FakeGitHub, config: ArcConfig) -> Result<ArcController, ApiError> {
        let actor = Actor("kube-sim:arc-install".to_string());
        let api = self.api();
        for crd in crate::controller::crds() {
            match api.create(&actor, crd) {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ArcController::start_on(self.handle(), api, github, config))
    }

    fn start_job_runner(&self, kubectl: impl Into<PathBuf>) -> anyhow::Result<JobRunner> {
        let work_dir = std::env::temp_dir().join(format!(
            "kube-sim-jobs-{}-{}",
            std::process::id(),
            self.addr().port()
        ));
        JobRunner::start_on(
            &self.handle(),
            self.api(),
            JobRunnerConfig {
                kubectl: kubectl.into(),
                images: vec![KUBECTL_IMAGE.to_string()],
                work_dir,
                kubeconfig: self.kubeconfig(),
            },
        )
    }
}
