//! Per-process snapshots of a binary under test.
//!
//! Several checkouts may share one `CARGO_TARGET_DIR`; a build of another
//! one relinks `target/debug/<bin>` and could swap the binary in the middle
//! of a test run. A test process therefore runs a snapshot (hard link, else
//! copy) taken on first use.
//!
//! Snapshots live in `<dir of the binary>/test-bin-snapshots/<id>/` beside a
//! lock file `<id>.lock` that the owning process holds locked for as long as
//! it lives (the operating system releases it when the process exits). A
//! new snapshot removes those whose lock it can take: their owner is gone.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The snapshot of `built` for this process (taken on the first call for
/// that path; later calls return the same path).
pub fn snapshot(built: &Path) -> PathBuf {
    static TAKEN: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let mut taken = TAKEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    taken
        .entry(built.to_path_buf())
        .or_insert_with(|| take(built))
        .clone()
}

/// The lock files of this process's snapshot directories, held until exit.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

fn take(built: &Path) -> PathBuf {
    let root = built
        .parent()
        .expect("binary has a parent dir")
        .join("test-bin-snapshots");
    fs::create_dir_all(&root).expect("create snapshot root");
    remove_abandoned(&root);
    let (lock, lock_path) = tempfile::Builder::new()
        .prefix("run-")
        .suffix(".lock")
        .tempfile_in(&root)
        .expect("create snapshot lock file")
        .keep()
        .expect("keep snapshot lock file");
    lock.lock().expect("lock the snapshot lock file");
    let dir = lock_path.with_extension("");
    fs::create_dir_all(&dir).expect("create snapshot dir");
    HELD.lock().unwrap_or_else(|p| p.into_inner()).push(lock);
    let name = built.file_name().expect("binary has a file name");
    let snapshot = dir.join(name);
    if fs::hard_link(built, &snapshot).is_err() {
        fs::copy(built, &snapshot).expect("copy the binary under test");
    }
    snapshot
}

/// Remove the snapshot directories (and lock files) no live process holds.
fn remove_abandoned(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "lock") {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            let _ = fs::remove_dir_all(path.with_extension(""));
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_taken_once_and_kept_while_its_owner_lives() {
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("tool");
        fs::write(&built, "v1").unwrap();
        let first = snapshot(&built);
        assert_ne!(first, built);
        assert_eq!(fs::read_to_string(&first).unwrap(), "v1");
        // A relink of the built binary does not reach the snapshot.
        fs::remove_file(&built).unwrap();
        fs::write(&built, "v2").unwrap();
        assert_eq!(snapshot(&built), first);
        assert_eq!(fs::read_to_string(&first).unwrap(), "v1");
        // Another process's cleanup (here: this one's) leaves a held snapshot alone...
        let root = first.parent().unwrap().parent().unwrap().to_path_buf();
        remove_abandoned(&root);
        assert!(first.is_file());
        // ...and removes one whose lock nobody holds.
        let abandoned = root.join("run-gone");
        fs::create_dir_all(&abandoned).unwrap();
        fs::write(abandoned.join("tool"), "v0").unwrap();
        File::create(root.join("run-gone.lock")).unwrap();
        remove_abandoned(&root);
        assert!(!abandoned.exists());
        assert!(!root.join("run-gone.lock").exists());
        assert!(first.is_file());
    }
}
