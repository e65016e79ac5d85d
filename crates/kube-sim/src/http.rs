//! The HTTP front end: the Kubernetes REST API over HTTP/1.1 on 127.0.0.1
//! (discovery, OpenAPI v3 stubs, CRUD, PATCH types, DELETE options, chunked
//! watches), plus the `/_sim/...` control endpoints.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::api::{
    Actor, ApiError, DeleteOptions, DeleteOutcome, Patch, Propagation, WatchEvent, WatchEventType,
};
use crate::control::{Control, Fault, Faults};
use crate::registry::{Registry, ResourceType};
use crate::requests::{RequestRecord, Requests};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, Cause, GroupResource};
use crate::store::{Store, Subresource, WriteOptions, meta_str};

mod scale;

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// The Kubernetes minor version the simulator reports: the release of the
/// real control plane its conformance suite is checked against.
pub const KUBE_MINOR: &str = "35";

/// The Kubernetes release the simulator reports (`/version` `gitVersion`).
pub const KUBE_GIT_VERSION: &str = "v1.35.4";

/// What the front end serves: the store, the control handle, the request
/// record, and optionally TLS and bearer-token authentication.
#[derive(Clone)]
pub struct Server {
    /// The objects.
    pub store: Arc<Store>,
    /// Faults, gates, watch drops.
    pub control: Control,
    /// Every API request received.
    pub requests: Arc<Requests>,
    /// Serve HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// When not empty, API requests must carry `Authorization: Bearer <one
    /// of these>`; others get 401 Unauthorized.
    pub tokens: Arc<Vec<String>>,
}

/// How one connection came in.
#[derive(Clone, Debug, Default)]
struct Connection {
    tls: bool,
    sni: Option<String>,
}

/// Serve the API on `listener` until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, server: Server) {
    let acceptor = server.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(stream, server, Connection::default()).await,
                Some(acceptor) => {
                    // A client that rejects the certificate ends here.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let conn = Connection {
                        tls: true,
                        sni: stream.get_ref().1.server_name().map(str::to_string),
                    };
                    serve_connection(stream, server, conn).await;
                }
            }
        });
    }
}

async fn serve_connection<S>(stream: S, server: Server, conn: Connection)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let server = server.clone();
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(handle_recorded(req, server, conn).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status)
}

/// Query parameters (last value wins).
struct Query(HashMap<String, String>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

fn actor_of(req: &Request<Incoming>) -> Actor {
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let prefix = ua.split('/').next().unwrap_or(ua);
    Actor(if prefix.is_empty() {
        "unknown".into()
    } else {
        prefix.chars().take(128).collect()
    })
}

/// Serve one request; API requests (not `/_sim/...`) go to the record.
async fn handle_recorded(
    req: Request<Incoming>,
    server: Server,
    conn: Connection,
) -> Response<Body> {
    if req.uri().path().starts_with("/_sim/") {
        return handle(req, server).await;
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let query = req.uri().query().unwrap_or_default().to_string();
    let watch = req.uri().path().contains("/watch/")
        || form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
    let record = RequestRecord {
        seq: 0,
        time: format!("{:.3}", jiff::Timestamp::now()),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query,
        watch,
        actor: actor_of(&req).0,
        authorization: header("authorization"),
        impersonate_user: header("impersonate-user"),
        impersonate_groups: req
            .headers()
            .get_all("impersonate-group")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect(),
        tls: conn.tls,
        sni: conn.sni,
        code: 0,
    };
    let requests = server.requests.clone();
    let seq = requests.push(record);
    let response = handle(req, server).await;
    requests.answered(seq, response.status().as_u16());
    response
}

/// Whether the request carries one of the accepted bearer tokens (always,
/// when none are configured).
fn authenticated(req: &Request<Incoming>, tokens: &[String]) -> bool {
    if tokens.is_empty() {
        return true;
    }
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| tokens.iter().any(|ok| ok == t))
}

async fn handle(req: Request<Incoming>, server: Server) -> Response<Body> {
    let Server {
        store,
        control,
        tokens,
        requests,
        ..
    } = server;
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/_sim/") {
        let rest = rest.to_string();
        return sim_endpoint(req, &rest, &store, &control, &requests).await;
    }
    if !authenticated(&req, &tokens) {
        return error_response(&status::unauthorized());
    }
    control.pass_gates(req.method().as_str(), &path).await;
    let (fault, latency) = control.decide(
        req.method().as_str(),
        &path,
        req.uri().query().unwrap_or_default(),
    );
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::Error(code) => return error_response(&injected_error(code, &path)),
        Fault::Throttle => {
            let mut r = error_response(&status::too_many_requests(1));
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return r;
        }
        Fault::None => {}
    }
    match api_request(req, &path, store, &control).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

