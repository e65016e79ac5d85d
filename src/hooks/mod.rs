//! `render --hooks`: Helm `pre-delete` hook resources that make a plain
//! `helm uninstall` (Helm 4) tear a release down in teardown order. Pure: no I/O.
//!
//! For a plan with waves `0..=n`, the generated documents are a
//! ServiceAccount, per namespace a Role granting `get`, `list`, `watch` and
//! `delete` on exactly the named objects (`resourceNames`) and a RoleBinding
//! (a ClusterRole and ClusterRoleBinding only when cluster-scoped objects are
//! in an early wave), then one Job per wave `0..n` that runs
//! `kubectl delete --wait` on that wave's objects. Helm runs pre-delete hooks
//! one at a time by weight and waits for each Job to complete, so wave `k + 1`
//! is deleted only after wave `k` is gone; Helm itself deletes the last wave.
//!
//! Helm 3 does not run hooks that a post-renderer adds (it would create the
//! Jobs at install time), so Helm 3 input is refused
//! ([`HookError::Helm3Input`]). The rendered stream is left byte for byte
//! (see `crate::render`); the hook documents are appended after it.

mod yaml;

use crate::graph::{self, GraphError};
use crate::manifest::{
    self, Form, ManifestError, Object, ObjectId, POSTRENDER_FILENAME, ParseOptions,
};
use crate::render::{self, RenderError, RenderOptions};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Default image: the official kubectl image (distroless, entrypoint
/// `kubectl`), pinned to the kubectl release the tests run.
pub const DEFAULT_IMAGE: &str = "registry.k8s.io/kubectl:v1.35.2";
/// `helm.sh/hook-delete-policy` of every generated document.
pub const DELETE_POLICY: &str = "before-hook-creation,hook-succeeded";
/// Verbs the hook Role grants on each named object.
pub const VERBS: [&str; 4] = ["get", "list", "watch", "delete"];
/// Label marking generated documents (`app.kubernetes.io/component`).
pub const COMPONENT: &str = "teardown-hook";
/// Annotation on each hook Job: the teardown wave it deletes.
pub const HOOK_WAVE_ANNOTATION: &str = "teardown.helm-arc-uninstall/hook-wave";
/// Hook weight of the ServiceAccount; Roles and bindings follow, Jobs use
/// their wave number (0 and up).
pub const WEIGHT_SERVICE_ACCOUNT: i32 = -30;
/// Hook weight of Roles and ClusterRoles.
pub const WEIGHT_ROLE: i32 = -20;
/// Hook weight of RoleBindings and ClusterRoleBindings.
pub const WEIGHT_BINDING: i32 = -10;
/// File name Helm 4 shows for the generated documents (`# Source:`).
pub const HOOKS_FILE: &str = "templates/helm-arc-uninstall-hooks.yaml";

/// One toleration for the hook pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// Taint key; empty tolerates every key (with `Exists`).
    pub key: String,
    /// Taint value; `None` means operator `Exists`.
    pub value: Option<String>,
    /// Taint effect; `None` tolerates every effect.
    pub effect: Option<String>,
}

impl Toleration {
    /// Parse `KEY[=VALUE][:EFFECT]` (the `kubectl taint` spelling).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (rest, effect) = match spec.rsplit_once(':') {
            Some((rest, effect)) => (rest, Some(effect)),
            None => (spec, None),
        };
        if let Some(effect) = effect
            && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            return Err(format!(
                "toleration `{spec}`: effect must be NoSchedule, PreferNoSchedule or NoExecute"
            ));
        }
        let (key, value) = match rest.split_once('=') {
            Some((key, value)) => (key, Some(value.to_string())),
            None => (rest, None),
        };
        if key.is_empty() && value.is_some() {
            return Err(format!("toleration `{spec}`: a value needs a key"));
        }
        Ok(Self {
            key: key.to_string(),
            value,
            effect: effect.map(str::to_string),
        })
    }

    fn to_value(&self) -> Value {
        let mut t = Map::new();
        if !self.key.is_empty() {
            t.insert("key".into(), json!(self.key));
        }
        match &self.value {
            Some(v) => {
                t.insert("operator".into(), json!("Equal"));
                t.insert("value".into(), json!(v));
            }
            None => {
                t.insert("operator".into(), json!("Exists"));
            }
        }
        if let Some(e) = &self.effect {
            t.insert("effect".into(), json!(e));
        }
        Value::Object(t)
    }
}

