//! `AutoscalingListenerReconciler` (autoscalinglistener_controller.go, 0.14.2),
//! plus the listener process itself (it scales the EphemeralRunnerSet).

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::names::*;
use kube_sim::api::{Actor, Gvk, Patch};

/// Reconcile one AutoscalingListener (in the controller namespace).
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(listener) = ctx.cached_get(&listener_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    if is_deleting(&listener) {
        if !has_finalizer(&listener, LISTENER_FINALIZER) {
            return Ok(Outcome::Done);
        }
        ctx.info("Deleting resources");
        let done = cleanup_resources(ctx, &listener)
            .inspect_err(|e| ctx.error("Failed to cleanup resources after deletion", e))?;
        if !done {
            ctx.info("Waiting for resources to be deleted before removing finalizer");
            return Ok(Outcome::RequeueAfter(ctx.timing.listener_requeue));
        }
        ctx.info("Removing finalizer");
        match ctx.remove_finalizer(&listener_gvk(), &listener, LISTENER_FINALIZER) {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => {
                ctx.error("Failed to remove finalizer", &e.message);
                return Err(e.into());
            }
        }
        ctx.info("Successfully removed finalizer after cleanup");
        return Ok(Outcome::Done);
    }
    if !has_finalizer(&listener, LISTENER_FINALIZER) {
        ctx.info("Adding finalizer");
        ctx.add_finalizers(&listener_gvk(), &listener, &[LISTENER_FINALIZER])
            .inspect_err(|e| ctx.error("Failed to add finalizer", &e.message))?;
        ctx.info("Successfully added finalizer");
        return Ok(Outcome::Done);
    }
    // The runner set must exist: a listener whose runner set is gone (an
    // orphan of a renamed listener, #4629) fails here on every pass.
    let ars = ctx
        .cached_get(
            &ars_gvk(),
            runner_ns(&listener),
            str_at(&listener, "/spec/autoscalingRunnerSetName"),
        )?
        .ok_or_else(|| {
            let f = Failure(format!(
                "autoscalingrunnersets.actions.github.com \"{}\" not found",
                str_at(&listener, "/spec/autoscalingRunnerSetName")
            ));
            ctx.error("Failed to find AutoscalingRunnerSet.", &f);
            f
        })?;
    ctx.app_config_check(&ars)
        .inspect_err(|e| ctx.error("Failed to get app config for AutoscalingRunnerSet.", e))?;
    ensure_resources(ctx, &listener, &ars)?;
    scale_runner_set(ctx, &listener)?;
    Ok(Outcome::Done)
}

fn runner_ns(listener: &Value) -> &str {
    str_at(listener, "/spec/autoscalingRunnerSetNamespace")
}

fn listener_labels(listener: &Value) -> Value {
    let mut l = labels(listener);
    if let Some(map) = l.as_object_mut() {
        map.insert(LABEL_LISTENER_NAME.to_string(), json!(name(listener)));
        map.insert(
            LABEL_LISTENER_NAMESPACE.to_string(),
            json!(namespace(listener)),
        );
    }
    l
}

fn owned_by_listener(
    listener: &Value,
    api_version: &str,
    kind: &str,
    name: &str,
    extra: Value,
) -> Value {
    let mut obj = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace(listener),
            "labels": labels(listener),
            "ownerReferences": [owner_ref(listener)],
        },
    });
    if let (Some(map), Some(extra)) = (obj.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            map.insert(k.clone(), v.clone());
        }
    }
    obj
}

/// `rulesForListenerRole`.
fn listener_role_rules(ers: &str) -> Value {
    json!([
        {"apiGroups": [ARC_GROUP], "resources": ["ephemeralrunnersets"], "resourceNames": [ers], "verbs": ["patch"]},
        {"apiGroups": [ARC_GROUP], "resources": ["ephemeralrunners", "ephemeralrunners/status"], "verbs": ["patch"]},
    ])
}