/// The Status an injected fault answers with, shaped like the real error of that code.
fn injected_error(code: u16, path: &str) -> ApiError {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut e = match code {
        401 => status::unauthorized(),
        403 => status::forbidden(&GroupResource::core("injected"), name, "injected fault"),
        404 => status::not_found(&GroupResource::core("injected"), name),
        409 => status::conflict(
            &GroupResource::core("injected"),
            name,
            status::OPTIMISTIC_LOCK,
        ),
        410 => status::expired_message("too old resource version: injected"),
        503 => status::service_unavailable("the server is currently unable to handle the request"),
        504 => ApiError {
            code: 504,
            reason: "Timeout".into(),
            message: "the server was unable to return a response in the time allotted".into(),
            status: json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message":"the server was unable to return a response in the time allotted","reason":"Timeout",
                "details":{"retryAfterSeconds":1},"code":504}),
        },
        _ => status::internal("injected fault"),
    };
    e.code = code;
    e.status["code"] = json!(code);
    e
}

async fn api_request(
    req: Request<Incoming>,
    path: &str,
    store: Arc<Store>,
    control: &Control,
) -> Result<Response<Body>, ApiError> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = req.method() == Method::GET;
    match segs.as_slice() {
        ["version"] if get => return Ok(json_response(200, &version())),
        ["healthz" | "readyz" | "livez"] if get => {
            let mut r = Response::new(full("ok"));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return Ok(r);
        }
        ["api" | "apis"] if get && wants_aggregated(&req) => {
            let core = segs[0] == "api";
            let mut r = json_response(200, &aggregated_discovery(&store.registry(), core));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(AGGREGATED_V2));
            return Ok(r);
        }
        ["api"] if get => {
            let host = req
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
                .to_string();
            return Ok(json_response(
                200,
                &json!({"kind":"APIVersions","versions":["v1"],
                    "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":host}]}),
            ));
        }
        ["apis"] if get => return Ok(json_response(200, &api_group_list(&store.registry()))),
        ["apis", g] if get => {
            let reg = store.registry();
            return match reg.groups().into_iter().find(|(name, _)| name == g) {
                Some(gr) => Ok(json_response(200, &api_group(&gr))),
                None => Err(status::not_found_path()),
            };
        }
        ["api", "v1"] if get => {
            return Ok(json_response(
                200,
                &resource_list(&store.registry(), "", "v1"),
            ));
        }
        ["apis", g, v] if get => {
            let reg = store.registry();
            if !reg.all().any(|t| t.group == *g && t.version == *v) {
                return Err(status::not_found_path());
            }
            return Ok(json_response(200, &resource_list(&reg, g, v)));
        }
        ["openapi", "v3"] if get => {
            return Ok(json_response(200, &openapi_index(&store.registry())));
        }
        ["openapi", "v3", "api", "v1"] if get => return openapi_gv(&store.registry(), "", "v1"),
        ["openapi", "v3", "apis", g, v] if get => return openapi_gv(&store.registry(), g, v),
        _ => {}
    }
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(status::not_found_path()),
    };
    let (watch_path, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    // Split namespace / resource / name / subresource.
    let (ns, resource, name, sub): (Option<&str>, &str, Option<&str>, Option<&str>) = match rest {
        ["namespaces", ns, res, tail @ ..] if *res != "status" && *res != "finalize" => {
            (Some(ns), res, tail.first().copied(), tail.get(1).copied())
        }
        [res, tail @ ..] => (None, res, tail.first().copied(), tail.get(1).copied()),
        [] => return Err(status::not_found_path()),
    };
    let registry = store.registry();
    let t = registry
        .by_resource(group, version, resource)
        .ok_or_else(status::not_found_path)?;
    if ns.is_some() && !t.namespaced {
        return Err(status::not_found_path());
    }
    if sub == Some("scale") && has_scale(&t) {
        let (Some(ns), Some(name)) = (ns, name) else {
            return Err(status::not_found_path());
        };
        let actor = actor_of(&req);
        let q = Query::parse(req.uri().query());
        return scale::handle(&store, &t, ns, name, req, &q, &actor).await;
    }
    let sub = match sub {
        None => Subresource::Main,
        Some("status") if t.status_subresource => Subresource::Status,
        Some("finalize") if t.kind == "Namespace" => Subresource::Main,
        Some(_) => return Err(status::not_found_path()),
    };
    let q = Query::parse(req.uri().query());
    let actor = actor_of(&req);
    let method = req.method().clone();
    match (method, name) {
        (Method::GET, None) => {
            if watch_path || q.flag("watch") {
                watch(&store, control, &t, ns, &q)
            } else {
                list(&store, &t, ns, &q)
            }
        }
        (Method::GET, Some(name)) => {
            if watch_path {
                let mut q = q;
                q.0.insert("fieldSelector".into(), format!("metadata.name={name}"));
                return watch(&store, control, &t, ns, &q);
            }
            let obj = store.get_typed(&t, ns, name)?;
            Ok(json_response(200, &obj))
        }
        (Method::POST, None) => {
            let ct = content_type(&req);
            let body = read_body(req).await?;
            let mut obj = decode_object(&ct, &body)?;
            check_type(&obj, &t)?;
            if let Some(ns) = ns {
                let body_ns = meta_str(&obj, "namespace");
                if !body_ns.is_empty() && body_ns != ns {
                    return Err(status::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                crate::store::meta_mut(&mut obj).insert("namespace".into(), json!(ns));
            }
            let opts = write_options(&q, &actor);
            let created = store.create_with(&actor, obj, &opts)?;
            Ok(json_response(201, &created))
        }
        (Method::PUT, Some(name)) => {
            let ct = content_type(&req);
            let body = read_body(req).await?;
            let mut obj = decode_object(&ct, &body)?;
            check_type(&obj, &t)?;
            let body_name = meta_str(&obj, "name");
            if body_name != name {
                return Err(status::bad_request(&format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            if let Some(ns) = ns {
                let body_ns = meta_str(&obj, "namespace");
                if !body_ns.is_empty() && body_ns != ns {
                    return Err(status::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                crate::store::meta_mut(&mut obj).insert("namespace".into(), json!(ns));
            }
            let opts = write_options(&q, &actor);
            let out = store.update_with(&actor, obj, sub, &opts)?;
            Ok(json_response(200, &out))
        }
        (Method::PATCH, Some(name)) => {
            let ct = content_type(&req);
            let media = ct.split(';').next().unwrap_or_default().trim().to_string();
            if t.custom && media == "application/strategic-merge-patch+json" {
                return Err(status::unsupported_media_type(&media));
            }
            if !matches!(
                media.as_str(),
                "application/json-patch+json"
                    | "application/merge-patch+json"
                    | "application/strategic-merge-patch+json"
                    | "application/apply-patch+yaml"
                    | "application/apply-patch+cbor"
            ) {
                return Err(status::unsupported_media_type(&media));
            }
            let body = read_body(req).await?;
            let force = q.get("force");
            if force.is_some() && media != "application/apply-patch+yaml" {
                return Err(status::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    vec![Cause::forbidden(
                        "force",
                        "may not be specified for non-apply patch",
                    )],
                ));
            }
            let patch = match media.as_str() {
                "application/json-patch+json" => Patch::Json(parse_json(&body)?),
                "application/merge-patch+json" => Patch::Merge(parse_json(&body)?),
                "application/strategic-merge-patch+json" => Patch::Strategic(parse_json(&body)?),
                _ => Patch::Apply {
                    body: parse_json_or_yaml(&body)?,
                    field_manager: q.get("fieldManager").unwrap_or_default().to_string(),
                    force: matches!(force, Some("true" | "1")),
                },
            };
            let opts = write_options(&q, &actor);
            let (out, created) = store.patch_with(&actor, &t, ns, name, patch, sub, &opts)?;
            Ok(json_response(if created { 201 } else { 200 }, &out))
        }
        (Method::DELETE, Some(name)) => {
            let ct = content_type(&req);
            let body = delete_body(&ct, read_body(req).await?)?;
            let opts = delete_options(&q, &body)?;
            let orphan_false = opts.orphan_dependents == Some(false);
            match store.delete_typed(&actor, &t, ns, name, &opts)? {
                DeleteOutcome::Deleted(obj) => {
                    if t.returns_deleted_object {
                        Ok(json_response(200, &obj))
                    } else {
                        Ok(json_response(
                            200,
                            &status::delete_success(
                                &GroupResource::of(&t),
                                name,
                                &meta_str(&obj, "uid"),
                            ),
                        ))
                    }
                }
                DeleteOutcome::Terminating(obj) => {
                    Ok(json_response(if orphan_false { 202 } else { 200 }, &obj))
                }
            }
        }
        (Method::DELETE, None) if is_namespace(&t) => Err(status::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
        (Method::DELETE, None) => {
            let ct = content_type(&req);
            let body = delete_body(&ct, read_body(req).await?)?;
            let opts = delete_options(&q, &body)?;
            let (items, _) =
                store.list_typed(&t, ns, q.get("labelSelector"), q.get("fieldSelector"))?;
            let mut deleted = Vec::new();
            for it in items {
                let n = meta_str(&it, "name");
                let itns = meta_str(&it, "namespace");
                let itns = if t.namespaced {
                    Some(itns.as_str())
                } else {
                    None
                };
                match store.delete_typed(&actor, &t, itns, &n, &opts) {
                    Ok(DeleteOutcome::Deleted(o)) | Ok(DeleteOutcome::Terminating(o)) => {
                        deleted.push(o)
                    }
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(
                200,
                &json!({"kind": t.list_kind(), "apiVersion": t.api_version(),
                    "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": deleted}),
            ))
        }
        (m, _) => Err(status::method_not_allowed(&format!(
            "the server does not allow this method on the requested resource ({m})"
        ))),
    }
}

/// The verbs discovery lists for `t`: Namespaces have no `deletecollection`.
fn verbs_of(t: &ResourceType) -> Vec<&'static str> {
    VERBS
        .iter()
        .copied()
        .filter(|v| !(is_namespace(t) && *v == "deletecollection"))
        .collect()
}

fn is_namespace(t: &ResourceType) -> bool {
    t.kind == "Namespace" && t.group.is_empty()
}

/// kube-apiserver's `storageVersionHash`: the first 8 bytes of the SHA-256
/// of `group/version/kind`, in base64 (clients use it to notice a change of
/// storage version).
fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine as _;
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{group}/{version}/{kind}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(&digest.as_ref()[..8])
}

/// Whether `t` serves the `scale` subresource (autoscaling/v1 Scale), as
/// kube-apiserver's apps/v1 Deployments, StatefulSets and ReplicaSets do.
fn has_scale(t: &ResourceType) -> bool {
    t.group == "apps" && matches!(t.kind.as_str(), "Deployment" | "StatefulSet" | "ReplicaSet")
}

fn content_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    req.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| status::bad_request(&format!("cannot read the request body: {e}")))
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| status::bad_request(&format!("error decoding patch: {e}")))
}

fn parse_json_or_yaml(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body).map_err(|_| status::bad_request("body is not UTF-8"))?;
    crate::yaml::parse(text).map_err(|e| status::bad_request(&format!("error decoding YAML: {e}")))
}

/// Decode a POST/PUT body by content type: JSON, YAML or protobuf.
fn decode_object(ct: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = ct.split(';').next().unwrap_or_default().trim();
    match media {
        "application/vnd.kubernetes.protobuf" => {
            crate::protobuf::decode(body).map_err(|e| match e {
                crate::protobuf::ProtobufError::Unsupported(_) => unsupported_body(&e.to_string()),
                other => status::bad_request(&other.to_string()),
            })
        }
        "application/yaml" => parse_json_or_yaml(body),
        "application/json" | "" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            status::bad_request(&format!("couldn't get version/kind; json parse error: {e}"))
        }),
        other => Err(ApiError {
            code: 415,
            reason: "UnsupportedMediaType".into(),
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"
            ),
            status: json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message": format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"),
                "reason":"UnsupportedMediaType","code":415}),
        }),
    }
}

