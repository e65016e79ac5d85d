//! kube-sim's conformance with kube-apiserver, over HTTP: every case of the
//! differential suite (`differential/cases.rs`, one per rule of
//! `apiserver-semantics.md`) on a fresh simulator each, and the tests of what
//! only the simulator has: its controls (faults, GC pause and delay,
//! compaction, dropped watches, bookmark interval) and the event log.
//! `conformance_local.rs` runs the same cases on the real control plane.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod differential;

use std::time::Duration;

use common::{Http, eventually, sim, sim_and_http};
use differential::rv;
use serde_json::json;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

conformance_cases!(Sim);

/// Every `pub async fn` of `differential/cases.rs` is instantiated by
/// `conformance_cases!` (so it runs on both targets).
#[test]
fn every_case_is_instantiated() {
    let source = include_str!("differential/cases.rs");
    let defined: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("pub async fn "))
        .map(|l| l.split('(').next().unwrap())
        .collect();
    let mut listed = CASES.to_vec();
    let mut defined_sorted = defined.clone();
    listed.sort_unstable();
    defined_sorted.sort_unstable();
    assert_eq!(listed, defined_sorted);
}

/// Control: injected 5xx/429 at a rate (deterministic), latency, and the event log over HTTP.
#[tokio::test]
async fn control_faults_and_event_log() {
    let (s, h) = sim_and_http();
    let f = json!({"error_rate":1.0,"error_code":503,"path_contains":"configmaps","seed":3});
    assert_eq!(
        h.req(
            "PUT",
            "/_sim/faults",
            Some("application/json"),
            serde_json::to_vec(&f).unwrap()
        )
        .await
        .code,
        200
    );
    let r = h.get(CMS).await;
    assert_eq!(r.code, 503);
    assert_eq!(r.body["reason"], "ServiceUnavailable");
    assert_eq!(h.get("/api/v1/namespaces/default/secrets").await.code, 200);
    let f = json!({"throttle_rate":1.0});
    h.req(
        "PUT",
        "/_sim/faults",
        Some("application/json"),
        serde_json::to_vec(&f).unwrap(),
    )
    .await;
    let r = h.get(CMS).await;
    assert_eq!(r.code, 429);
    assert_eq!(r.body["details"]["retryAfterSeconds"], 1);
    h.req("DELETE", "/_sim/faults", None, vec![]).await;
    h.cm("a", json!({})).await;
    let log = h.get("/_sim/log").await.body;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["verb"], "create");
    assert_eq!(last["actor"], "conformance");
    assert_eq!(last["kind"], "ConfigMap");
    assert_eq!(last["code"], 201);
    assert_eq!(last["rv"], json!(s.store().resource_version()));
}

/// §3.5: the GC can be paused (dependents stay) and resumed.
#[tokio::test]
async fn gc_pause_holds_dependents() {
    let (_sim, h) = sim_and_http();
    let owner = h.cm("owner", json!({})).await;
    h.cm("dep", json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]}]})).await;
    assert_eq!(
        h.req("POST", "/_sim/gc/pause", None, vec![]).await.code,
        200
    );
    h.delete(&format!("{CMS}/owner"), None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.get(&format!("{CMS}/dep")).await.code, 200);
    h.req("POST", "/_sim/gc/resume", None, vec![]).await;
    eventually(|| async { h.get(&format!("{CMS}/dep")).await.code == 404 }).await;
}

/// §3.7: RV older than the retained history → 200 stream with an ERROR 410 Expired event.
#[tokio::test]
async fn watch_from_compacted_resource_version_is_410_expired() {
    let (s, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    h.cm("b", json!({})).await;
    assert_eq!(h.req("POST", "/_sim/compact", None, vec![]).await.code, 200);
    let now = s.store().resource_version();
    let mut w = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    assert_eq!(w.code, 200);
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "ERROR");
    assert_eq!(
        e["object"],
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":format!("too old resource version: {} ({})", rv(&a), now + 1),"reason":"Expired","code":410})
    );
    assert!(w.next().await.is_none(), "stream ends after the error");
}

/// A watch from a resourceVersion ahead of the store sees only changes after it.
#[tokio::test]
async fn watch_from_a_future_resource_version() {
    let (s, h) = sim_and_http();
    let now = s.store().resource_version();
    let mut w = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", now + 2))
        .await;
    h.cm("a", json!({})).await;
    h.cm("b", json!({})).await;
    h.cm("c", json!({})).await;
    let e = w.next().await.unwrap();
    assert_eq!(e["object"]["metadata"]["name"], "c");
}

