//! Preflight: the read-only facts about the cluster and the pure verdict on
//! them. A plan that would wedge (no controller serving the runner set, its
//! RBAC or GitHub access broken, a finalizer nobody removes, a runner set the
//! controller deletes without cleanup) is refused before anything is
//! deleted, unless `--force-finalizers`; a shared GitHub registration is
//! refused unless `--keep-registration`.

pub use crate::arc::controller::Controller;
use crate::arc::versions::{self, Line, Owner};
use crate::arc::{self, RunnerSetRefs, credentials, rbac};
use crate::model::{Live, ObjectId};
use serde::Serialize;

/// What the cluster says about one AutoscalingRunnerSet of the release.
#[derive(Clone, Debug, Default)]
pub struct RunnerSetFacts {
    /// Names read from the ARS (live if present, else the manifest).
    pub refs: Option<RunnerSetRefs>,
    /// The live ARS; `None` when already gone.
    pub ars: Option<Live>,
    /// Whether the manager Role exists (`None` when not annotated).
    pub manager_role: Option<bool>,
    /// Whether the manager RoleBinding exists (`None` when not annotated).
    pub manager_role_binding: Option<bool>,
    /// The live manager Role, when it exists.
    pub manager_role_object: Option<Live>,
    /// The live manager RoleBinding, when it exists.
    pub manager_role_binding_object: Option<Live>,
    /// Whether the Kubernetes Secret `spec.githubConfigSecret` exists
    /// (`None` when not set, or when it names a vault key).
    pub github_secret: Option<bool>,
    /// Names of the non-empty keys of that Secret, when it exists.
    pub github_secret_keys: Vec<String>,
    /// Proxy credential Secrets: name, the spec field naming it, whether it exists.
    pub proxy_secrets: Vec<(String, &'static str, bool)>,
    /// The TLS ConfigMap's data keys (`Some(None)`: it does not exist; `None`: no TLS configured).
    pub tls_config_map: Option<Option<Vec<String>>>,
    /// Every AutoscalingListener of the runner set (by spec and by labels).
    pub listeners: Vec<Live>,
    /// The ARS's EphemeralRunnerSets.
    pub runner_sets: Vec<Live>,
    /// The runners of those sets.
    pub runners: Vec<Live>,
    /// Listener Role/RoleBinding in the runner namespace.
    pub listener_rbac: Vec<Live>,
    /// Pods in the runner namespace named like the runners (a runner's pod has its name).
    pub pods: Vec<Live>,
}

/// What the cluster shows about a release's runner sets: everything
/// preflight and diagnosis read (not [`crate::graph::Facts`], the manifest
/// fields the graph rules read).
#[derive(Clone, Debug, Default)]
pub struct ClusterFacts {
    /// ARC controller Deployments found by label.
    pub controllers: Vec<Controller>,
    /// One entry per ARS in the release.
    pub runner_sets: Vec<RunnerSetFacts>,
    /// Every live AutoscalingRunnerSet in the cluster (to find shared GitHub registrations).
    pub cluster_runner_sets: Vec<RunnerSetRefs>,
    /// Release objects already Terminating.
    pub terminating: Vec<Live>,
    /// Manifest objects present in the cluster but owned by another release (or none).
    pub not_owned: Vec<ObjectId>,
    /// `pre-delete` hooks recorded with the release.
    pub pre_delete_hooks: Vec<String>,
    /// Whether the user passed `--no-hooks`.
    pub no_hooks: bool,
    /// `Some`: controllers were looked for only in these namespaces (the
    /// user may not list Deployments in every namespace).
    pub controllers_only_in: Option<Vec<String>>,
    /// Lists narrowed to single namespaces, for people.
    pub narrowed: Vec<String>,
}

impl ClusterFacts {
    /// The ARC line of the running controller ([`versions::detect`]).
    pub fn line(&self) -> Option<Line> {
        let version = self
            .controllers
            .iter()
            .find(|c| c.available)
            .or(self.controllers.first())
            .and_then(|c| c.version.as_deref());
        let finalizers: Vec<String> = self
            .runner_sets
            .iter()
            .flat_map(|s| &s.runner_sets)
            .filter(|ers| !ers.is_terminating())
            .flat_map(Live::finalizers)
            .collect();
        versions::detect(version, finalizers.iter().map(String::as_str))
    }

    /// The version of the running controller, if known.
    pub fn controller_version(&self) -> Option<&str> {
        self.controllers
            .iter()
            .find(|c| c.available)
            .and_then(|c| c.version.as_deref())
    }
}

/// Why the teardown would wedge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "wedge", rename_all = "snake_case")]
pub enum Wedge {
    /// No available ARC controller.
    ControllerDown,
    /// Controllers run, but none serves this runner set's namespace.
    NotServed {
        /// ARS `namespace/name`.
        runner_set: String,
        /// The running controllers and what they watch.
        controllers: Vec<String>,
    },
    /// The manager Role or RoleBinding is missing.
    RbacLost {
        /// The missing objects.
        missing: Vec<String>,
    },
    /// The manager RoleBinding and Role exist but do not give the running controller what cleanup needs.
    RbacNotBound {
        /// ARS `namespace/name`.
        runner_set: String,
        /// What is wrong, one clause each.
        problems: Vec<String>,
    },
    /// The GitHub config Secret is missing.
    CredentialsGone {
        /// `namespace/name` of the Secret.
        secret: String,
    },
    /// The GitHub config Secret exists but holds no usable credentials.
    CredentialsInvalid {
        /// `namespace/name` of the Secret.
        secret: String,
        /// What it lacks (key names only).
        problem: String,
    },
    /// A proxy credential Secret is missing.
    ProxySecretMissing {
        /// `namespace/name` of the Secret.
        secret: String,
        /// The spec field naming it.
        field: String,
    },
    /// The `githubServerTLS` ConfigMap is missing or lacks its key.
    TlsConfigMissing {
        /// `namespace/name` of the ConfigMap.
        config_map: String,
        /// What is wrong.
        problem: String,
    },
    /// The runner set's version differs from the controller's and it has no
    /// finalizer: the controller deletes it without any cleanup.
    VersionSkew {
        /// ARS `namespace/name`.
        runner_set: String,
        /// Its `app.kubernetes.io/version` (`None`: missing).
        version: Option<String>,
        /// The controller's version.
        controller_version: String,
    },
    /// Objects already Terminating hold a finalizer that nobody removes.
    StaleFinalizer {
        /// `Kind/namespace/name: finalizer (why)` lines.
        objects: Vec<String>,
    },
}

impl Wedge {
    /// Short name used in events and exit summaries (the diagnosis cause).
    pub fn name(&self) -> &'static str {
        match self {
            Wedge::ControllerDown | Wedge::NotServed { .. } => "controller_down",
            Wedge::RbacLost { .. } => "lost_rbac",
            Wedge::RbacNotBound { .. } => "rbac_not_bound",
            Wedge::CredentialsGone { .. } => "missing_credentials",
            Wedge::CredentialsInvalid { .. } => "invalid_credentials",
            Wedge::ProxySecretMissing { .. } => "missing_proxy_secret",
            Wedge::TlsConfigMissing { .. } => "missing_tls_config",
            Wedge::VersionSkew { .. } => "version_skew",
            Wedge::StaleFinalizer { .. } => "stale_finalizer",
        }
    }

