//! The state directory: a copy of the release manifest taken before anything
//! is deleted (a failed `helm uninstall` purges the record), reused by
//! `--rescue` when the record is gone.

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

/// Save the manifest (atomically: write then rename).
pub fn save_manifest(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
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
    }
}