fn unsupported_body(message: &str) -> ApiError {
    ApiError {
        code: 415,
        reason: "UnsupportedMediaType".into(),
        message: message.to_string(),
        status: json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message": message, "reason":"UnsupportedMediaType","code":415}),
    }
}

fn check_type(obj: &Value, t: &ResourceType) -> Result<(), ApiError> {
    let gvk = crate::store::gvk_of(obj);
    if gvk.kind.is_empty() {
        return Err(status::bad_request(
            "Object 'Kind' is missing in the request body",
        ));
    }
    if gvk.kind != t.kind || gvk.group != t.group {
        return Err(status::bad_request(&format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            obj.get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            t.api_version()
        )));
    }
    Ok(())
}

fn write_options(q: &Query, actor: &Actor) -> WriteOptions {
    WriteOptions {
        field_manager: Some(
            q.get("fieldManager")
                .map(str::to_string)
                .unwrap_or_else(|| actor.0.clone()),
        ),
        dry_run: q.get("dryRun") == Some("All"),
    }
}

/// A DELETE body as JSON bytes (protobuf DeleteOptions are converted).
fn delete_body(ct: &str, body: Bytes) -> Result<Bytes, ApiError> {
    if ct.starts_with("application/vnd.kubernetes.protobuf") && !body.is_empty() {
        let v = crate::protobuf::decode(&body).map_err(|e| status::bad_request(&e.to_string()))?;
        return Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()));
    }
    Ok(body)
}