/// §3.7: BOOKMARK events carry kind and apiVersion.
#[tokio::test]
async fn watch_bookmarks_carry_kind_and_api_version() {
    let s = sim();
    s.control().set_bookmark_interval(Duration::from_millis(50));
    let h = Http::new(&s);
    let a = h.cm("a", json!({})).await;
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "BOOKMARK");
    assert_eq!(e["object"]["kind"], "ConfigMap");
    assert_eq!(e["object"]["apiVersion"], "v1");
    assert!(e["object"]["metadata"]["resourceVersion"].is_string());
    // without allowWatchBookmarks: none
    let mut q = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    assert!(q.next_within(Duration::from_millis(200)).await.is_err());
}

/// Control: watch streams can be dropped periodically (clients see the stream end and re-watch).
#[tokio::test]
async fn control_drops_watches_periodically() {
    let (s, h) = sim_and_http();
    assert_eq!(
        h.req("POST", "/_sim/watches/drop-every?seconds=0.2", None, vec![])
            .await
            .code,
        200
    );
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}",
            s.store().resource_version()
        ))
        .await;
    assert_eq!(w.next_within(Duration::from_secs(3)).await, Ok(None));
    h.req("POST", "/_sim/watches/drop-every?seconds=0", None, vec![])
        .await;
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}",
            s.store().resource_version()
        ))
        .await;
    assert!(
        w.next_within(Duration::from_millis(500)).await.is_err(),
        "stays open once periodic drops are off"
    );
}

/// Control: injected 409 and 410 are shaped like real Conflict and Expired answers.
#[tokio::test]
async fn control_injects_conflict_and_expired() {
    let (s, h) = sim_and_http();
    h.cm("a", json!({})).await;
    s.control().set_faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(409),
        methods: vec!["PUT".into()],
        ..Default::default()
    });
    let r = h
        .put(
            &format!("{CMS}/a"),
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
        )
        .await;
    assert_eq!((r.code, r.body["reason"].as_str()), (409, Some("Conflict")));
    assert_eq!(
        h.get(&format!("{CMS}/a")).await.code,
        200,
        "only PUT is affected"
    );
    s.control().set_faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(410),
        ..Default::default()
    });
    let r = h.get(CMS).await;
    assert_eq!((r.code, r.body["reason"].as_str()), (410, Some("Expired")));
    s.control().clear_faults();
    assert_eq!(h.get(CMS).await.code, 200);
}

/// §3.5 control: with a GC delay, a background dependent outlives its owner by that
/// delay (the real GC is only "soon"), and the event log names the collector.
#[tokio::test]
async fn gc_delay_orders_owner_and_dependents() {
    let s = sim();
    s.control().set_gc_delay(Duration::from_millis(200));
    let h = Http::new(&s);
    let owner = h.cm("owner", json!({})).await;
    let refs = json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]}]});
    h.cm("dep", refs).await;
    let r = h
        .delete(
            &format!("{CMS}/owner"),
            Some(json!({"propagationPolicy":"Background"})),
        )
        .await;
    assert_eq!(r.body["status"], "Success");
    assert_eq!(h.get(&format!("{CMS}/owner")).await.code, 404);
    assert_eq!(
        h.get(&format!("{CMS}/dep")).await.code,
        200,
        "dependent outlives the owner for the GC delay"
    );
    eventually(|| async { h.get(&format!("{CMS}/dep")).await.code == 404 }).await;
    let log = s.event_log();
    let dep_del = log
        .iter()
        .find(|e| e.name == "dep" && e.verb == "delete")
        .unwrap();
    assert_eq!(dep_del.actor, "garbage-collector");
}

/// Control: a dropped watch stream ends (clients see the end and re-watch).
#[tokio::test]
async fn control_drops_watch_streams() {
    let (s, h) = sim_and_http();
    let mut d = h
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}",
            s.store().resource_version()
        ))
        .await;
    h.req("POST", "/_sim/watches/drop", None, vec![]).await;
    assert_eq!(d.next_within(Duration::from_secs(3)).await, Ok(None));
}

/// §3.8: a continue token from before a compaction is 410 (real servers:
/// after etcd's compaction, every 5 minutes; see the differential table).
#[tokio::test]
async fn list_continue_token_expires_with_compaction() {
    let (_s, h) = sim_and_http();
    for n in ["a", "b", "c"] {
        h.cm(n, json!({})).await;
    }
    let r = h.get(&format!("{CMS}?limit=2")).await;
    let c = r.body["metadata"]["continue"].as_str().unwrap().to_string();
    h.cm("f", json!({})).await;
    h.req("POST", "/_sim/compact", None, vec![]).await;
    let r = h.get(&format!("{CMS}?limit=2&continue={c}")).await;
    assert_eq!(r.code, 410);
    assert_eq!(r.body["reason"], "Expired");
}
