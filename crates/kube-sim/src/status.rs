//! `Status` bodies shaped like kube-apiserver's (apimachinery `errors.go`).

use serde_json::{Value, json};

use crate::api::ApiError;
use crate::registry::ResourceType;

/// Identifies the resource an error is about: group and plural (`details.group`/`details.kind`).
#[derive(Clone, Debug)]
pub struct GroupResource {
    /// API group ("" for core).
    pub group: String,
    /// Plural resource.
    pub resource: String,
}

impl GroupResource {
    /// From a resource type.
    pub fn of(t: &ResourceType) -> Self {
        Self {
            group: t.group.clone(),
            resource: t.plural.clone(),
        }
    }

    /// Core group resource.
    pub fn core(resource: &str) -> Self {
        Self {
            group: String::new(),
            resource: resource.to_string(),
        }
    }

    /// `configmaps` or `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

fn failure(code: u16, reason: &str, message: String, details: Option<Value>) -> ApiError {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    });
    if let Some(d) = details {
        status["details"] = d;
    }
    status["code"] = json!(code);
    ApiError {
        code,
        reason: reason.to_string(),
        message,
        status,
    }
}

fn details(gr: &GroupResource, name: &str) -> Value {
    let mut d = serde_json::Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !gr.group.is_empty() {
        d.insert("group".into(), json!(gr.group));
    }
    d.insert("kind".into(), json!(gr.resource));
    Value::Object(d)
}

fn details_with_uid(gr: &GroupResource, name: &str, uid: &str) -> Value {
    let mut d = details(gr, name);
    if let Value::Object(m) = &mut d {
        m.insert("uid".into(), json!(uid));
    }
    d
}

/// 404 NotFound: `configmaps "a" not found`.
pub fn not_found(gr: &GroupResource, name: &str) -> ApiError {
    failure(
        404,
        "NotFound",
        format!("{} \"{}\" not found", gr.qualified(), name),
        Some(details(gr, name)),
    )
}

/// 409 AlreadyExists: `configmaps "a" already exists`.
pub fn already_exists(gr: &GroupResource, name: &str, terminating: bool) -> ApiError {
    let prefix = if terminating {
        "object is being deleted: "
    } else {
        ""
    };
    failure(
        409,
        "AlreadyExists",
        format!("{prefix}{} \"{}\" already exists", gr.qualified(), name),
        Some(details(gr, name)),
    )
}

/// 409 Conflict with a custom explanation: `Operation cannot be fulfilled on configmaps "a": <why>`.
pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> ApiError {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{}\": {}",
            gr.qualified(),
            name,
            why
        ),
        Some(details(gr, name)),
    )
}

/// The optimistic-lock message.
pub const OPTIMISTIC_LOCK: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// 409 stale resourceVersion.
pub fn stale(gr: &GroupResource, name: &str) -> ApiError {
    conflict(gr, name, OPTIMISTIC_LOCK)
}

/// 410 Expired: `too old resource version: 5 (10)`.
pub fn expired(requested: u64, oldest: u64) -> ApiError {
    failure(
        410,
        "Expired",
        format!("too old resource version: {requested} ({oldest})"),
        None,
    )
}

/// 410 Gone for an expired continue token.
pub fn expired_message(message: &str) -> ApiError {
    failure(410, "Expired", message.to_string(), None)
}

/// One field error of a 422.
#[derive(Clone, Debug)]
pub struct Cause {
    /// `FieldValueForbidden`, `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: &'static str,
    /// Field path.
    pub field: String,
    /// Message, e.g. `Forbidden: no new finalizers ...`.
    pub message: String,
}

impl Cause {
    /// A Forbidden field error.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }
    /// A Required field error.
    pub fn required(field: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueRequired",
            field: field.into(),
            message: format!("Required value: {detail}"),
        }
    }
    /// An Invalid value field error.
    pub fn invalid(field: &str, value: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {value}: {detail}"),
        }
    }
    /// A NotSupported field error.
    pub fn not_supported(field: &str, value: &str, supported: &str) -> Self {
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!("Unsupported value: {value}: supported values: {supported}"),
        }
    }
}

