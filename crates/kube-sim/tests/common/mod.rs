//! A small HTTP(S) client for the API server tests (127.0.0.1 only): plain
//! HTTP to kube-sim, or HTTPS with a CA and a client certificate to a real
//! kube-apiserver ([`testenv::ApiEndpoint`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube_sim::{Sim, SimConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use testenv::ApiEndpoint;

/// A started simulator with a fast GC.
pub fn sim() -> Sim {
    Sim::start(SimConfig {
        gc_delay: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .unwrap()
}

/// A started simulator and a client for it (keep the `Sim` alive while using the client).
pub fn sim_and_http() -> (Sim, Http) {
    let s = sim();
    let h = Http::new(&s);
    (s, h)
}

/// TLS settings: the endpoint's CA and client certificate, or (for plain
/// HTTP) an empty root store.
fn tls_config(endpoint: Option<&ApiEndpoint>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    let Some(endpoint) = endpoint else {
        return builder.with_root_certificates(roots).with_no_client_auth();
    };
    for ca in CertificateDer::pem_slice_iter(endpoint.ca_pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let certs = CertificateDer::pem_slice_iter(endpoint.client_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(endpoint.client_key_pem.as_bytes()).unwrap();
    builder
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap()
}

/// A response: status, content type, body as JSON (Null if not JSON).
#[derive(Debug)]
pub struct Resp {
    pub code: u16,
    pub content_type: String,
    pub body: Value,
    pub raw: Bytes,
}

/// HTTP client bound to one API server.
pub struct Http {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
}

impl Http {
    /// A client for a simulator serving plain HTTP.
    pub fn new(sim: &Sim) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(None))
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: sim.url(),
        }
    }

    /// A client for an HTTPS API server: trusts only its CA, authenticates
    /// with the client certificate.
    pub fn to_endpoint(endpoint: &ApiEndpoint) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(Some(endpoint)))
            .https_only()
            .enable_http1()
            .build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: endpoint.server.clone(),
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: Vec<u8>,
    ) -> hyper::Request<Full<Bytes>> {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("user-agent", "conformance/v0.1");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(Full::new(Bytes::from(body))).unwrap()
    }

    /// Send a built request and read the whole response.
    async fn send(&self, request: hyper::Request<Full<Bytes>>) -> Resp {
        let res = self.client.request(request).await.unwrap();
        let code = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp {
            code,
            content_type,
            body,
            raw,
        }
    }

    pub async fn req(&self, method: &str, path: &str, ct: Option<&str>, body: Vec<u8>) -> Resp {
        self.send(self.request(method, path, ct, body)).await
    }

    /// GET with an Accept header.
    pub async fn req_with_accept(&self, path: &str, accept: &str) -> Resp {
        let mut r = self.request("GET", path, None, vec![]);
        r.headers_mut().insert("accept", accept.parse().unwrap());
        self.send(r).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req("GET", path, None, vec![]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.req(
            "POST",
            path,
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.req(
            "PUT",
            path,
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn patch(&self, path: &str, ct: &str, body: &Value) -> Resp {
        self.req("PATCH", path, Some(ct), serde_json::to_vec(body).unwrap())
            .await
    }

    pub async fn merge(&self, path: &str, body: Value) -> Resp {
        self.patch(path, "application/merge-patch+json", &body)
            .await
    }

    pub async fn delete(&self, path: &str, body: Option<Value>) -> Resp {
        match body {
            Some(b) => {
                self.req(
                    "DELETE",
                    path,
                    Some("application/json"),
                    serde_json::to_vec(&b).unwrap(),
                )
                .await
            }
            None => self.req("DELETE", path, None, vec![]).await,
        }
    }

    /// Open a watch stream.
    pub async fn watch(&self, path: &str) -> Watch {
        let res = self
            .client
            .request(self.request("GET", path, None, vec![]))
            .await
            .unwrap();
        let code = res.status().as_u16();
        Watch {
            code,
            body: res.into_body(),
            buf: Vec::new(),
            ended: false,
        }
    }

    /// Create a ConfigMap in `default` and return it.
    pub async fn cm(&self, name: &str, extra_meta: Value) -> Value {
        let mut meta = json!({"name": name});
        if let (Value::Object(m), Value::Object(e)) = (&mut meta, extra_meta) {
            m.extend(e);
        }
        let r = self
            .post(
                "/api/v1/namespaces/default/configmaps",
                &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":meta,"data":{"k":"v"}}),
            )
            .await;
        assert_eq!(r.code, 201, "{:?}", r.body);
        r.body
    }
}

/// An open watch: reads one JSON event per line.
pub struct Watch {
    pub code: u16,
    body: Incoming,
    buf: Vec<u8>,
    ended: bool,
}

impl Watch {
    /// Next event, or None when the server ended the stream. Panics after 5 s of silence.
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("no watch event within 5 s")
    }

    /// Next event within `d`: Err(()) on timeout, Ok(None) at end of stream.
    pub async fn next_within(&mut self, d: Duration) -> Result<Option<Value>, ()> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(Some(serde_json::from_slice(&line).unwrap()));
            }
            if self.ended {
                return Ok(None);
            }
            match tokio::time::timeout(d, self.body.frame()).await {
                Err(_) => return Err(()),
                Ok(None) => self.ended = true,
                Ok(Some(Err(_))) => self.ended = true,
                Ok(Some(Ok(f))) => {
                    if let Ok(data) = f.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// Next event that is not a BOOKMARK.
    pub async fn next_change(&mut self) -> Option<Value> {
        loop {
            let e = self.next().await?;
            if e["type"] != "BOOKMARK" {
                return Some(e);
            }
        }
    }
}

/// Poll until `f` is true (up to 5 s).
pub async fn eventually<F, Fut>(mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 5 s");
}
