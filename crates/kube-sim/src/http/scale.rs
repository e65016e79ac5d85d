//! The `scale` subresource (autoscaling/v1 `Scale`) of apps/v1 Deployments,
//! StatefulSets and ReplicaSets, as kube-apiserver serves it: a view of the
//! parent's `spec.replicas`, `status.replicas` and label selector. GET reads
//! it; PUT and PATCH write `spec.replicas` of the parent (which bumps its
//! generation). `kubectl scale deploy X --replicas=0` PATCHes it.

use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Map, Value, json};

use super::{Body, Query, content_type, json_response, parse_json, read_body, write_options};
use crate::api::{Actor, ApiError};
use crate::patch;
use crate::registry::ResourceType;
use crate::status::{self, Cause, GroupResource};
use crate::store::{Store, Subresource};

/// Serves GET, PUT and PATCH of `NAME/scale` for the parent type `t`.
pub(super) async fn handle(
    store: &Store,
    t: &ResourceType,
    ns: &str,
    name: &str,
    req: Request<Incoming>,
    q: &Query,
    actor: &Actor,
) -> Result<Response<Body>, ApiError> {
    let method = req.method().clone();
    match method {
        Method::GET => {
            let parent = store.get_typed(t, Some(ns), name)?;
            Ok(json_response(200, &scale_of(&parent)))
        }
        Method::PUT => {
            let ct = content_type(&req);
            let body = read_body(req).await?;
            if !ct.starts_with("application/json") {
                return Err(status::unsupported_media_type(&ct));
            }
            let wanted = parse_json(&body)?;
            let parent = store.get_typed(t, Some(ns), name)?;
            write(store, t, name, parent, &wanted, q, actor)
        }
        Method::PATCH => {
            let ct = content_type(&req);
            let media = ct.split(';').next().unwrap_or_default().trim().to_string();
            let body = read_body(req).await?;
            let patch_body = parse_json(&body)?;
            let parent = store.get_typed(t, Some(ns), name)?;
            let current = scale_of(&parent);
            let patched = match media.as_str() {
                "application/json-patch+json" => patch::json_patch(&current, &patch_body),
                "application/merge-patch+json" => patch::merge_patch(&current, &patch_body),
                "application/strategic-merge-patch+json" => {
                    patch::strategic_merge(&current, &patch_body)
                }
                _ => return Err(status::unsupported_media_type(&media)),
            }
            .map_err(|e| status::bad_request(&e.to_string()))?;
            write(store, t, name, parent, &patched, q, actor)
        }
        m => Err(status::method_not_allowed(&format!(
            "the server does not allow this method on the requested resource ({m})"
        ))),
    }
}

/// Validates `wanted` (a Scale) and writes its replicas into `parent`.
#[allow(clippy::too_many_arguments)]
fn write(
    store: &Store,
    t: &ResourceType,
    name: &str,
    mut parent: Value,
    wanted: &Value,
    q: &Query,
    actor: &Actor,
) -> Result<Response<Body>, ApiError> {
    let body_name = wanted
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if body_name != name {
        return Err(status::bad_request(&format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let replicas = wanted
        .pointer("/spec/replicas")
        .map(|v| v.as_i64().ok_or(v))
        .transpose()
        .map_err(|v| {
            status::invalid(
                "autoscaling",
                "Scale",
                name,
                vec![Cause::invalid(
                    "spec.replicas",
                    &v.to_string(),
                    "must be an integer",
                )],
            )
        })?
        .unwrap_or(0);
    if replicas < 0 {
        return Err(status::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![Cause::invalid(
                "spec.replicas",
                &replicas.to_string(),
                "must be greater than or equal to 0",
            )],
        ));
    }
    // The Scale's resourceVersion, when given, is a precondition on the parent.
    if let Some(rv) = wanted
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && !rv.is_empty()
    {
        parent["metadata"]["resourceVersion"] = json!(rv);
    }
    parent["spec"]["replicas"] = json!(replicas);
    let opts = write_options(q, actor);
    let updated = store
        .update_with(actor, parent, Subresource::Main, &opts)
        .map_err(|e| {
            if e.code == 404 {
                status::not_found(&GroupResource::of(t), name)
            } else {
                e
            }
        })?;
    Ok(json_response(200, &scale_of(&updated)))
}

/// The autoscaling/v1 Scale of a Deployment, StatefulSet or ReplicaSet.
fn scale_of(parent: &Value) -> Value {
    let meta = &parent["metadata"];
    let mut metadata = Map::new();
    for key in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(key) {
            metadata.insert(key.into(), v.clone());
        }
    }
    let replicas = parent
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    // autoscaling/v1 ScaleSpec.replicas is omitempty: 0 is left out.
    let spec = if replicas == 0 {
        json!({})
    } else {
        json!({ "replicas": replicas })
    };
    let status_replicas = parent
        .pointer("/status/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "replicas": status_replicas,
            "selector": selector_string(parent.pointer("/spec/selector")),
        },
    })
}

/// A label selector as `labels.Selector.String()` prints it: requirements
/// sorted by key, `k=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`.
fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return String::new();
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or_default();
            requirements.push((k.clone(), format!("{k}={v}")));
        }
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e["key"].as_str().unwrap_or_default().to_string();
            let mut values: Vec<&str> = e["values"]
                .as_array()
                .map(|vs| vs.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            values.sort_unstable();
            let text = match e["operator"].as_str().unwrap_or_default() {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.clone(),
                "DoesNotExist" => format!("!{key}"),
                _ => continue,
            };
            requirements.push((key, text));
        }
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_print_as_kubernetes_does() {
        let s = json!({"matchLabels": {"tier": "a", "app": "web"},
            "matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["q", "p"]},
                {"key": "b", "operator": "Exists"},
                {"key": "c", "operator": "DoesNotExist"},
                {"key": "d", "operator": "NotIn", "values": ["y", "x"]}]});
        assert_eq!(
            selector_string(Some(&s)),
            "app=web,b,!c,d notin (x,y),tier=a,zone in (p,q)"
        );
        assert_eq!(selector_string(None), "");
    }

    #[test]
    fn zero_replicas_are_left_out_of_the_scale_spec() {
        let parent = json!({"metadata": {"name": "web", "namespace": "n", "uid": "u",
            "resourceVersion": "7", "generation": 3}, "spec": {"replicas": 0}});
        let scale = scale_of(&parent);
        assert_eq!(scale["spec"], json!({}));
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
        assert!(scale["metadata"].get("generation").is_none());
        assert_eq!(scale["status"], json!({"replicas": 0, "selector": ""}));
    }
}