fn delete_options(q: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let b: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| status::bad_request(&format!("error decoding DeleteOptions: {e}")))?
    };
    let s = |k: &str| -> Option<String> {
        b.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| q.get(k).map(str::to_string))
    };
    let policy = s("propagationPolicy");
    let orphan = b
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or_else(|| q.get("orphanDependents").map(|v| v == "true"));
    let grace = b
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| q.get("gracePeriodSeconds").and_then(|v| v.parse().ok()));
    let dry = match b.get("dryRun") {
        Some(Value::Array(a)) => a.iter().any(|x| x == "All"),
        _ => q.get("dryRun") == Some("All"),
    };
    let mut causes = Vec::new();
    if orphan.is_some() && policy.is_some() {
        causes.push(Cause::invalid(
            "propagationPolicy",
            &format!("\"{}\"", policy.clone().unwrap_or_default()),
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    let propagation = match policy.as_deref() {
        None => None,
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Background") => Some(Propagation::Background),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            causes.push(Cause::not_supported(
                "propagationPolicy",
                &format!("\"{other}\""),
                "\"Foreground\", \"Background\", \"Orphan\", \"nil\"",
            ));
            None
        }
    };
    if !causes.is_empty() {
        return Err(status::invalid("meta.k8s.io", "DeleteOptions", "", causes));
    }
    Ok(DeleteOptions {
        propagation,
        precondition_uid: b
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_resource_version: b
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        grace_period_seconds: grace,
        dry_run: dry,
        orphan_dependents: orphan,
    })
}

