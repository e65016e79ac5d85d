//! `EphemeralRunnerSetReconciler` (ephemeralrunnerset_controller.go, 0.14.2;
//! 0.13.x has no Outdated phase, HEAD its own finalizer name).

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::names::*;
use super::version::ArcLine;
use crate::github::Credentials;

/// Child runners of a set, by phase (`newEphemeralRunnersByStates`).
#[derive(Default)]
struct Counts {
    pending: Vec<Value>,
    running: Vec<Value>,
    finished: Vec<Value>,
    failed: Vec<Value>,
    outdated: Vec<Value>,
    deleting: Vec<Value>,
    latest_patch_id: i64,
}

impl Counts {
    /// `scaleTotal`: failed runners count as present.
    fn scale_total(&self) -> i64 {
        as_i64(self.pending.len() + self.running.len() + self.failed.len())
    }

    /// `terminated()`: finished, failed and outdated runners.
    fn terminated(&self) -> impl Iterator<Item = &Value> {
        self.finished
            .iter()
            .chain(&self.failed)
            .chain(&self.outdated)
    }
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// By creation time (oldest first), ties by name.
fn by_age(v: &mut [Value]) {
    v.sort_by(|a, b| {
        (str_at(a, "/metadata/creationTimestamp"), name(a))
            .cmp(&(str_at(b, "/metadata/creationTimestamp"), name(b)))
    });
}

fn classify(children: Vec<Value>, with_outdated: bool) -> Counts {
    let mut c = Counts::default();
    for er in children {
        let patch_id = annotation(&er, ANN_PATCH_ID)
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0);
        c.latest_patch_id = c.latest_patch_id.max(patch_id);
        if is_deleting(&er) {
            c.deleting.push(er);
            continue;
        }
        match str_at(&er, "/status/phase") {
            "Running" => c.running.push(er),
            "Succeeded" => c.finished.push(er),
            "Failed" => c.failed.push(er),
            "Outdated" if with_outdated => c.outdated.push(er),
            _ => c.pending.push(er),
        }
    }
    for bucket in [&mut c.pending, &mut c.running] {
        by_age(bucket);
    }
    c
}

fn children(ctx: &Ctx<'_>, ers: &Value) -> Result<Vec<Value>, Failure> {
    let all = ctx
        .cached_list(&er_gvk(), namespace(ers), None)
        .map_err(|e| {
            Failure(format!(
                "failed to list child ephemeral runners: {}",
                e.message
            ))
        })?;
    Ok(all
        .into_iter()
        .filter(|er| {
            controller_owner(er)
                .is_some_and(|(kind, n, _)| kind == "EphemeralRunnerSet" && n == name(ers))
        })
        .collect())
}

