//! The public handle: a running simulator (store, background controllers,
//! HTTP server on 127.0.0.1) with its own Tokio runtime.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::api::Api;
use crate::control::Control;
use crate::requests::{RequestRecord, Requests};
use crate::store::{LogEntry, Store, StoreConfig};
use crate::tls::TlsIdentity;

/// Settings of a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Port on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Seed for uids, generated names.
    pub seed: u64,
    /// Watch history kept for resuming; older resourceVersions answer 410.
    pub history_limit: usize,
    /// Delay before the GC acts on dependents of a deleted owner (deterministic ordering knob).
    pub gc_delay: Duration,
    /// Record GET/LIST calls in the event log too.
    pub log_reads: bool,
    /// Worker threads of the simulator's runtime.
    pub worker_threads: usize,
    /// Serve HTTPS with this certificate (see [`crate::tls::TestCa`]) instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
    /// When not empty, API requests must carry `Authorization: Bearer <one of
    /// these>` (else 401); the kubeconfig of [`Sim::kubeconfig`] uses the first.
    pub tokens: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            seed: 1,
            history_limit: 10_000,
            gc_delay: Duration::from_millis(50),
            log_reads: false,
            worker_threads: 2,
            tls: None,
            tokens: Vec::new(),
        }
    }
}

/// A running simulator. Dropping it stops the server and its controllers.
pub struct Sim {
    store: Arc<Store>,
    control: Control,
    requests: Arc<Requests>,
    tls: Option<TlsIdentity>,
    tokens: Vec<String>,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sim {
    /// Start store, controllers and HTTP server on `127.0.0.1:port`.
    pub fn start(config: SimConfig) -> anyhow::Result<Sim> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("kube-sim")
            .enable_all()
            .build()
            .context("cannot start the simulator's runtime")?;
        let store = Store::new(StoreConfig {
            seed: config.seed,
            history_limit: config.history_limit,
            log_reads: config.log_reads,
        });
        let control = Control::new(config.gc_delay);
        // Bind synchronously: `start` may be called from inside another runtime.
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", config.port))?;
        listener
            .set_nonblocking(true)
            .context("cannot make the listener non-blocking")?;
        let addr = listener.local_addr().context("listener has no address")?;
        let tls = match &config.tls {
            Some(identity) => Some(crate::tls::server_config(identity)?),
            None => None,
        };
        runtime.spawn(crate::controllers::run(store.clone(), control.clone()));
        let requests = Arc::new(Requests::default());
        let server = crate::http::Server {
            store: store.clone(),
            control: control.clone(),
            requests: requests.clone(),
            tls,
            tokens: Arc::new(config.tokens.clone()),
        };
        runtime.spawn(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                crate::http::serve(listener, server).await;
            }
        });
        Ok(Sim {
            store,
            control,
            requests,
            tls: config.tls,
            tokens: config.tokens,
            addr,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:PORT`, or `https://` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig for this simulator: context `sim`, namespace `default`;
    /// with TLS its CA as `certificate-authority-data`, with tokens the first
    /// as the user's token.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine;
        let ca = self.tls.as_ref().map_or(String::new(), |t| {
            format!(
                "    certificate-authority-data: {}\n",
                base64::engine::general_purpose::STANDARD.encode(&t.ca_pem)
            )
        });
        let user = self
            .tokens
            .first()
            .map_or("{}".to_string(), |t| format!("{{token: {}}}", json!(t)));
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {}\n{ca}contexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: default\ncurrent-context: sim\nusers:\n- name: sim\n  user: {user}\n",
            self.url()
        )
    }

    /// Write the kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.kubeconfig())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The in-process API (what simulated controllers use).
    pub fn api(&self) -> Arc<dyn Api> {
        self.store.clone()
    }

    /// The concrete store (extra calls: typed access, compaction, event log).
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The control handle.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// The ordered event log.
    pub fn event_log(&self) -> Vec<LogEntry> {
        self.store.event_log()
    }

    /// Every API request this server received so far (see [`crate::requests`]).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.all()
    }

    /// The CA clients trust for this server, when it serves TLS (PEM).
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// A handle to the simulator's runtime (to spawn simulated controllers on it).
    pub fn handle(&self) -> tokio::runtime::Handle {
        match &self.runtime {
            Some(rt) => rt.handle().clone(),
            None => unreachable!("runtime lives until drop"),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