fn list(
    store: &Store,
    t: &ResourceType,
    ns: Option<&str>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    if q.get("sendInitialEvents").is_some() {
        return Err(status::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![Cause::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list",
            )],
        ));
    }
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (items, rv) = store.list_typed(t, ns, q.get("labelSelector"), q.get("fieldSelector"))?;
    // Pagination: the token carries the list RV and the last key returned. Later pages are read
    // from the current state (the real server reads its snapshot); a compacted RV gives 410.
    let (mut items, list_rv) = match q.get("continue").filter(|c| !c.is_empty()) {
        None => (items, rv),
        Some(c) => {
            let bad = || {
                status::bad_request(
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                )
            };
            let token: Value = b64
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(bad)?;
            let token_rv = token.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
            let start = token
                .get("start")
                .and_then(Value::as_str)
                .ok_or_else(bad)?
                .to_string();
            if token_rv < store.compacted_resource_version() {
                return Err(status::expired_message(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            let after: Vec<Value> = items.into_iter().filter(|o| item_key(o) > start).collect();
            (after, token_rv)
        }
    };
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if let Some(limit) = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        let last = items.last().map(item_key).unwrap_or_default();
        let token = json!({"v": "meta.k8s.io/v1", "rv": list_rv, "start": last});
        meta["continue"] = json!(b64.encode(serde_json::to_vec(&token).unwrap_or_default()));
        meta["remainingItemCount"] = json!(remaining);
    }
    Ok(json_response(
        200,
        &json!({"kind": t.list_kind(), "apiVersion": t.api_version(), "metadata": meta, "items": items}),
    ))
}

/// Sort key of a listed object (namespace, then name), as the storage orders them.
fn item_key(o: &Value) -> String {
    format!("{}/{}", meta_str(o, "namespace"), meta_str(o, "name"))
}

/// Convert a store event into what this watcher sees (§3.7 selector rules).
fn filter_event<'a>(
    ev: &'a WatchEvent,
    t: &ResourceType,
    ns: Option<&str>,
    ls: &LabelSelector,
    fs: &FieldSelector,
) -> Option<(&'static str, Cow<'a, Value>)> {
    if ev.gvk.group != t.group || ev.gvk.kind != t.kind {
        return None;
    }
    if let Some(ns) = ns
        && meta_str(&ev.object, "namespace") != ns
    {
        return None;
    }
    let m = |o: &Value| ls.matches(o) && fs.matches(o);
    let api_version = t.api_version();
    let with_v = |o: &'a Value| -> Cow<'a, Value> {
        if o.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str()) {
            Cow::Borrowed(o)
        } else {
            let mut o = o.clone();
            o["apiVersion"] = json!(api_version);
            Cow::Owned(o)
        }
    };
    match ev.kind {
        WatchEventType::Added => m(&ev.object).then(|| ("ADDED", with_v(&ev.object))),
        WatchEventType::Deleted => m(&ev.object).then(|| ("DELETED", with_v(&ev.object))),
        WatchEventType::Modified => {
            let new_m = m(&ev.object);
            let old_m = ev.old_object.as_ref().is_some_and(m);
            match (old_m, new_m) {
                (false, true) => Some(("ADDED", with_v(&ev.object))),
                (true, true) => Some(("MODIFIED", with_v(&ev.object))),
                (true, false) => {
                    let mut old = ev.old_object.clone().unwrap_or(Value::Null);
                    crate::store::meta_mut(&mut old).insert(
                        "resourceVersion".into(),
                        json!(ev.resource_version.to_string()),
                    );
                    old["apiVersion"] = json!(api_version);
                    Some(("DELETED", Cow::Owned(old)))
                }
                (false, false) => None,
            }
        }
    }
}

