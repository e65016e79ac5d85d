//! The cases, one per rule of `apiserver-semantics.md` (section numbers in
//! their docs), each run on kube-sim and on the real control plane.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Ctx, deployment, rv, workload};

/// §3.1: POST → 201 with uid (v4), creationTimestamp (RFC 3339 seconds), one global resourceVersion.
pub async fn create_sets_uid_timestamp_and_global_resource_version(t: Ctx) {
    let h = &t.h;
    let a = t.cm("a", json!({})).await;
    let uid = a["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36);
    assert_eq!(uid.as_bytes()[14], b'4');
    let ts = a["metadata"]["creationTimestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 20);
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T');
    assert_eq!(a["apiVersion"], "v1");
    assert_eq!(a["kind"], "ConfigMap");
    let sec = h
        .post(
            &t.path("/api/v1", "secrets"),
            &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}),
        )
        .await;
    assert_eq!(sec.code, 201);
    // One counter across types (other writers may take numbers in between).
    assert!(rv(&sec.body) > rv(&a), "one counter across types");
    assert_eq!(sec.body["type"], "Opaque");
    let mut web = deployment("web", 0);
    web["metadata"] = json!({"generateName":"web-"});
    let d = h.post(&t.path("/apis/apps/v1", "deployments"), &web).await;
    assert_eq!(d.code, 201, "{:?}", d.body);
    assert_eq!(d.body["metadata"]["generation"], 1);
    let name = d.body["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    assert!(
        name[4..]
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
    );
}

/// §3.1/§3.3: POST with an existing name → 409 AlreadyExists with the exact Status.
pub async fn create_existing_is_409_already_exists(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({})).await;
    let r = h
        .post(
            &cms,
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
        )
        .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"configmaps \"a\" already exists","reason":"AlreadyExists",
            "details":{"name":"a","kind":"configmaps"},"code":409})
    );
    // terminating object: message prefixed
    t.cm("t", json!({"finalizers":["example.com/hold"]})).await;
    h.delete(&format!("{cms}/t"), None).await;
    let r = h
        .post(
            &cms,
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"t"}}),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "object is being deleted: configmaps \"t\" already exists"
    );
}

/// §3.1: namespaced object in a missing namespace → 404 `namespaces "x" not found`.
pub async fn create_in_missing_namespace_is_404(t: Ctx) {
    let nope = t.unique("nope");
    let r =
        t.h.post(
            &format!("/api/v1/namespaces/{nope}/configmaps"),
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
        )
        .await;
    assert_eq!(r.code, 404);
    assert_eq!(
        r.body["message"],
        format!("namespaces \"{nope}\" not found")
    );
    assert_eq!(r.body["details"], json!({"name":nope,"kind":"namespaces"}));
}

/// §3.1/§3.4: a terminating namespace refuses new content (403) and its contents are deleted, then it.
pub async fn terminating_namespace_refuses_content_and_empties(t: Ctx) {
    let h = &t.h;
    let ns = t.unique("t");
    let r = h
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}}),
        )
        .await;
    assert_eq!(r.code, 201);
    let held = format!("/api/v1/namespaces/{ns}/configmaps/held");
    let r = h
        .post(&format!("/api/v1/namespaces/{ns}/configmaps"), &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}))
        .await;
    assert_eq!(r.code, 201);
    let r = h.delete(&format!("/api/v1/namespaces/{ns}"), None).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["status"]["phase"], "Terminating");
    assert_eq!(r.body["spec"]["finalizers"], json!(["kubernetes"]));
    let r = h
        .post(
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new"}}),
        )
        .await;
    assert_eq!(r.code, 403);
    assert_eq!(r.body["reason"], "Forbidden");
    assert_eq!(
        r.body["message"],
        format!(
            "configmaps \"new\" is forbidden: unable to create new content in namespace {ns} because it is being terminated"
        )
    );
    t.eventually("the held ConfigMap is terminating", || async {
        h.get(&held).await.body["metadata"]["deletionTimestamp"].is_string()
    })
    .await;
    assert_eq!(
        h.get(&format!("/api/v1/namespaces/{ns}")).await.code,
        200,
        "content with a finalizer holds the namespace"
    );
    h.merge(&held, json!({"metadata":{"finalizers":null}}))
        .await;
    t.eventually("the namespace is gone", || async {
        h.get(&format!("/api/v1/namespaces/{ns}")).await.code == 404
    })
    .await;
}

/// §3.2: PUT with a stale resourceVersion → 409 Conflict with the optimistic-lock message.
pub async fn update_with_stale_resource_version_is_409(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let a = t.cm("a", json!({})).await;
    let mut b = a.clone();
    b["data"]["k"] = json!("2");
    assert_eq!(h.put(&format!("{cms}/a"), &b).await.code, 200);
    let r = h.put(&format!("{cms}/a"), &b).await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again",
            "reason":"Conflict","details":{"name":"a","kind":"configmaps"},"code":409})
    );
    // unconditional update allowed for built-ins
    let mut c = b.clone();
    c["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    c["data"]["k"] = json!("3");
    assert_eq!(h.put(&format!("{cms}/a"), &c).await.code, 200);
    // missing object: 404, no create-on-update
    let mut m = c.clone();
    m["metadata"]["name"] = json!("missing");
    assert_eq!(h.put(&format!("{cms}/missing"), &m).await.code, 404);
}

/// §3.2: custom resources need a resourceVersion on PUT (422).
pub async fn update_of_custom_resource_without_resource_version_is_422(t: Ctx) {
    let w = t.widgets().await;
    let mut o = w.object("w", json!({}));
    o["spec"] = json!({"a":1});
    assert_eq!(t.h.post(&w.path, &o).await.code, 201);
    let r = t.h.put(&format!("{}/w", w.path), &o).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        format!(
            "widgets.{} \"w\" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update",
            w.group
        )
    );
}

/// §3.2: BeforeUpdate keeps uid/creationTimestamp/deletionTimestamp; generation bumps on spec change (a Deployment: and on annotation change) only.
pub async fn update_keeps_system_fields_and_bumps_generation_on_spec_change(t: Ctx) {
    let h = &t.h;
    let path = t.path("/apis/apps/v1", "deployments");
    // The revision annotation the real deployment controller would add
    // (a Deployment's annotations count for its generation): it finds it set.
    let mut body = deployment("d", 0);
    body["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    let d = h.post(&path, &body).await.body;
    let mut u = d.clone();
    u["metadata"]["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
    u["metadata"]["labels"] = json!({"x":"1"});
    // Unconditional: the real deployment controller writes the object meanwhile.
    u["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let r = h.put(&format!("{path}/d"), &u).await;
    assert_eq!(r.code, 200, "{:?}", r.body);
    assert_eq!(
        r.body["metadata"]["creationTimestamp"],
        d["metadata"]["creationTimestamp"]
    );
    assert_eq!(r.body["metadata"]["uid"], d["metadata"]["uid"]);
    assert_eq!(
        r.body["metadata"]["generation"], 1,
        "metadata change keeps generation"
    );
    let r = h
        .merge(&format!("{path}/d"), json!({"spec":{"replicas":3}}))
        .await;
    assert_eq!(r.body["metadata"]["generation"], 2);
    let r = h
        .merge(
            &format!("{path}/d"),
            json!({"metadata":{"annotations":{"team":"ci"}}}),
        )
        .await;
    assert_eq!(
        r.body["metadata"]["generation"], 3,
        "a Deployment's annotations count for its generation"
    );
}

/// §3.3: 404 body, details.kind is the plural resource, details.group for non-core.
pub async fn not_found_status_bodies(t: Ctx) {
    let h = &t.h;
    let r = h.get(&format!("{}/a", t.cms())).await;
    assert_eq!(r.code, 404);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"configmaps \"a\" not found","reason":"NotFound",
            "details":{"name":"a","kind":"configmaps"},"code":404})
    );
    let r = h
        .get(&format!("{}/x", t.path("/apis/apps/v1", "deployments")))
        .await;
    assert_eq!(r.body["message"], "deployments.apps \"x\" not found");
    assert_eq!(
        r.body["details"],
        json!({"name":"x","group":"apps","kind":"deployments"})
    );
    assert_eq!(h.get("/apis/nope.io/v1/things").await.code, 404);
}