    /// The ladder `--force-finalizers` runs for this wedge.
    pub fn ladder(&self) -> LadderKind {
        match self {
            Wedge::ControllerDown
            | Wedge::NotServed { .. }
            | Wedge::RbacLost { .. }
            | Wedge::RbacNotBound { .. }
            | Wedge::VersionSkew { .. } => LadderKind::BottomUp,
            Wedge::CredentialsGone { .. }
            | Wedge::CredentialsInvalid { .. }
            | Wedge::ProxySecretMissing { .. }
            | Wedge::TlsConfigMissing { .. } => LadderKind::Credentials,
            Wedge::StaleFinalizer { .. } => LadderKind::Stale,
        }
    }
}

/// Runner sets that share one GitHub registration with this release's runner set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedRegistration {
    /// This release's ARS `namespace/name`.
    pub runner_set: String,
    /// The other ARSs (`namespace/name`).
    pub others: Vec<String>,
    /// Scale set name, runner group and config URL they share.
    pub registration: String,
    /// The scale set id, when registered.
    pub scale_set_id: Option<String>,
}

/// A runner that is running a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BusyRunner {
    /// `namespace/name`.
    pub name: String,
    /// When the runner was created (RFC 3339), as a lower bound of the job's age.
    pub since: Option<String>,
}

/// Which finalizer ladder `--force-finalizers` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderKind {
    /// Controller alive, GitHub unreachable: drop GitHub deregistration, let the controller clean Kubernetes.
    Credentials,
    /// Controller absent (or unable): strip ARC's finalizers bottom-up.
    BottomUp,
    /// Strip only finalizers that nobody removes (see [`versions::Owner::Nobody`]).
    Stale,
    /// Drop the GitHub registration finalizer of runners stuck on a job whose pod is gone, only theirs.
    DeadJobs,
}

/// The verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Causes that would wedge the teardown.
    pub wedges: Vec<Wedge>,
    /// Reasons to stop that no flag overrides.
    pub blockers: Vec<String>,
    /// Registrations shared with runner sets outside the release (refused unless `--keep-registration`).
    pub shared: Vec<SharedRegistration>,
    /// Things preflight cannot check or that do not wedge, one line each.
    pub notes: Vec<String>,
    /// Runners running a job (the teardown waits for them).
    pub busy: Vec<BusyRunner>,
    /// Objects already Terminating, with their finalizers.
    pub terminating: Vec<String>,
    /// Runner sets (`namespace/name`) owning an EphemeralRunnerSet that the
    /// running controller's cleanup does not wait for
    /// ([`versions::cleanup_waits_for`]): deleted with foreground
    /// propagation, so that the runner set stays until every set it owns is
    /// gone, and the next waves (its credentials, its RBAC) wait for them.
    pub foreground: Vec<String>,
}

impl Assessment {
    /// The ladder `--force-finalizers` would run, if any: bottom-up wins over
    /// the credentials ladder, which wins over stripping stale finalizers.
    pub fn ladder(&self) -> Option<LadderKind> {
        let kinds: Vec<LadderKind> = self.wedges.iter().map(Wedge::ladder).collect();
        [
            LadderKind::BottomUp,
            LadderKind::Credentials,
            LadderKind::Stale,
        ]
        .into_iter()
        .find(|k| kinds.contains(k))
    }
}

/// Finalizers on `objects` that nobody removes under `line`, as
/// `Kind/namespace/name: finalizer (why)`; only objects already Terminating.
pub fn stale_finalizers<'l>(
    line: Option<Line>,
    objects: impl IntoIterator<Item = &'l Live>,
) -> Vec<String> {
    let mut out = Vec::new();
    for live in objects {
        if !live.is_terminating() {
            continue;
        }
        for f in live.finalizers() {
            if let Owner::Nobody(why) = versions::owner(line, &f, &live.id.kind) {
                out.push(format!("{}: {f} ({why})", live.id));
            }
        }
    }
    out
}

/// Runners running a job whose pod (same name) is gone (upstream #4585).
pub fn dead_job_runners(set: &RunnerSetFacts) -> Vec<&Live> {
    set.runners
        .iter()
        .filter(|r| arc::runner_is_busy(r))
        .filter(|r| {
            !set.pods
                .iter()
                .any(|p| p.id.name == r.id.name && p.id.namespace == r.id.namespace)
        })
        .collect()
}

/// The registration key the controller looks a scale set up by.
fn registration(refs: &RunnerSetRefs) -> (String, String, String) {
    (
        refs.scale_set_name.clone(),
        refs.runner_group_or_default().to_string(),
        refs.github_config_url.clone().unwrap_or_default(),
    )
}