fn event_line(ty: &str, obj: &Value) -> Bytes {
    let mut v = Vec::with_capacity(512);
    v.extend_from_slice(b"{\"type\":\"");
    v.extend_from_slice(ty.as_bytes());
    v.extend_from_slice(b"\",\"object\":");
    let _ = serde_json::to_writer(&mut v, obj);
    v.extend_from_slice(b"}\n");
    Bytes::from(v)
}

fn watch(
    store: &Arc<Store>,
    control: &Control,
    t: &Arc<ResourceType>,
    ns: Option<&str>,
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    // Streaming lists (WatchList, on by default since 1.34): the current
    // state as ADDED events, then a BOOKMARK marking their end.
    let send_initial_events = match q.get("sendInitialEvents") {
        None => false,
        Some(value) => {
            let mut causes = Vec::new();
            if q.get("resourceVersionMatch") != Some("NotOlderThan") {
                causes.push(Cause::forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if !q.flag("allowWatchBookmarks") {
                causes.push(Cause::forbidden(
                    "allowWatchBookmarks",
                    "sendInitialEvents requires setting allowWatchBookmarks to true",
                ));
            }
            if !causes.is_empty() {
                let mut e = status::invalid("meta.k8s.io", "ListOptions", "", causes);
                if let Some(Value::Object(d)) = e.status.get_mut("details") {
                    d.remove("name");
                }
                return Err(e);
            }
            matches!(value, "true" | "1")
        }
    };
    let ls = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?;
    let fs = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), t)?;
    let from = match q.get("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(x) => Some(x.parse::<u64>().map_err(|_| {
            status::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![Cause::invalid(
                    "resourceVersion",
                    &format!("\"{x}\""),
                    "must be a non-negative integer",
                )],
            )
        })?),
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let bookmarks = q.flag("allowWatchBookmarks");
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    // With initial events the state is read now (not older than `from`).
    let start_from = if send_initial_events { None } else { from };
    match store.watch_start(t, ns, start_from) {
        Err(e) if e.code == 410 => {
            let _ = tx.try_send(event_line("ERROR", &e.status));
            drop(tx);
        }
        Err(e) => return Err(e),
        Ok(mut start) => {
            // A resourceVersion ahead of the store: only changes after it.
            start.rv = start.rv.max(from.unwrap_or(0));
            let t = t.clone();
            let ns = ns.map(str::to_string);
            let drops = Some(control.watch_drops());
            let drop_every = control.drop_interval();
            let bookmark_every = control.bookmark_interval();
            tokio::spawn(async move {
                run_watch(
                    tx,
                    start,
                    t,
                    ns,
                    ls,
                    fs,
                    timeout,
                    bookmarks.then_some(bookmark_every),
                    drops,
                    drop_every,
                    send_initial_events,
                )
                .await;
            });
        }
    }
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