/// Reconcile one EphemeralRunnerSet.
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(ers) = ctx.cached_get(&ers_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    let finalizer = ctx.version.ers_finalizer();
    if is_deleting(&ers) {
        if !has_finalizer(&ers, finalizer) {
            return Ok(Outcome::Done);
        }
        ctx.info("Deleting resources");
        let done = clean_up_ephemeral_runners(ctx, &ers)
            .inspect_err(|e| ctx.error("Failed to clean up EphemeralRunners", e))?;
        if !done {
            ctx.info("Waiting for resources to be deleted");
            return Ok(Outcome::Done);
        }
        ctx.info("Removing finalizer");
        // Only the finalizer of this version: on HEAD, a set created by 0.14.x
        // keeps `ephemeralrunner.actions.github.com/finalizer` for good.
        match ctx.remove_finalizer(&ers_gvk(), &ers, finalizer) {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => {
                ctx.error(
                    "Failed to update ephemeral runner set with removed finalizer",
                    &e.message,
                );
                return Err(e.into());
            }
        }
        ctx.info("Successfully removed finalizer after cleanup");
        return Ok(Outcome::Done);
    }
    if !has_finalizer(&ers, finalizer) {
        ctx.info("Adding finalizer");
        ctx.add_finalizers(&ers_gvk(), &ers, &[finalizer])
            .inspect_err(|e| {
                ctx.error(
                    "Failed to update ephemeral runner set with finalizer added",
                    &e.message,
                )
            })?;
        ctx.info("Successfully added finalizer");
        return Ok(Outcome::Done);
    }
    let with_outdated = ctx.version.line() != ArcLine::V0_13;
    if with_outdated && str_at(&ers, "/status/phase") == "Outdated" {
        ctx.info(
            "ephemeral runner set is outdated, waiting for autoscaling runner set to remove it",
        );
        return Ok(Outcome::Done);
    }

    ensure_proxy_secret(ctx, &ers)?;
    let counts = classify(children(ctx, &ers)?, with_outdated);
    ctx.info_kv(
        "Ephemeral runner counts",
        &[
            ("outdated", &counts.outdated.len().to_string()),
            ("pending", &counts.pending.len().to_string()),
            ("running", &counts.running.len().to_string()),
            ("finished", &counts.finished.len().to_string()),
            ("failed", &counts.failed.len().to_string()),
            ("deleting", &counts.deleting.len().to_string()),
        ],
    );
    let replicas = ers
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let patch_id = ers
        .pointer("/spec/patchID")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let total = counts.scale_total();
    let scaled = patch_id == 0 || patch_id != counts.latest_patch_id;
    if scaled {
        ctx.info_kv(
            "Scaling comparison",
            &[
                ("current", &total.to_string()),
                ("desired", &replicas.to_string()),
            ],
        );
        if total < replicas {
            let n = replicas - total;
            ctx.info_kv(
                "Creating new ephemeral runners (scale up)",
                &[("count", &n.to_string())],
            );
            create_ephemeral_runners(ctx, &ers, n, patch_id)?;
        } else if patch_id == 0 && total > replicas {
            let n = total - replicas;
            ctx.info_kv(
                "Deleting ephemeral runners (scale down)",
                &[("count", &n.to_string())],
            );
            delete_idle_ephemeral_runners(ctx, &ers, &counts, n)
                .inspect_err(|e| ctx.error("failed to delete idle runners", e))?;
        }
    }
    let mut status = json!({
        "currentReplicas": total,
        "pendingEphemeralRunners": as_i64(counts.pending.len()),
        "runningEphemeralRunners": as_i64(counts.running.len()),
        "failedEphemeralRunners": as_i64(counts.failed.len()),
    });
    if with_outdated {
        status["phase"] = json!(if counts.outdated.is_empty() {
            match str_at(&ers, "/status/phase") {
                "" => "Running",
                p => p,
            }
        } else {
            "Outdated"
        });
    }
    ctx.set_status(&ers, status).inspect_err(|e| {
        ctx.error(
            "Failed to update status with current runners count",
            &e.message,
        )
    })?;
    if scaled {
        // Deferred in upstream: finished runners go after the status update.
        for er in &counts.finished {
            ctx.info("Deleting finished ephemeral runner");
            if let Err(e) = ctx.delete_if_present(
                &er_gvk(),
                super::names::namespace(er),
                super::names::name(er),
            ) {
                ctx.error("failed to cleanup finished ephemeral runners", &e.message);
            }
        }
    }
    Ok(Outcome::Done)
}

