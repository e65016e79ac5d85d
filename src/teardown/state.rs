//! The state directory: a copy of the release manifest taken before anything
//! is deleted (a failed `helm uninstall` purges the record), reused by
//! `--rescue` when the record is gone, and removed once the release is.
//!
//! The copy keeps only what `--rescue` needs: every object, with the values
//! of Secret `data` and `stringData` emptied (the keys stay), so no
//! credential (the chart's GitHub token) reaches the disk. The directories
//! are created 0700 and the file 0600 (created so, not changed afterwards).

use crate::manifest::{self, ManifestError, Object};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where state lives: `--state-dir`, else `$XDG_STATE_HOME/helm-arc-uninstall`,
/// else `~/.local/state/helm-arc-uninstall`.
pub fn state_root(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("helm-arc-uninstall"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/helm-arc-uninstall"))
}

/// The manifest copy of one release.
pub fn manifest_path(root: &Path, namespace: &str, release: &str) -> PathBuf {
    root.join(namespace).join(release).join("manifest.yaml")
}

/// The copy to save of a release manifest (`helm get manifest` output):
/// one JSON document per object (JSON is YAML), Secret `data` and
/// `stringData` values emptied. Pure.
pub fn redacted_manifest(text: &str, namespace: &str) -> Result<String, ManifestError> {
    let opts = manifest::ParseOptions {
        default_namespace: namespace.to_string(),
    };
    let parsed = manifest::parse(text, &opts)?;
    let mut out = String::from(
        "# helm-arc-uninstall: the release's objects for --rescue; Secret values removed\n",
    );
    for object in parsed.objects() {
        let value = redacted(object);
        out.push_str("---\n");
        out.push_str(&serde_json::to_string_pretty(&value).unwrap_or_default());
        out.push('\n');
    }
    Ok(out)
}

/// An object's JSON with the values of a Secret's `data` and `stringData` emptied.
fn redacted(object: &Object) -> Value {
    let mut value = object.value.clone();
    if object.id.group.is_empty() && object.id.kind == "Secret" {
        for field in ["data", "stringData"] {
            match value.get_mut(field) {
                Some(Value::Object(map)) => {
                    for v in map.values_mut() {
                        *v = Value::String(String::new());
                    }
                }
                Some(other) => *other = Value::Null,
                None => {}
            }
        }
    }
    value
}

/// Save the manifest copy atomically (write a new file, then rename it over
/// the old one): directories created 0700, the file created 0600.
pub fn save_manifest(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let tmp = path.with_extension("yaml.tmp");
    // A leftover of an interrupted run may have other permissions: start anew.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Remove the manifest copy and its release and namespace directories when
/// they are left empty. A copy that is not there is fine.
pub fn remove_manifest(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // Not empty (another release's copy): kept.
    let mut dir = path.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Read a saved manifest, if any.
pub fn load_manifest(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = manifest_path(dir.path(), "ns", "rel");
        assert_eq!(load_manifest(&path), None);
        save_manifest(&path, "---\nkind: X\n").unwrap();
        assert_eq!(load_manifest(&path).as_deref(), Some("---\nkind: X\n"));
        assert!(path.ends_with("ns/rel/manifest.yaml"));
        // A second copy of the namespace keeps the namespace directory.
        let other = manifest_path(dir.path(), "ns", "other");
        save_manifest(&other, "x").unwrap();
        remove_manifest(&path).unwrap();
        assert!(!path.exists() && !dir.path().join("ns/rel").exists());
        assert!(other.exists());
        remove_manifest(&other).unwrap();
        assert!(!dir.path().join("ns").exists() && dir.path().exists());
        remove_manifest(&other).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_0700_and_the_copy_0600_from_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        let path = manifest_path(&root, "ns", "rel");
        // A stale world-readable temporary file is replaced, not reused.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::set_permissions(
            path.parent().unwrap(),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, "old").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        save_manifest(&path, "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        let fresh = manifest_path(&root, "ns2", "rel");
        save_manifest(&fresh, "x").unwrap();
        for d in [root.join("ns2"), root.join("ns2/rel")] {
            assert_eq!(mode(&d), 0o700, "{}", d.display());
        }
    }

    #[test]
    fn secret_values_are_emptied_and_everything_else_kept() {
        let text = "---\n# Source: c/templates/s.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: gh\n\
                    data:\n  github_token: Z2hwX3NlY3JldA==\nstringData:\n  other: plain-secret\n---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n";
        let copy = redacted_manifest(text, "ns").unwrap();
        assert!(!copy.contains("Z2hwX3NlY3JldA==") && !copy.contains("plain-secret"));
        assert!(copy.contains("\"github_token\": \"\"") && copy.contains("\"other\": \"\""));
        assert!(copy.contains("\"k\": \"v\""), "other kinds keep their data");
        // The copy reads back as the same objects.
        let opts = manifest::ParseOptions {
            default_namespace: "ns".into(),
        };
        let back = manifest::parse(&copy, &opts).unwrap();
        let names: Vec<String> = back.objects().map(|o| o.id.to_string()).collect();
        assert_eq!(names, ["Secret/ns/gh", "ConfigMap/ns/cm"]);
    }
}
