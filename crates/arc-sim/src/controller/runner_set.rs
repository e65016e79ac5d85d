//! `AutoscalingRunnerSetReconciler` (autoscalingrunnerset_controller.go):
//! 0.14.2 step by step, with the 0.13.x and HEAD differences marked.

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::names::*;
use super::version::ArcLine;
use crate::github::DEFAULT_RUNNER_GROUP;

/// ARS `status.phase` values (0.14.0+).
const PHASE_PENDING: &str = "Pending";
const PHASE_RUNNING: &str = "Running";
const PHASE_OUTDATED: &str = "Outdated";

/// Reconcile one AutoscalingRunnerSet.
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(ars) = ctx.cached_get(&ars_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    // The deletion branch runs before the version check, so a controller of
    // another version still cleans up a runner set that has its finalizer.
    if is_deleting(&ars) {
        return finalize(ctx, &ars);
    }
    let version = label(&ars, LABEL_VERSION).unwrap_or("");
    if !ctx.version.allows(version) {
        // Before the finalizer is added: a runner set that never got it is
        // deleted without any cleanup.
        match ctx.delete(&ars_gvk(), namespace, name) {
            Ok(_) => ctx.info_kv(
                "Autoscaling runner set version doesn't match the build version. Deleting the resource.",
                &[
                    ("buildVersion", ctx.version.as_str()),
                    ("autoscalingRunnerSetVersion", version),
                ],
            ),
            Err(e) => ctx.error(
                "Failed to delete autoscaling runner set on version mismatch",
                &e.message,
            ),
        }
        return Ok(Outcome::Done);
    }
    let mut ars = ars;
    if !has_finalizer(&ars, ARS_FINALIZER) {
        ctx.info("Adding finalizer");
        ars = ctx
            .add_finalizers(&ars_gvk(), &ars, &[ARS_FINALIZER])
            .map_err(|e| {
                ctx.error(
                    "Failed to update autoscaling runner set with finalizer added",
                    &e.message,
                );
                Failure(e.message)
            })?;
        ctx.info("Successfully added finalizer");
        // 0.14.x goes on in the same pass; 0.13.x and HEAD return.
        if ctx.version.line() != ArcLine::V0_14 {
            return Ok(Outcome::Done);
        }
    }
    match ctx.version.line() {
        ArcLine::V0_13 => reconcile_live(ctx, ars, false),
        ArcLine::V0_14 => reconcile_live(ctx, ars, true),
        ArcLine::Head => reconcile_head(ctx, ars),
    }
}

/// `AutoscalingRunnerSet.Hash()`: spec and labels.
fn change_hash(ars: &Value) -> String {
    template_hash(&json!({"spec": ars.get("spec"), "labels": ars.pointer("/metadata/labels")}))
}

/// `ListenerSpecHash()`: the whole spec.
pub(crate) fn listener_spec_hash(ars: &Value) -> String {
    template_hash(ars.get("spec").unwrap_or(&Value::Null))
}

/// `RunnerSetSpecHash()`: what the runners are built from.
pub(crate) fn runner_set_spec_hash(ars: &Value) -> String {
    let spec = ars.get("spec").cloned().unwrap_or(json!({}));
    template_hash(&json!({
        "githubConfigUrl": spec.get("githubConfigUrl"),
        "githubConfigSecret": spec.get("githubConfigSecret"),
        "runnerGroup": spec.get("runnerGroup"),
        "runnerScaleSetName": spec.get("runnerScaleSetName"),
        "proxy": spec.get("proxy"),
        "githubServerTLS": spec.get("githubServerTLS"),
        "template": spec.get("template"),
    }))
}

