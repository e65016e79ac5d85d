//! Observation of the cluster: what a teardown reads before it acts, to
//! decide (preflight), to plan a ladder again and to diagnose a wave that
//! does not finish. Reads only; a kind the server does not serve reads as
//! empty.

use super::error::TeardownError;
use super::options::Options;
use super::preflight::{ClusterFacts, Controller, RunnerSetFacts};
use crate::arc::{self, RunnerSetRefs, owned_by};
use crate::doctor::{self, Snapshot};
use crate::kube::{Cluster, KubeError, WideList};
use crate::manifest::Object;
use crate::model::{Live, ObjectId};
use futures::StreamExt;
use std::collections::{BTreeSet, HashMap};

/// What a manifest's objects are on the cluster now: `None` for absent ones,
/// keyed by manifest identity.
pub type LiveMap = HashMap<ObjectId, Option<Live>>;

/// Reads the cluster for one release's teardown.
#[derive(Clone, Copy)]
pub struct Observer<'a> {
    cluster: &'a Cluster,
    opts: &'a Options,
}

impl<'a> Observer<'a> {
    /// An observer of `cluster` for the release of `opts`.
    pub fn new(cluster: &'a Cluster, opts: &'a Options) -> Self {
        Self { cluster, opts }
    }

    /// GET every manifest object; `None` for absent ones. Keyed by manifest identity.
    pub async fn read_live(&self, objects: &[&Object]) -> Result<LiveMap, TeardownError> {
        let reads = futures::stream::iter(objects.iter().map(|o| async move {
            let result = match self.cluster.get(&o.id).await {
                Err(KubeError::UnknownKind(_)) => Ok(None),
                other => other,
            };
            (o.id.clone(), result)
        }))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
        let mut map = HashMap::new();
        for (id, result) in reads {
            map.insert(id, result?);
        }
        Ok(map)
    }