/// §3.4: DELETE without finalizers → 200 Success Status with details.uid; watchers see DELETED.
pub async fn delete_without_finalizers_returns_success_status_with_uid(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let a = t.cm("a", json!({})).await;
    let mut w = h
        .watch(&format!(
            "{cms}?watch=true&fieldSelector=metadata.name%3Da&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"propagationPolicy":"Background"})),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",
            "details":{"name":"a","kind":"configmaps","uid":a["metadata"]["uid"]}})
    );
    let e = w.next_change().await.unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(e["object"]["metadata"]["name"], "a");
    assert!(rv(&e["object"]) > rv(&a));
    assert_eq!(h.get(&format!("{cms}/a")).await.code, 404);
    let r = h.delete(&format!("{cms}/a"), None).await;
    assert_eq!(r.code, 404);
    assert_eq!(r.body["message"], "configmaps \"a\" not found");
}

/// §3.4: stores with ReturnDeletedObject (pods, services, serviceaccounts) answer with the object.
pub async fn delete_of_pod_and_service_account_returns_the_object(t: Ctx) {
    let h = &t.h;
    t.default_service_account().await;
    for (resource, kind) in [("serviceaccounts", "ServiceAccount"), ("pods", "Pod")] {
        let path = t.path("/api/v1", resource);
        let mut o = json!({"apiVersion":"v1","kind":kind,"metadata":{"name":"x"}});
        if kind == "Pod" {
            o["spec"] = json!({"containers":[{"name":"c","image":"i"}]});
        }
        let r = h.post(&path, &o).await;
        assert_eq!(r.code, 201, "{:?}", r.body);
        let r = h.delete(&format!("{path}/x"), Some(json!({}))).await;
        assert_eq!(r.code, 200);
        assert_eq!(r.body["kind"], kind);
        assert_eq!(r.body["metadata"]["name"], "x");
    }
}

/// §3.4: finalizers keep the object with deletionTimestamp; 200 + object (202 only for orphanDependents:false).
pub async fn delete_with_finalizers_marks_terminating(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({"finalizers":["example.com/hold"]})).await;
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1"})),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "ConfigMap");
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );
    // second DELETE: no write
    let again = h.delete(&format!("{cms}/a"), None).await;
    assert_eq!(again.code, 200);
    assert_eq!(rv(&again.body), rv(&r.body));
    t.cm("b", json!({"finalizers":["example.com/hold"]})).await;
    let r = h
        .delete(&format!("{cms}/b"), Some(json!({"orphanDependents":false})))
        .await;
    assert_eq!(r.code, 202);
}

/// §3.4: preconditions mismatch → 409.
pub async fn delete_precondition_mismatch_is_409(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let a = t.cm("a", json!({})).await;
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"preconditions":{"uid":"0000"}})),
        )
        .await;
    assert_eq!(r.code, 409);
    assert_eq!(r.body["reason"], "Conflict");
    assert_eq!(
        r.body["message"],
        format!(
            "Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (0000) does not match the UID in record ({}). The object might have been deleted and then recreated",
            a["metadata"]["uid"].as_str().unwrap()
        )
    );
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"preconditions":{"resourceVersion":"1"}})),
        )
        .await;
    assert_eq!(r.code, 409);
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"preconditions":{"uid":a["metadata"]["uid"]}})),
        )
        .await;
    assert_eq!(r.code, 200);
}

/// §3.4: options from query parameters; invalid combinations → 422 on DeleteOptions; dryRun writes nothing.
pub async fn delete_options_from_query_validation_and_dry_run(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({})).await;
    let r = h
        .delete(
            &format!("{cms}/a?propagationPolicy=Foreground&dryRun=All"),
            None,
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    let g = h.get(&format!("{cms}/a")).await;
    assert_eq!(g.code, 200);
    assert!(
        g.body["metadata"].get("deletionTimestamp").is_none(),
        "dry run wrote nothing"
    );
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"orphanDependents":true,"propagationPolicy":"Foreground"})),
        )
        .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Foreground\": orphanDependents and deletionPropagation cannot be both set"
    );
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"propagationPolicy":"Sideways"})),
        )
        .await;
    assert_eq!(r.code, 422);
    let r = h
        .delete(&format!("{cms}/a?propagationPolicy=Foreground"), None)
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
}

/// §3.4: a second DELETE can switch the GC policy (foreground added later).
pub async fn second_delete_recomputes_gc_finalizers(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({"finalizers":["example.com/hold"]})).await;
    h.delete(&format!("{cms}/a"), None).await;
    let r = h
        .delete(
            &format!("{cms}/a"),
            Some(json!({"propagationPolicy":"Foreground"})),
        )
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/hold", "foregroundDeletion"])
    );
}

/// §3.4: pods with a node and grace > 0 terminate gracefully; a kubelet removes them.
pub async fn pod_graceful_deletion(t: Ctx) {
    let h = &t.h;
    t.default_service_account().await;
    let p = t.path("/api/v1", "pods");
    let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":t.node(),"terminationGracePeriodSeconds":30,"containers":[{"name":"c","image":"i"}]}});
    let r = h.post(&p, &pod).await;
    assert_eq!(r.code, 201, "{:?}", r.body);
    let r = h.delete(&format!("{p}/p"), None).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["metadata"]["deletionGracePeriodSeconds"], 30);
    t.eventually("the kubelet removes the pod", || async {
        h.get(&format!("{p}/p")).await.code == 404
    })
    .await;
}

/// §3.5: background propagation: the owner goes at once, dependents follow.
pub async fn gc_background_deletes_dependents(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let owner = t.cm("owner", json!({})).await;
    let refs = json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]}]});
    t.cm("dep", refs).await;
    let r = h
        .delete(
            &format!("{cms}/owner"),
            Some(json!({"propagationPolicy":"Background"})),
        )
        .await;
    assert_eq!(r.body["status"], "Success");
    assert_eq!(h.get(&format!("{cms}/owner")).await.code, 404);
    t.eventually("the dependent is collected", || async {
        h.get(&format!("{cms}/dep")).await.code == 404
    })
    .await;
}

