//! [`Target`]: where a scenario's cluster runs, in the spirit of
//! controller-runtime's envtest `Environment` (one value per cluster; the
//! tests get a kubeconfig and, where there is one, the in-process handle).

use std::path::PathBuf;

use arc_sim::controller::ArcConfig;
use kube_sim::SimConfig;

use crate::helm_home::HelmHome;
use crate::sim_cluster::SimCluster;

/// Where a scenario's cluster runs.
///
/// Next to come: `Local`, the real control plane that `scripts/local-cluster
/// up --dir DIR` brings up (kube-apiserver and friends; `DIR/kubeconfig`,
/// TLS with client certificates), started and stopped with the target.
pub enum Target {
    /// kube-sim in this process with the ARC model: reachable over HTTP
    /// by real clients and in process (controls, event log, controller log,
    /// fake GitHub record).
    Sim(Box<SimCluster>),
    /// A cluster reached through this kubeconfig only (an existing cluster,
    /// for example `$KUBECONFIG` of the opt-in real-cluster mode).
    Kubeconfig(PathBuf),
}

impl Target {
    /// kube-sim with ARC's CRDs and a started controller (it reconciles once
    /// a controller Deployment exists unless `arc_config` says otherwise).
    pub fn sim(sim_config: SimConfig, arc_config: ArcConfig) -> Target {
        Target::Sim(Box::new(SimCluster::start_bare_on(sim_config, arc_config)))
    }

    /// The in-process simulator, if this is one.
    pub fn as_sim(&self) -> Option<&SimCluster> {
        match self {
            Target::Sim(c) => Some(c.as_ref()),
            Target::Kubeconfig(_) => None,
        }
    }

    /// A fresh [`HelmHome`] whose kubeconfig reaches this target.
    pub fn helm_home(&self) -> HelmHome {
        match self {
            Target::Sim(c) => {
                let home = HelmHome::new();
                c.sim
                    .write_kubeconfig(home.kubeconfig())
                    .expect("write the simulator's kubeconfig");
                home
            }
            Target::Kubeconfig(path) => HelmHome::with_kubeconfig(path.clone()),
        }
    }
}