/// The non-deletion path of 0.13.1 (`with_phase == false`) and 0.14.2.
fn reconcile_live(ctx: &Ctx<'_>, mut ars: Value, with_phase: bool) -> Reconciled {
    let ns = namespace(&ars).to_string();
    if with_phase {
        let target = change_hash(&ars);
        if annotation(&ars, ANN_CHANGE_HASH) != Some(target.as_str()) {
            ars = ctx
                .merge_patch(
                    &ars_gvk(),
                    &ns,
                    name(&ars),
                    json!({"metadata": {"annotations": {ANN_CHANGE_HASH: target}}}),
                )
                .inspect_err(|e| {
                    ctx.error(
                        "Failed to update autoscaling runner set with change hash annotation",
                        &e.message,
                    )
                })?;
            ars = update_status(ctx, &ars, None, Some(PHASE_PENDING)).inspect_err(|e| {
                ctx.error(
                    "Failed to update autoscaling runner set status to pending",
                    e,
                )
            })?;
        }
    }
    let mut outdated = with_phase && str_at(&ars, "/status/phase") == PHASE_OUTDATED;

    if !outdated {
        let id = annotation(&ars, ANN_SCALE_SET_ID);
        if id.is_none() {
            ctx.info(
                "Runner scale set id annotation does not exist. Creating a new runner scale set.",
            );
            return create_runner_scale_set(ctx, &ars);
        }
        if id
            .and_then(|s| s.parse::<i64>().ok())
            .is_none_or(|id| id <= 0)
        {
            ctx.info("Runner scale set id annotation is not an id, or is <= 0. Creating a new runner scale set.");
            return create_runner_scale_set(ctx, &ars);
        }
        let spec_group = str_at(&ars, "/spec/runnerGroup");
        let group_changed = annotation(&ars, ANN_RUNNER_GROUP_NAME)
            .is_none_or(|g| !spec_group.is_empty() && !g.eq_ignore_ascii_case(spec_group));
        if group_changed {
            ctx.info("AutoScalingRunnerSet runner group changed. Updating the runner scale set.");
            return update_runner_scale_set(ctx, &ars, true);
        }
        let spec_name = str_at(&ars, "/spec/runnerScaleSetName");
        let name_changed = annotation(&ars, ANN_SCALE_SET_NAME)
            .is_none_or(|n| !spec_name.is_empty() && !n.eq_ignore_ascii_case(spec_name));
        if name_changed {
            ctx.info("AutoScalingRunnerSet runner scale set name changed. Updating the runner scale set.");
            return update_runner_scale_set(ctx, &ars, false);
        }
    }

    let sets = owned_runner_sets(ctx, &ars).inspect_err(|e| {
        ctx.error("Failed to list existing ephemeral runner sets", e);
    })?;
    let latest = sets.first();
    if latest.is_none() && !outdated {
        ctx.info("Latest runner set does not exist. Creating a new runner set.");
        return create_ephemeral_runner_set(ctx, &ars);
    }
    for ers in &sets {
        ctx.info_kv(
            "Find existing ephemeral runner set",
            &[
                ("name", name(ers)),
                (
                    "specHash",
                    annotation(ers, ANN_RUNNER_SPEC_HASH).unwrap_or(""),
                ),
            ],
        );
    }
    outdated = outdated
        || (with_phase && latest.is_some_and(|l| str_at(l, "/status/phase") == PHASE_OUTDATED));

    let listener_name = ctx.listener_name(&ars);
    let listener = ctx.cached_get(&listener_gvk(), &ctx.ident.namespace, &listener_name)?;
    if listener.is_none() {
        ctx.info("AutoscalingListener does not exist.");
    }

    if outdated {
        ctx.info("Ephemeral runner set is outdated");
        if str_at(&ars, "/status/phase") != PHASE_OUTDATED {
            ars = update_status(ctx, &ars, latest, Some(PHASE_OUTDATED)).inspect_err(|e| {
                ctx.error(
                    "Failed to update autoscaling runner set status to outdated",
                    e,
                )
            })?;
        }
        let done = clean_up_resources(ctx, &ars).inspect_err(|e| {
            ctx.error("Failed to clean up resources for outdated runner set", e)
        })?;
        if done {
            return Ok(Outcome::Done);
        }
        ctx.info("Waiting for resources to be cleaned up for outdated runner set");
        return Ok(Outcome::RequeueAfter(ctx.timing.ars_requeue));
    }
    let Some(latest) = latest else {
        return Ok(Outcome::Done);
    };

    if let Some(listener) = &listener {
        let values_changed =
            annotation(listener, ANN_VALUES_HASH) != annotation(&ars, ANN_VALUES_HASH);
        let spec_changed =
            annotation(listener, ANN_RUNNER_SPEC_HASH) != Some(listener_spec_hash(&ars).as_str());
        if values_changed || spec_changed {
            ctx.info_kv(
                "RunnerScaleSetListener is out of date. Deleting it so that it is recreated",
                &[("name", &listener_name)],
            );
            match ctx.delete(&listener_gvk(), &ctx.ident.namespace, &listener_name) {
                Ok(_) => {}
                Err(e) if e.code == 404 => return Ok(Outcome::Done),
                Err(e) => {
                    ctx.error("Failed to delete AutoscalingListener resource", &e.message);
                    return Err(e.into());
                }
            }
            ctx.info("Deleted RunnerScaleSetListener since existing one is out of date");
            return Ok(Outcome::Done);
        }
    }

    if annotation(latest, ANN_RUNNER_SPEC_HASH) != Some(runner_set_spec_hash(&ars).as_str()) {
        // The chart's default `--update-strategy=immediate`: no draining wait.
        ctx.info("Latest runner set spec hash does not match the current autoscaling runner set. Creating a new runner set");
        return create_ephemeral_runner_set(ctx, &ars);
    }

    let old = &sets[1..];
    if !old.is_empty() {
        ctx.info_kv(
            "Cleanup old ephemeral runner sets",
            &[("count", &old.len().to_string())],
        );
        delete_ephemeral_runner_sets(ctx, old).inspect_err(|e| {
            ctx.error("Failed to clean up old runner sets", e);
        })?;
    }

    if listener.is_none() {
        ctx.info_kv(
            "Creating a new AutoscalingListener for the runner set",
            &[("ephemeralRunnerSetName", name(latest))],
        );
        create_listener(ctx, &ars, latest, &listener_name)?;
        return Ok(Outcome::Done);
    }

    let phase = with_phase.then_some(PHASE_RUNNING);
    update_status(ctx, &ars, Some(latest), phase).inspect_err(|e| {
        ctx.error(
            "Failed to update autoscaling runner set status to running",
            e,
        )
    })?;
    Ok(Outcome::Done)
}

