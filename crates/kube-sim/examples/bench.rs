//! Throughput of the simulator on loopback (run in release mode):
//! `cargo run --release -p kube-sim --example bench [-- SECONDS WATCHERS EVENTS]`.
//!
//! 1. GET: concurrent keep-alive clients fetching single ConfigMaps for SECONDS.
//! 2. WATCH fan-out: WATCHERS open watches, EVENTS writes go in through HTTP;
//!    reports the time until every watcher has seen every event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kube_sim::api::Actor;
use kube_sim::{Sim, SimConfig};
use serde_json::json;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = args.first().copied().unwrap_or(3);
    let watchers = args.get(1).copied().unwrap_or(100) as usize;
    let events = args.get(2).copied().unwrap_or(1000) as usize;
    let sim = Sim::start(SimConfig {
        worker_threads: 2,
        ..SimConfig::default()
    })
    .unwrap();
    let api = sim.api();
    for i in 0..100 {
        api.create(
            &Actor("bench".into()),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":format!("cm-{i}"),"namespace":"default"},"data":{"k":"v"}}),
        )
        .unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        get_bench(&sim.url(), seconds).await;
        watch_bench(&sim.url(), watchers, events).await;
    });
}

async fn get_bench(url: &str, seconds: u64) {
    for clients in [1usize, 16] {
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for c in 0..clients {
            let url = url.to_string();
            let done = done.clone();
            tasks.push(tokio::spawn(async move {
                let client: Client<_, Full<Bytes>> =
                    Client::builder(TokioExecutor::new()).build_http();
                let mut i = c;
                while Instant::now() < deadline {
                    let uri = format!("{url}/api/v1/namespaces/default/configmaps/cm-{}", i % 100);
                    let res = client.get(uri.parse().unwrap()).await.unwrap();
                    assert_eq!(res.status(), 200);
                    let _ = res.into_body().collect().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                    i += clients;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let n = done.load(Ordering::Relaxed);
        println!(
            "GET  {clients:>2} client(s): {:>8.0} requests/s ({n} in {seconds} s)",
            n as f64 / seconds as f64
        );
    }
}

async fn watch_bench(url: &str, watchers: usize, events: usize) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let list = client
        .get(
            format!("{url}/api/v1/namespaces/bench/configmaps")
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    let _ = list.into_body().collect().await;
    let ns = hyper::Request::post(format!("{url}/api/v1/namespaces"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}"#,
        )))
        .unwrap();
    assert_eq!(client.request(ns).await.unwrap().status(), 201);
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let uri = format!("{url}/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion=1");
        let received = received.clone();
        let res = client.get(uri.parse().unwrap()).await.unwrap();
        assert_eq!(res.status(), 200);
        tasks.push(tokio::spawn(async move {
            let mut body = res.into_body();
            let mut seen = 0usize;
            while seen < events {
                let Some(Ok(frame)) = body.frame().await else {
                    break;
                };
                if let Ok(data) = frame.into_data() {
                    let n = data.iter().filter(|b| **b == b'\n').count();
                    seen += n;
                    received.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }));
    }
    let start = Instant::now();
    let writer: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    for i in 0..events {
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"w-{i}"}},"data":{{"k":"v"}}}}"#
        );
        let req = hyper::Request::post(format!("{url}/api/v1/namespaces/bench/configmaps"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let res = writer.request(req).await.unwrap();
        assert_eq!(res.status(), 201);
        let _ = res.into_body().collect().await;
    }
    let writes = start.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    let all = start.elapsed();
    let total = received.load(Ordering::Relaxed);
    println!(
        "POST 1 client: {:>8.0} writes/s ({events} in {:.2} s)",
        events as f64 / writes.as_secs_f64(),
        writes.as_secs_f64()
    );
    println!(
        "WATCH fan-out {watchers} watchers x {events} events: {total} events delivered in {:.2} s = {:.0} events/s",
        all.as_secs_f64(),
        total as f64 / all.as_secs_f64()
    );
}