#[allow(clippy::too_many_arguments)]
async fn run_watch(
    tx: mpsc::Sender<Bytes>,
    start: crate::store::WatchStart,
    t: Arc<ResourceType>,
    ns: Option<String>,
    ls: LabelSelector,
    fs: FieldSelector,
    timeout: Duration,
    bookmarks: Option<Duration>,
    drops: Option<broadcast::Receiver<()>>,
    drop_every: Option<Duration>,
    initial_events_end: bool,
) {
    let ns = ns.as_deref();
    let mut last_rv = start.rv;
    for ev in &start.initial {
        if let Some((ty, obj)) = filter_event(ev, &t, ns, &ls, &fs)
            && tx.send(event_line(ty, &obj)).await.is_err()
        {
            return;
        }
        last_rv = last_rv.max(ev.resource_version);
    }
    if initial_events_end {
        let bm = json!({"kind": t.kind, "apiVersion": t.api_version(),
            "metadata": {"resourceVersion": last_rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}});
        if tx.send(event_line("BOOKMARK", &bm)).await.is_err() {
            return;
        }
    }
    let mut live = start.live;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut drops = drops;
    let drop_at = tokio::time::sleep(drop_every.unwrap_or(Duration::from_secs(86_400 * 365)));
    tokio::pin!(drop_at);
    let mut bookmark_tick = tokio::time::interval(bookmarks.unwrap_or(Duration::from_secs(3600)));
    bookmark_tick.tick().await;
    loop {
        let dropped = async {
            match drops.as_mut() {
                Some(d) => {
                    let _ = d.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ev = live.recv() => match ev {
                Ok(ev) => {
                    if ev.resource_version <= start.rv {
                        continue;
                    }
                    last_rv = ev.resource_version;
                    if let Some((ty, obj)) = filter_event(&ev, &t, ns, &ls, &fs)
                        && tx.send(event_line(ty, &obj)).await.is_err() {
                            return;
                        }
                }
                Err(_) => return,
            },
            _ = &mut deadline => return,
            _ = &mut drop_at => return,
            _ = dropped => return,
            _ = bookmark_tick.tick(), if bookmarks.is_some() => {
                let bm = json!({"kind": t.kind, "apiVersion": t.api_version(),
                    "metadata": {"resourceVersion": last_rv.to_string()}});
                if tx.send(event_line("BOOKMARK", &bm)).await.is_err() {
                    return;
                }
            }
            _ = tx.closed() => return,
        }
    }
}

fn version() -> Value {
    json!({"major":"1","minor":KUBE_MINOR,"emulationMajor":"1","emulationMinor":KUBE_MINOR,
        "minCompatibilityMajor":"1","minCompatibilityMinor":"32",
        "gitVersion":KUBE_GIT_VERSION,"gitCommit":"0000000000000000000000000000000000000000",
        "gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24.0","compiler":"gc",
        "platform":"linux/amd64"})
}

fn api_group(g: &(String, Vec<String>)) -> Value {
    let versions: Vec<Value> =
        g.1.iter()
            .map(|v| json!({"groupVersion": format!("{}/{}", g.0, v), "version": v}))
            .collect();
    json!({"kind":"APIGroup","apiVersion":"v1","name":g.0,"versions":versions,"preferredVersion":versions[0].clone()})
}

fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|g| {
            let mut v = api_group(&g);
            if let Value::Object(m) = &mut v {
                m.remove("kind");
                m.remove("apiVersion");
            }
            v
        })
        .collect();
    json!({"kind":"APIGroupList","apiVersion":"v1","groups":groups})
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_list(reg: &Registry, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    let mut types: Vec<&Arc<ResourceType>> = reg
        .all()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    types.sort_by(|a, b| a.plural.cmp(&b.plural));
    for t in types {
        let mut r = json!({"name":t.plural,"singularName":t.singular,"namespaced":t.namespaced,"kind":t.kind,
            "verbs":verbs_of(t)});
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        r["storageVersionHash"] = json!(storage_version_hash(&t.group, &t.version, &t.kind));
        resources.push(r);
        if has_scale(t) {
            resources.push(json!({"name":format!("{}/scale", t.plural),"singularName":"","namespaced":t.namespaced,
                "group":"autoscaling","version":"v1","kind":"Scale","verbs":["get","patch","update"]}));
        }
        if t.status_subresource {
            resources.push(json!({"name":format!("{}/status", t.plural),"singularName":"","namespaced":t.namespaced,
                "kind":t.kind,"verbs":["get","patch","update"]}));
        }
        if t.kind == "Namespace" && t.group.is_empty() {
            resources.push(
                json!({"name":"namespaces/finalize","singularName":"","namespaced":false,
                "kind":"Namespace","verbs":["update"]}),
            );
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind":"APIResourceList","apiVersion":"v1","groupVersion":gv,"resources":resources})
}

/// Media type of aggregated discovery v2 (clients decide by the response Content-Type).
const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn wants_aggregated(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            let params: Vec<&str> = m.split(';').map(str::trim).collect();
            params.contains(&"g=apidiscovery.k8s.io")
                && params.contains(&"v=v2")
                && params.contains(&"as=APIGroupDiscoveryList")
        })
}

/// `/api` (core) or `/apis` (all other groups) as an APIGroupDiscoveryList.
fn aggregated_discovery(reg: &Registry, core: bool) -> Value {
    let mut items = Vec::new();
    for (group, versions) in reg.groups() {
        if group.is_empty() != core {
            continue;
        }
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| {
                let mut types: Vec<&Arc<ResourceType>> =
                    reg.all().filter(|t| t.group == group && t.version == *v).collect();
                types.sort_by(|a, b| a.plural.cmp(&b.plural));
                let resources: Vec<Value> = types
                    .iter()
                    .map(|t| {
                        // Built-in kinds leave group and version empty (they are the
                        // group's); CustomResourceDefinitions fill them in.
                        let kind = if t.custom {
                            json!({"group": t.group, "version": t.version, "kind": t.kind})
                        } else {
                            json!({"group": "", "version": "", "kind": t.kind})
                        };
                        let mut r = json!({"resource": t.plural, "responseKind": kind.clone(),
                            "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": t.singular, "verbs": verbs_of(t)});
                        if !t.short_names.is_empty() {
                            r["shortNames"] = json!(t.short_names);
                        }
                        if !t.categories.is_empty() {
                            r["categories"] = json!(t.categories);
                        }
                        let mut subs = Vec::new();
                        if has_scale(t) {
                            subs.push(json!({"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1","kind":"Scale"},"verbs":["get","patch","update"]}));
                        }
                        if t.status_subresource {
                            subs.push(json!({"subresource":"status","responseKind":kind.clone(),"verbs":["get","patch","update"]}));
                        }
                        if t.kind == "Namespace" && t.group.is_empty() {
                            subs.push(json!({"subresource":"finalize","responseKind":kind,"verbs":["update"]}));
                        }
                        if !subs.is_empty() {
                            r["subresources"] = Value::Array(subs);
                        }
                        r
                    })
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        items.push(
            // The core group's name is empty, so omitted (omitempty).
            if group.is_empty() {
                json!({"metadata": {"creationTimestamp": null}, "versions": versions})
            } else {
                json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
            },
        );
    }
    json!({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":items})
}

fn gv_hash(reg: &Registry, group: &str, version: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in reg
        .all()
        .filter(|t| t.group == group && t.version == version)
    {
        t.plural.hash(&mut h);
        t.kind.hash(&mut h);
        t.namespaced.hash(&mut h);
    }
    format!("{:016X}", h.finish())
}

fn openapi_index(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, versions) in reg.groups() {
        for v in versions {
            let key = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", gv_hash(reg, &g, &v))}),
            );
        }
    }
    json!({"paths": paths})
}

fn openapi_gv(reg: &Registry, group: &str, version: &str) -> Result<Response<Body>, ApiError> {
    let types: Vec<&Arc<ResourceType>> = reg
        .all()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return Err(status::not_found_path());
    }
    let mut paths = serde_json::Map::new();
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    for t in types {
        let p = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let op = json!({
            "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
            "parameters": [{"name":"fieldValidation","in":"query","schema":{"type":"string"}}],
            "responses": {"200": {"description": "OK"}}
        });
        paths.insert(p, json!({"patch": op.clone(), "put": op}));
    }
    Ok(json_response(
        200,
        &json!({"openapi":"3.0.0","info":{"title":"Kubernetes","version":KUBE_GIT_VERSION},"paths":paths}),
    ))
}