fn create_ephemeral_runners(
    ctx: &Ctx<'_>,
    ers: &Value,
    count: i64,
    patch_id: i64,
) -> Result<(), Failure> {
    let mut spec = ers
        .pointer("/spec/ephemeralRunnerSpec")
        .cloned()
        .unwrap_or(json!({}));
    if spec.get("proxy").is_some_and(Value::is_object) {
        spec["proxySecretRef"] = json!(ers_proxy_secret_name(ers));
    }
    let mut labels = labels(ers);
    labels["app.kubernetes.io/component"] = json!("runner");
    let mut annotations = ers
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(json!({}));
    annotations[ANN_PATCH_ID] = json!(patch_id.to_string());
    let finalizers: Vec<&str> = if ctx.version.runner_finalizers_at_creation() {
        vec![ER_FINALIZER, ER_REGISTRATION_FINALIZER]
    } else {
        Vec::new()
    };
    let mut errors = Vec::new();
    for i in 0..count {
        let er = json!({
            "apiVersion": ARC_API_VERSION,
            "kind": "EphemeralRunner",
            "metadata": {
                "generateName": format!("{}-runner-", name(ers)),
                "namespace": namespace(ers),
                "labels": labels,
                "annotations": annotations,
                "finalizers": finalizers,
                "ownerReferences": [owner_ref(ers)],
            },
            "spec": spec,
        });
        ctx.info_kv(
            "Creating new ephemeral runner",
            &[
                ("progress", &(i + 1).to_string()),
                ("total", &count.to_string()),
            ],
        );
        match ctx.create(er) {
            Ok(created) => ctx.info_kv(
                "Created new ephemeral runner",
                &[("runner", super::names::name(&created))],
            ),
            Err(e) => {
                ctx.error("failed to make ephemeral runner", &e.message);
                errors.push(e.message);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure(errors.join("; ")))
    }
}

/// `deleteEphemeralRunnerWithActionsClient`: `Ok(true)` once removed and deleted.
fn delete_with_client(ctx: &Ctx<'_>, er: &Value, client: &Credentials) -> Result<bool, Failure> {
    let runner_id = er
        .pointer("/status/runnerId")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let name = super::names::name(er);
    match ctx.github.remove_runner(client, runner_id) {
        Ok(()) => {}
        Err(e) if e.is_job_still_running() => {
            ctx.info_kv(
                "Runner is still running a job, skipping deletion",
                &[("name", name), ("runnerId", &runner_id.to_string())],
            );
            return Ok(false);
        }
        Err(e) => return Err(Failure(e.to_string())),
    }
    ctx.info_kv(
        "Deleting ephemeral runner after removing from the service",
        &[("name", name), ("runnerId", &runner_id.to_string())],
    );
    ctx.delete_if_present(&er_gvk(), namespace(er), name)?;
    ctx.info_kv(
        "Deleted ephemeral runner",
        &[("name", name), ("runnerId", &runner_id.to_string())],
    );
    Ok(true)
}

/// `deleteIdleEphemeralRunners`: only registered runners without a job
/// leave, pending ones first, oldest first.
fn delete_idle_ephemeral_runners(
    ctx: &Ctx<'_>,
    ers: &Value,
    counts: &Counts,
    count: i64,
) -> Result<(), Failure> {
    if count <= 0 {
        return Ok(());
    }
    let candidates: Vec<&Value> = counts.pending.iter().chain(&counts.running).collect();
    if candidates.is_empty() {
        ctx.info("No pending or running ephemeral runners running at this time for scale down");
        return Ok(());
    }
    let client = ctx.actions_service(ers).map_err(|e| {
        Failure(format!(
            "failed to create actions client for ephemeral runner replica set: {e}"
        ))
    })?;
    let mut errors = Vec::new();
    let mut deleted = 0;
    for er in candidates {
        let runner_name = name(er);
        if er
            .pointer("/status/runnerId")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
        {
            ctx.info_kv(
                "Skipping ephemeral runner since it is not registered yet",
                &[("name", runner_name)],
            );
            continue;
        }
        if !str_at(er, "/status/jobId").is_empty() {
            ctx.info_kv(
                "Skipping ephemeral runner since it is running a job",
                &[
                    ("name", runner_name),
                    ("jobId", str_at(er, "/status/jobId")),
                ],
            );
            continue;
        }
        ctx.info_kv(
            "Removing the idle ephemeral runner",
            &[("name", runner_name)],
        );
        match delete_with_client(ctx, er, &client) {
            Ok(true) => {
                deleted += 1;
                if deleted == count {
                    break;
                }
            }
            Ok(false) => {}
            Err(e) => errors.push(e.0),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure(errors.join("; ")))
    }
}

/// §5.2 `cleanUpEphemeralRunners`; `true` when no child runner is left.
fn clean_up_ephemeral_runners(ctx: &Ctx<'_>, ers: &Value) -> Result<bool, Failure> {
    let list = children(ctx, ers)?;
    if list.is_empty() {
        clean_up_proxy_secret(ctx, ers)?;
        ctx.info("All ephemeral runners are deleted");
        return Ok(true);
    }
    let v013 = ctx.version.line() == ArcLine::V0_13;
    let c = classify(list, !v013);
    ctx.info_kv(
        "Clean up runner counts",
        &[
            ("pending", &c.pending.len().to_string()),
            ("running", &c.running.len().to_string()),
            ("finished", &c.finished.len().to_string()),
            ("failed", &c.failed.len().to_string()),
            ("deleting", &c.deleting.len().to_string()),
            ("outdated", &c.outdated.len().to_string()),
        ],
    );
    ctx.info(if v013 {
        "Cleanup finished or failed ephemeral runners"
    } else {
        "Cleanup terminated ephemeral runners"
    });
    let mut errors = Vec::new();
    for er in c.terminated() {
        ctx.info_kv("Deleting ephemeral runner", &[("name", name(er))]);
        if let Err(e) = ctx.delete_if_present(&er_gvk(), namespace(er), name(er)) {
            errors.push(e.message);
        }
    }
    if !errors.is_empty() {
        let f = Failure(errors.join("; "));
        ctx.error("Failed to delete ephemeral runners", &f);
        return Err(f);
    }
    if c.pending.is_empty() && c.running.is_empty() {
        return Ok(false);
    }
    let client = ctx.actions_service(ers)?;
    ctx.info("Cleanup pending or running ephemeral runners");
    for er in c.pending.iter().chain(&c.running) {
        ctx.info_kv(
            "Removing the ephemeral runner from the service",
            &[("name", name(er))],
        );
        if let Err(e) = delete_with_client(ctx, er, &client) {
            errors.push(e.0);
        }
    }
    if !errors.is_empty() {
        let f = Failure(errors.join("; "));
        ctx.error("Failed to remove ephemeral runners from the service", &f);
        return Err(f);
    }
    Ok(false)
}

/// The runner set's proxy Secret (`<ers>-<fnv8(ns)>-runner-proxy`), owned by the set.
fn ensure_proxy_secret(ctx: &Ctx<'_>, ers: &Value) -> Result<(), Failure> {
    let Some(proxy) = ers
        .pointer("/spec/ephemeralRunnerSpec/proxy")
        .filter(|p| p.is_object())
    else {
        return Ok(());
    };
    let secret_name = ers_proxy_secret_name(ers);
    if ctx
        .live_get(&core("Secret"), namespace(ers), &secret_name)
        .inspect_err(|e| ctx.error("Unable to get ephemeralRunnerSet proxy secret", &e.message))?
        .is_some()
    {
        return Ok(());
    }
    ctx.info("Creating a ephemeralRunnerSet proxy secret for the runner pods");
    let data = ctx
        .proxy_secret_data(namespace(ers), proxy, false)
        .inspect_err(|e| ctx.error("Unable to create ephemeralRunnerSet proxy secret", e))?;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": secret_name, "namespace": namespace(ers),
            "labels": {
                "actions.github.com/scale-set-name": label(ers, "actions.github.com/scale-set-name").unwrap_or(""),
                "actions.github.com/scale-set-namespace": label(ers, "actions.github.com/scale-set-namespace").unwrap_or(""),
            },
            "ownerReferences": [owner_ref(ers)],
        },
        "stringData": data,
    });
    ctx.info("Creating new proxy secret");
    ctx.create(secret)
        .inspect_err(|e| ctx.error("failed to create proxy secret", &e.message))?;
    ctx.info("Created new proxy secret");
    Ok(())
}

/// `cleanUpProxySecret`: delete the set's proxy Secret once its runners are gone.
fn clean_up_proxy_secret(ctx: &Ctx<'_>, ers: &Value) -> Result<(), Failure> {
    if ers
        .pointer("/spec/ephemeralRunnerSpec/proxy")
        .is_none_or(|p| !p.is_object())
    {
        return Ok(());
    }
    ctx.info("Deleting proxy secret");
    ctx.delete_if_present(&core("Secret"), namespace(ers), &ers_proxy_secret_name(ers))
        .map_err(|e| Failure(format!("failed to delete proxy secret: {}", e.message)))?;
    ctx.info("Deleted proxy secret");
    Ok(())
}
