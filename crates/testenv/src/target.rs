//! [`Target`]: where a scenario's cluster runs, in the spirit of
//! controller-runtime's envtest `Environment` (one value per cluster; the
//! tests get a kubeconfig and, where there is one, the in-process handle).

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use arc_sim::controller::ArcConfig;
use kube_sim::SimConfig;

use crate::helm_home::{HelmHome, run_ok};
use crate::local_cluster::LocalCluster;
use crate::sim_cluster::SimCluster;

/// Where a scenario's cluster runs.
pub enum Target {
    /// kube-sim in this process with the ARC model: reachable over HTTP
    /// by real clients and in process (controls, event log, controller log,
    /// fake GitHub record).
    Sim(Box<SimCluster>),
    /// The real control plane of `scripts/local-cluster` (kube-apiserver,
    /// etcd, kube-controller-manager, kube-scheduler v1.35.4 and a kwok
    /// node; TLS, an admin client certificate), one per test process
    /// ([`LocalCluster::shared`]): tests on it keep to namespaces of their
    /// own. The ARC CRDs are installed; no ARC controller runs (issue #13).
    Local(&'static LocalCluster),
    /// A cluster reached through this kubeconfig only (an existing cluster,
    /// for example `$KUBECONFIG` of the opt-in real-cluster mode).
    Kubeconfig(PathBuf),
}

/// Which kind of [`Target`], for tests run on several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// [`Target::Sim`].
    Sim,
    /// [`Target::Local`].
    Local,
}

impl TargetKind {
    /// Both, for tests that loop over them.
    pub const ALL: [TargetKind; 2] = [TargetKind::Sim, TargetKind::Local];
}

impl Target {
    /// kube-sim with ARC's CRDs and a started controller (it reconciles once
    /// a controller Deployment exists unless `arc_config` says otherwise).
    pub fn sim(sim_config: SimConfig, arc_config: ArcConfig) -> Target {
        Target::Sim(Box::new(SimCluster::start_bare_on(sim_config, arc_config)))
    }

    /// The local cluster of this test process, started on first use, with
    /// the ARC CRDs installed.
    pub fn local() -> Target {
        let cluster = LocalCluster::shared();
        install_arc_crds(cluster);
        Target::Local(cluster)
    }

    /// A fresh target of `kind`: [`Target::sim`] with default settings (no
    /// controller Deployment, so the simulated controller stays idle) or
    /// [`Target::local`].
    pub fn of(kind: TargetKind) -> Target {
        match kind {
            TargetKind::Sim => Target::sim(SimConfig::default(), ArcConfig::default()),
            TargetKind::Local => Target::local(),
        }
    }

    /// Which kind this is (`None` for [`Target::Kubeconfig`]).
    pub fn kind(&self) -> Option<TargetKind> {
        match self {
            Target::Sim(_) => Some(TargetKind::Sim),
            Target::Local(_) => Some(TargetKind::Local),
            Target::Kubeconfig(_) => None,
        }
    }

    /// The in-process simulator, if this is one.
    pub fn as_sim(&self) -> Option<&SimCluster> {
        match self {
            Target::Sim(c) => Some(c.as_ref()),
            _ => None,
        }
    }

    /// The local cluster, if this is one.
    pub fn as_local(&self) -> Option<&'static LocalCluster> {
        match self {
            Target::Local(c) => Some(c),
            _ => None,
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
            Target::Local(c) => {
                let home = HelmHome::new();
                c.write_kubeconfig(home.kubeconfig());
                home
            }
            Target::Kubeconfig(path) => HelmHome::with_kubeconfig(path.clone()),
        }
    }
}

/// `kubectl apply` of ARC's four CRDs (`arc_sim::controller::crds`, the
/// ones kube-sim gets: `spec` and `status` kept as given) on `cluster`, once
/// per process, and wait until they are Established.
fn install_arc_crds(cluster: &LocalCluster) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let list = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": arc_sim::controller::crds(),
        });
        let file = cluster.dir().join("arc-crds.json");
        fs::write(&file, list.to_string()).expect("write the ARC CRDs");
        run_ok(cluster.kubectl().args(["apply", "-f"]).arg(&file));
        run_ok(cluster.kubectl().args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/autoscalingrunnersets.actions.github.com",
            "crd/autoscalinglisteners.actions.github.com",
            "crd/ephemeralrunnersets.actions.github.com",
            "crd/ephemeralrunners.actions.github.com",
        ]));
    });
}
