//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`): the
//! `k8s\0` envelope around `runtime.Unknown`, decoded for the kinds Helm's
//! release storage writes (Secret, ConfigMap) into the JSON the store keeps.

use std::collections::BTreeMap;

use base64::Engine;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value, json};

/// The 4-byte magic in front of every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("provided protobuf is not a Kubernetes object: missing the k8s\\0 prefix")]
    NoMagic,
    /// The envelope or the object did not decode.
    #[error("unable to decode protobuf: {0}")]
    Decode(String),
    /// A kind the simulator does not decode from protobuf.
    #[error(
        "protobuf bodies are supported for Secret, ConfigMap, Namespace, ServiceAccount and DeleteOptions only, got {0}"
    )]
    Unsupported(String),
}

fn meta_to_json(m: &ObjectMeta) -> Value {
    let mut out = Map::new();
    let mut s = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.insert(k.to_string(), json!(v));
        }
    };
    s("name", &m.name);
    s("generateName", &m.generate_name);
    s("namespace", &m.namespace);
    s("uid", &m.uid);
    s("resourceVersion", &m.resource_version);
    if let Some(g) = m.generation.filter(|g| *g != 0) {
        out.insert("generation".into(), json!(g));
    }
    let map = |b: &BTreeMap<String, String>| {
        Value::Object(b.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    };
    if !m.labels.is_empty() {
        out.insert("labels".into(), map(&m.labels));
    }
    if !m.annotations.is_empty() {
        out.insert("annotations".into(), map(&m.annotations));
    }
    if !m.finalizers.is_empty() {
        out.insert("finalizers".into(), json!(m.finalizers));
    }
    if !m.owner_references.is_empty() {
        let refs: Vec<Value> = m
            .owner_references
            .iter()
            .map(|r| {
                let mut o = json!({
                    "apiVersion": r.api_version.clone().unwrap_or_default(),
                    "kind": r.kind.clone().unwrap_or_default(),
                    "name": r.name.clone().unwrap_or_default(),
                    "uid": r.uid.clone().unwrap_or_default(),
                });
                if let Some(c) = r.controller {
                    o["controller"] = json!(c);
                }
                if let Some(b) = r.block_owner_deletion {
                    o["blockOwnerDeletion"] = json!(b);
                }
                o
            })
            .collect();
        out.insert("ownerReferences".into(), Value::Array(refs));
    }
    Value::Object(out)
}