/// §3.5: foreground: owner stays with foregroundDeletion until blocking dependents are gone;
/// non-blocking dependents are deleted but not waited for.
pub async fn gc_foreground_waits_for_blocking_dependents(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let owner = t.cm("owner", json!({})).await;
    let oref = |block: bool| json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"],"blockOwnerDeletion":block}]});
    let mut blocking = oref(true);
    blocking["finalizers"] = json!(["example.com/hold"]);
    t.cm("blocking", blocking).await;
    let mut nonblocking = oref(false);
    nonblocking["finalizers"] = json!(["example.com/hold"]);
    t.cm("nonblocking", nonblocking).await;
    let r = h
        .delete(
            &format!("{cms}/owner"),
            Some(json!({"propagationPolicy":"Foreground"})),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    t.eventually("both dependents are terminating", || async {
        h.get(&format!("{cms}/blocking")).await.body["metadata"]["deletionTimestamp"].is_string()
            && h.get(&format!("{cms}/nonblocking")).await.body["metadata"]["deletionTimestamp"]
                .is_string()
    })
    .await;
    // release the non-blocking one first: owner still waits
    h.merge(
        &format!("{cms}/nonblocking"),
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.get(&format!("{cms}/owner")).await.code, 200);
    h.merge(
        &format!("{cms}/blocking"),
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    t.eventually("the owner is gone", || async {
        h.get(&format!("{cms}/owner")).await.code == 404
    })
    .await;
}

/// §3.5: orphan: dependents lose the ownerReference, the owner goes, dependents stay.
pub async fn gc_orphan_keeps_dependents_without_the_reference(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let owner = t.cm("owner", json!({})).await;
    let other = t.cm("other", json!({})).await;
    let refs = json!({"ownerReferences":[
        {"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]},
        {"apiVersion":"v1","kind":"ConfigMap","name":"other","uid":other["metadata"]["uid"]}]});
    t.cm("dep", refs).await;
    let r = h
        .delete(&format!("{cms}/owner?propagationPolicy=Orphan"), None)
        .await;
    assert_eq!(r.body["metadata"]["finalizers"], json!(["orphan"]));
    t.eventually("the owner is gone", || async {
        h.get(&format!("{cms}/owner")).await.code == 404
    })
    .await;
    let d = h.get(&format!("{cms}/dep")).await;
    assert_eq!(d.code, 200);
    let refs = d.body["metadata"]["ownerReferences"].as_array().unwrap();
    assert_eq!(
        refs.len(),
        1,
        "only the orphaning owner's reference is removed"
    );
    assert_eq!(refs[0]["uid"], other["metadata"]["uid"]);
}

/// §3.5: a reference to an absent owner (or one with another uid) is dangling: with no other owner the
/// dependent is deleted; with a solid owner only the dangling reference is removed.
pub async fn gc_dangling_references(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let solid = t.cm("solid", json!({})).await;
    let gone = json!({"apiVersion":"v1","kind":"ConfigMap","name":"gone","uid":"3c0e5f1b-0000-4000-8000-000000000000"});
    t.cm("only-dangling", json!({"ownerReferences":[gone.clone()]}))
        .await;
    t.cm("mixed", json!({"ownerReferences":[gone, {"apiVersion":"v1","kind":"ConfigMap","name":"solid","uid":solid["metadata"]["uid"]}]})).await;
    // same name, other uid: dangling too
    t.cm("stale-uid", json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"solid","uid":"3c0e5f1b-0000-4000-8000-000000000001"}]})).await;
    t.eventually("dependents of absent owners are collected", || async {
        h.get(&format!("{cms}/only-dangling")).await.code == 404
            && h.get(&format!("{cms}/stale-uid")).await.code == 404
    })
    .await;
    t.eventually("the dangling reference is removed", || async {
        h.get(&format!("{cms}/mixed")).await.body["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    })
    .await;
    let mixed = h.get(&format!("{cms}/mixed")).await.body;
    assert_eq!(mixed["metadata"]["ownerReferences"][0]["name"], "solid");
}

/// §3.5: namespaced dependents of a cluster-scoped owner are collected too.
pub async fn gc_cluster_scoped_owner(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let role = t.unique("owner-role");
    let cr = h
        .post("/apis/rbac.authorization.k8s.io/v1/clusterroles", &json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":role},"rules":[]}))
        .await
        .body;
    t.cm("dep", json!({"ownerReferences":[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","name":role,"uid":cr["metadata"]["uid"]}]})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.get(&format!("{cms}/dep")).await.code,
        200,
        "owner exists: dependent kept"
    );
    h.delete(
        &format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}"),
        None,
    )
    .await;
    t.eventually("the dependent is collected", || async {
        h.get(&format!("{cms}/dep")).await.code == 404
    })
    .await;
}

/// §3.6: removing the last finalizer deletes: PUT/PATCH answer 200 + object, watchers see DELETED, GET 404.
pub async fn removing_the_last_finalizer_deletes_the_object(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({"finalizers":["example.com/a","example.com/b"]}))
        .await;
    let d = h.delete(&format!("{cms}/a"), None).await.body;
    let mut w = h
        .watch(&format!(
            "{cms}?watch=1&fieldSelector=metadata.name%3Da&resourceVersion={}",
            rv(&d)
        ))
        .await;
    // removing one (json patch with test) is a MODIFIED
    let r = h
        .patch(
            &format!("{cms}/a"),
            "application/json-patch+json",
            &json!([{"op":"test","path":"/metadata/finalizers","value":["example.com/a","example.com/b"]},{"op":"remove","path":"/metadata/finalizers/0"}]),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(w.next_change().await.unwrap()["type"], "MODIFIED");
    // removing the last via PUT
    let mut last = r.body.clone();
    last["metadata"]["finalizers"] = json!([]);
    let r = h.put(&format!("{cms}/a"), &last).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "ConfigMap");
    let e = w.next_change().await.unwrap();
    assert_eq!(e["type"], "DELETED");
    // kube-sim deletes in the update's revision; kube-apiserver writes the
    // update, then deletes in the next revision.
    assert!(rv(&e["object"]) >= rv(&r.body), "{e}");
    assert_eq!(h.get(&format!("{cms}/a")).await.code, 404);
    // merge patch works the same way
    t.cm("b", json!({"finalizers":["example.com/a"]})).await;
    h.delete(&format!("{cms}/b"), None).await;
    let r = h
        .merge(&format!("{cms}/b"), json!({"metadata":{"finalizers":null}}))
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(h.get(&format!("{cms}/b")).await.code, 404);
}

/// §3.6: no new finalizers on a terminating object (422 with the exact message); deletionTimestamp stays.
pub async fn no_new_finalizers_on_terminating_objects(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({"finalizers":["example.com/a"]})).await;
    h.delete(&format!("{cms}/a"), None).await;
    let r = h
        .merge(
            &format!("{cms}/a"),
            json!({"metadata":{"finalizers":["example.com/a","example.com/x"]}}),
        )
        .await;
    assert_eq!(r.code, 422);
    // kube-apiserver 1.35 lists this cause twice (its update validation and
    // the finalizer check each add it): compare without the duplicate.
    let mut body = r.body.clone();
    body["details"]["causes"].as_array_mut().unwrap().dedup();
    assert_eq!(
        body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"ConfigMap \"a\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\"}",
            "reason":"Invalid",
            "details":{"name":"a","kind":"ConfigMap","causes":[{"reason":"FieldValueForbidden",
              "message":"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/x\"}",
              "field":"metadata.finalizers"}]},"code":422})
    );
    let r = h
        .merge(
            &format!("{cms}/a"),
            json!({"metadata":{"deletionTimestamp":null,"labels":{"still":"editable"}}}),
        )
        .await;
    assert_eq!(r.code, 200);
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["labels"]["still"], "editable");
}