    /// Read everything preflight and diagnosis need.
    pub async fn gather(
        &self,
        objects: &[&Object],
        live: &LiveMap,
    ) -> Result<ClusterFacts, TeardownError> {
        let mut facts = ClusterFacts {
            pre_delete_hooks: self.opts.pre_delete_hooks.clone(),
            no_hooks: self.opts.no_hooks,
            ..ClusterFacts::default()
        };
        for object in objects {
            let Some(Some(l)) = live.get(&object.id) else {
                continue;
            };
            if !owned_by(l, &self.opts.release, &self.opts.namespace) {
                facts.not_owned.push(object.id.clone());
            } else if l.is_terminating() {
                facts.terminating.push(l.clone());
            }
        }
        let ars_objects: Vec<&&Object> = objects.iter().filter(|o| is_ars(&o.id)).collect();
        if ars_objects.is_empty() {
            return Ok(facts);
        }
        // Controllers, listeners and other runner sets are looked for in
        // every namespace; for a user whose rights are Roles, where they
        // live: controllers and listeners in the controller's namespace (of
        // the ServiceAccount the manager RoleBinding binds), runner sets in
        // the release's.
        let (controller_namespaces, runner_namespaces) = self.namespaces_that_matter(objects, live);
        let controllers = wide_or_empty(
            self.cluster,
            ("apps", "v1", "Deployment"),
            Some(arc::CONTROLLER_SELECTOR),
            &controller_namespaces,
        )
        .await?;
        facts.controllers = controllers
            .items
            .iter()
            .map(Controller::from_deployment)
            .collect();
        facts.controllers_only_in = controllers.only_in.clone();
        let listeners = wide_or_empty(
            self.cluster,
            (arc::GROUP, arc::VERSION, arc::LISTENER_KIND),
            None,
            &controller_namespaces,
        )
        .await?;
        let runner_sets = wide_or_empty(
            self.cluster,
            (arc::GROUP, arc::VERSION, arc::ARS_KIND),
            None,
            &runner_namespaces,
        )
        .await?;
        for (what, list) in [
            ("ARC controller Deployments", &controllers),
            ("AutoscalingListeners", &listeners),
            (
                "AutoscalingRunnerSets (for shared GitHub registrations)",
                &runner_sets,
            ),
        ] {
            if let Some(namespaces) = &list.only_in {
                facts.narrowed.push(format!(
                    "{what} looked for only in namespaces {} (listing them in every namespace is forbidden for this user)",
                    namespaces.join(", ")
                ));
            }
        }
        let listeners = listeners.items;
        facts.cluster_runner_sets = runner_sets
            .items
            .iter()
            .map(|a| RunnerSetRefs::from_ars(&a.value, &self.opts.namespace))
            .collect();
        for object in ars_objects {
            let ars = live.get(&object.id).cloned().flatten();
            let refs = RunnerSetRefs::from_ars(
                ars.as_ref().map_or(&object.value, |l| &l.value),
                &self.opts.namespace,
            );
            let mut set = RunnerSetFacts {
                ars: ars.clone(),
                ..Default::default()
            };
            let ns = refs.namespace.clone();
            let rbac = "rbac.authorization.k8s.io";
            if let Some(name) = &refs.manager_role {
                set.manager_role_object = self.read(live, rbac, "v1", "Role", &ns, name).await?;
                set.manager_role = Some(set.manager_role_object.is_some());
            }
            if let Some(name) = &refs.manager_role_binding {
                set.manager_role_binding_object = self
                    .read(live, rbac, "v1", "RoleBinding", &ns, name)
                    .await?;
                set.manager_role_binding = Some(set.manager_role_binding_object.is_some());
            }
            if let Some(name) = refs.github.kubernetes_config_secret() {
                let secret = self.read(live, "", "v1", "Secret", &ns, name).await?;
                set.github_secret = Some(secret.is_some());
                set.github_secret_keys = secret.map(|s| s.data_keys()).unwrap_or_default();
            }
            for (name, field) in &refs.github.proxy_secrets {
                let exists = self
                    .read(live, "", "v1", "Secret", &ns, name)
                    .await?
                    .is_some();
                set.proxy_secrets.push((name.clone(), field, exists));
            }
            if let Some((name, _)) = &refs.github.tls {
                let cm = self.read(live, "", "v1", "ConfigMap", &ns, name).await?;
                set.tls_config_map = Some(cm.map(|c| c.data_keys()));
            }
            if let Some(ars) = &ars {
                set.listeners = listeners
                    .iter()
                    .filter(|l| arc::listener_belongs_to(l, &refs.name, &ns))
                    .cloned()
                    .collect();
                let runner_sets: Vec<Live> = list_or_empty(
                    self.cluster,
                    (arc::GROUP, arc::VERSION, arc::ERS_KIND),
                    Some(&ns),
                    None,
                )
                .await?
                .into_iter()
                .filter(|s| s.owner_uids().contains(&ars.uid()))
                .collect();
                let set_uids: BTreeSet<&str> = runner_sets.iter().map(Live::uid).collect();
                set.runners = list_or_empty(
                    self.cluster,
                    (arc::GROUP, arc::VERSION, arc::ER_KIND),
                    Some(&ns),
                    None,
                )
                .await?
                .into_iter()
                .filter(|r| r.owner_uids().iter().any(|u| set_uids.contains(u)))
                .collect();
                set.runner_sets = runner_sets;
                // A busy runner's pod (same name): whether it is gone decides
                // between a busy runner and one stuck on a dead job.
                for runner in set.runners.iter().filter(|r| arc::runner_is_busy(r)) {
                    if let Some(pod) = self
                        .read(live, "", "v1", "Pod", &ns, &runner.id.name)
                        .await?
                    {
                        set.pods.push(pod);
                    }
                }
                for listener in &set.listeners {
                    let selector = format!(
                        "{}={},{}={}",
                        arc::LISTENER_NAME_LABEL,
                        listener.id.name,
                        arc::LISTENER_NAMESPACE_LABEL,
                        listener.id.namespace.as_deref().unwrap_or_default()
                    );
                    for kind in ["RoleBinding", "Role"] {
                        set.listener_rbac.extend(
                            list_or_empty(
                                self.cluster,
                                (rbac, "v1", kind),
                                Some(&ns),
                                Some(&selector),
                            )
                            .await?,
                        );
                    }
                }
            }
            set.refs = Some(refs);
            facts.runner_sets.push(set);
        }
        Ok(facts)
    }

    /// The controller's namespaces (of the ServiceAccounts the runner sets'
    /// manager RoleBindings bind, from the live RoleBinding or, when it is
    /// gone, the manifest's; the release's when none is named) and the
    /// runner sets' (the release's and the runner sets').
    fn namespaces_that_matter(
        &self,
        objects: &[&Object],
        live: &LiveMap,
    ) -> (Vec<String>, Vec<String>) {
        let mut runner_namespaces = vec![self.opts.namespace.clone()];
        let mut controller_namespaces = Vec::new();
        for object in objects.iter().filter(|o| is_ars(&o.id)) {
            let ars = live.get(&object.id).cloned().flatten();
            let refs = RunnerSetRefs::from_ars(
                ars.as_ref().map_or(&object.value, |l| &l.value),
                &self.opts.namespace,
            );
            runner_namespaces.push(refs.namespace.clone());
            let Some(name) = &refs.manager_role_binding else {
                continue;
            };
            let id = ObjectId {
                group: "rbac.authorization.k8s.io".into(),
                version: "v1".into(),
                kind: "RoleBinding".into(),
                namespace: Some(refs.namespace.clone()),
                name: name.clone(),
            };
            let binding = match live.get(&id) {
                Some(Some(l)) => Some(&l.value),
                _ => objects.iter().find(|o| o.id == id).map(|o| &o.value),
            };
            for account in binding
                .map(arc::rbac::bound_service_accounts)
                .unwrap_or_default()
            {
                if let Some((ns, _)) = account.split_once('/')
                    && !ns.is_empty()
                {
                    controller_namespaces.push(ns.to_string());
                }
            }
        }
        if controller_namespaces.is_empty() {
            controller_namespaces.push(self.opts.namespace.clone());
        }
        (controller_namespaces, runner_namespaces)
    }