/// Create what the listener needs, one missing piece per pass like the real reconciler.
fn ensure_resources(ctx: &Ctx<'_>, listener: &Value, ars: &Value) -> Result<(), Failure> {
    let ns = namespace(listener);
    let lname = name(listener);
    let rns = runner_ns(listener);

    if ctx
        .cached_get(&core("ServiceAccount"), ns, lname)?
        .is_none()
    {
        ctx.info("Creating a service account for the listener pod");
        ctx.create(owned_by_listener(
            listener,
            "v1",
            "ServiceAccount",
            lname,
            json!({}),
        ))
        .inspect_err(|e| ctx.error("Unable to create listener service account", &e.message))?;
        return Ok(());
    }
    let rules = listener_role_rules(str_at(listener, "/spec/ephemeralRunnerSetName"));
    let rules_hash = template_hash(&rules);
    match ctx.cached_get(&rbac("Role"), rns, lname)? {
        None => {
            ctx.info("Creating a role for the listener pod");
            let mut labels = listener_labels(listener);
            labels["role-policy-rules-hash"] = json!(rules_hash);
            let role = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": lname, "namespace": rns, "labels": labels},
                "rules": rules,
            });
            ctx.create(role)
                .inspect_err(|e| ctx.error("Unable to create listener role", &e.message))?;
            return Ok(());
        }
        Some(role) if label(&role, "role-policy-rules-hash") != Some(rules_hash.as_str()) => {
            ctx.info("Updating the listener role with the up-to-date rules");
            ctx.merge_patch(
                &rbac("Role"),
                rns,
                lname,
                json!({"metadata": {"labels": {"role-policy-rules-hash": rules_hash}}, "rules": rules}),
            )
            .inspect_err(|e| ctx.error("Unable to update listener role", &e.message))?;
            return Ok(());
        }
        Some(_) => {}
    }
    if ctx.cached_get(&rbac("RoleBinding"), rns, lname)?.is_none() {
        ctx.info("Creating a role binding for the service account and role");
        let rb = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": lname, "namespace": rns, "labels": listener_labels(listener)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": lname},
            "subjects": [{"kind": "ServiceAccount", "name": lname, "namespace": ns}],
        });
        ctx.create(rb)
            .inspect_err(|e| ctx.error("Unable to create listener role binding", &e.message))?;
        return Ok(());
    }
    let proxy = listener.pointer("/spec/proxy").filter(|p| p.is_object());
    let proxy_name = format!("{lname}-proxy");
    if let Some(proxy) = proxy
        && ctx.live_get(&core("Secret"), ns, &proxy_name)?.is_none()
    {
        ctx.info("Creating a listener proxy secret for the listener pod");
        let data = ctx.proxy_secret_data(rns, proxy, true)?;
        let secret = owned_by_listener(
            listener,
            "v1",
            "Secret",
            &proxy_name,
            json!({"stringData": data}),
        );
        ctx.create(secret)
            .inspect_err(|e| ctx.error("Unable to create listener secret", &e.message))?;
        return Ok(());
    }
    if listener
        .pointer("/spec/githubServerTLS")
        .is_some_and(|t| !t.is_null())
    {
        ctx.tls_certificate(ars).map_err(|e| {
            Failure(format!(
                "failed to build GitHub server TLS certificate value for listener config: {e}"
            ))
        })?;
    }
    let config_name = format!("{lname}-config");
    if ctx.live_get(&core("Secret"), ns, &config_name)?.is_none() {
        ctx.info("Creating listener config secret");
        let config = json!({
            "configureUrl": str_at(listener, "/spec/githubConfigUrl"),
            "ephemeralRunnerSetNamespace": rns,
            "ephemeralRunnerSetName": str_at(listener, "/spec/ephemeralRunnerSetName"),
            "runnerScaleSetId": listener.pointer("/spec/runnerScaleSetId").cloned().unwrap_or(Value::Null),
            "minRunners": listener.pointer("/spec/minRunners").cloned().unwrap_or(json!(0)),
        });
        let secret = owned_by_listener(
            listener,
            "v1",
            "Secret",
            &config_name,
            json!({"stringData": {"config.json": config.to_string()}}),
        );
        ctx.create(secret)
            .inspect_err(|e| ctx.error("Failed to reconcile listener config secret", &e.message))?;
        return Ok(());
    }
    if ctx.cached_get(&core("Pod"), ns, lname)?.is_none() {
        ctx.info("Creating a listener pod");
        let pod = owned_by_listener(
            listener,
            "v1",
            "Pod",
            lname,
            json!({"spec": {
                "serviceAccountName": lname,
                "restartPolicy": "Never",
                "containers": [{
                    "name": "listener",
                    "image": str_at(listener, "/spec/image"),
                    "command": ["/ghalistener"],
                    "env": [{"name": "LISTENER_CONFIG_PATH", "value": "/etc/gha-listener/config.json"}],
                }],
            }}),
        );
        let created = ctx
            .create(super::kubelet::schedule(pod, ctx.timing))
            .inspect_err(|e| ctx.error("Unable to create listener pod", &e.message))?;
        super::kubelet::run(ctx.api, &created);
        ctx.info("Created listener pod");
    }
    Ok(())
}