/// §3.5: orphan and foregroundDeletion may not both be set (422).
pub async fn orphan_and_foreground_finalizers_conflict(t: Ctx) {
    let r = t
        .h
        .post(&t.cms(), &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","finalizers":["orphan","foregroundDeletion"]}}))
        .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        "metadata.finalizers"
    );
}

/// §3.7: watch without RV sends synthetic ADDED, then changes; RV X resumes after X.
pub async fn watch_initial_events_and_resume(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let a = t.cm("a", json!({"labels":{"set":"w"}})).await;
    let b = t.cm("b", json!({"labels":{"set":"w"}})).await;
    let mut w = h
        .watch(&format!("{cms}?watch=true&labelSelector=set%3Dw"))
        .await;
    assert_eq!(w.code, 200);
    let e1 = w.next().await.unwrap();
    let e2 = w.next().await.unwrap();
    assert_eq!(
        (e1["type"].as_str(), e2["type"].as_str()),
        (Some("ADDED"), Some("ADDED"))
    );
    assert_eq!(e1["object"]["kind"], "ConfigMap");
    h.merge(&format!("{cms}/a"), json!({"data":{"x":"1"}}))
        .await;
    let e3 = w.next().await.unwrap();
    assert_eq!(e3["type"], "MODIFIED");
    // resume from a's creation: sees b's ADDED and a's MODIFIED, in order
    let mut r = h
        .watch(&format!(
            "{cms}?watch=true&labelSelector=set%3Dw&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let x = r.next().await.unwrap();
    assert_eq!(
        (x["type"].as_str(), rv(&x["object"])),
        (Some("ADDED"), rv(&b))
    );
    let y = r.next().await.unwrap();
    assert_eq!(y["type"], "MODIFIED");
    assert_eq!(y["object"]["metadata"]["name"], "a");
    // deprecated path form
    let mut d = h
        .watch(&format!(
            "/api/v1/watch/namespaces/{}/configmaps/a?resourceVersion={}",
            t.ns,
            rv(&y["object"])
        ))
        .await;
    h.merge(&format!("{cms}/b"), json!({"data":{"x":"1"}}))
        .await;
    h.merge(&format!("{cms}/a"), json!({"data":{"x":"2"}}))
        .await;
    let z = d.next().await.unwrap();
    assert_eq!(
        z["object"]["metadata"]["name"], "a",
        "the name filter hides b"
    );
}

/// §3.7: selectors are evaluated on old and new state: leaving the selector is DELETED, entering ADDED.
pub async fn watch_selector_transitions(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let a = t.cm("a", json!({"labels":{"app":"x"}})).await;
    let mut w = h
        .watch(&format!(
            "{cms}?watch=true&labelSelector=app%3Dx&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let out = h
        .merge(
            &format!("{cms}/a"),
            json!({"metadata":{"labels":{"app":"y"}}}),
        )
        .await
        .body;
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(
        e["object"]["metadata"]["labels"]["app"], "x",
        "previous object"
    );
    assert_eq!(
        e["object"]["metadata"]["resourceVersion"], out["metadata"]["resourceVersion"],
        "event RV"
    );
    h.merge(
        &format!("{cms}/a"),
        json!({"metadata":{"labels":{"app":"x"}}}),
    )
    .await;
    assert_eq!(w.next().await.unwrap()["type"], "ADDED");
    h.merge(&format!("{cms}/a"), json!({"data":{"z":"1"}}))
        .await;
    assert_eq!(w.next().await.unwrap()["type"], "MODIFIED");
}

/// §3.7: streaming lists (`sendInitialEvents=true`, as client-go ≥ 1.35 asks
/// for): ADDED for every object, a BOOKMARK annotated
/// `k8s.io/initial-events-end`, then changes.
pub async fn watch_send_initial_events(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({"labels":{"set":"w"}})).await;
    t.cm("b", json!({"labels":{"set":"w"}})).await;
    let mut w = h
        .watch(&format!("{cms}?allowWatchBookmarks=true&labelSelector=set%3Dw&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=300&watch=true"))
        .await;
    assert_eq!(w.code, 200);
    let mut added = Vec::new();
    let end = loop {
        let e = w.next().await.unwrap();
        match e["type"].as_str() {
            Some("ADDED") => added.push(
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            Some("BOOKMARK") => break e,
            other => panic!("unexpected {other:?}: {e}"),
        }
    };
    added.sort();
    assert_eq!(added, ["a", "b"]);
    assert_eq!(end["object"]["kind"], "ConfigMap");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(end["object"]["metadata"]["resourceVersion"].is_string());
    h.merge(&format!("{cms}/a"), json!({"data":{"x":"1"}}))
        .await;
    let e = w.next_change().await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["object"]["metadata"]["name"].as_str()),
        (Some("MODIFIED"), Some("a"))
    );
    // Without resourceVersionMatch=NotOlderThan: 422.
    let r = h
        .get(&format!("{cms}?sendInitialEvents=true&watch=true"))
        .await;
    assert_eq!(r.code, 422, "{:?}", r.body);
}

/// §3.7: the server ends the stream after timeoutSeconds.
pub async fn watch_timeout_ends_the_stream(t: Ctx) {
    let cms = t.cms();
    let now = t.list_rv().await;
    let mut w =
        t.h.watch(&format!(
            "{cms}?watch=true&timeoutSeconds=1&resourceVersion={now}"
        ))
        .await;
    let mut ended = false;
    for _ in 0..20 {
        match w.next_within(Duration::from_secs(5)).await {
            Ok(None) => {
                ended = true;
                break;
            }
            Ok(Some(_)) => {}
            Err(()) => panic!("stream did not end after timeoutSeconds=1"),
        }
    }
    assert!(ended);
}

/// Watches across all namespaces and on custom resources.
pub async fn watch_all_namespaces_and_custom_resources(t: Ctx) {
    let h = &t.h;
    let w = t.widgets().await;
    let from = t.list_rv().await;
    let mut all = h
        .watch(&format!("{}?watch=true&resourceVersion={from}", w.all))
        .await;
    let other = t.unique("other");
    h.post(
        "/api/v1/namespaces",
        &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":other}}),
    )
    .await;
    for ns in [t.ns.as_str(), other.as_str()] {
        let r = h
            .post(
                &format!("{}/namespaces/{ns}/widgets", w.gv),
                &w.object("w", json!({})),
            )
            .await;
        assert_eq!(r.code, 201);
    }
    let a = all.next().await.unwrap();
    let b = all.next().await.unwrap();
    assert_eq!(
        (
            a["object"]["metadata"]["namespace"].as_str(),
            b["object"]["metadata"]["namespace"].as_str()
        ),
        (Some(t.ns.as_str()), Some(other.as_str()))
    );
    assert_eq!(a["object"]["apiVersion"], w.api_version);
    let l = h.get(&w.all).await.body;
    assert_eq!(l["kind"], "WidgetList");
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
}

/// §3.8: LIST shape, label selector grammar, field selectors, unknown field → 400.
pub async fn list_shape_and_selectors(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    for (n, app, tier) in [("a", "x", "web"), ("b", "y", "web"), ("c", "x", "db")] {
        t.cm(n, json!({"labels":{"app":app,"tier":tier}})).await;
    }
    let r = h.get(&cms).await;
    assert_eq!(r.body["kind"], "ConfigMapList");
    assert_eq!(r.body["apiVersion"], "v1");
    assert!(rv(&r.body) >= rv(&h.get(&format!("{cms}/c")).await.body));
    assert_eq!(t.names(&r), vec!["a", "b", "c"]);
    for (sel, want) in [
        ("app%3Dx", vec!["a", "c"]),
        ("app%3D%3Dx%2Ctier%3Dweb", vec!["a"]),
        ("app%21%3Dx", vec!["b"]),
        ("tier%20in%20(db%2Cweb)", vec!["a", "b", "c"]),
        ("tier%20notin%20(web)", vec!["c"]),
        ("app", vec!["a", "b", "c"]),
        ("%21app", vec![]),
    ] {
        let r = h.get(&format!("{cms}?labelSelector={sel}")).await;
        assert_eq!(r.code, 200, "{sel}");
        assert_eq!(t.names(&r), want, "{sel}");
    }
    let r = h
        .get(&format!(
            "{cms}?fieldSelector=metadata.name%3Db&limit=500&resourceVersion=0"
        ))
        .await;
    assert_eq!(t.names(&r), vec!["b"]);
    let r = h
        .get(&format!(
            "/api/v1/configmaps?labelSelector=app&fieldSelector=metadata.namespace%21%3D{}",
            t.ns
        ))
        .await;
    // Other cases (and, on the real cluster, other namespaces) may hold
    // ConfigMaps labelled `app`: none of this namespace's may be listed.
    assert_eq!(r.code, 200, "{:?}", r.body);
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["metadata"]["namespace"] != t.ns.as_str()),
        "the namespace field selector excludes this namespace"
    );
    let r = h
        .get(&format!(
            "/api/v1/configmaps?labelSelector=app&fieldSelector=metadata.namespace%3D{}",
            t.ns
        ))
        .await;
    assert_eq!(t.names(&r), vec!["a", "b", "c"]);
    let r = h.get(&format!("{cms}?fieldSelector=spec.foo%3D1")).await;
    assert_eq!(r.code, 400);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            "reason":"BadRequest","code":400})
    );
    // per-type field: secrets type
    let secrets = t.path("/api/v1", "secrets");
    h.post(&secrets, &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/tls","data":{"tls.crt":"","tls.key":""}})).await;
    h.post(
        &secrets,
        &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"o"}}),
    )
    .await;
    let r = h
        .get(&format!(
            "{secrets}?fieldSelector=type%3Dkubernetes.io%2Ftls"
        ))
        .await;
    assert_eq!(t.names(&r), vec!["s"]);
}

