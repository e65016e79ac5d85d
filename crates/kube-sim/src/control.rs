//! The test-control side channel: fault injection, latency, watch drops,
//! GC pause and delay, request gates. Shared by the HTTP layer, the GC and tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};

/// Injected HTTP faults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Faults {
    /// Fraction (0..=1) of API requests answered 500/503.
    #[serde(default)]
    pub error_rate: f64,
    /// Status code for injected errors (500, 503, 504, or 401/403/404/409/410
    /// shaped as Unauthorized/Forbidden/NotFound/Conflict/Expired), default 500.
    #[serde(default)]
    pub error_code: Option<u16>,
    /// Fraction (0..=1) of API requests answered 429.
    #[serde(default)]
    pub throttle_rate: f64,
    /// Added latency per request, milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Only requests whose path contains this string are affected (None = all API requests).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only requests whose query string contains this string are affected
    /// (`watch=true`: only watches; None = any query).
    #[serde(default)]
    pub query_contains: Option<String>,
    /// Only these HTTP methods are affected (empty = all).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Seed of the fault dice (deterministic).
    #[serde(default)]
    pub seed: u64,
}

/// A fault decision for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Serve normally.
    None,
    /// Answer this 5xx code.
    Error(u16),
    /// Answer 429.
    Throttle,
}

struct Inner {
    faults: Faults,
    rng: fastrand::Rng,
}

/// Control handle (cheap to clone).
#[derive(Clone)]
pub struct Control {
    inner: Arc<Mutex<Inner>>,
    gc_paused: Arc<AtomicBool>,
    gc_delay_ms: Arc<AtomicU64>,
    drop_every_ms: Arc<AtomicU64>,
    bookmark_ms: Arc<AtomicU64>,
    drop_tx: broadcast::Sender<()>,
    gates: Arc<Mutex<Vec<Gate>>>,
    /// Woken when a GC knob changes.
    pub(crate) gc_wake: Arc<Notify>,
}

impl Control {
    /// A control handle with the given GC delay.
    pub fn new(gc_delay: Duration) -> Self {
        let (drop_tx, _) = broadcast::channel(16);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                faults: Faults::default(),
                rng: fastrand::Rng::with_seed(0),
            })),
            gc_paused: Arc::new(AtomicBool::new(false)),
            gc_delay_ms: Arc::new(AtomicU64::new(gc_delay.as_millis() as u64)),
            drop_every_ms: Arc::new(AtomicU64::new(0)),
            bookmark_ms: Arc::new(AtomicU64::new(10_000)),
            drop_tx,
            gates: Arc::new(Mutex::new(Vec::new())),
            gc_wake: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::sync::lock(&self.inner)
    }

    /// Set the injected faults (replaces the previous ones; reseeds the dice).
    pub fn set_faults(&self, faults: Faults) {
        let mut g = self.lock();
        g.rng = fastrand::Rng::with_seed(faults.seed);
        g.faults = faults;
    }

    /// Current faults.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Remove all faults and latency.
    pub fn clear_faults(&self) {
        self.set_faults(Faults::default());
    }

    /// Roll the dice for one request. Returns the fault and the latency to add.
    pub fn decide(&self, method: &str, path: &str, query: &str) -> (Fault, Duration) {
        let mut g = self.lock();
        let f = g.faults.clone();
        let applies = f.path_contains.as_deref().is_none_or(|p| path.contains(p))
            && f.query_contains
                .as_deref()
                .is_none_or(|q| query.contains(q))
            && (f.methods.is_empty() || f.methods.iter().any(|m| m.eq_ignore_ascii_case(method)));
        if !applies {
            return (Fault::None, Duration::ZERO);
        }
        let latency = Duration::from_millis(f.latency_ms);
        if f.error_rate > 0.0 && g.rng.f64() < f.error_rate {
            return (Fault::Error(f.error_code.unwrap_or(500)), latency);
        }
        if f.throttle_rate > 0.0 && g.rng.f64() < f.throttle_rate {
            return (Fault::Throttle, latency);
        }
        (Fault::None, latency)
    }

    /// Pause or resume the garbage collector (and namespace/CRD cleanup).
    pub fn set_gc_paused(&self, paused: bool) {
        self.gc_paused.store(paused, Ordering::SeqCst);
        self.gc_wake.notify_waiters();
    }

    /// Is the GC paused?
    pub fn gc_paused(&self) -> bool {
        self.gc_paused.load(Ordering::SeqCst)
    }

    /// Delay between an owner's deletion becoming visible and the GC acting on its dependents.
    pub fn set_gc_delay(&self, d: Duration) {
        self.gc_delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
        self.gc_wake.notify_waiters();
    }

    /// The GC delay.
    pub fn gc_delay(&self) -> Duration {
        Duration::from_millis(self.gc_delay_ms.load(Ordering::SeqCst))
    }

    /// End every open watch stream now (clients see the stream close and re-watch).
    pub fn drop_watches(&self) {
        let _ = self.drop_tx.send(());
    }

    /// End every watch stream every `every` (None = stop doing it).
    pub fn drop_watches_every(&self, every: Option<Duration>) {
        self.drop_every_ms
            .store(every.map_or(0, |d| d.as_millis() as u64), Ordering::SeqCst);
    }

    /// Periodic drop interval, if any.
    pub fn drop_interval(&self) -> Option<Duration> {
        match self.drop_every_ms.load(Ordering::SeqCst) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK (default 10 s).
    pub fn set_bookmark_interval(&self, every: Duration) {
        self.bookmark_ms
            .store(every.as_millis().max(1) as u64, Ordering::SeqCst);
    }

    /// The BOOKMARK interval.
    pub fn bookmark_interval(&self) -> Duration {
        Duration::from_millis(self.bookmark_ms.load(Ordering::SeqCst))
    }

    /// Subscribe to "drop your watch now" signals.
    pub fn watch_drops(&self) -> broadcast::Receiver<()> {
        self.drop_tx.subscribe()
    }

    /// Hold every API request with this HTTP `method` whose path contains
    /// `path_contains`, before it is served, until the returned gate is
    /// opened. A test uses it to put its own write between a client's read
    /// and that client's write, in that order, without relying on timing.
    pub fn gate(&self, method: &str, path_contains: &str) -> Gate {
        let gate = Gate {
            inner: Arc::new(GateInner {
                method: method.to_string(),
                path_contains: path_contains.to_string(),
                open: AtomicBool::new(false),
                wake: Notify::new(),
                held: Mutex::new(0),
                held_changed: Condvar::new(),
            }),
        };
        crate::sync::lock(&self.gates).push(gate.clone());
        gate
    }

    /// Wait at every closed gate this request matches (the HTTP layer calls
    /// it before serving an API request).
    pub async fn pass_gates(&self, method: &str, path: &str) {
        let closed: Vec<Gate> = {
            crate::sync::lock(&self.gates)
                .iter()
                .filter(|g| !g.is_open() && g.matches(method, path))
                .cloned()
                .collect()
        };
        for gate in closed {
            gate.hold().await;
        }
    }
}