/// Settings of the generated hooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookOptions {
    /// Container image with `kubectl` as its entrypoint (tag or digest).
    pub image: String,
    /// Namespace of the ServiceAccount and Jobs; `None`: the namespace of
    /// the first namespaced object deleted by a hook (else of the stream).
    pub namespace: Option<String>,
    /// `kubectl delete --timeout` of each wave, in seconds.
    pub timeout_seconds: u64,
    /// `activeDeadlineSeconds` of each Job.
    pub active_deadline_seconds: u64,
    /// `backoffLimit` of each Job.
    pub backoff_limit: u32,
    /// `imagePullSecrets` of the hook pods.
    pub image_pull_secrets: Vec<String>,
    /// `nodeSelector` of the hook pods.
    pub node_selector: Vec<(String, String)>,
    /// `tolerations` of the hook pods.
    pub tolerations: Vec<Toleration>,
}

impl Default for HookOptions {
    fn default() -> Self {
        Self {
            image: DEFAULT_IMAGE.into(),
            namespace: None,
            timeout_seconds: 120,
            active_deadline_seconds: 270,
            backoff_limit: 1,
            image_pull_secrets: Vec::new(),
            node_selector: Vec::new(),
            tolerations: Vec::new(),
        }
    }
}

/// Why `render --hooks` refused its input.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Helm 3 post-renderer input.
    #[error(
        "--hooks needs Helm 4: this input is Helm 3 post-renderer input (`# Source:` lines, no \
         {POSTRENDER_FILENAME} annotation), and Helm 3 does not run hooks a post-renderer adds \
         (it would create the teardown Jobs at install time and delete the runner set right \
         away). Render without --hooks and tear down with `helm arc-uninstall RELEASE`"
    )]
    Helm3Input,
    /// The stream does not parse.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Stamping the stream failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The teardown order cannot be computed.
    #[error("teardown graph: {0}")]
    Graph(#[from] GraphError),
    /// A hook option is invalid.
    #[error("hook option: {0}")]
    Option(String),
    /// The output did not read back as expected.
    #[error("internal check failed, refusing to write the output: {0}")]
    Verify(String),
}

/// `render` plus the hook documents appended (see the module docs).
pub fn render_with_hooks(
    input: &str,
    render_opts: &RenderOptions,
    hook_opts: &HookOptions,
) -> Result<String, HookError> {
    let parse_opts = ParseOptions {
        default_namespace: render_opts.default_namespace.clone(),
    };
    let manifest = manifest::parse(input, &parse_opts)?;
    if manifest.form == Form::Helm3 {
        return Err(HookError::Helm3Input);
    }
    let stamped = render::render(input, render_opts)?;
    let objects: Vec<&Object> = manifest.objects().collect();
    // Hooks generated earlier (a chart that vendors them, or a second pass):
    // keep them as they are, add no second set.
    if objects.iter().any(|o| is_generated(o)) {
        return Ok(stamped);
    }
    let source = (manifest.form == Form::Helm4PostRender)
        .then(|| hooks_file(&manifest))
        .flatten();
    let hooks = generate(&objects, source.as_deref(), hook_opts)?;
    if hooks.is_empty() {
        return Ok(stamped);
    }
    let mut appended = String::new();
    for hook in &hooks {
        appended.push_str("---\n");
        appended.push_str(&yaml::to_yaml(hook));
    }
    verify(&appended, &parse_opts, &hooks)?;
    let mut output = stamped;
    if !output.is_empty() && !output.ends_with('\n') {
        output.push('\n');
    }
    output.push_str(&appended);
    Ok(output)
}

/// `<chart>/templates/helm-arc-uninstall-hooks.yaml` from the first document's file name.
fn hooks_file(manifest: &manifest::Manifest) -> Option<String> {
    let first = manifest
        .documents
        .iter()
        .find_map(|d| d.postrender_filename.as_deref())?;
    let chart = first.split('/').next().filter(|c| !c.is_empty())?;
    Some(format!("{chart}/{HOOKS_FILE}"))
}

/// The appended documents must read back as exactly the generated objects.
fn verify(appended: &str, opts: &ParseOptions, hooks: &[Value]) -> Result<(), HookError> {
    let reparsed = manifest::parse(appended, opts).map_err(|e| HookError::Verify(e.to_string()))?;
    let docs: Vec<_> = reparsed
        .documents
        .iter()
        .filter(|d| !matches!(d.content, manifest::Content::Empty))
        .collect();
    if docs.len() != hooks.len() {
        return Err(HookError::Verify("document count changed".into()));
    }
    for (doc, hook) in docs.iter().zip(hooks) {
        match doc.objects() {
            [object] if &object.value == hook => {}
            _ => {
                return Err(HookError::Verify(format!(
                    "{} does not read back as generated",
                    doc.reference()
                )));
            }
        }
    }
    Ok(())
}