/// Decode a protobuf body into a JSON object with `apiVersion`/`kind`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::NoMagic)?;
    let unknown = Unknown::decode(rest).map_err(|e| ProtobufError::Decode(e.to_string()))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            let s = k8s_pb::api::core::v1::Secret::decode(raw.as_slice())
                .map_err(|e| ProtobufError::Decode(e.to_string()))?;
            let mut o = json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": meta_to_json(&s.metadata.unwrap_or_default())});
            if !s.data.is_empty() {
                o["data"] = Value::Object(
                    s.data
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(b64(v))))
                        .collect(),
                );
            }
            if !s.string_data.is_empty() {
                o["stringData"] = Value::Object(
                    s.string_data
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(v)))
                        .collect(),
                );
            }
            if let Some(t) = s.r#type.filter(|t| !t.is_empty()) {
                o["type"] = json!(t);
            }
            if let Some(i) = s.immutable {
                o["immutable"] = json!(i);
            }
            Ok(o)
        }
        ("v1", "ConfigMap") => {
            let c = k8s_pb::api::core::v1::ConfigMap::decode(raw.as_slice())
                .map_err(|e| ProtobufError::Decode(e.to_string()))?;
            let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": meta_to_json(&c.metadata.unwrap_or_default())});
            if !c.data.is_empty() {
                o["data"] =
                    Value::Object(c.data.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
            }
            if !c.binary_data.is_empty() {
                o["binaryData"] = Value::Object(
                    c.binary_data
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(b64(v))))
                        .collect(),
                );
            }
            if let Some(i) = c.immutable {
                o["immutable"] = json!(i);
            }
            Ok(o)
        }
        ("v1", "Namespace") => {
            let n = k8s_pb::api::core::v1::Namespace::decode(raw.as_slice())
                .map_err(|e| ProtobufError::Decode(e.to_string()))?;
            let mut o = json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": meta_to_json(&n.metadata.unwrap_or_default())});
            if let Some(spec) = n.spec.filter(|s| !s.finalizers.is_empty()) {
                o["spec"] = json!({"finalizers": spec.finalizers});
            }
            Ok(o)
        }
        ("v1", "ServiceAccount") => {
            let sa = k8s_pb::api::core::v1::ServiceAccount::decode(raw.as_slice())
                .map_err(|e| ProtobufError::Decode(e.to_string()))?;
            let mut o = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": meta_to_json(&sa.metadata.unwrap_or_default())});
            if let Some(a) = sa.automount_service_account_token {
                o["automountServiceAccountToken"] = json!(a);
            }
            if !sa.image_pull_secrets.is_empty() {
                o["imagePullSecrets"] = Value::Array(
                    sa.image_pull_secrets
                        .iter()
                        .map(|r| json!({"name": r.name.clone().unwrap_or_default()}))
                        .collect(),
                );
            }
            Ok(o)
        }
        (_, "DeleteOptions") => {
            let d =
                k8s_pb::apimachinery::pkg::apis::meta::v1::DeleteOptions::decode(raw.as_slice())
                    .map_err(|e| ProtobufError::Decode(e.to_string()))?;
            let mut o = json!({"kind": "DeleteOptions", "apiVersion": api_version});
            if let Some(g) = d.grace_period_seconds {
                o["gracePeriodSeconds"] = json!(g);
            }
            if let Some(p) = d.preconditions {
                let mut pre = Map::new();
                if let Some(u) = p.uid {
                    pre.insert("uid".into(), json!(u));
                }
                if let Some(r) = p.resource_version {
                    pre.insert("resourceVersion".into(), json!(r));
                }
                o["preconditions"] = Value::Object(pre);
            }
            if let Some(x) = d.orphan_dependents {
                o["orphanDependents"] = json!(x);
            }
            if let Some(p) = d.propagation_policy {
                o["propagationPolicy"] = json!(p);
            }
            if !d.dry_run.is_empty() {
                o["dryRun"] = json!(d.dry_run);
            }
            Ok(o)
        }
        _ => Err(ProtobufError::Unsupported(format!("{api_version}/{kind}"))),
    }
}

/// Encode a Secret as client-go would (used by tests).
pub fn encode_secret(
    name: &str,
    namespace: &str,
    labels: &[(&str, &str)],
    data: &[(&str, &[u8])],
    ty: &str,
) -> Vec<u8> {
    let secret = k8s_pb::api::core::v1::Secret {
        metadata: Some(ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }),
        data: data
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect(),
        r#type: Some(ty.into()),
        ..Default::default()
    };
    let unknown = Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some("v1".into()),
            kind: Some("Secret".into()),
        }),
        raw: Some(secret.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// Encode DeleteOptions as client-go would (used by tests).
pub fn encode_delete_options(propagation: Option<&str>, uid: Option<&str>) -> Vec<u8> {
    let d = k8s_pb::apimachinery::pkg::apis::meta::v1::DeleteOptions {
        propagation_policy: propagation.map(str::to_string),
        preconditions: uid.map(
            |u| k8s_pb::apimachinery::pkg::apis::meta::v1::Preconditions {
                uid: Some(u.into()),
                resource_version: None,
            },
        ),
        ..Default::default()
    };
    let unknown = Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some("meta.k8s.io/v1".into()),
            kind: Some("DeleteOptions".into()),
        }),
        raw: Some(d.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trips_to_json() {
        let body = encode_secret(
            "sh.helm.release.v1.r.v1",
            "default",
            &[("owner", "helm")],
            &[("release", b"H4sI")],
            "helm.sh/release.v1",
        );
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.r.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(
            v["data"]["release"],
            base64::engine::general_purpose::STANDARD.encode(b"H4sI")
        );
        assert_eq!(v["type"], "helm.sh/release.v1");
        assert!(matches!(decode(b"{}"), Err(ProtobufError::NoMagic)));
        let d = decode(&encode_delete_options(Some("Background"), Some("u1"))).unwrap();
        assert_eq!(d["propagationPolicy"], "Background");
        assert_eq!(d["preconditions"]["uid"], "u1");
    }
}
