//! The RBAC ARC's controller needs in a runner namespace to finalize a runner
//! set, and pure checks that the manager Role/RoleBinding really grant it to
//! the running controller. Upstream authorises the controller in a runner
//! namespace only through the chart's manager RoleBinding, which must bind the
//! ServiceAccount the controller runs as (the Deployment's
//! `actions.github.com/controller-service-account-name/-namespace` labels;
//! upstream #3012) to the manager Role.

use serde_json::Value;

/// `(API group, resource, verbs)` the cleanup calls in the runner namespace:
/// delete the listener's Role/RoleBinding, delete runner pods and their JIT
/// Secrets, read the GitHub Secret, and patch `cleanup-protection` away from
/// the chart's RoleBinding, Role, ServiceAccounts and Secret.
pub const CLEANUP_NEEDS: &[(&str, &str, &[&str])] = &[
    ("", "pods", &["delete"]),
    ("", "secrets", &["get", "delete", "patch"]),
    ("", "serviceaccounts", &["get", "patch"]),
    (
        "rbac.authorization.k8s.io",
        "roles",
        &["get", "delete", "patch"],
    ),
    (
        "rbac.authorization.k8s.io",
        "rolebindings",
        &["get", "delete", "patch"],
    ),
];

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn grants(rules: &Value, group: &str, resource: &str, verb: &str) -> bool {
    rules.as_array().is_some_and(|rules| {
        rules.iter().any(|rule| {
            let groups = strings(rule.get("apiGroups"));
            let resources = strings(rule.get("resources"));
            let verbs = strings(rule.get("verbs"));
            // resourceNames limit a rule to named objects: ARC's objects have generated names.
            let unnamed = strings(rule.get("resourceNames")).is_empty();
            unnamed
                && groups.iter().any(|g| *g == group || *g == "*")
                && resources.iter().any(|r| *r == resource || *r == "*")
                && verbs.iter().any(|v| *v == verb || *v == "*")
        })
    })
}

/// What the Role (its JSON) lacks of [`CLEANUP_NEEDS`], as `verb resource` lines.
pub fn missing_grants(role: &Value) -> Vec<String> {
    let rules = role.get("rules").cloned().unwrap_or(Value::Null);
    let mut missing = Vec::new();
    for (group, resource, verbs) in CLEANUP_NEEDS {
        let lacking: Vec<&str> = verbs
            .iter()
            .copied()
            .filter(|v| !grants(&rules, group, resource, v))
            .collect();
        if !lacking.is_empty() {
            missing.push(format!("{} {resource}", lacking.join("/")));
        }
    }
    missing
}

/// Whether a RoleBinding (its JSON) binds ServiceAccount `namespace/name`.
pub fn binds_service_account(binding: &Value, namespace: &str, name: &str) -> bool {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .is_some_and(|subjects| {
            subjects.iter().any(|s| {
                let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
                field("kind") == "ServiceAccount"
                    && field("name") == name
                    && field("namespace") == namespace
            })
        })
}

/// The Role a RoleBinding grants (`roleRef.kind == Role`), if any.
pub fn bound_role(binding: &Value) -> Option<&str> {
    let role_ref = binding.get("roleRef")?;
    (role_ref.get("kind").and_then(Value::as_str) == Some("Role"))
        .then(|| role_ref.get("name").and_then(Value::as_str))
        .flatten()
}

/// The ServiceAccounts a RoleBinding binds, as `namespace/name`.
pub fn bound_service_accounts(binding: &Value) -> Vec<String> {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .map(|subjects| {
            subjects
                .iter()
                .filter(|s| s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
                .map(|s| {
                    format!(
                        "{}/{}",
                        s.get("namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                        s.get("name").and_then(Value::as_str).unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart_role() -> Value {
        json!({"rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete", "get"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete", "get", "list", "patch", "update"]},
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["create", "delete", "get", "list", "patch", "update"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create", "delete", "get", "patch", "update"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create", "delete", "get", "patch", "update"]},
        ]})
    }

    #[test]
    fn the_chart_role_grants_what_cleanup_needs() {
        assert!(missing_grants(&chart_role()).is_empty());
        assert!(
            missing_grants(
                &json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
            )
            .is_empty()
        );
    }

    #[test]
    fn a_trimmed_role_is_named() {
        let mut role = chart_role();
        role["rules"][2]["verbs"] = json!(["get"]);
        role["rules"][5]["resourceNames"] = json!(["only-this"]);
        assert_eq!(
            missing_grants(&role),
            vec!["delete/patch secrets", "get/delete/patch roles"]
        );
        assert_eq!(missing_grants(&json!({})).len(), CLEANUP_NEEDS.len());
    }

    #[test]
    fn binding_subjects_and_role() {
        let rb = json!({"roleRef": {"kind": "Role", "name": "m"},
            "subjects": [{"kind": "ServiceAccount", "name": "arc-gha-rs-controller", "namespace": "arc-systems"}]});
        assert!(binds_service_account(
            &rb,
            "arc-systems",
            "arc-gha-rs-controller"
        ));
        assert!(!binds_service_account(&rb, "arc-systems", "other"));
        assert_eq!(bound_role(&rb), Some("m"));
        assert_eq!(
            bound_service_accounts(&rb),
            vec!["arc-systems/arc-gha-rs-controller"]
        );
        assert_eq!(
            bound_role(&json!({"roleRef": {"kind": "ClusterRole", "name": "m"}})),
            None
        );
    }
}