/// The hook documents for `objects` (a whole stream, hooks included, in
/// document order). Empty when the plan has a single wave.
pub fn generate(
    objects: &[&Object],
    source: Option<&str>,
    opts: &HookOptions,
) -> Result<Vec<Value>, HookError> {
    check_options(opts)?;
    let teardown = graph::plan(objects.iter().copied())?;
    let waves = teardown.waves();
    let Some((_, early)) = waves.split_last() else {
        return Ok(Vec::new());
    };
    // Objects Helm keeps (`helm.sh/resource-policy`) are not deleted by the hooks either.
    let targets: Vec<Vec<&Object>> = early
        .iter()
        .map(|wave| {
            wave.iter()
                .map(|&i| objects[i])
                .filter(|o| o.annotation("helm.sh/resource-policy").is_none())
                .collect()
        })
        .collect();
    let all: Vec<&Object> = targets.iter().flatten().copied().collect();
    let Some(first) = all.first() else {
        return Ok(Vec::new());
    };
    let hook_ns = opts
        .namespace
        .clone()
        .or_else(|| all.iter().find_map(|o| o.id.namespace.clone()))
        .or_else(|| objects.iter().find_map(|o| o.id.namespace.clone()))
        .unwrap_or_else(|| "default".into());
    let plurals = crd_plurals(objects);
    let namespaced = grants(all.iter().filter(|o| o.id.namespace.is_some()), &plurals);
    let cluster = grants(all.iter().filter(|o| o.id.namespace.is_none()), &plurals);

    let taken: HashSet<(String, Option<String>, String)> = objects
        .iter()
        .map(|o| (o.id.kind.clone(), o.id.namespace.clone(), o.id.name.clone()))
        .collect();
    let base = free_base_name(&first.id.name, &all, &hook_ns, &taken, |base| {
        let mut names = vec![(
            "ServiceAccount".to_string(),
            Some(hook_ns.clone()),
            base.to_string(),
        )];
        for ns in namespaced.keys() {
            names.push(("Role".into(), Some(ns.clone()), base.to_string()));
            names.push(("RoleBinding".into(), Some(ns.clone()), base.to_string()));
        }
        if !cluster.is_empty() {
            names.push(("ClusterRole".into(), None, base.to_string()));
            names.push(("ClusterRoleBinding".into(), None, base.to_string()));
        }
        for wave in 0..targets.len() {
            names.push(("Job".into(), Some(hook_ns.clone()), job_name(base, wave)));
        }
        names
    });

    let meta = |kind_weight: i32, namespace: Option<&str>, name: &str| {
        metadata(name, namespace, kind_weight, source)
    };
    let mut docs = vec![json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(WEIGHT_SERVICE_ACCOUNT, Some(&hook_ns), &base),
        "automountServiceAccountToken": true,
    })];
    let subject = json!([{"kind": "ServiceAccount", "name": base, "namespace": hook_ns}]);
    for (ns, rules) in &namespaced {
        docs.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta(WEIGHT_ROLE, Some(ns), &base),
            "rules": rules_value(rules),
        }));
    }
    if !cluster.is_empty() {
        let rules = cluster.values().next().map(rules_value).unwrap_or_default();
        docs.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta(WEIGHT_ROLE, None, &base),
            "rules": rules,
        }));
    }
    for ns in namespaced.keys() {
        docs.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(WEIGHT_BINDING, Some(ns), &base),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": base},
            "subjects": subject,
        }));
    }
    if !cluster.is_empty() {
        docs.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta(WEIGHT_BINDING, None, &base),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": base},
            "subjects": subject,
        }));
    }
    for (wave, wave_targets) in targets.iter().enumerate() {
        if wave_targets.is_empty() {
            continue;
        }
        let name = job_name(&base, wave);
        let weight = i32::try_from(wave).unwrap_or(i32::MAX);
        let mut metadata = meta(weight, Some(&hook_ns), &name);
        metadata["annotations"][HOOK_WAVE_ANNOTATION] = json!(wave.to_string());
        docs.push(json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": job_spec(&base, wave, wave_targets, opts),
        }));
    }
    Ok(docs)
}

