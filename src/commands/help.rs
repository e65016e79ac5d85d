//! Long help texts (`--help`) that document exit codes, environment
//! variables and the annotations `render` writes. Kept apart from the
//! argument definitions so each subcommand's module stays about behaviour.

/// `helm-arc-uninstall --help` (after the subcommand list).
pub const TOP: &str = "\
Exit codes:
  0  success (also: stdout closed early by its reader, as with `| head`)
  1  the command failed (cluster, Helm, I/O or an unexpected error)
  2  usage error or bad input: unknown flag, unreadable or invalid manifest, dependency cycle,
     unknown explicit-edge reference
  3  teardown timed out with objects left
  4  refused by preflight checks; nothing was deleted (--all-runner-sets: the runner sets
     were torn down, then --with-controller or --delete-crds was refused)
  5  doctor found problems (doctor --fix: problems left); doctor --fix also uses 4 (refused)

Environment:
  HELM_BIN                      Helm binary for `helm get manifest|hooks` and `helm uninstall` (Helm sets it)
  HELM_NAMESPACE                release namespace, as `-n` (Helm sets it)
  KUBECONFIG                    kubeconfig file(s), a path list, as `--kubeconfig` (Helm sets it for --kubeconfig)
  HELM_KUBECONTEXT              kubeconfig context, as `--kube-context` (Helm sets it)
  HELM_KUBEAPISERVER, HELM_KUBETOKEN, HELM_KUBEASUSER, HELM_KUBEASGROUPS, HELM_KUBECAFILE,
  HELM_KUBEINSECURE_SKIP_TLS_VERIFY, HELM_KUBETLS_SERVER_NAME
                                Helm's --kube-apiserver, --kube-token, --kube-as-user, --kube-as-group,
                                --kube-ca-file, --kube-insecure-skip-tls-verify, --kube-tls-server-name
                                (Helm sets them): the cluster and user are resolved from these as Helm
                                resolves them, and passed on to `helm`; one that cannot be honoured the
                                same way exits 2 before anything is done
  HELM_ARC_UNINSTALL_STATE_DIR  where `uninstall` keeps the manifest copy (default $XDG_STATE_HOME/helm-arc-uninstall)
  HELM_ARC_UNINSTALL_LOG        where `render` appends its error line (Helm 4 discards a post-renderer's stderr)
  HELM_ARC_UNINSTALL_VERIFY     `render --verify`

Shell completions: `helm-arc-uninstall completions bash|zsh|fish`.";

/// `render --help`.
pub const RENDER: &str = "\
Annotations written on every object that takes part in the teardown (not on Helm hooks):
  teardown.helm-arc-uninstall/wave   the object's teardown wave, 0 first (the AutoscalingRunnerSet)
  teardown.helm-arc-uninstall/after  the objects that must be gone before this one is deleted
                                     (`Kind/name` or `Kind/namespace/name`, comma-separated);
                                     absent when it waits on nothing
With --argocd:
  argocd.argoproj.io/sync-wave       highest for wave 0 (Argo CD deletes the highest wave first)
With --kapp:
  kapp.k14s.io/change-group          teardown.helm-arc-uninstall/wave-N
  kapp.k14s.io/change-rule           `delete before deleting teardown.helm-arc-uninstall/wave-N+1`
With --depends-on (kpt, cli-utils):
  config.kubernetes.io/depends-on    the objects that wait for this one (`group/namespaces/ns/Kind/name`)
With --hooks (Helm 4 only; Helm 3 input exits 2), appended documents: ServiceAccount, Role(s) and
RoleBinding(s) granting get/list/watch/delete on the named objects, one kubectl Job per wave but the last:
  helm.sh/hook                        pre-delete
  helm.sh/hook-weight                 ServiceAccount -30, Roles -20, bindings -10, Job of wave k: k
  helm.sh/hook-delete-policy          before-hook-creation,hook-succeeded
  teardown.helm-arc-uninstall/hook-wave  on each Job and its pods: the wave it deletes
  labels app.kubernetes.io/name=helm-arc-uninstall, app.kubernetes.io/component=teardown-hook

Annotations read (written by chart authors; they add ordering edges):
  teardown.helm-arc-uninstall/after   on B: these objects must be gone before B is deleted
  teardown.helm-arc-uninstall/before  on A: A must be gone before these objects are deleted
teardown.helm-arc-uninstall/wave and /after are render's own: values already present are replaced
(the planned /after includes the edges an author wrote) or removed when they no longer apply.
Nothing else in the stream changes, byte for byte.

Exit codes: 0 the annotated manifest is on stdout; 2 bad input: nothing on stdout, one line on
stderr and in $HELM_ARC_UNINSTALL_LOG (fail closed, so Helm stops).";

/// `uninstall --help`.
pub const UNINSTALL: &str = "\
Order: read the release manifest (`helm get manifest`), save a copy to the state directory, run
preflight (a controller serving the runner set, manager RBAC binding its ServiceAccount, GitHub
access, version, shared registrations, ownership, pre-delete hooks), then delete wave by wave
(UID preconditions), waiting until each wave is gone, then run `helm uninstall` for the release
record.

Diagnoses (preflight refusal or `diagnosis` event; next command in brackets):
  controller_down              no available controller, or none watches the namespace [--force-finalizers]
  lost_rbac                    manager Role/RoleBinding missing [--force-finalizers]
  rbac_not_bound               RoleBinding binds another ServiceAccount or the Role lacks grants [--force-finalizers]
  missing_credentials          the GitHub config Secret is gone [--force-finalizers]
  invalid_credentials          it holds no token nor complete GitHub App (key names only) [--force-finalizers]
  missing_proxy_secret         a proxy credentialSecretRef Secret is gone [--force-finalizers]
  missing_tls_config           the githubServerTLS ConfigMap or its key is gone [--force-finalizers]
  version_skew                 other major.minor and no finalizer: deleted without cleanup [--force-finalizers]
  stale_finalizer              a finalizer the running ARC line never removes [--force-finalizers]
  shared_registration          another runner set shares the GitHub registration [--keep-registration]
  runner_pod_gone              busy runner whose pod is gone (upstream #4585) [--force-finalizers]
  busy_runner                  a runner is running a job [--timeout 30m]
  scale_set_undeletable        GitHub refuses to delete the scale set [--force-finalizers]
  orphaned_cleanup_protection  objects keep cleanup-protection after their runner set [--force-finalizers]
  slow_controller              none of the above; read the controller log [rerun]
A vault-backed runner set (spec.vaultConfig) is noted, not checked.

Permissions (docs/rbac.md, examples/rbac/): in the release namespace secrets get/list/watch/update/
delete; serviceaccounts, roles, rolebindings, autoscalingrunnersets get/list/watch/delete;
ephemeralrunnersets, ephemeralrunners list/watch; pods, configmaps get. In the controller's
namespace deployments and autoscalinglisteners list. --force-finalizers adds patch on each kind
(and get/delete on runner sets, runners and listeners). A 403 ends the run naming the permission.

Exit codes:
  0  every object is gone and the release record removed (or --dry-run)
  1  failed (cluster, Helm, interrupted)
  2  bad input (unknown flag, invalid manifest, dependency cycle, a connection input that cannot
     be honoured as Helm honours it)
  3  a wave did not finish within --timeout; a diagnosis names what holds it
  4  refused by preflight (the teardown would wedge); nothing was deleted. --force-finalizers
     runs the finalizer ladder instead. With --all-runner-sets also: the runner sets were torn
     down, then --with-controller or --delete-crds was refused (the summary says why)";

/// `plan --help`.
pub const PLAN: &str = "\
Exit codes: 0 the plan is on stdout; 1 `helm get manifest` failed; 2 bad input (unreadable or
invalid manifest, dependency cycle, unknown explicit-edge reference): nothing on stdout.";

/// `demo --help`.
pub const DEMO: &str = "\
The demo needs no cluster and no Helm: an API server, a simulated ARC controller (0.14.2) and a
fake GitHub Actions service run in-process on 127.0.0.1. The releases are created as Helm leaves
them; the teardown is the real engine, as `helm arc-uninstall RELEASE` runs it, except for
`helm uninstall` of the release record at the end.

Exit codes: 0 every object is gone and the event log shows the AutoscalingRunnerSet gone before
its dependents were deleted; 1 otherwise.";

/// `doctor --help`.
pub const DOCTOR: &str = "\
Exit codes: 0 clean; 1 the command failed (cluster unreachable); 2 bad input; 4 refused: a safe fix
found its object changed since it was read and did not patch it; 5 problems found (each printed
with its fix).";