/// 422 Invalid: `ConfigMap "a" is invalid: <field>: <msg>` (details.kind is the Kind).
pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> ApiError {
    let msgs: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    let joined = if msgs.len() == 1 {
        msgs[0].clone()
    } else {
        format!("[{}]", msgs.join(", "))
    };
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut d = serde_json::Map::new();
    d.insert("name".into(), json!(name));
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(kind));
    d.insert(
        "causes".into(),
        Value::Array(
            causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect(),
        ),
    );
    failure(
        422,
        "Invalid",
        format!("{qualified} \"{name}\" is invalid: {joined}"),
        Some(Value::Object(d)),
    )
}

/// 400 BadRequest.
pub fn bad_request(message: &str) -> ApiError {
    failure(400, "BadRequest", message.to_string(), None)
}

/// 401 Unauthorized, as the API server answers a request without valid credentials.
pub fn unauthorized() -> ApiError {
    failure(401, "Unauthorized", "Unauthorized".to_string(), None)
}

/// 403 Forbidden: `configmaps "a" is forbidden: <why>`.
pub fn forbidden(gr: &GroupResource, name: &str, why: &str) -> ApiError {
    let msg = if name.is_empty() {
        format!("{} is forbidden: {}", gr.qualified(), why)
    } else {
        format!("{} \"{}\" is forbidden: {}", gr.qualified(), name, why)
    };
    failure(403, "Forbidden", msg, Some(details(gr, name)))
}

/// 403 for new content in a terminating namespace (NamespaceLifecycle admission).
pub fn namespace_terminating(gr: &GroupResource, name: &str, namespace: &str) -> ApiError {
    let why = format!(
        "unable to create new content in namespace {namespace} because it is being terminated"
    );
    let mut e = forbidden(gr, name, &why);
    e.status["details"]["causes"] = json!([{
        "reason": "NamespaceTerminating",
        "message": why,
        "field": "metadata.namespace"
    }]);
    e
}

/// 405 MethodNotAllowed.
pub fn method_not_allowed(message: &str) -> ApiError {
    failure(405, "MethodNotAllowed", message.to_string(), None)
}

/// 415 UnsupportedMediaType.
pub fn unsupported_media_type(content_type: &str) -> ApiError {
    failure(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type})"
        ),
        None,
    )
}

/// 500 InternalError.
pub fn internal(message: &str) -> ApiError {
    failure(
        500,
        "InternalError",
        format!("Internal error occurred: {message}"),
        Some(json!({"causes":[{"message": message}]})),
    )
}

/// 503 ServiceUnavailable (injected fault).
pub fn service_unavailable(message: &str) -> ApiError {
    failure(503, "ServiceUnavailable", message.to_string(), None)
}

/// 429 TooManyRequests (injected fault), with `details.retryAfterSeconds`.
pub fn too_many_requests(retry_after: u64) -> ApiError {
    failure(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later".to_string(),
        Some(json!({"retryAfterSeconds": retry_after})),
    )
}

/// 404 for an unknown path or type.
pub fn not_found_path() -> ApiError {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource".to_string(),
        Some(json!({})),
    )
}

/// The Success Status of an immediate delete.
pub fn delete_success(gr: &GroupResource, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details_with_uid(gr, name, uid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_the_apiserver_body() {
        let e = not_found(&GroupResource::core("configmaps"), "a");
        assert_eq!(
            e.status,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message":"configmaps \"a\" not found","reason":"NotFound",
                "details":{"name":"a","kind":"configmaps"},"code":404})
        );
        let e = not_found(
            &GroupResource {
                group: "apps".into(),
                resource: "deployments".into(),
            },
            "x",
        );
        assert_eq!(e.message, "deployments.apps \"x\" not found");
        assert_eq!(e.status["details"]["group"], "apps");
    }

    #[test]
    fn invalid_finalizer_message_matches() {
        let e = invalid(
            "",
            "ConfigMap",
            "a",
            vec![Cause::forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, found new finalizers []string{\"x\"}",
            )],
        );
        assert_eq!(
            e.message,
            "ConfigMap \"a\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"x\"}"
        );
        assert_eq!(
            e.status["details"]["causes"][0]["reason"],
            "FieldValueForbidden"
        );
        assert_eq!(e.code, 422);
    }
}