    /// Read an object, from the live map when the manifest has it.
    async fn read(
        &self,
        live: &LiveMap,
        group: &str,
        version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Live>, TeardownError> {
        let id = ObjectId {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        };
        if let Some(known) = live.get(&id) {
            return Ok(known.clone());
        }
        Ok(self.cluster.get(&id).await?)
    }
}

/// Whether `id` is an AutoscalingRunnerSet.
pub(super) fn is_ars(id: &ObjectId) -> bool {
    id.group == arc::GROUP && id.kind == arc::ARS_KIND
}

/// List a kind; a kind the server does not serve (ARC's CRDs absent) is empty.
pub async fn list_or_empty(
    cluster: &Cluster,
    (group, version, kind): (&str, &str, &str),
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Live>, KubeError> {
    match cluster
        .list(group, version, kind, namespace, selector)
        .await
    {
        Err(KubeError::UnknownKind(_)) => Ok(Vec::new()),
        other => other,
    }
}

/// [`Cluster::list_wide`]; a kind the server does not serve is empty.
pub async fn wide_or_empty(
    cluster: &Cluster,
    kind: (&str, &str, &str),
    selector: Option<&str>,
    fallback: &[String],
) -> Result<WideList, KubeError> {
    match cluster.list_wide(kind, selector, fallback).await {
        Err(KubeError::UnknownKind(_)) => Ok(WideList::default()),
        other => other,
    }
}

/// Read everything [`doctor::diagnose`] needs, for the runner sets of
/// namespace `scope` (`None`: every namespace).
pub async fn doctor_snapshot(
    cluster: &Cluster,
    scope: Option<&str>,
    stuck_after_seconds: i64,
) -> Result<Snapshot, KubeError> {
    let arc_kind = |kind| (arc::GROUP, arc::VERSION, kind);
    let runner_sets = list_or_empty(cluster, arc_kind(arc::ARS_KIND), scope, None).await?;
    let mut others = Vec::new();
    for kind in [
        arc_kind(arc::ERS_KIND),
        arc_kind(arc::ER_KIND),
        ("", "v1", "ServiceAccount"),
        ("", "v1", "Secret"),
        ("rbac.authorization.k8s.io", "v1", "Role"),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ] {
        others.extend(list_or_empty(cluster, kind, scope, None).await?);
    }
    // Controllers and listeners run in the controller's namespace: looked
    // for in every namespace, or, when that is forbidden (a user whose
    // rights are Roles), in the controller's (of the ServiceAccount the
    // manager RoleBindings of the runner sets in scope bind; else the
    // namespace in scope).
    let fallback: Vec<String> = match scope {
        Some(ns) => {
            let named = doctor::controller_namespaces(&runner_sets, &others);
            if named.is_empty() {
                vec![ns.to_string()]
            } else {
                named.into_iter().collect()
            }
        }
        None => Vec::new(),
    };
    let controllers = wide_or_empty(
        cluster,
        ("apps", "v1", "Deployment"),
        Some(arc::CONTROLLER_SELECTOR),
        &fallback,
    )
    .await?;
    let listeners = wide_or_empty(cluster, arc_kind(arc::LISTENER_KIND), None, &fallback).await?;
    let mut pods = Vec::new();
    for namespace in doctor::pod_namespaces(&others) {
        pods.extend(list_or_empty(cluster, ("", "v1", "Pod"), Some(&namespace), None).await?);
    }
    Ok(Snapshot {
        controllers_only_in: controllers.only_in,
        controllers: controllers.items,
        runner_sets,
        listeners: listeners.items,
        others,
        pods,
        namespace: scope.map(str::to_string),
        now: jiff::Timestamp::now().as_second(),
        stuck_after_seconds,
    })
}

/// `--rescue`: find the release's runner sets in `namespace` and the dependents they name
/// that the release owns. Returned as manifest objects built from the live
/// state (Secret payloads already removed).
pub async fn rescue_objects(
    cluster: &Cluster,
    release: &str,
    namespace: &str,
) -> Result<Vec<Object>, KubeError> {
    let ars_kind = (arc::GROUP, arc::VERSION, arc::ARS_KIND);
    let sets = list_or_empty(cluster, ars_kind, Some(namespace), None).await?;
    let mut lives: Vec<Live> = Vec::new();
    for ars in sets.into_iter().filter(|a| owned_by(a, release, namespace)) {
        let refs = RunnerSetRefs::from_ars(&ars.value, namespace);
        lives.push(ars);
        for id in super::rescue::dependent_ids(&refs) {
            if let Some(l) = cluster.get(&id).await?
                && owned_by(&l, release, namespace)
                && !lives.iter().any(|x| x.id == l.id)
            {
                lives.push(l);
            }
        }
    }
    Ok(lives
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let mut value = l.value;
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), l.id.api_version().into());
                map.insert("kind".into(), l.id.kind.clone().into());
            }
            Object::from_value(value, i, namespace).ok()
        })
        .collect())
}