/// §3.8: limit/continue pagination over a consistent snapshot.
pub async fn list_pagination(t: Ctx) {
    let h = &t.h;
    let secrets = t.path("/api/v1", "secrets");
    for n in ["a", "b", "c", "d", "e"] {
        let r = h
            .post(
                &secrets,
                &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":n}}),
            )
            .await;
        assert_eq!(r.code, 201);
    }
    let mut names = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let r = h.get(&format!("{secrets}?limit=2&continue={cont}")).await;
        assert_eq!(r.code, 200, "{:?}", r.body);
        let page_rv = r.body["metadata"]["resourceVersion"].clone();
        assert_eq!(
            first_rv.get_or_insert_with(|| page_rv.clone()),
            &page_rv,
            "every page has the first page's resourceVersion"
        );
        pages += 1;
        names.extend(t.names(&r));
        match r.body["metadata"]["continue"].as_str() {
            Some(c) => {
                assert!(r.body["metadata"]["remainingItemCount"].as_u64().unwrap() > 0);
                cont = c.to_string();
            }
            None => break,
        }
    }
    assert_eq!(names, vec!["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
}

/// §3.8: a continue token that is not one → 400.
pub async fn list_bad_continue_token_is_400(t: Ctx) {
    let r =
        t.h.get(&format!("{}?limit=2&continue=garbage", t.cms()))
            .await;
    assert_eq!(r.code, 400);
    assert_eq!(r.body["reason"], "BadRequest");
}

/// DELETE on a collection deletes the selected objects (deletecollection).
pub async fn delete_collection_with_selector(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    t.cm("a", json!({"labels":{"app":"x"}})).await;
    t.cm(
        "b",
        json!({"labels":{"app":"x"},"finalizers":["example.com/hold"]}),
    )
    .await;
    t.cm("c", json!({"labels":{"app":"y"}})).await;
    let r = h
        .delete(&format!("{cms}?labelSelector=app%3Dx"), None)
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "ConfigMapList");
    assert_eq!(h.get(&format!("{cms}/a")).await.code, 404);
    assert!(h.get(&format!("{cms}/b")).await.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(h.get(&format!("{cms}/c")).await.code, 200);
}

/// Status subresource: the main resource ignores status changes, `/status` changes only status
/// (on a custom resource: no controller writes it meanwhile).
pub async fn status_subresource_separates_spec_and_status(t: Ctx) {
    let h = &t.h;
    let w = t.widgets().await;
    let mut o = w.object("w", json!({}));
    o["spec"] = json!({"replicas":1});
    o["status"] = json!({"ready":1});
    let created = h.post(&w.path, &o).await;
    assert_eq!(created.code, 201);
    assert!(
        created.body.get("status").is_none(),
        "status is dropped on create: {:?}",
        created.body
    );
    let one = format!("{}/w", w.path);
    let mut u = created.body.clone();
    u["status"] = json!({"ready":1});
    let r = h.put(&one, &u).await;
    assert_eq!(r.code, 200);
    assert!(r.body.get("status").is_none(), "{:?}", r.body);
    let mut u = r.body.clone();
    u["status"] = json!({"ready":1});
    let r = h.put(&format!("{one}/status"), &u).await;
    assert_eq!(r.code, 200, "{:?}", r.body);
    assert_eq!(r.body["status"]["ready"], 1);
    let mut v = r.body.clone();
    v["spec"]["replicas"] = json!(5);
    v["status"]["ready"] = json!(2);
    let r = h.put(&format!("{one}/status"), &v).await;
    assert_eq!(
        r.body["spec"]["replicas"], 1,
        "status writes leave spec alone"
    );
    assert_eq!(r.body["status"]["ready"], 2);
    assert_eq!(r.body["metadata"]["generation"], 1);
    let r = h
        .merge(&format!("{one}/status"), json!({"status":{"ready":3}}))
        .await;
    assert_eq!(r.body["status"]["ready"], 3);
}

/// §3.9: /version, /api, /apis, per-GV resource lists.
pub async fn discovery_documents(t: Ctx) {
    let h = &t.h;
    let v = h.get("/version?timeout=5s").await.body;
    assert_eq!(v["major"], "1");
    assert_eq!(v["minor"], "35");
    assert_eq!(v["gitVersion"], "v1.35.4");
    let api = h.get("/api").await.body;
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    assert_eq!(
        api["serverAddressByClientCIDRs"][0]["clientCIDR"],
        "0.0.0.0/0"
    );
    let apis = h.get("/apis").await.body;
    assert_eq!(apis["kind"], "APIGroupList");
    let apps = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "apps")
        .unwrap();
    assert_eq!(
        *apps,
        json!({"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}})
    );
    let rl = h.get("/apis/apps/v1").await.body;
    assert_eq!(rl["kind"], "APIResourceList");
    assert_eq!(rl["groupVersion"], "apps/v1");
    let res = rl["resources"].as_array().unwrap();
    let find = |name: &str| {
        res.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {res:?}"))
            .clone()
    };
    assert_eq!(
        find("deployments"),
        json!({"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment",
            "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["deploy"],"categories":["all"],
            "storageVersionHash":"8aSe+NMegvE="})
    );
    assert_eq!(
        find("deployments/status"),
        json!({"name":"deployments/status","singularName":"","namespaced":true,"kind":"Deployment","verbs":["get","patch","update"]})
    );
    for workload in ["deployments", "statefulsets", "replicasets"] {
        assert_eq!(
            find(&format!("{workload}/scale")),
            json!({"name":format!("{workload}/scale"),"singularName":"","namespaced":true,
                "group":"autoscaling","version":"v1","kind":"Scale","verbs":["get","patch","update"]})
        );
    }
    let core = h.get("/api/v1").await.body;
    let core = core["resources"].as_array().unwrap();
    let cm = core.iter().find(|r| r["name"] == "configmaps").unwrap();
    assert_eq!(
        *cm,
        json!({"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap",
            "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["cm"],
            "storageVersionHash":"qFsyl6wFWjQ="})
    );
    let ns = core.iter().find(|r| r["name"] == "namespaces").unwrap();
    assert_eq!(ns["namespaced"], false);
    assert_eq!(
        ns["verbs"],
        json!([
            "create", "delete", "get", "list", "patch", "update", "watch"
        ])
    );
}

/// §3.9: aggregated discovery v2 when asked for it (Content-Type tells the client), legacy otherwise.
pub async fn aggregated_discovery_v2(t: Ctx) {
    let h = &t.h;
    let w = t.widgets().await;
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let apis = h.req_with_accept("/apis", accept).await;
    assert_eq!(
        apis.content_type,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(apis.body["kind"], "APIGroupDiscoveryList");
    assert_eq!(apis.body["apiVersion"], "apidiscovery.k8s.io/v2");
    let items = apis.body["items"].as_array().unwrap();
    let apps = items
        .iter()
        .find(|i| i["metadata"]["name"] == "apps")
        .unwrap();
    assert_eq!(apps["versions"][0]["version"], "v1");
    assert_eq!(apps["versions"][0]["freshness"], "Current");
    let d = apps["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "deployments")
        .unwrap();
    // The parent's group and version are left empty: they are the group's.
    assert_eq!(
        *d,
        json!({"resource":"deployments","responseKind":{"group":"","version":"","kind":"Deployment"},
            "scope":"Namespaced","singularResource":"deployment",
            "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],
            "shortNames":["deploy"],"categories":["all"],
            "subresources":[
                {"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1","kind":"Scale"},"verbs":["get","patch","update"]},
                {"subresource":"status","responseKind":{"group":"","version":"","kind":"Deployment"},"verbs":["get","patch","update"]}]})
    );
    assert!(items.iter().any(|i| i["metadata"]["name"] == w.group));
    assert!(items.iter().all(|i| i["metadata"]["name"] != ""));
    let core = h.req_with_accept("/api", accept).await;
    assert_eq!(core.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(core.body["items"][0]["metadata"].get("name"), None);
    let ns = core.body["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "namespaces")
        .unwrap();
    assert_eq!(ns["scope"], "Cluster");
    // plain JSON Accept: legacy documents
    let legacy = h.get("/apis").await;
    assert_eq!(legacy.content_type, "application/json");
    assert_eq!(legacy.body["kind"], "APIGroupList");
}

/// §3.9: /openapi/v3 index and per-GV documents with x-kubernetes-group-version-kind and fieldValidation.
pub async fn openapi_v3_documents(t: Ctx) {
    let h = &t.h;
    let idx = h.get("/openapi/v3").await.body;
    let url = idx["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    assert!(url.starts_with("/openapi/v3/api/v1?hash="));
    assert!(idx["paths"]["apis/apps/v1"].is_object());
    let doc = h.get(url).await.body;
    assert_eq!(doc["openapi"], "3.0.0");
    let p = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    assert_eq!(
        p["x-kubernetes-group-version-kind"],
        json!({"group":"","version":"v1","kind":"ConfigMap"})
    );
    // What clients look for: a `fieldValidation` query parameter (cli-runtime's verifier).
    assert!(
        p["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["name"] == "fieldValidation" && q["in"] == "query"),
        "{p}"
    );
    assert!(
        doc["paths"]["/api/v1/namespaces/{name}"].is_object(),
        "cluster-scoped path"
    );
    assert_eq!(
        h.get(&format!(
            "/openapi/v3/apis/{}/v1",
            t.unique("none.example.com")
        ))
        .await
        .code,
        404
    );
}

/// §3.9: a CRD adds its resource to discovery and OpenAPI, is Established; deleting it deletes its CRs.
pub async fn crd_discovery_established_and_cleanup(t: Ctx) {
    let h = &t.h;
    let w = t.widgets().await;
    t.eventually("the CRD is Established", || async {
        let crd = h.get(&w.crd).await.body;
        ["NamesAccepted", "Established"].iter().all(|ty| {
            crd["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == *ty && c["status"] == "True"))
        })
    })
    .await;
    let apis = h.get("/apis").await.body;
    assert!(
        apis["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == w.group)
    );
    let rl = h.get(&w.gv).await.body;
    let res = rl["resources"].as_array().unwrap();
    let widgets = res.iter().find(|r| r["name"] == "widgets").unwrap();
    assert_eq!(
        (
            widgets["kind"].as_str(),
            widgets["singularName"].as_str(),
            widgets["namespaced"].as_bool()
        ),
        (Some("Widget"), Some("widget"), Some(true))
    );
    assert_eq!(widgets["shortNames"], json!(["wd"]));
    assert_eq!(widgets["categories"], json!(["all"]));
    assert!(res.iter().any(|r| r["name"] == "widgets/status"));
    let openapi = format!("apis/{}/v1", w.group);
    t.eventually("the CRD is in /openapi/v3", || async {
        h.get("/openapi/v3").await.body["paths"][&openapi].is_object()
    })
    .await;
    assert_eq!(h.get(&format!("/openapi/v3/{openapi}")).await.code, 200);
    let mut o = w.object("w", json!({"finalizers":["example.com/hold"]}));
    o["status"] = json!({"x":1});
    let r = h.post(&w.path, &o).await;
    assert_eq!(r.code, 201);
    let del = h.delete(&w.crd, None).await;
    assert_eq!(del.code, 200);
    t.eventually("the CR is terminating", || async {
        h.get(&format!("{}/w", w.path)).await.body["metadata"]["deletionTimestamp"].is_string()
    })
    .await;
    assert_eq!(h.get(&w.crd).await.code, 200);
    h.merge(
        &format!("{}/w", w.path),
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    t.eventually("the group leaves discovery", || async {
        h.get(&w.gv).await.code == 404
    })
    .await;
    t.eventually("the CRD is gone", || async {
        h.get(&w.crd).await.code == 404
    })
    .await;
}

/// §3.10: JSON patch (with test), merge patch, strategic merge (keyed lists), 415 for unknown types and for CR strategic.
pub async fn patch_types(t: Ctx) {
    let h = &t.h;
    t.cm("a", json!({"finalizers":["example.com/a"]})).await;
    let p = format!("{}/a", t.cms());
    let r = h.patch(&p, "application/json-patch+json", &json!([{"op":"test","path":"/data/k","value":"wrong"},{"op":"replace","path":"/data/k","value":"x"}])).await;
    assert_eq!(r.code, 422);
    assert_eq!(r.body["reason"], "Invalid");
    let r = h.patch(&p, "application/json-patch+json", &json!([{"op":"test","path":"/data/k","value":"v"},{"op":"replace","path":"/data/k","value":"x"}])).await;
    assert_eq!((r.code, &r.body["data"]["k"]), (200, &json!("x")));
    let r = h
        .patch(
            &p,
            "application/strategic-merge-patch+json",
            &json!({"metadata":{"finalizers":["example.com/b"]}}),
        )
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/b", "example.com/a"]),
        "finalizers merge as a set: the patch's first, then the others"
    );
    let dep = t.path("/apis/apps/v1", "deployments");
    let mut d = deployment("d", 0);
    d["spec"]["template"]["spec"]["containers"] =
        json!([{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]);
    assert_eq!(h.post(&dep, &d).await.code, 201);
    let r = h
        .patch(
            &format!("{dep}/d"),
            "application/strategic-merge-patch+json",
            &json!({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:2"}]}}}}),
        )
        .await;
    let images: Vec<(&str, &str)> = r.body["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["image"].as_str().unwrap()))
        .collect();
    assert_eq!(images, [("a", "a:1"), ("b", "b:2")]);
    let r = h.patch(&p, "text/plain", &json!({})).await;
    assert_eq!(r.code, 415);
    let w = t.widgets().await;
    h.post(&w.path, &w.object("w", json!({}))).await;
    let r = h
        .patch(
            &format!("{}/w", w.path),
            "application/strategic-merge-patch+json",
            &json!({"spec":{}}),
        )
        .await;
    assert_eq!(r.code, 415);
    let r = h
        .merge(&format!("{}/w", w.path), json!({"spec":{"a":1}}))
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["metadata"]["generation"], 2);
}

/// §3.10: SSA create (201), update (200), conflict (409 exact), force transfers ownership, fieldManager required.
pub async fn server_side_apply_create_update_conflict(t: Ctx) {
    let h = &t.h;
    let cms = t.cms();
    let ct = "application/apply-patch+yaml";
    let body = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1"}},"data":{"key":"1","other":"1"}});
    let r = h
        .patch(
            &format!("{cms}/a?fieldManager=helm&fieldValidation=Strict&force=false"),
            ct,
            &body,
        )
        .await;
    assert_eq!(r.code, 201, "{:?}", r.body);
    let mf = &r.body["metadata"]["managedFields"][0];
    assert_eq!(
        (mf["manager"].as_str(), mf["operation"].as_str()),
        (Some("helm"), Some("Apply"))
    );
    assert_eq!(mf["fieldsV1"]["f:data"]["f:key"], json!({}));
    // update by the same manager: omitted fields are removed
    let r = h
        .patch(&format!("{cms}/a?fieldManager=helm&force=false"), ct, &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"key":"1"}}))
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["data"], json!({"key":"1"}));
    assert!(r.body["metadata"].get("labels").is_none());
    // another manager changes the value: conflict
    let other =
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"key":"2"}});
    let r = h
        .patch(
            &format!("{cms}/a?fieldManager=kubectl&force=false"),
            ct,
            &other,
        )
        .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Apply failed with 1 conflict: conflict with \"helm\": .data.key",
            "reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"helm\"","field":".data.key"}]},"code":409})
    );
    let r = h
        .patch(
            &format!("{cms}/a?fieldManager=kubectl&force=true"),
            ct,
            &other,
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["data"]["key"], "2");
    let managers: Vec<&str> = r.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, vec!["kubectl"], "helm lost its only field");
    // client-side writes are Update entries, and conflict with apply
    let mut o = r.body.clone();
    o["data"]["csa"] = json!("1");
    h.put(
        &format!("{cms}/a?fieldManager=kubectl-client-side-apply"),
        &o,
    )
    .await;
    let r = h
        .patch(&format!("{cms}/a?fieldManager=helm"), ct, &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"csa":"2"}}))
        .await;
    assert_eq!(
        r.body["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.csa"
    );
    // fieldManager is required
    let r = h.patch(&format!("{cms}/a"), ct, &other).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

/// Helm release storage: protobuf Secret bodies (k8s\0 + runtime.Unknown) answered in JSON; protobuf DeleteOptions.
pub async fn protobuf_secret_create_and_update(t: Ctx) {
    use base64::Engine;
    let h = &t.h;
    let secrets = t.path("/api/v1", "secrets");
    let pb = kube_sim::protobuf::encode_secret(
        "sh.helm.release.v1.r.v1",
        &t.ns,
        &[
            ("name", "r"),
            ("owner", "helm"),
            ("status", "deployed"),
            ("version", "1"),
        ],
        &[("release", b"H4sIAAAA")],
        "helm.sh/release.v1",
    );
    let r = h
        .req(
            "POST",
            &secrets,
            Some("application/vnd.kubernetes.protobuf"),
            pb,
        )
        .await;
    assert_eq!(r.code, 201, "{:?}", r.raw);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.body["kind"], "Secret");
    assert_eq!(r.body["type"], "helm.sh/release.v1");
    assert_eq!(
        r.body["data"]["release"],
        base64::engine::general_purpose::STANDARD.encode(b"H4sIAAAA")
    );
    let l = h
        .get(&format!("{secrets}?labelSelector=name%3Dr%2Cowner%3Dhelm"))
        .await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
    let pb2 = kube_sim::protobuf::encode_secret(
        "sh.helm.release.v1.r.v1",
        &t.ns,
        &[("owner", "helm"), ("status", "superseded")],
        &[("release", b"x")],
        "helm.sh/release.v1",
    );
    let one = format!("{secrets}/sh.helm.release.v1.r.v1");
    let r = h
        .req(
            "PUT",
            &one,
            Some("application/vnd.kubernetes.protobuf"),
            pb2,
        )
        .await;
    assert_eq!(r.code, 200, "{:?}", r.body);
    assert_eq!(r.body["metadata"]["labels"]["status"], "superseded");
    let del = kube_sim::protobuf::encode_delete_options(Some("Background"), None);
    let r = h
        .req(
            "DELETE",
            &one,
            Some("application/vnd.kubernetes.protobuf"),
            del,
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["status"], "Success");
    let r = h
        .req(
            "POST",
            &secrets,
            Some("application/vnd.kubernetes.protobuf"),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.code, 400);
}