fn check_options(opts: &HookOptions) -> Result<(), HookError> {
    let bad = |m: String| Err(HookError::Option(m));
    if opts.image.trim().is_empty() || opts.image.chars().any(char::is_whitespace) {
        return bad(format!("image `{}` is not an image reference", opts.image));
    }
    if let Some(ns) = &opts.namespace
        && !is_dns_label(ns)
    {
        return bad(format!("namespace `{ns}` is not a valid namespace name"));
    }
    if opts.timeout_seconds == 0 || opts.active_deadline_seconds == 0 {
        return bad("timeout and deadline must be positive".into());
    }
    for secret in &opts.image_pull_secrets {
        if secret.is_empty() {
            return bad("an image pull secret name is empty".into());
        }
    }
    for (key, _) in &opts.node_selector {
        if key.is_empty() {
            return bad("a node selector key is empty".into());
        }
    }
    Ok(())
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `(group, resource)` -> names, per namespace (`""` for cluster scope).
type Grants = BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>>;

fn grants<'a>(
    objects: impl Iterator<Item = &'a &'a Object>,
    plurals: &BTreeMap<(String, String), String>,
) -> Grants {
    let mut out = Grants::new();
    for o in objects {
        out.entry(o.id.namespace.clone().unwrap_or_default())
            .or_default()
            .entry((o.id.group.clone(), resource_of(&o.id, plurals)))
            .or_default()
            .insert(o.id.name.clone());
    }
    out
}

fn rules_value(rules: &BTreeMap<(String, String), BTreeSet<String>>) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|((group, resource), names)| {
                json!({
                    "apiGroups": [group],
                    "resources": [resource],
                    "resourceNames": names.iter().collect::<Vec<_>>(),
                    "verbs": VERBS,
                })
            })
            .collect(),
    )
}

/// Plurals declared by CRDs in the stream: (group, kind) -> plural.
fn crd_plurals(objects: &[&Object]) -> BTreeMap<(String, String), String> {
    objects
        .iter()
        .filter(|o| o.id.kind == "CustomResourceDefinition")
        .filter_map(|o| {
            let spec = o.value.get("spec")?;
            let group = spec.get("group")?.as_str()?;
            let kind = spec.pointer("/names/kind")?.as_str()?;
            let plural = spec.pointer("/names/plural")?.as_str()?;
            Some(((group.to_string(), kind.to_string()), plural.to_string()))
        })
        .collect()
}

/// The REST resource of a kind: a CRD's declared plural, else Kubernetes'
/// own guess (`meta.UnsafeGuessKindToResource`), which matches every
/// built-in kind and the ARC CRDs.
pub fn resource_of(id: &ObjectId, plurals: &BTreeMap<(String, String), String>) -> String {
    if let Some(plural) = plurals.get(&(id.group.clone(), id.kind.clone())) {
        return plural.clone();
    }
    let singular = id.kind.to_ascii_lowercase();
    if singular == "endpoints" {
        return singular;
    }
    if let Some(stem) = singular.strip_suffix('y') {
        return format!("{stem}ies");
    }
    if singular.ends_with('s') {
        return format!("{singular}es");
    }
    format!("{singular}s")
}

/// `kubectl` reference to one object: `Kind.version.group/name`, resolved
/// through discovery (no plural guess involved).
pub fn kubectl_ref(id: &ObjectId) -> String {
    format!("{}.{}.{}/{}", id.kind, id.version, id.group, id.name)
}

const SUFFIX: &str = "-teardown-";
/// Longest `-w<wave>` suffix kept within 63 characters (waves below 1000).
const JOB_SUFFIX_MAX: usize = 5;
const HASH_LEN: usize = 6;

fn job_name(base: &str, wave: usize) -> String {
    format!("{base}-w{wave}")
}

/// `<stem>-teardown-<hash>`: stem from the first target's name, hash of the
/// targets and hook namespace (plus a salt on collision with the stream).
fn free_base_name(
    first: &str,
    targets: &[&Object],
    hook_ns: &str,
    taken: &HashSet<(String, Option<String>, String)>,
    names: impl Fn(&str) -> Vec<(String, Option<String>, String)>,
) -> String {
    let max_stem = 63 - SUFFIX.len() - HASH_LEN - JOB_SUFFIX_MAX;
    let mut stem: String = first
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(max_stem)
        .collect();
    while stem.ends_with('-') {
        stem.pop();
    }
    if stem.is_empty() || !stem.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        stem = format!("hau{stem}");
    }
    let mut key = String::from(hook_ns);
    for t in targets {
        key.push('\n');
        key.push_str(&t.id.to_string());
        key.push_str(&t.id.group);
    }
    let mut salt = 0u32;
    loop {
        let hash = fnv1a(&format!("{key}\n{salt}"));
        let base = format!(
            "{stem}{SUFFIX}{:0width$x}",
            hash % (1 << 24),
            width = HASH_LEN
        );
        if names(&base).iter().all(|n| !taken.contains(n)) {
            return base;
        }
        salt += 1;
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn metadata(name: &str, namespace: Option<&str>, weight: i32, source: Option<&str>) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    meta.insert("labels".into(), labels());
    let mut annotations = Map::new();
    annotations.insert("helm.sh/hook".into(), json!("pre-delete"));
    annotations.insert("helm.sh/hook-weight".into(), json!(weight.to_string()));
    annotations.insert("helm.sh/hook-delete-policy".into(), json!(DELETE_POLICY));
    if let Some(source) = source {
        annotations.insert(POSTRENDER_FILENAME.into(), json!(source));
    }
    meta.insert("annotations".into(), Value::Object(annotations));
    Value::Object(meta)
}