/// `updateStatus`: counts from the runner set, and `phase` (0.14+; `None`
/// on 0.13.x, whose status has no phase). Written only when something differs.
fn update_status(
    ctx: &Ctx<'_>,
    ars: &Value,
    ers: Option<&Value>,
    phase: Option<&str>,
) -> Result<Value, Failure> {
    let current = |p: &str| ars.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let from_ers = |p: &str| {
        ers.and_then(|e| e.pointer(p))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let count_diff =
        ers.is_some() && from_ers("/status/currentReplicas") != current("/status/currentRunners");
    let phase_diff = phase.is_some_and(|p| p != str_at(ars, "/status/phase"));
    if !count_diff && !phase_diff {
        return Ok(ars.clone());
    }
    let mut status = ars.get("status").cloned().unwrap_or(json!({}));
    if let Some(p) = phase {
        status["phase"] = json!(p);
    }
    status["currentRunners"] = json!(from_ers("/status/currentReplicas"));
    status["pendingEphemeralRunners"] = json!(from_ers("/status/pendingEphemeralRunners"));
    status["runningEphemeralRunners"] = json!(from_ers("/status/runningEphemeralRunners"));
    status["failedEphemeralRunners"] = json!(from_ers("/status/failedEphemeralRunners"));
    let mut updated = ars.clone();
    updated["status"] = status;
    ctx.api.update_status(&ctx.actor, updated).map_err(|e| {
        ctx.error(
            "Failed to update autoscaling runner set status with current runner count",
            &e.message,
        );
        Failure(e.message)
    })
}

/// EphemeralRunnerSets the runner set controls, newest first (`latest()`, `old()`).
fn owned_runner_sets(ctx: &Ctx<'_>, ars: &Value) -> Result<Vec<Value>, Failure> {
    let all = ctx
        .cached_list(&ers_gvk(), namespace(ars), None)
        .map_err(|e| {
            Failure(format!(
                "failed to list ephemeral runner sets: {}",
                e.message
            ))
        })?;
    let mut owned: Vec<Value> = all
        .into_iter()
        .filter(|e| {
            controller_owner(e)
                .is_some_and(|(kind, n, _)| kind == "AutoscalingRunnerSet" && n == name(ars))
        })
        .collect();
    // Newest first; the store's resourceVersion breaks creation-second ties.
    owned.sort_by_key(|e| {
        std::cmp::Reverse((
            str_at(e, "/metadata/creationTimestamp").to_string(),
            str_at(e, "/metadata/resourceVersion")
                .parse::<u64>()
                .unwrap_or(0),
        ))
    });
    Ok(owned)
}

/// The scale set name the runner set registers (`runnerScaleSetName`, else its name).
fn scale_set_name(ars: &Value) -> &str {
    match str_at(ars, "/spec/runnerScaleSetName") {
        "" => name(ars),
        n => n,
    }
}

/// The runner group the runner set asks for (`Default` when unset).
fn runner_group(ars: &Value) -> &str {
    match str_at(ars, "/spec/runnerGroup") {
        "" => DEFAULT_RUNNER_GROUP,
        g => g,
    }
}

fn create_runner_scale_set(ctx: &Ctx<'_>, ars: &Value) -> Reconciled {
    ctx.info("Creating a new runner scale set");
    let ns = namespace(ars);
    let client = ctx.actions_service(ars).inspect_err(|e| {
        ctx.error(
            "Failed to initialize Actions service client for creating a new runner scale set",
            e,
        );
    })?;
    let group = runner_group(ars);
    let scale_set_name = scale_set_name(ars);
    // Looked up by name first: two runner sets with the same name, group and
    // URL share one registration.
    let scale_set = match ctx
        .github
        .get_runner_scale_set(&client, group, scale_set_name)
        .inspect_err(|e| ctx.error("Failed to get runner scale set from Actions service", e))?
    {
        Some(ss) => ss,
        None => ctx
            .github
            .create_runner_scale_set(&client, group, scale_set_name)
            .inspect_err(|e| {
                ctx.error(
                    "Failed to create a new runner scale set on Actions service",
                    e,
                );
            })?,
    };
    ctx.info_kv(
        "Created/Reused a runner scale set",
        &[
            ("id", &scale_set.id.to_string()),
            ("runnerGroupName", &scale_set.runner_group),
        ],
    );
    ctx.info(
        "Adding runner scale set ID, name and runner group name as an annotation and url labels",
    );
    ctx.merge_patch(
        &ars_gvk(),
        ns,
        name(ars),
        json!({"metadata": {
            "annotations": {
                ANN_SCALE_SET_NAME: scale_set.name,
                ANN_SCALE_SET_ID: scale_set.id.to_string(),
                ANN_RUNNER_GROUP_NAME: scale_set.runner_group,
            },
            "labels": github_url_labels(str_at(ars, "/spec/githubConfigUrl")),
        }}),
    )
    .inspect_err(|e| {
        ctx.error(
            "Failed to add runner scale set ID, name and runner group name as an annotation",
            &e.message,
        )
    })?;
    ctx.info("Updated with runner scale set ID, name and runner group name as an annotation");
    Ok(Outcome::Done)
}

/// `applyGitHubURLLabels`: enterprise, organization and repository of the config URL.
fn github_url_labels(url: &str) -> Value {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split_once('/')
        .map_or("", |(_, p)| p);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut labels = serde_json::Map::new();
    match parts.as_slice() {
        ["enterprises", e, ..] => {
            labels.insert("actions.github.com/enterprise".into(), json!(e));
        }
        [org] => {
            labels.insert("actions.github.com/organization".into(), json!(org));
        }
        [org, repo, ..] => {
            labels.insert("actions.github.com/organization".into(), json!(org));
            labels.insert("actions.github.com/repository".into(), json!(repo));
        }
        _ => {}
    }
    Value::Object(labels)
}

/// `updateRunnerScaleSetRunnerGroup` (`group == true`) or `updateRunnerScaleSetName`.
fn update_runner_scale_set(ctx: &Ctx<'_>, ars: &Value, group: bool) -> Reconciled {
    let Some(id) = annotation(ars, ANN_SCALE_SET_ID).and_then(|s| s.parse::<i64>().ok()) else {
        ctx.error("Failed to parse runner scale set ID", &"invalid syntax");
        return Err(Failure("strconv.Atoi: invalid syntax".to_string()));
    };
    if !group && str_at(ars, "/spec/runnerScaleSetName").is_empty() {
        ctx.info("Runner scale set name is not specified, skipping");
        return Ok(Outcome::Done);
    }
    let client = ctx.actions_service(ars).inspect_err(|e| {
        ctx.error(
            "Failed to initialize Actions service client for updating a existing runner scale set",
            e,
        );
    })?;
    let (new_group, new_name) = if group {
        (Some(runner_group(ars)), None)
    } else {
        (None, Some(scale_set_name(ars)))
    };
    let updated = ctx
        .github
        .update_runner_scale_set(&client, id, new_group, new_name)
        .inspect_err(|e| ctx.error("Failed to update runner scale set", e))?;
    let mut annotations = json!({ANN_SCALE_SET_NAME: updated.name});
    if group {
        annotations[ANN_RUNNER_GROUP_NAME] = json!(updated.runner_group);
    }
    ctx.merge_patch(
        &ars_gvk(),
        namespace(ars),
        name(ars),
        json!({"metadata": {"annotations": annotations}}),
    )?;
    if group {
        ctx.info_kv(
            "Updated runner scale set with match runner group",
            &[("runnerGroup", &updated.runner_group)],
        );
    } else {
        ctx.info_kv(
            "Updated runner scale set with match name",
            &[("name", &updated.name)],
        );
    }
    Ok(Outcome::Done)
}

/// `newEphemeralRunnerSet`: 0.14.x and older use generateName `<ars>-`
/// and record `RunnerSetSpecHash`; HEAD names it after the runner set and
/// records the integrity hash of its runner spec.
fn desired_ephemeral_runner_set(ctx: &Ctx<'_>, ars: &Value) -> Result<Value, Failure> {
    let Some(scale_set_id) = annotation(ars, ANN_SCALE_SET_ID).and_then(|s| s.parse::<i64>().ok())
    else {
        ctx.error("Could not create EphemeralRunnerSet", &"invalid syntax");
        return Err(Failure("strconv.Atoi: invalid syntax".to_string()));
    };
    let mut labels = labels(ars);
    labels["app.kubernetes.io/part-of"] = json!("gha-runner-scale-set");
    labels["app.kubernetes.io/component"] = json!("runner-set");
    labels["actions.github.com/scale-set-name"] = json!(name(ars));
    labels["actions.github.com/scale-set-namespace"] = json!(namespace(ars));
    if let (Some(map), Some(url)) = (
        labels.as_object_mut(),
        github_url_labels(str_at(ars, "/spec/githubConfigUrl")).as_object(),
    ) {
        map.extend(url.clone());
    }
    let ers = json!({
        "apiVersion": ARC_API_VERSION,
        "kind": "EphemeralRunnerSet",
        "metadata": {
            "generateName": format!("{}-", name(ars)),
            "namespace": namespace(ars),
            "labels": labels,
            "annotations": {
                ANN_RUNNER_GROUP_NAME: annotation(ars, ANN_RUNNER_GROUP_NAME).unwrap_or(""),
                ANN_SCALE_SET_NAME: annotation(ars, ANN_SCALE_SET_NAME).unwrap_or(""),
                ANN_RUNNER_SPEC_HASH: runner_set_spec_hash(ars),
            },
            "ownerReferences": [owner_ref(ars)],
        },
        "spec": {
            "replicas": 0,
            "ephemeralRunnerSpec": {
                "runnerScaleSetId": scale_set_id,
                "githubConfigUrl": str_at(ars, "/spec/githubConfigUrl"),
                "githubConfigSecret": str_at(ars, "/spec/githubConfigSecret"),
                "proxy": ars.pointer("/spec/proxy").cloned().unwrap_or(Value::Null),
                "githubServerTLS": ars.pointer("/spec/githubServerTLS").cloned().unwrap_or(Value::Null),
                "vaultConfig": ars.pointer("/spec/vaultConfig").cloned().unwrap_or(Value::Null),
                "spec": ars.pointer("/spec/template/spec").cloned().unwrap_or(json!({})),
                "metadata": ars.pointer("/spec/template/metadata").cloned().unwrap_or(json!({})),
            },
        },
    });
    let mut ers = ers;
    if ctx.version.line() == ArcLine::Head {
        ers["metadata"]["name"] = json!(name(ars));
        if let Some(meta) = ers["metadata"].as_object_mut() {
            meta.remove("generateName");
        }
        if let Some(ann) = ers["metadata"]["annotations"].as_object_mut() {
            ann.remove(ANN_RUNNER_SPEC_HASH);
        }
        ers["metadata"]["annotations"][ANN_INTEGRITY_HASH] =
            json!(ers_integrity_hash(&ers["spec"]["ephemeralRunnerSpec"]));
    }
    Ok(ers)
}

/// HEAD's `ephemeralRunnerSetIntegrityHash`: of the runner spec.
pub(crate) fn ers_integrity_hash(ephemeral_runner_spec: &Value) -> String {
    template_hash(ephemeral_runner_spec)
}

fn create_ephemeral_runner_set(ctx: &Ctx<'_>, ars: &Value) -> Reconciled {
    let ers = desired_ephemeral_runner_set(ctx, ars)?;
    ctx.info("Creating a new EphemeralRunnerSet resource");
    let created = ctx
        .create(ers)
        .inspect_err(|e| ctx.error("Failed to create EphemeralRunnerSet resource", &e.message))?;
    ctx.info_kv(
        "Created a new EphemeralRunnerSet resource",
        &[("name", name(&created))],
    );
    Ok(Outcome::Done)
}

fn create_listener(
    ctx: &Ctx<'_>,
    ars: &Value,
    ers: &Value,
    listener_name: &str,
) -> Result<(), Failure> {
    let scale_set_id = annotation(ars, ANN_SCALE_SET_ID)
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    let mut labels = labels(ars);
    labels["actions.github.com/scale-set-namespace"] = json!(namespace(ars));
    labels["actions.github.com/scale-set-name"] = json!(name(ars));
    labels["app.kubernetes.io/part-of"] = json!("gha-runner-scale-set");
    labels["app.kubernetes.io/component"] = json!("runner-scale-set-listener");
    let listener = json!({
        "apiVersion": ARC_API_VERSION,
        "kind": "AutoscalingListener",
        "metadata": {
            "name": listener_name,
            "namespace": ctx.ident.namespace,
            "labels": labels,
            "annotations": {
                ANN_RUNNER_SPEC_HASH: listener_spec_hash(ars),
                ANN_VALUES_HASH: annotation(ars, ANN_VALUES_HASH).unwrap_or(""),
            },
        },
        "spec": {
            "githubConfigUrl": str_at(ars, "/spec/githubConfigUrl"),
            "githubConfigSecret": str_at(ars, "/spec/githubConfigSecret"),
            "vaultConfig": ars.pointer("/spec/vaultConfig").cloned().unwrap_or(Value::Null),
            "runnerScaleSetId": scale_set_id,
            "autoscalingRunnerSetNamespace": namespace(ars),
            "autoscalingRunnerSetName": name(ars),
            "ephemeralRunnerSetName": name(ers),
            "minRunners": ars.pointer("/spec/minRunners").cloned().unwrap_or(json!(0)),
            "maxRunners": ars.pointer("/spec/maxRunners").cloned().unwrap_or(json!(i32::MAX)),
            "image": format!("ghcr.io/actions/gha-runner-scale-set-controller:{}", ctx.version),
            "proxy": ars.pointer("/spec/proxy").cloned().unwrap_or(Value::Null),
            "githubServerTLS": ars.pointer("/spec/githubServerTLS").cloned().unwrap_or(Value::Null),
        },
    });
    let kv = [
        ("name", listener_name),
        ("namespace", ctx.ident.namespace.as_str()),
    ];
    ctx.info_kv("Creating a new AutoscalingListener resource", &kv);
    ctx.create(listener)
        .inspect_err(|e| ctx.error("Failed to create AutoscalingListener resource", &e.message))?;
    ctx.info_kv("Created a new AutoscalingListener resource", &kv);
    Ok(())
}

// ---- deletion: arc-teardown.md §5.1 ------------------------------------------------

fn finalize(ctx: &Ctx<'_>, ars: &Value) -> Reconciled {
    if !has_finalizer(ars, ARS_FINALIZER) {
        return Ok(Outcome::Done);
    }
    ctx.info("Deleting resources");
    let done = if ctx.version.line() == ArcLine::V0_13 {
        // 0.13.x: the same steps inline, each waiting for watch events.
        clean_up_resources_v013(ctx, ars)?
    } else {
        let done = clean_up_resources(ctx, ars)
            .inspect_err(|e| ctx.error("Failed to clean up resources during deletion", e))?;
        if !done {
            ctx.info("Waiting for resources to be cleaned up before removing finalizer");
            return Ok(Outcome::RequeueAfter(ctx.timing.ars_requeue));
        }
        true
    };
    if !done {
        return Ok(Outcome::Done);
    }
    // Re-read: deleteRunnerScaleSet patched the annotations.
    let ars = ctx
        .cached_get(&ars_gvk(), namespace(ars), name(ars))?
        .unwrap_or_else(|| ars.clone());
    remove_finalizers_from_dependent_resources(ctx, &ars)
        .inspect_err(|e| ctx.error("Failed to remove finalizers on dependent resources", e))?;
    ctx.info("Removing finalizer");
    match ctx.remove_finalizer(&ars_gvk(), &ars, ARS_FINALIZER) {
        Ok(_) => {}
        Err(e) if e.code == 404 => {}
        Err(e) => {
            ctx.error(
                "Failed to update autoscaling runner set without finalizer",
                &e.message,
            );
            return Err(e.into());
        }
    }
    ctx.info("Successfully removed finalizer after cleanup");
    Ok(Outcome::Done)
}

/// 0.14.x `cleanUpResources`: listener, runner sets, scale set; `true` when all done.
fn clean_up_resources(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Deleting the listener");
    if !cleanup_listener(ctx, ars).inspect_err(|e| ctx.error("Failed to clean up listener", e))? {
        ctx.info("Waiting for listener to be deleted");
        return Ok(false);
    }
    ctx.info("deleting ephemeral runner sets");
    let sets_done = if ctx.version.line() == ArcLine::Head {
        cleanup_named_ephemeral_runner_set(ctx, ars)
    } else {
        cleanup_ephemeral_runner_sets(ctx, ars)
    };
    if !sets_done.inspect_err(|e| ctx.error("Failed to clean up ephemeral runner sets", e))? {
        ctx.info("Waiting for ephemeral runner sets to be deleted");
        return Ok(false);
    }
    ctx.info("deleting runner scale set");
    delete_runner_scale_set(ctx, ars)
        .inspect_err(|e| ctx.error("Failed to delete runner scale set", e))?;
    Ok(true)
}

/// HEAD `cleanupEphemeralRunnerSet`: only the set named after the runner set
/// (sets of the generateName era are not looked up).
fn cleanup_named_ephemeral_runner_set(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Cleaning up ephemeral runner set");
    let ers = ctx
        .cached_get(&ers_gvk(), namespace(ars), name(ars))
        .map_err(|e| Failure(format!("failed to get ephemeral runner set: {}", e.message)))?;
    match ers {
        None => {
            ctx.info("Ephemeral runner set is deleted");
            Ok(true)
        }
        Some(ers) => {
            if !is_deleting(&ers) {
                ctx.info("Deleting the ephemeral runner set");
                ctx.delete(&ers_gvk(), namespace(ars), name(ars))
                    .map_err(|e| {
                        Failure(format!(
                            "failed to delete ephemeral runner set: {}",
                            e.message
                        ))
                    })?;
            }
            Ok(false)
        }
    }
}

/// Upstream HEAD (unreleased 0.15 line): one EphemeralRunnerSet named after
/// the runner set, updated in place; the integrity hash replaces the change hash.
fn reconcile_head(ctx: &Ctx<'_>, ars: Value) -> Reconciled {
    let ns = namespace(&ars).to_string();
    let target = change_hash(&ars);
    if annotation(&ars, ANN_INTEGRITY_HASH) != Some(target.as_str()) {
        let ars = ctx
            .merge_patch(
                &ars_gvk(),
                &ns,
                name(&ars),
                json!({"metadata": {"annotations": {ANN_INTEGRITY_HASH: target}}}),
            )
            .inspect_err(|e| {
                ctx.error(
                    "Failed to update autoscaling runner set with new change hash and pending phase",
                    &e.message,
                )
            })?;
        update_status(ctx, &ars, None, Some(PHASE_PENDING)).inspect_err(|e| {
            ctx.error(
                "Failed to update autoscaling runner set status with pending phase",
                e,
            )
        })?;
        return Ok(Outcome::Done);
    }
    let id = annotation(&ars, ANN_SCALE_SET_ID);
    if id
        .and_then(|s| s.parse::<i64>().ok())
        .is_none_or(|id| id <= 0)
    {
        ctx.info("Creating runner scale set");
        return create_runner_scale_set(ctx, &ars);
    }
    let spec_group = str_at(&ars, "/spec/runnerGroup");
    if annotation(&ars, ANN_RUNNER_GROUP_NAME)
        .is_none_or(|g| !spec_group.is_empty() && !g.eq_ignore_ascii_case(spec_group))
    {
        ctx.info("AutoScalingRunnerSet runner group changed. Updating the runner scale set.");
        return update_runner_scale_set(ctx, &ars, true);
    }
    let spec_name = str_at(&ars, "/spec/runnerScaleSetName");
    if annotation(&ars, ANN_SCALE_SET_NAME)
        .is_none_or(|n| !spec_name.is_empty() && !n.eq_ignore_ascii_case(spec_name))
    {
        ctx.info(
            "AutoScalingRunnerSet runner scale set name changed. Updating the runner scale set.",
        );
        return update_runner_scale_set(ctx, &ars, false);
    }

    let Some(ers) = ctx.cached_get(&ers_gvk(), &ns, name(&ars))? else {
        ctx.info("Creating ephemeral runner set");
        return create_ephemeral_runner_set(ctx, &ars);
    };
    if str_at(&ers, "/status/phase") == PHASE_OUTDATED
        && str_at(&ars, "/status/phase") == PHASE_RUNNING
    {
        ctx.info(
            "Ephemeral runner set is outdated. Cleaning up resources for the outdated runner set",
        );
        if !cleanup_listener(ctx, &ars)? {
            ctx.info("Waiting for listener to be cleaned up for the outdated ephemeral runner set");
            return Ok(Outcome::RequeueAfter(ctx.timing.ars_requeue));
        }
        if !cleanup_named_ephemeral_runner_set(ctx, &ars)? {
            ctx.info(
                "Waiting for ephemeral runner set to be cleaned up for the outdated runner set",
            );
            return Ok(Outcome::RequeueAfter(ctx.timing.ars_requeue));
        }
        ctx.info("Successfully cleaned up resources for the outdated runner set");
        return Ok(Outcome::Done);
    }
    let desired = desired_ephemeral_runner_set(ctx, &ars)?;
    if annotation(&ers, ANN_INTEGRITY_HASH) != annotation(&desired, ANN_INTEGRITY_HASH) {
        let active = ers
            .pointer("/status/runningEphemeralRunners")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + ers
                .pointer("/status/pendingEphemeralRunners")
                .and_then(Value::as_i64)
                .unwrap_or(0);
        if active > 0 {
            ctx.info("Ephemeral runner set spec changed but runners are still active; deleting listener to stop new jobs");
            cleanup_listener(ctx, &ars)?;
            return Ok(Outcome::RequeueAfter(ctx.timing.listener_requeue));
        }
        ctx.info("Updating ephemeral runner set spec to match the desired spec");
        ctx.merge_patch(
            &ers_gvk(),
            &ns,
            name(&ers),
            json!({"metadata": {"annotations": desired["metadata"]["annotations"]},
                   "spec": {"ephemeralRunnerSpec": desired["spec"]["ephemeralRunnerSpec"]}}),
        )
        .inspect_err(|e| {
            ctx.error(
                "Failed to patch ephemeral runner set to match the desired spec",
                &e.message,
            )
        })?;
        ctx.info("Successfully patched ephemeral runner set spec");
        return Ok(Outcome::Done);
    }

    let listener_name = ctx.listener_name(&ars);
    match ctx.cached_get(&listener_gvk(), &ctx.ident.namespace, &listener_name)? {
        None => {
            ctx.info("AutoscalingListener does not exist, creating autoscaling listener");
            create_listener(ctx, &ars, &ers, &listener_name)?;
            return Ok(Outcome::Done);
        }
        Some(listener) => {
            let stale = annotation(&listener, ANN_RUNNER_SPEC_HASH)
                != Some(listener_spec_hash(&ars).as_str())
                || str_at(&listener, "/spec/ephemeralRunnerSetName") != name(&ers)
                || annotation(&listener, ANN_VALUES_HASH) != annotation(&ars, ANN_VALUES_HASH);
            if stale {
                ctx.info("Deleting AutoscalingListener to re-create with updated spec");
                ctx.delete_if_present(&listener_gvk(), &ctx.ident.namespace, &listener_name)
                    .inspect_err(|e| {
                        ctx.error(
                            "Failed to delete AutoscalingListener for re-creation",
                            &e.message,
                        )
                    })?;
                ctx.info("Deleted AutoscalingListener, will re-create on next reconcile");
                return Ok(Outcome::Done);
            }
        }
    }
    ctx.info("Autoscaling runner set is up to date and ready");
    update_status(ctx, &ars, Some(&ers), Some(PHASE_RUNNING)).inspect_err(|e| {
        ctx.error(
            "Failed to update autoscaling runner set status to running",
            e,
        )
    })?;
    Ok(Outcome::Done)
}

/// 0.13.x: the deletion steps inline in `Reconcile`, without a requeue.
fn clean_up_resources_v013(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    if !cleanup_listener(ctx, ars).inspect_err(|e| ctx.error("Failed to clean up listener", e))? {
        ctx.info("Waiting for listener to be deleted");
        return Ok(false);
    }
    if !cleanup_ephemeral_runner_sets(ctx, ars)
        .inspect_err(|e| ctx.error("Failed to clean up ephemeral runner sets", e))?
    {
        ctx.info("Waiting for ephemeral runner sets to be deleted");
        return Ok(false);
    }
    delete_runner_scale_set(ctx, ars)
        .inspect_err(|e| ctx.error("Failed to delete runner scale set", e))?;
    Ok(true)
}

fn cleanup_listener(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Cleaning up the listener");
    let listener_name = ctx.listener_name(ars);
    let listener = ctx
        .cached_get(&listener_gvk(), &ctx.ident.namespace, &listener_name)
        .map_err(|e| Failure(format!("failed to get listener: {}", e.message)))?;
    match listener {
        None => {
            ctx.info("Listener is deleted");
            Ok(true)
        }
        Some(listener) => {
            if !is_deleting(&listener) {
                ctx.info("Deleting the listener");
                ctx.delete(&listener_gvk(), &ctx.ident.namespace, &listener_name)
                    .map_err(|e| Failure(format!("failed to delete listener: {}", e.message)))?;
            }
            Ok(false)
        }
    }
}

fn cleanup_ephemeral_runner_sets(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Cleaning up ephemeral runner sets");
    let sets = owned_runner_sets(ctx, ars)?;
    if sets.is_empty() {
        ctx.info("All ephemeral runner sets are deleted");
        return Ok(true);
    }
    ctx.info_kv(
        "Deleting all ephemeral runner sets",
        &[("count", &sets.len().to_string())],
    );
    delete_ephemeral_runner_sets(ctx, &sets)
        .map_err(|e| Failure(format!("failed to delete ephemeral runner sets: {e}")))?;
    Ok(false)
}

/// `deleteEphemeralRunnerSets`: DELETE each set not already being deleted.
fn delete_ephemeral_runner_sets(ctx: &Ctx<'_>, sets: &[Value]) -> Result<(), Failure> {
    for ers in sets {
        if is_deleting(ers) {
            ctx.info_kv(
                "Skip ephemeral runner set since it is already marked for deletion",
                &[("name", name(ers))],
            );
            continue;
        }
        ctx.info_kv("Deleting ephemeral runner set", &[("name", name(ers))]);
        ctx.delete(&ers_gvk(), namespace(ers), name(ers))
            .map_err(|e| {
                Failure(format!(
                    "failed to delete EphemeralRunnerSet resource: {}",
                    e.message
                ))
            })?;
        ctx.info_kv("Deleted ephemeral runner set", &[("name", name(ers))]);
    }
    Ok(())
}

fn delete_runner_scale_set(ctx: &Ctx<'_>, ars: &Value) -> Result<(), Failure> {
    let Some(raw) = annotation(ars, ANN_SCALE_SET_ID) else {
        return Ok(()); // manual deletion of the scale set is required
    };
    ctx.info("Deleting the runner scale set from Actions service");
    let Ok(id) = raw.parse::<i64>() else {
        ctx.info("autoscaling runner set does not have annotation describing scale set id. Skip deletion");
        return Ok(());
    };
    let client = ctx.actions_service(ars).inspect_err(|e| {
        ctx.error(
            "Failed to initialize Actions service client for updating a existing runner scale set",
            e,
        )
    })?;
    ctx.github
        .delete_runner_scale_set(&client, id)
        .inspect_err(|e| {
            ctx.error(
                format!("Failed to delete runner scale set (runnerScaleSetId {id})"),
                e,
            )
        })?;
    ctx.merge_patch(
        &ars_gvk(),
        namespace(ars),
        name(ars),
        json!({"metadata": {"annotations": {ANN_SCALE_SET_ID: null}}}),
    )
    .inspect_err(|e| {
        ctx.error(
            "Failed to patch autoscaling runner set with annotation removed",
            &e.message,
        )
    })?;
    ctx.info("Deleted the runner scale set from Actions service");
    Ok(())
}

/// `removeFinalizersFromDependentResources`: one pass in the fixed order,
/// stop at the first error. Only the GitHub secret treats Forbidden as gone;
/// a failed patch (NotFound included) is an error, retried with backoff.
fn remove_finalizers_from_dependent_resources(ctx: &Ctx<'_>, ars: &Value) -> Result<(), Failure> {
    let ns = namespace(ars);
    for (key, kind, what) in CLEANUP_ANNOTATIONS {
        let Some(target) = annotation(ars, key) else {
            ctx.info_kv(
                format!("Skipping cleaning up {what}"),
                &[("reason", &format!("annotation key \"{key}\" not present"))],
            );
            continue;
        };
        ctx.info_kv(
            format!("Removing finalizer from {what}"),
            &[("name", target)],
        );
        let gvk = if kind == "Role" || kind == "RoleBinding" {
            rbac(kind)
        } else {
            core(kind)
        };
        // Secrets are read live (RBAC); the GitHub secret treats Forbidden as already deleted.
        let fetched = if kind == "Secret" {
            match ctx.live_get(&gvk, ns, target) {
                Err(e) if e.code == 403 => Ok(None),
                other => other,
            }
        } else {
            ctx.cached_get(&gvk, ns, target)
        };
        let obj = match fetched {
            Ok(Some(obj)) => obj,
            Ok(None) => {
                ctx.info_kv(
                    format!("{} has already been deleted", capitalized(what)),
                    &[("name", target)],
                );
                continue;
            }
            Err(e) => return Err(Failure(format!("failed to fetch {what}: {}", e.message))),
        };
        if !has_finalizer(&obj, CLEANUP_PROTECTION) {
            ctx.info_kv(
                format!("{} finalizer has already been removed", capitalized(what)),
                &[("name", target)],
            );
            continue;
        }
        ctx.remove_finalizer(&gvk, &obj, CLEANUP_PROTECTION)
            .map_err(|e| {
                Failure(format!(
                    "failed to patch {what} without finalizer: {}",
                    e.message
                ))
            })?;
        ctx.info_kv(
            format!("Removed finalizer from {what}"),
            &[("name", target)],
        );
    }
    Ok(())
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_labels_follow_apply_github_url_labels() {
        assert_eq!(
            github_url_labels("https://github.com/example/repo"),
            json!({"actions.github.com/organization": "example", "actions.github.com/repository": "repo"})
        );
        assert_eq!(
            github_url_labels("https://github.com/example"),
            json!({"actions.github.com/organization": "example"})
        );
        assert_eq!(
            github_url_labels("https://ghe.example/enterprises/acme"),
            json!({"actions.github.com/enterprise": "acme"})
        );
    }

    #[test]
    fn runner_set_hash_ignores_min_runners_but_listener_hash_does_not() {
        let a = json!({"spec": {"githubConfigUrl": "u", "minRunners": 1}});
        let b = json!({"spec": {"githubConfigUrl": "u", "minRunners": 2}});
        assert_eq!(runner_set_spec_hash(&a), runner_set_spec_hash(&b));
        assert_ne!(listener_spec_hash(&a), listener_spec_hash(&b));
    }
}