/// Runner sets outside `mine` sharing its GitHub registration: the same
/// `runner-scale-set-id` and config URL, or the same scale set name, runner
/// group and config URL (the controller looks the scale set up by name).
pub fn shared_with(
    mine: &RunnerSetRefs,
    cluster: &[RunnerSetRefs],
    release: &[RunnerSetRefs],
) -> Vec<String> {
    let same_object =
        |a: &RunnerSetRefs, b: &RunnerSetRefs| a.namespace == b.namespace && a.name == b.name;
    cluster
        .iter()
        .filter(|other| !release.iter().any(|r| same_object(r, other)))
        .filter(|other| {
            let same_id = mine.scale_set_id.is_some()
                && mine.scale_set_id == other.scale_set_id
                && mine.github_config_url == other.github_config_url;
            same_id || registration(mine) == registration(other)
        })
        .map(RunnerSetRefs::qualified)
        .collect()
}

fn check_controller(facts: &ClusterFacts, refs: &RunnerSetRefs, out: &mut Assessment) -> bool {
    let available: Vec<&Controller> = facts.controllers.iter().filter(|c| c.available).collect();
    if available.is_empty() {
        return false;
    }
    if !available.iter().any(|c| c.serves(&refs.namespace)) {
        out.wedges.push(Wedge::NotServed {
            runner_set: refs.qualified(),
            controllers: available
                .iter()
                .map(|c| match &c.watch_namespace {
                    Some(ns) => format!("{} (watches only {ns})", c.name),
                    None => c.name.clone(),
                })
                .collect(),
        });
        return false;
    }
    true
}