/// The `scale` subresource (autoscaling/v1 Scale) of Deployments,
/// StatefulSets and ReplicaSets: GET reads spec.replicas and the selector,
/// PUT and PATCH (merge, JSON, strategic) write spec.replicas of the parent
/// (its generation follows), with the parent's uid and resourceVersion.
pub async fn scale_subresource_of_deployments_statefulsets_replicasets(t: Ctx) {
    let h = &t.h;
    for (kind, resource) in [
        ("Deployment", "deployments"),
        ("StatefulSet", "statefulsets"),
        ("ReplicaSet", "replicasets"),
    ] {
        let path = t.path("/apis/apps/v1", resource);
        let mut o = workload(kind, "web", 2);
        o["spec"]["selector"] = json!({"matchLabels":{"app":"web","tier":"a"},
            "matchExpressions":[{"key":"zone","operator":"In","values":["q","p"]},{"key":"b","operator":"Exists"}]});
        o["spec"]["template"]["metadata"]["labels"] =
            json!({"app":"web","tier":"a","zone":"p","b":"1"});
        let created = h.post(&path, &o).await;
        assert_eq!(created.code, 201, "{kind}: {:?}", created.body);
        let scale = format!("{path}/web/scale");
        let s = h.get(&scale).await;
        assert_eq!(s.code, 200, "{kind}: {:?}", s.body);
        assert_eq!(s.body["kind"], "Scale");
        assert_eq!(s.body["apiVersion"], "autoscaling/v1");
        let meta = &s.body["metadata"];
        assert_eq!(
            (meta["name"].as_str(), meta["namespace"].as_str()),
            (Some("web"), Some(t.ns.as_str()))
        );
        assert_eq!(meta["uid"], created.body["metadata"]["uid"]);
        assert_eq!(
            meta["creationTimestamp"],
            created.body["metadata"]["creationTimestamp"]
        );
        assert!(meta["resourceVersion"].is_string());
        assert_eq!(s.body["spec"], json!({"replicas":2}), "{kind}");
        assert_eq!(
            s.body["status"]["selector"], "app=web,b,tier=a,zone in (p,q)",
            "{kind}"
        );
        assert!(
            s.body["status"]["replicas"].is_u64(),
            "{kind}: {:?}",
            s.body
        );

        // PUT: spec.replicas of the parent, generation bumped.
        let mut put = s.body.clone();
        put["spec"]["replicas"] = json!(3);
        let r = h.put(&scale, &put).await;
        if r.code == 409 {
            // The real controller wrote the parent meanwhile: unconditional.
            put["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("resourceVersion");
        }
        let r = if r.code == 409 {
            h.put(&scale, &put).await
        } else {
            r
        };
        assert_eq!(r.code, 200, "{kind}: {:?}", r.body);
        assert_eq!(r.body["kind"], "Scale");
        assert_eq!(r.body["spec"]["replicas"], 3);
        let parent = h.get(&format!("{path}/web")).await.body;
        assert_eq!(parent["spec"]["replicas"], 3, "{kind}");
        assert_eq!(parent["metadata"]["generation"], 2, "{kind}");
        assert!(rv(&parent) >= rv(&r.body));

        // PATCH: JSON, strategic merge, merge (kubectl scale's); 0 is omitted in Scale.
        let r = h
            .patch(
                &scale,
                "application/json-patch+json",
                &json!([{"op":"replace","path":"/spec/replicas","value":4}]),
            )
            .await;
        assert_eq!(
            (r.code, &r.body["spec"]),
            (200, &json!({"replicas":4})),
            "{kind}"
        );
        let r = h
            .patch(
                &scale,
                "application/strategic-merge-patch+json",
                &json!({"spec":{"replicas":1}}),
            )
            .await;
        assert_eq!(
            (r.code, &r.body["spec"]),
            (200, &json!({"replicas":1})),
            "{kind}"
        );
        let r = h.merge(&scale, json!({"spec":{"replicas":0}})).await;
        assert_eq!((r.code, &r.body["spec"]), (200, &json!({})), "{kind}");
        let parent = h.get(&format!("{path}/web")).await.body;
        assert_eq!(parent["spec"]["replicas"], 0, "{kind}");
        assert_eq!(parent["metadata"]["generation"], 5, "{kind}");
    }
}

/// The `scale` subresource's errors: the parent's 404 and 409, 422 for a
/// negative count (on `Scale.autoscaling`), 404 for kinds without it.
pub async fn scale_subresource_errors(t: Ctx) {
    let h = &t.h;
    let path = t.path("/apis/apps/v1", "deployments");
    let scale = |name: &str| json!({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":name,"namespace":t.ns},"spec":{"replicas":1}});
    let not_found = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"deployments.apps \"nope\" not found","reason":"NotFound",
        "details":{"name":"nope","group":"apps","kind":"deployments"},"code":404});
    let r = h.get(&format!("{path}/nope/scale")).await;
    assert_eq!(r.body, not_found);
    let r = h.put(&format!("{path}/nope/scale"), &scale("nope")).await;
    assert_eq!(r.body, not_found);
    let r = h
        .merge(
            &format!("{path}/nope/scale"),
            json!({"spec":{"replicas":1}}),
        )
        .await;
    assert_eq!(r.body, not_found);

    assert_eq!(h.post(&path, &deployment("web", 1)).await.code, 201);
    let mut stale = scale("web");
    stale["metadata"]["resourceVersion"] = json!("1");
    let r = h.put(&format!("{path}/web/scale"), &stale).await;
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again",
            "reason":"Conflict","details":{"name":"web","group":"apps","kind":"deployments"},"code":409})
    );
    let mut negative = scale("web");
    negative["spec"]["replicas"] = json!(-1);
    let r = h.put(&format!("{path}/web/scale"), &negative).await;
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "reason":"Invalid","details":{"name":"web","group":"autoscaling","kind":"Scale",
              "causes":[{"reason":"FieldValueInvalid","message":"Invalid value: -1: must be greater than or equal to 0","field":"spec.replicas"}]},
            "code":422})
    );
    let r = h.put(&format!("{path}/web/scale"), &scale("other")).await;
    assert_eq!(r.code, 400, "{:?}", r.body);
    t.cm("a", json!({})).await;
    assert_eq!(
        h.get(&format!("{}/a/scale", t.cms())).await.code,
        404,
        "ConfigMaps have no scale subresource"
    );
}

/// `kubectl scale deploy X --replicas=0` (the first thing an operator types
/// to stop ARC's controller): the real kubectl 1.35 finds the subresource
/// through discovery and PATCHes it.
pub async fn kubectl_scale_deployment_to_zero(t: Ctx) {
    let path = t.path("/apis/apps/v1", "deployments");
    assert_eq!(
        t.h.post(&path, &deployment("controller", 1)).await.code,
        201
    );
    let out = t
        .kubectl()
        .args(["scale", "deploy", "controller", "--replicas=0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl scale: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "deployment.apps/controller scaled"
    );
    let d: Value = t.h.get(&format!("{path}/controller")).await.body;
    assert_eq!(d["spec"]["replicas"], 0);
    let out = t
        .kubectl()
        .args([
            "get",
            "deploy",
            "controller",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0");
}