/// A request gate made by [`Control::gate`] (cheap to clone).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    method: String,
    path_contains: String,
    open: AtomicBool,
    wake: Notify,
    held: Mutex<usize>,
    held_changed: Condvar,
}

impl Gate {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.inner.method.eq_ignore_ascii_case(method) && path.contains(&self.inner.path_contains)
    }

    /// Whether the gate lets requests through.
    pub fn is_open(&self) -> bool {
        self.inner.open.load(Ordering::SeqCst)
    }

    fn held_lock(&self) -> std::sync::MutexGuard<'_, usize> {
        crate::sync::lock(&self.inner.held)
    }

    async fn hold(&self) {
        *self.held_lock() += 1;
        self.inner.held_changed.notify_all();
        loop {
            // A `Notified` receives `notify_waiters` from its creation on, so
            // an `open` between this check and the await is not lost.
            let woken = self.inner.wake.notified();
            if self.is_open() {
                return;
            }
            woken.await;
        }
    }

    /// How many requests reached the gate while it was closed.
    pub fn held(&self) -> usize {
        *self.held_lock()
    }

    /// Block the calling thread until at least `count` requests reached the
    /// closed gate, or `limit` passed. Returns whether they did.
    pub fn wait_held(&self, count: usize, limit: Duration) -> bool {
        let guard = self.held_lock();
        let result = self
            .inner
            .held_changed
            .wait_timeout_while(guard, limit, |held| *held < count);
        match result {
            Ok((held, _)) => *held >= count,
            Err(p) => *p.into_inner().0 >= count,
        }
    }

    /// Let the held requests, and every later one, through.
    pub fn open(&self) {
        self.inner.open.store(true, Ordering::SeqCst);
        self.inner.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gate_holds_matching_requests_until_opened() {
        let c = Control::new(Duration::ZERO);
        let gate = c.gate("PATCH", "/roles/x");
        // Not matching: passes at once.
        c.pass_gates(
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles/x",
        )
        .await;
        c.pass_gates(
            "PATCH",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings/x",
        )
        .await;
        assert_eq!(gate.held(), 0);
        let held = tokio::spawn({
            let c = c.clone();
            async move {
                c.pass_gates(
                    "patch",
                    "/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles/x",
                )
                .await;
            }
        });
        let waiter = gate.clone();
        let reached =
            tokio::task::spawn_blocking(move || waiter.wait_held(1, Duration::from_secs(10)))
                .await
                .unwrap();
        assert!(reached);
        assert!(!held.is_finished());
        gate.open();
        held.await.unwrap();
        // Open: later requests pass and are not counted.
        c.pass_gates("PATCH", "/roles/x").await;
        assert_eq!(gate.held(), 1);
    }

    #[test]
    fn fault_dice_are_deterministic_for_a_seed() {
        let c = Control::new(Duration::ZERO);
        c.set_faults(Faults {
            error_rate: 0.5,
            seed: 7,
            ..Default::default()
        });
        let a: Vec<Fault> = (0..20)
            .map(|_| c.decide("GET", "/api/v1/pods", "").0)
            .collect();
        c.set_faults(Faults {
            error_rate: 0.5,
            seed: 7,
            ..Default::default()
        });
        let b: Vec<Fault> = (0..20)
            .map(|_| c.decide("GET", "/api/v1/pods", "").0)
            .collect();
        assert_eq!(a, b);
        assert!(a.contains(&Fault::Error(500)) && a.contains(&Fault::None));
        c.set_faults(Faults {
            error_rate: 1.0,
            path_contains: Some("secrets".into()),
            ..Default::default()
        });
        assert_eq!(c.decide("GET", "/api/v1/pods", "").0, Fault::None);
        assert_eq!(
            c.decide("GET", "/api/v1/namespaces/a/secrets", "").0,
            Fault::Error(500)
        );
        c.set_faults(Faults {
            error_rate: 1.0,
            error_code: Some(403),
            query_contains: Some("watch=true".into()),
            ..Default::default()
        });
        assert_eq!(
            c.decide("GET", "/api/v1/secrets", "limit=500").0,
            Fault::None
        );
        assert_eq!(
            c.decide("GET", "/api/v1/secrets", "watch=true&timeoutSeconds=290")
                .0,
            Fault::Error(403)
        );
    }
}