/// The listener process: keeps the EphemeralRunnerSet at `minRunners`
/// (no job demand is simulated), with the listener's own identity.
fn scale_runner_set(ctx: &Ctx<'_>, listener: &Value) -> Result<(), Failure> {
    if ctx
        .cached_get(&core("Pod"), namespace(listener), name(listener))?
        .is_none()
    {
        return Ok(());
    }
    let rns = runner_ns(listener);
    let ers_name = str_at(listener, "/spec/ephemeralRunnerSetName");
    let Some(ers) = ctx.cached_get(&ers_gvk(), rns, ers_name)? else {
        return Ok(());
    };
    let min = listener
        .pointer("/spec/minRunners")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if is_deleting(&ers) || ers.pointer("/spec/replicas").and_then(Value::as_i64) == Some(min) {
        return Ok(());
    }
    let actor = Actor(format!(
        "system:serviceaccount:{}:{}",
        namespace(listener),
        name(listener)
    ));
    ctx.api.patch(
        &actor,
        &ers_gvk(),
        Some(rns),
        ers_name,
        Patch::Merge(json!({"spec": {"replicas": min}})),
    )?;
    Ok(())
}

/// §5.4: delete pod, config secret, proxy secret, listener RoleBinding and
/// Role (runner namespace), ServiceAccount; done when all are NotFound.
fn cleanup_resources(ctx: &Ctx<'_>, listener: &Value) -> Result<bool, Failure> {
    let ns = namespace(listener);
    let lname = name(listener);
    let rns = runner_ns(listener);
    let mut requeue = false;

    let mut step = |gvk: Gvk,
                    obj_ns: &str,
                    obj_name: &str,
                    live: bool,
                    deleting_msg: &str,
                    what: &str|
     -> Result<(), Failure> {
        let found = if live {
            ctx.live_get(&gvk, obj_ns, obj_name)
        } else {
            ctx.cached_get(&gvk, obj_ns, obj_name)
        };
        match found {
            Ok(None) => Ok(()),
            Ok(Some(obj)) => {
                requeue = true;
                if is_deleting(&obj) {
                    return Ok(());
                }
                ctx.info(deleting_msg);
                ctx.delete_if_present(&gvk, obj_ns, obj_name)
                    .map_err(|e| Failure(format!("failed to delete {what}: {}", e.message)))
            }
            Err(e) => Err(Failure(format!("failed to get {what}: {}", e.message))),
        }
    };

    ctx.info("Cleaning up the listener pod");
    step(
        core("Pod"),
        ns,
        lname,
        false,
        "Deleting the listener pod",
        "listener pod",
    )?;
    ctx.info("Listener pod is deleted");
    step(
        core("Secret"),
        ns,
        &format!("{lname}-config"),
        true,
        "Deleting the listener config secret",
        "listener config secret",
    )?;
    if listener
        .pointer("/spec/proxy")
        .is_some_and(|p| !p.is_null())
    {
        ctx.info("Cleaning up the listener proxy secret");
        step(
            core("Secret"),
            ns,
            &format!("{lname}-proxy"),
            true,
            "Deleting the listener proxy secret",
            "listener proxy secret",
        )?;
    }
    ctx.info("Cleaning up the listener role binding");
    step(
        rbac("RoleBinding"),
        rns,
        lname,
        false,
        "Deleting the listener role binding",
        "listener role binding",
    )?;
    ctx.info("Cleaning up the listener role");
    step(
        rbac("Role"),
        rns,
        lname,
        false,
        "Deleting the listener role",
        "listener role",
    )?;
    ctx.info("Cleaning up the listener service account");
    step(
        core("ServiceAccount"),
        ns,
        lname,
        false,
        "Deleting the listener service account",
        "listener service account",
    )?;
    Ok(!requeue)
}