/// Whether `object` is a hook document this module generated.
pub fn is_generated(object: &Object) -> bool {
    object.is_hook()
        && object.label("app.kubernetes.io/name") == Some("helm-arc-uninstall")
        && object.label("app.kubernetes.io/component") == Some(COMPONENT)
}

fn labels() -> Value {
    json!({
        "app.kubernetes.io/name": "helm-arc-uninstall",
        "app.kubernetes.io/component": COMPONENT,
    })
}

fn job_spec(base: &str, wave: usize, targets: &[&Object], opts: &HookOptions) -> Value {
    // One kubectl run per namespace (cluster-scoped objects in their own run),
    // one after the other: init containers, the last one as the main container.
    let mut groups: BTreeMap<Option<String>, Vec<&ObjectId>> = BTreeMap::new();
    for t in targets {
        groups
            .entry(t.id.namespace.clone())
            .or_default()
            .push(&t.id);
    }
    let mut containers: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, (ns, ids))| {
            let name = if groups.len() == 1 {
                "delete".to_string()
            } else {
                format!("delete-{i}")
            };
            container(&name, ns.as_deref(), ids, opts)
        })
        .collect();
    let main = containers.pop().unwrap_or(Value::Null);
    let mut pod = Map::new();
    pod.insert("serviceAccountName".into(), json!(base));
    pod.insert("automountServiceAccountToken".into(), json!(true));
    pod.insert("restartPolicy".into(), json!("Never"));
    pod.insert(
        "securityContext".into(),
        json!({
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }),
    );
    if !opts.image_pull_secrets.is_empty() {
        pod.insert(
            "imagePullSecrets".into(),
            opts.image_pull_secrets
                .iter()
                .map(|s| json!({"name": s}))
                .collect(),
        );
    }
    if !opts.node_selector.is_empty() {
        pod.insert(
            "nodeSelector".into(),
            Value::Object(
                opts.node_selector
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect(),
            ),
        );
    }
    if !opts.tolerations.is_empty() {
        pod.insert(
            "tolerations".into(),
            opts.tolerations.iter().map(Toleration::to_value).collect(),
        );
    }
    if !containers.is_empty() {
        pod.insert("initContainers".into(), Value::Array(containers));
    }
    pod.insert("containers".into(), json!([main]));
    pod.insert(
        "volumes".into(),
        json!([{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]),
    );
    let mut pod_labels = labels();
    pod_labels[HOOK_WAVE_ANNOTATION] = json!(wave.to_string());
    json!({
        "backoffLimit": opts.backoff_limit,
        "activeDeadlineSeconds": opts.active_deadline_seconds,
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": Value::Object(pod),
        },
    })
}

/// The kubectl arguments (exec form, the image's entrypoint is kubectl).
pub fn kubectl_args(
    namespace: Option<&str>,
    ids: &[&ObjectId],
    timeout_seconds: u64,
) -> Vec<String> {
    let mut args = vec!["delete".to_string()];
    if let Some(ns) = namespace {
        args.push(format!("--namespace={ns}"));
    }
    args.extend([
        "--ignore-not-found=true".to_string(),
        "--wait=true".to_string(),
        format!("--timeout={timeout_seconds}s"),
    ]);
    args.extend(ids.iter().map(|id| kubectl_ref(id)));
    args
}

fn container(name: &str, namespace: Option<&str>, ids: &[&ObjectId], opts: &HookOptions) -> Value {
    json!({
        "name": name,
        "image": opts.image,
        "args": kubectl_args(namespace, ids, opts.timeout_seconds),
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": {
            "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    })
}

#[cfg(test)]
mod tests;