async fn sim_endpoint(
    req: Request<Incoming>,
    rest: &str,
    store: &Store,
    control: &Control,
    requests: &Requests,
) -> Response<Body> {
    let q = Query::parse(req.uri().query());
    let method = req.method().clone();
    let ok = || json_response(200, &json!({"ok": true}));
    match (method, rest) {
        (Method::GET, "log") => json_response(200, &json!(store.event_log())),
        (Method::GET, "requests") => json_response(200, &json!(requests.all())),
        (Method::GET, "faults") => json_response(200, &json!(control.faults())),
        (Method::PUT | Method::POST, "faults") => {
            let body = read_body(req).await.unwrap_or_default();
            match serde_json::from_slice::<Faults>(&body) {
                Ok(f) => {
                    control.set_faults(f);
                    ok()
                }
                Err(e) => error_response(&status::bad_request(&format!("bad faults: {e}"))),
            }
        }
        (Method::DELETE, "faults") => {
            control.clear_faults();
            ok()
        }
        (Method::POST, "gc/pause") => {
            control.set_gc_paused(true);
            ok()
        }
        (Method::POST, "gc/resume") => {
            control.set_gc_paused(false);
            ok()
        }
        (Method::PUT | Method::POST, "gc/delay") => {
            let ms = q.get("ms").and_then(|v| v.parse().ok()).unwrap_or(0);
            control.set_gc_delay(Duration::from_millis(ms));
            ok()
        }
        (Method::POST, "watches/drop") => {
            control.drop_watches();
            ok()
        }
        (Method::PUT | Method::POST, "watches/drop-every") => {
            let secs: f64 = q.get("seconds").and_then(|v| v.parse().ok()).unwrap_or(0.0);
            control.drop_watches_every((secs > 0.0).then(|| Duration::from_secs_f64(secs)));
            ok()
        }
        (Method::PUT | Method::POST, "watches/bookmark-interval") => {
            let ms = q.get("ms").and_then(|v| v.parse().ok()).unwrap_or(10_000);
            control.set_bookmark_interval(Duration::from_millis(ms));
            ok()
        }
        (Method::POST, "compact") => {
            store.compact();
            ok()
        }
        _ => error_response(&status::not_found_path()),
    }
}