fn check_rbac(
    facts: &ClusterFacts,
    set: &RunnerSetFacts,
    refs: &RunnerSetRefs,
    out: &mut Assessment,
) {
    let mut missing = Vec::new();
    if set.manager_role_binding == Some(false) {
        missing.push(format!(
            "RoleBinding/{}/{}",
            refs.namespace,
            refs.manager_role_binding.as_deref().unwrap_or_default()
        ));
    }
    if set.manager_role == Some(false) {
        missing.push(format!(
            "Role/{}/{}",
            refs.namespace,
            refs.manager_role.as_deref().unwrap_or_default()
        ));
    }
    if !missing.is_empty() {
        out.wedges.push(Wedge::RbacLost { missing });
        return;
    }
    let mut problems = Vec::new();
    if let Some(binding) = &set.manager_role_binding_object {
        let serving: Vec<&Controller> = facts
            .controllers
            .iter()
            .filter(|c| c.available && c.serves(&refs.namespace))
            .collect();
        let accounts: Vec<&(String, String)> = serving
            .iter()
            .filter_map(|c| c.service_account.as_ref())
            .collect();
        // Only judged when every serving controller names its ServiceAccount.
        if !accounts.is_empty()
            && accounts.len() == serving.len()
            && !accounts
                .iter()
                .any(|(ns, name)| rbac::binds_service_account(&binding.value, ns, name))
        {
            let bound = rbac::bound_service_accounts(&binding.value);
            problems.push(format!(
                "RoleBinding/{}/{} binds {} but the running controller is ServiceAccount {}",
                refs.namespace,
                binding.id.name,
                if bound.is_empty() {
                    "no ServiceAccount".to_string()
                } else {
                    bound.join(", ")
                },
                accounts
                    .iter()
                    .map(|(ns, n)| format!("{ns}/{n}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        if let Some(role) = &refs.manager_role
            && rbac::bound_role(&binding.value) != Some(role.as_str())
        {
            problems.push(format!(
                "RoleBinding/{}/{} does not grant Role {role} (roleRef: {})",
                refs.namespace,
                binding.id.name,
                rbac::bound_role(&binding.value).unwrap_or("not a Role")
            ));
        }
    }
    if let Some(role) = &set.manager_role_object {
        let lacking = rbac::missing_grants(&role.value);
        if !lacking.is_empty() {
            problems.push(format!(
                "Role/{}/{} does not grant {}",
                refs.namespace,
                role.id.name,
                lacking.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        out.wedges.push(Wedge::RbacNotBound {
            runner_set: refs.qualified(),
            problems,
        });
    }
}

fn check_github_access(set: &RunnerSetFacts, refs: &RunnerSetRefs, out: &mut Assessment) {
    let ns = &refs.namespace;
    if let Some(vault) = &refs.github.vault {
        out.notes.push(format!(
            "GitHub credentials of {} are in a vault ({vault}, key {}): the tool cannot check them; if the controller \
             cannot read them, the teardown times out and the diagnosis says so",
            refs.qualified(),
            refs.github.config_secret.as_deref().unwrap_or("-")
        ));
    }
    match set.github_secret {
        Some(false) => out.wedges.push(Wedge::CredentialsGone {
            secret: format!(
                "{ns}/{}",
                refs.github.kubernetes_config_secret().unwrap_or_default()
            ),
        }),
        Some(true) => {
            if let Some(problem) = credentials::config_secret_problem(&set.github_secret_keys) {
                out.wedges.push(Wedge::CredentialsInvalid {
                    secret: format!(
                        "{ns}/{}",
                        refs.github.kubernetes_config_secret().unwrap_or_default()
                    ),
                    problem,
                });
            }
        }
        None => {}
    }
    for (name, field, exists) in &set.proxy_secrets {
        if !exists {
            out.wedges.push(Wedge::ProxySecretMissing {
                secret: format!("{ns}/{name}"),
                field: (*field).to_string(),
            });
        }
    }
    if let (Some((name, key)), Some(data)) = (&refs.github.tls, &set.tls_config_map)
        && let Some(problem) = credentials::tls_problem(data.as_deref(), key)
    {
        out.wedges.push(Wedge::TlsConfigMissing {
            config_map: format!("{ns}/{name}"),
            problem,
        });
    }
}

/// EphemeralRunnerSets of the runner set that its controller's cleanup does
/// not wait for (sets created under 0.14, after an upgrade to the 0.15 line):
/// the runner set goes with foreground propagation.
fn check_outliving_runner_sets(
    set: &RunnerSetFacts,
    refs: &RunnerSetRefs,
    ars: &Live,
    line: Option<Line>,
    out: &mut Assessment,
) {
    if ars.is_terminating() {
        return;
    }
    let outliving: Vec<String> = set
        .runner_sets
        .iter()
        .filter(|ers| !versions::cleanup_waits_for(line, &refs.name, &ers.id.name))
        .map(|ers| ers.id.to_string())
        .collect();
    if outliving.is_empty() {
        return;
    }
    out.foreground.push(refs.qualified());
    out.notes.push(format!(
        "{} would outlive {}: the ARC {} controller's cleanup of a runner set waits only for EphemeralRunnerSet \
         {}/{}, and the garbage collector deletes an older set only once the runner set is gone, after the tool would \
         have deleted the credentials and RBAC its cleanup needs; the runner set is therefore deleted with foreground \
         propagation, so that it stays until they are gone",
        outliving.join(", "),
        refs.qualified(),
        line.map_or("running", Line::label),
        refs.namespace,
        refs.name
    ));
}

fn check_version(
    facts: &ClusterFacts,
    set: &RunnerSetFacts,
    refs: &RunnerSetRefs,
    ars: &Live,
    out: &mut Assessment,
) {
    let Some(controller_version) = facts.controller_version() else {
        return;
    };
    let Some(want) = versions::major_minor(controller_version) else {
        return;
    };
    let have = refs.version.as_deref();
    if have.and_then(versions::major_minor) == Some(want) {
        return;
    }
    let _ = set;
    let has_finalizer = ars.finalizers().iter().any(|f| f == arc::ARS_FINALIZER);
    if has_finalizer {
        out.notes.push(format!(
            "{} is version {} but the controller is {controller_version}: the controller deletes runner sets of another \
             major.minor; this one has its finalizer, so its cleanup still runs",
            refs.qualified(),
            have.unwrap_or("(no app.kubernetes.io/version label)")
        ));
    } else if !ars.is_terminating() {
        out.wedges.push(Wedge::VersionSkew {
            runner_set: refs.qualified(),
            version: have.map(str::to_string),
            controller_version: controller_version.to_string(),
        });
    }
}

/// Judge the facts. Pure.
pub fn assess(facts: &ClusterFacts) -> Assessment {
    let mut out = Assessment::default();
    let live_sets: Vec<&RunnerSetFacts> = facts
        .runner_sets
        .iter()
        .filter(|s| s.ars.is_some())
        .collect();
    if !live_sets.is_empty() && !facts.controllers.iter().any(|c| c.available) {
        out.wedges.push(Wedge::ControllerDown);
    }
    let release_refs: Vec<RunnerSetRefs> = facts
        .runner_sets
        .iter()
        .filter_map(|s| s.refs.clone())
        .collect();
    let line = facts.line();
    for set in &live_sets {
        let (Some(refs), Some(ars)) = (&set.refs, &set.ars) else {
            continue;
        };
        let served = check_controller(facts, refs, &mut out);
        if served {
            check_rbac(facts, set, refs, &mut out);
            check_version(facts, set, refs, ars, &mut out);
        }
        check_github_access(set, refs, &mut out);
        check_outliving_runner_sets(set, refs, ars, line, &mut out);
        let others = shared_with(refs, &facts.cluster_runner_sets, &release_refs);
        if !others.is_empty() && !ars.is_terminating() {
            let (name, group, url) = registration(refs);
            out.shared.push(SharedRegistration {
                runner_set: refs.qualified(),
                others,
                registration: format!("scale set {name:?} in runner group {group:?} of {url}"),
                scale_set_id: refs.scale_set_id.clone(),
            });
        }
        for runner in set.runners.iter().filter(|r| arc::runner_is_busy(r)) {
            out.busy.push(BusyRunner {
                name: runner.id.namespaced_name(),
                since: runner
                    .str_at("/metadata/creationTimestamp")
                    .map(str::to_string),
            });
        }
    }
    let runtime = facts
        .runner_sets
        .iter()
        .flat_map(|s| s.runner_sets.iter().chain(&s.runners).chain(&s.listeners));
    let stale = stale_finalizers(line, runtime.chain(&facts.terminating));
    if !stale.is_empty() {
        out.wedges.push(Wedge::StaleFinalizer { objects: stale });
    }
    out.terminating = facts
        .terminating
        .iter()
        .map(|l| format!("{} (finalizers: {})", l.id, list_or_none(&l.finalizers())))
        .collect();
    if !facts.not_owned.is_empty() {
        let names: Vec<String> = facts.not_owned.iter().map(ToString::to_string).collect();
        out.blockers.push(format!(
            "{} in the release manifest exist but are not owned by this release (meta.helm.sh/release-name/-namespace differ); \
             `helm uninstall` would delete them anyway, so nothing was touched. Fix their ownership annotations or remove them from the release first.",
            names.join(", ")
        ));
    }
    if !facts.pre_delete_hooks.is_empty() && !facts.no_hooks {
        out.blockers.push(format!(
            "the release has pre-delete hooks ({}); they would run only after the objects they prepare are gone. \
             Rerun with --no-hooks to skip the chart's hooks, or run `helm uninstall` yourself.",
            facts.pre_delete_hooks.join(", ")
        ));
    }
    out
}

/// The paragraph for a shared registration refusal.
pub fn shared_paragraph(shared: &SharedRegistration, rerun: &super::rerun::Rerun) -> String {
    format!(
        "{} shares its GitHub registration ({}{}) with {}: the controller looks scale sets up by name, so both use one \
         registration, and tearing this one down deletes it on GitHub, which breaks the other's runners and wedges its \
         own teardown later (the scale set can no longer be deleted). Rerun `{}` to tear this \
         one down and leave the registration to the other (the tool removes this runner set's runner-scale-set-id right \
         after deleting it, so the controller removes only its runners from GitHub); tear down the last of them without \
         the flag, which deletes the registration.",
        shared.runner_set,
        shared.registration,
        shared
            .scale_set_id
            .as_deref()
            .map(|id| format!(", id {id}"))
            .unwrap_or_default(),
        shared.others.join(", "),
        rerun.with_flag("--keep-registration")
    )
}

/// The refusal cause when no object of the release exists and preflight found problems.
pub const NOTHING_FOUND: &str = "nothing_found";

/// One paragraph for [`NOTHING_FOUND`]: none of the `objects` objects of the
/// release exists on `target` (a description of server, context and user),
/// while preflight found `problems`.
pub fn nothing_found_paragraph(
    objects: usize,
    problems: &[String],
    target: &str,
    release: &str,
    namespace: &str,
) -> String {
    format!(
        "None of the {objects} objects of release {release} exists on {target}, and preflight found problems: {}. \
         Either this is not the cluster the release was installed in (check KUBECONFIG, --kube-context, --kube-apiserver \
         and the other --kube-* flags given to Helm), or its objects were removed by hand. Nothing was deleted and the \
         release record, if any, is kept. If the objects really are gone, `helm uninstall {release} -n {namespace}` \
         removes the record.",
        problems.join("; ")
    )
}

/// One paragraph a user can act on, for a refusal.
pub fn refusal_paragraph(wedge: &Wedge, rerun: &super::rerun::Rerun) -> String {
    match wedge {
        Wedge::ControllerDown => format!(
            "The ARC controller is not running (no available Deployment labelled {}), so nothing would remove the \
             finalizers of the AutoscalingRunnerSet and of the RBAC, ServiceAccounts and Secret it protects: they \
             would stay Terminating. Start the controller again (install or scale up the gha-runner-scale-set-controller \
             chart) and rerun `{rerun}`, or rerun with --force-finalizers to strip ARC's finalizers bottom-up; the scale \
             set and its runners then stay registered on GitHub and must be removed there.",
            arc::CONTROLLER_SELECTOR
        ),
        Wedge::RbacLost { missing } => format!(
            "{} that the ARC controller needs in the runner namespace {} missing, so it cannot delete the listener's \
             Role/RoleBinding, read the GitHub secret or remove runners, and cleanup would stall. Restore it \
             (`helm rollback` or `helm upgrade --reuse-values` of this release recreates it) and rerun `{rerun}`, or rerun \
             with --force-finalizers to strip ARC's finalizers bottom-up.",
            missing.join(" and "),
            if missing.len() == 1 { "is" } else { "are" }
        ),
        Wedge::CredentialsGone { secret } => format!(
            "The GitHub config Secret {secret} named by the AutoscalingRunnerSet's spec.githubConfigSecret does not \
             exist, so the controller cannot remove runners or the scale set from GitHub and would retry forever. \
             Recreate the Secret with valid credentials and rerun `{rerun}`, or rerun with --force-finalizers to let \
             the controller clean up Kubernetes without GitHub (the scale set and runners then stay registered on \
             GitHub and must be removed there)."
        ),
        Wedge::NotServed {
            runner_set,
            controllers,
        } => format!(
            "No running ARC controller serves {runner_set}: {} only watch other namespaces \
             (label {}), so nothing would finalize it and it would stay Terminating. Install or reconfigure a \
             controller that watches its namespace and rerun `{rerun}`, or rerun with --force-finalizers to strip ARC's \
             finalizers bottom-up (the scale set and its runners then stay registered on GitHub).",
            controllers.join(", "),
            arc::WATCH_SINGLE_NAMESPACE_LABEL
        ),
        Wedge::RbacNotBound {
            runner_set,
            problems,
        } => format!(
            "The manager RBAC of {runner_set} exists but does not let the running controller clean up: {}. Its calls in \
             the runner namespace would be forbidden and the cleanup would stall. Fix the RoleBinding/Role (`helm upgrade \
             --reuse-values` with the right controllerServiceAccount, or `helm rollback`) and rerun `{rerun}`, or rerun \
             with --force-finalizers to strip ARC's finalizers bottom-up.",
            problems.join("; ")
        ),
        Wedge::CredentialsInvalid { secret, problem } => format!(
            "The GitHub config Secret {secret} {problem}, so the controller cannot build its GitHub client, cannot \
             remove runners or the scale set from GitHub and would retry forever. Put valid credentials into it \
             (`kubectl -n {} create secret generic ... --dry-run=client -o yaml | kubectl apply -f -`) and rerun \
             `{rerun}`, or rerun with --force-finalizers to let the controller clean up Kubernetes without GitHub (the \
             scale set and runners then stay registered on GitHub).",
            secret.split('/').next().unwrap_or_default()
        ),
        Wedge::ProxySecretMissing { secret, field } => format!(
            "The proxy credential Secret {secret} named by {field} does not exist; the controller reads it for every \
             GitHub call, so it cannot remove runners or the scale set and would retry forever. Recreate it (keys \
             username and password) and rerun `{rerun}`, or rerun with --force-finalizers to let the controller clean \
             up Kubernetes without GitHub (the scale set and runners then stay registered on GitHub)."
        ),
        Wedge::TlsConfigMissing {
            config_map,
            problem,
        } => format!(
            "The ConfigMap {config_map} named by spec.githubServerTLS {problem}; the controller reads the CA bundle \
             for every GitHub call, so it cannot remove runners or the scale set and would retry forever. Restore it \
             and rerun `{rerun}`, or rerun with --force-finalizers to let the controller clean up Kubernetes without \
             GitHub (the scale set and runners then stay registered on GitHub)."
        ),
        Wedge::VersionSkew {
            runner_set,
            version,
            controller_version,
        } => format!(
            "{runner_set} is {} but the controller is {controller_version}, and it has no \
             autoscalingrunnerset.actions.github.com/finalizer: the controller deletes a runner set of another \
             major.minor without any cleanup, so its RBAC, ServiceAccounts and Secret would keep \
             actions.github.com/cleanup-protection and stay Terminating (and its scale set stays on GitHub). Upgrade the \
             runner set to the controller's version (`helm upgrade --version {controller_version} --reuse-values`) and \
             rerun `{rerun}`, or rerun with --force-finalizers to strip cleanup-protection from its objects once it is gone.",
            version
                .as_deref()
                .map(|v| format!("version {v}"))
                .unwrap_or_else(|| "missing its app.kubernetes.io/version label".to_string())
        ),
        Wedge::StaleFinalizer { objects } => format!(
            "Finalizers nobody removes: {}. These objects would stay Terminating whatever the controller does. Rerun \
             `{}` to strip exactly these finalizers (nothing else).",
            objects.join("; "),
            rerun.with_force_finalizers()
        ),
    }
}

pub(crate) fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::arc::test_object as live;

    fn healthy() -> ClusterFacts {
        let ars = json!({"metadata": {"name": "set", "namespace": "runners",
            "labels": {"app.kubernetes.io/version": "0.14.2"}, "annotations": {
            "actions.github.com/cleanup-manager-role-name": "set-gha-rs-manager",
            "actions.github.com/cleanup-manager-role-binding": "set-gha-rs-manager"}},
            "spec": {"githubConfigSecret": "set-gha-rs-github-secret"}});
        ClusterFacts {
            controllers: vec![Controller {
                name: "arc-systems/arc".into(),
                available: true,
                ..Default::default()
            }],
            runner_sets: vec![RunnerSetFacts {
                refs: Some(RunnerSetRefs::from_ars(&ars, "runners")),
                ars: Some(live("AutoscalingRunnerSet", "set", ars)),
                manager_role: Some(true),
                manager_role_binding: Some(true),
                github_secret: Some(true),
                github_secret_keys: vec!["github_token".into()],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn healthy_release_passes() {
        let a = assess(&healthy());
        assert_eq!(a, Assessment::default());
        assert_eq!(a.ladder(), None);
    }

    #[test]
    fn controller_down_wedges_and_picks_bottom_up() {
        let mut f = healthy();
        f.controllers[0].available = false;
        let a = assess(&f);
        assert_eq!(a.wedges, vec![Wedge::ControllerDown]);
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
    }

    #[test]
    fn controller_absent_does_not_matter_once_the_ars_is_gone() {
        let mut f = healthy();
        f.controllers.clear();
        f.runner_sets[0].ars = None;
        assert!(assess(&f).wedges.is_empty());
    }

    #[test]
    fn lost_rbac_and_credentials_are_named() {
        let mut f = healthy();
        f.runner_sets[0].manager_role_binding = Some(false);
        f.runner_sets[0].github_secret = Some(false);
        let a = assess(&f);
        assert_eq!(
            a.wedges,
            vec![
                Wedge::RbacLost {
                    missing: vec!["RoleBinding/runners/set-gha-rs-manager".into()]
                },
                Wedge::CredentialsGone {
                    secret: "runners/set-gha-rs-github-secret".into()
                },
            ]
        );
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
        let rerun =
            crate::teardown::rerun::Rerun::new("helm arc-uninstall set -n runners", None, false);
        let text = refusal_paragraph(&a.wedges[0], &rerun);
        assert!(
            text.contains("RoleBinding/runners/set-gha-rs-manager that the ARC controller needs")
        );
        assert!(text.contains("--force-finalizers"));
    }

    #[test]
    fn credentials_alone_pick_the_credential_ladder() {
        let mut f = healthy();
        f.runner_sets[0].github_secret = Some(false);
        assert_eq!(assess(&f).ladder(), Some(LadderKind::Credentials));
    }

    #[test]
    fn busy_runners_are_reported_not_refused() {
        let mut f = healthy();
        f.runner_sets[0].runners.push(live(
            "EphemeralRunner",
            "set-abc-runner-x",
            json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running", "jobId": "j1"}}),
        ));
        let a = assess(&f);
        assert!(a.wedges.is_empty());
        assert_eq!(
            a.busy,
            vec![BusyRunner {
                name: "runners/set-abc-runner-x".into(),
                since: Some("2026-01-01T00:00:00Z".into())
            }]
        );
    }

    #[test]
    fn objects_owned_by_someone_else_block() {
        let mut f = healthy();
        f.not_owned.push(ObjectId {
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("runners".into()),
            name: "shared".into(),
        });
        let a = assess(&f);
        assert_eq!(a.blockers.len(), 1);
        assert!(a.blockers[0].starts_with("Secret/runners/shared in the release manifest exist"));
    }

    #[test]
    fn nothing_found_names_the_target_and_the_problems() {
        let text = nothing_found_paragraph(
            7,
            &["ARC controller: no available Deployment".into()],
            "http://127.0.0.1:1 (context a, user u)",
            "rel",
            "ns",
        );
        assert!(text.starts_with(
            "None of the 7 objects of release rel exists on http://127.0.0.1:1 (context a, user u)"
        ));
        assert!(text.contains("problems: ARC controller: no available Deployment."));
        assert!(text.contains("`helm uninstall rel -n ns`"));
    }

    #[test]
    fn pre_delete_hooks_block_unless_no_hooks() {
        let mut f = healthy();
        f.pre_delete_hooks = vec!["Job/runners/cleanup".into()];
        assert_eq!(assess(&f).blockers.len(), 1);
        f.no_hooks = true;
        assert!(assess(&f).blockers.is_empty());
    }

    fn controller(labels: serde_json::Value) -> Controller {
        Controller::from_deployment(&Live::new(
            ObjectId {
                group: "apps".into(),
                version: "v1".into(),
                kind: "Deployment".into(),
                namespace: Some("arc-systems".into()),
                name: "arc-gha-rs-controller".into(),
            },
            json!({"metadata": {"labels": labels},
                   "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2"}]}}},
                   "status": {"availableReplicas": 1}}),
        ))
    }

    fn binding(sa_ns: &str, sa: &str, role: &str) -> Live {
        live(
            "RoleBinding",
            "set-gha-rs-manager",
            json!({"roleRef": {"kind": "Role", "name": role},
                   "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]}),
        )
    }

    #[test]
    fn controller_deployment_labels_are_read() {
        let c = controller(json!({
            "actions.github.com/controller-service-account-namespace": "arc-systems",
            "actions.github.com/controller-service-account-name": "arc-gha-rs-controller",
            "actions.github.com/controller-watch-single-namespace": "team-a"}));
        assert_eq!(
            c.service_account,
            Some(("arc-systems".into(), "arc-gha-rs-controller".into()))
        );
        assert_eq!(c.version.as_deref(), Some("0.14.2"), "from the image tag");
        assert!(c.serves("team-a") && !c.serves("runners"));
    }

    #[test]
    fn a_single_namespace_controller_elsewhere_is_controller_down_for_this_set() {
        let mut f = healthy();
        f.controllers = vec![controller(json!({
            "actions.github.com/controller-watch-single-namespace": "team-a"}))];
        let a = assess(&f);
        assert_eq!(a.wedges[0].name(), "controller_down");
        assert!(
            matches!(&a.wedges[0], Wedge::NotServed { runner_set, .. } if runner_set == "runners/set")
        );
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
        assert!(
            refusal_paragraph(
                &a.wedges[0],
                &crate::teardown::rerun::Rerun::new("x", None, false)
            )
            .contains("watches only team-a")
        );
    }

    #[test]
    fn a_role_binding_to_another_service_account_is_rbac_not_bound() {
        let mut f = healthy();
        f.controllers = vec![controller(json!({
            "actions.github.com/controller-service-account-namespace": "arc-systems",
            "actions.github.com/controller-service-account-name": "arc-gha-rs-controller"}))];
        f.runner_sets[0].manager_role_binding_object = Some(binding(
            "arc-systems",
            "arc-gha-rs-controller",
            "set-gha-rs-manager",
        ));
        assert!(
            assess(&f).wedges.is_empty(),
            "bound to the running controller"
        );
        f.runner_sets[0].manager_role_binding_object = Some(binding(
            "arc-systems",
            "old-controller",
            "set-gha-rs-manager",
        ));
        let a = assess(&f);
        assert_eq!(a.wedges.len(), 1);
        assert_eq!(a.wedges[0].name(), "rbac_not_bound");
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
        let text = refusal_paragraph(
            &a.wedges[0],
            &crate::teardown::rerun::Rerun::new("x", None, false),
        );
        assert!(text.contains("binds arc-systems/old-controller but the running controller is ServiceAccount arc-systems/arc-gha-rs-controller"), "{text}");
    }

    #[test]
    fn a_role_without_cleanup_grants_is_rbac_not_bound() {
        let mut f = healthy();
        f.runner_sets[0].manager_role_object = Some(live(
            "Role",
            "set-gha-rs-manager",
            json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}),
        ));
        let a = assess(&f);
        assert_eq!(a.wedges[0].name(), "rbac_not_bound");
        assert!(
            refusal_paragraph(
                &a.wedges[0],
                &crate::teardown::rerun::Rerun::new("x", None, false)
            )
            .contains("get/delete/patch secrets")
        );
    }

    #[test]
    fn config_secret_without_credentials_is_invalid_credentials() {
        let mut f = healthy();
        f.runner_sets[0].github_secret_keys = vec!["github_app_id".into()];
        let a = assess(&f);
        assert_eq!(a.wedges[0].name(), "invalid_credentials");
        assert_eq!(a.ladder(), Some(LadderKind::Credentials));
        let text = refusal_paragraph(
            &a.wedges[0],
            &crate::teardown::rerun::Rerun::new("x", None, false),
        );
        assert!(
            text.contains("github_app_installation_id, github_app_private_key missing"),
            "{text}"
        );
    }

    fn with_spec(f: &mut ClusterFacts, spec: serde_json::Value) {
        let mut ars = f.runner_sets[0].ars.clone().unwrap().value;
        ars["spec"] = spec;
        f.runner_sets[0].refs = Some(RunnerSetRefs::from_ars(&ars, "runners"));
        f.runner_sets[0].ars = Some(live("AutoscalingRunnerSet", "set", ars));
    }

    #[test]
    fn proxy_secret_and_tls_config_map_are_checked() {
        let mut f = healthy();
        with_spec(
            &mut f,
            json!({"githubConfigSecret": "set-gha-rs-github-secret",
            "proxy": {"https": {"url": "http://p:3128", "credentialSecretRef": "proxy-creds"}},
            "githubServerTLS": {"certificateFrom": {"configMapKeyRef": {"name": "ca", "key": "ca.crt"}}}}),
        );
        f.runner_sets[0].proxy_secrets = vec![(
            "proxy-creds".into(),
            "spec.proxy.https.credentialSecretRef",
            false,
        )];
        f.runner_sets[0].tls_config_map = Some(Some(vec!["other.crt".into()]));
        let a = assess(&f);
        let names: Vec<&str> = a.wedges.iter().map(Wedge::name).collect();
        assert_eq!(names, vec!["missing_proxy_secret", "missing_tls_config"]);
        assert_eq!(a.ladder(), Some(LadderKind::Credentials));
        assert!(
            refusal_paragraph(
                &a.wedges[1],
                &crate::teardown::rerun::Rerun::new("x", None, false)
            )
            .contains("runners/ca named by spec.githubServerTLS has no key ca.crt")
        );
    }

    #[test]
    fn a_vault_backed_runner_set_is_not_missing_credentials() {
        let mut f = healthy();
        with_spec(
            &mut f,
            json!({"githubConfigSecret": "github-app-key",
            "vaultConfig": {"type": "azure_key_vault"}}),
        );
        // The engine reads no Kubernetes Secret for a vault key.
        f.runner_sets[0].github_secret = None;
        f.runner_sets[0].github_secret_keys.clear();
        let a = assess(&f);
        assert!(a.wedges.is_empty(), "{:?}", a.wedges);
        assert_eq!(a.ladder(), None, "no credentials ladder on that ground");
        assert!(a.notes[0].contains(
            "in a vault (azure_key_vault, key github-app-key): the tool cannot check them"
        ));
    }

    fn other_set(
        name: &str,
        namespace: &str,
        spec: serde_json::Value,
        id: Option<&str>,
    ) -> RunnerSetRefs {
        let mut ars = json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec});
        if let Some(id) = id {
            ars["metadata"]["annotations"] = json!({"runner-scale-set-id": id});
        }
        RunnerSetRefs::from_ars(&ars, namespace)
    }

    #[test]
    fn shared_registrations_are_found_by_name_group_url_or_by_id() {
        let mut f = healthy();
        with_spec(
            &mut f,
            json!({"githubConfigSecret": "set-gha-rs-github-secret",
            "githubConfigUrl": "https://github.com/o/r", "runnerScaleSetName": "linux"}),
        );
        let mine = f.runner_sets[0].refs.clone().unwrap();
        f.cluster_runner_sets = vec![
            mine.clone(),
            // Same name, default group spelled out, same URL.
            other_set(
                "b",
                "team-b",
                json!({"githubConfigUrl": "https://github.com/o/r",
                "runnerScaleSetName": "linux", "runnerGroup": "default"}),
                None,
            ),
            // Same name, other group: another registration.
            other_set(
                "c",
                "team-c",
                json!({"githubConfigUrl": "https://github.com/o/r",
                "runnerScaleSetName": "linux", "runnerGroup": "gpu"}),
                None,
            ),
            // Its ARS name is the scale set name.
            other_set(
                "linux",
                "team-d",
                json!({"githubConfigUrl": "https://github.com/o/r"}),
                None,
            ),
        ];
        let a = assess(&f);
        assert_eq!(a.shared.len(), 1);
        assert_eq!(a.shared[0].others, vec!["team-b/b", "team-d/linux"]);
        assert!(
            a.wedges.is_empty(),
            "not a wedge: refused unless --keep-registration"
        );
        let text = shared_paragraph(
            &a.shared[0],
            &crate::teardown::rerun::Rerun::new("helm arc-uninstall set -n runners", None, false),
        );
        assert!(text.contains("with team-b/b, team-d/linux"), "{text}");
        assert!(text.contains("--keep-registration"));

        // The same scale set id and URL share a registration whatever the names.
        let mut f2 = healthy();
        with_spec(
            &mut f2,
            json!({"githubConfigUrl": "https://github.com/o/r", "githubConfigSecret": "s"}),
        );
        let mut ars = f2.runner_sets[0].ars.clone().unwrap().value;
        ars["metadata"]["annotations"]["runner-scale-set-id"] = json!("7");
        f2.runner_sets[0].refs = Some(RunnerSetRefs::from_ars(&ars, "runners"));
        f2.cluster_runner_sets = vec![other_set(
            "x",
            "team-x",
            json!({"githubConfigUrl": "https://github.com/o/r", "runnerScaleSetName": "other"}),
            Some("7"),
        )];
        assert_eq!(assess(&f2).shared[0].others, vec!["team-x/x"]);
    }

    fn versioned(f: &mut ClusterFacts, ars_version: Option<&str>, finalizer: bool) {
        f.controllers[0].version = Some("0.14.2".into());
        let mut ars = f.runner_sets[0].ars.clone().unwrap().value;
        ars["metadata"]["labels"] = match ars_version {
            Some(v) => json!({"app.kubernetes.io/version": v}),
            None => json!({}),
        };
        if finalizer {
            ars["metadata"]["finalizers"] = json!([arc::ARS_FINALIZER]);
        }
        f.runner_sets[0].refs = Some(RunnerSetRefs::from_ars(&ars, "runners"));
        f.runner_sets[0].ars = Some(live("AutoscalingRunnerSet", "set", ars));
    }

    #[test]
    fn version_skew_without_the_finalizer_means_no_cleanup() {
        let mut f = healthy();
        versioned(&mut f, Some("0.14.0"), false);
        assert!(assess(&f).wedges.is_empty(), "same major.minor");
        versioned(&mut f, Some("0.13.1"), false);
        let a = assess(&f);
        assert_eq!(a.wedges[0].name(), "version_skew");
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
        assert!(
            refusal_paragraph(
                &a.wedges[0],
                &crate::teardown::rerun::Rerun::new("x", None, false)
            )
            .contains("deletes a runner set of another major.minor without any cleanup")
        );
        let mut f = healthy();
        versioned(&mut f, None, false);
        assert!(
            refusal_paragraph(
                &assess(&f).wedges[0],
                &crate::teardown::rerun::Rerun::new("x", None, false)
            )
            .contains("missing its app.kubernetes.io/version label")
        );
        // With its finalizer, the cleanup runs: reported, not refused.
        let mut f = healthy();
        versioned(&mut f, Some("0.13.1"), true);
        let a = assess(&f);
        assert!(a.wedges.is_empty());
        assert!(a.notes[0].contains("this one has its finalizer, so its cleanup still runs"));
    }

    #[test]
    fn a_finalizer_nobody_removes_is_a_stale_finalizer() {
        let mut f = healthy();
        versioned(&mut f, Some("0.15.0"), true);
        f.controllers[0].version = Some("0.15.0".into());
        f.runner_sets[0].runner_sets.push(live(
            "EphemeralRunnerSet",
            "set-abcde",
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                "finalizers": [arc::ER_FINALIZER]}}),
        ));
        let a = assess(&f);
        assert_eq!(a.wedges[0].name(), "stale_finalizer");
        assert_eq!(a.ladder(), Some(LadderKind::Stale));
        // Under 0.14 the same finalizer is the runner set reconciler's.
        versioned(&mut f, Some("0.14.2"), true);
        assert!(assess(&f).wedges.is_empty());
    }

    #[test]
    fn a_set_the_0_15_cleanup_does_not_wait_for_makes_the_delete_foreground() {
        let mut f = healthy();
        versioned(&mut f, Some("0.15.0"), true);
        f.controllers[0].version = Some("0.15.0".into());
        let set = |name: &str| {
            live(
                "EphemeralRunnerSet",
                name,
                json!({"metadata": {"finalizers": [arc::ER_FINALIZER, arc::ERS_FINALIZER_HEAD]}}),
            )
        };
        f.runner_sets[0].runner_sets = vec![set("set")];
        assert!(
            assess(&f).foreground.is_empty(),
            "HEAD waits for its own set"
        );
        f.runner_sets[0].runner_sets.push(set("set-abcde"));
        let a = assess(&f);
        assert_eq!(a.foreground, vec!["runners/set"]);
        assert!(a.wedges.is_empty(), "not a wedge: {:?}", a.wedges);
        assert!(
            a.notes[0]
                .starts_with("EphemeralRunnerSet/runners/set-abcde would outlive runners/set"),
            "{}",
            a.notes[0]
        );
        // 0.14 waits for every set it owns.
        versioned(&mut f, Some("0.14.2"), true);
        f.runner_sets[0].runner_sets = vec![live(
            "EphemeralRunnerSet",
            "set-abcde",
            json!({"metadata": {"finalizers": [arc::ER_FINALIZER]}}),
        )];
        assert!(assess(&f).foreground.is_empty());
    }
}
