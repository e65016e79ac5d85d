//! The real Helm and kubectl binaries the tests run against.
//!
//! `scripts/fetch-tools` fetches them into [`tools_dir`] (`helm3/{helm,kubectl}`,
//! `helm4/{helm,kubectl}`); tests never download: a missing binary panics
//! with a message saying to run it.

use std::path::PathBuf;

/// Directory holding `helm3/{helm,kubectl}` and `helm4/{helm,kubectl}`:
/// `$HAU_TOOLS_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/helm-arc-uninstall/tools`
/// (the cache of `scripts/fetch-tools`; empty variables count as unset).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HAU_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither HAU_TOOLS_DIR, XDG_CACHE_HOME nor HOME is set");
    cache.join("helm-arc-uninstall").join("tools")
}

/// A real Helm major version the tests run against, with its kubectl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Helm {
    /// Helm 3.17.3 (with kubectl 1.31).
    V3,
    /// Helm 4.1.4 (with kubectl 1.35).
    V4,
}

impl Helm {
    /// Both versions, for tests that loop over them.
    pub const ALL: [Helm; 2] = [Helm::V3, Helm::V4];

    /// The version whose tools directory is `slot` (`helm3` or `helm4`).
    pub fn from_slot(slot: &str) -> Option<Helm> {
        Helm::ALL.into_iter().find(|h| h.slot() == slot)
    }

    /// Its directory under [`tools_dir`]: `helm3` or `helm4`.
    pub fn slot(self) -> &'static str {
        match self {
            Helm::V3 => "helm3",
            Helm::V4 => "helm4",
        }
    }

    /// Path of this version's `helm`, checked to exist.
    pub fn helm(self) -> PathBuf {
        tool(self.slot(), "helm")
    }

    /// Path of the kubectl fetched beside this Helm, checked to exist.
    pub fn kubectl(self) -> PathBuf {
        tool(self.slot(), "kubectl")
    }
}

fn tool(slot: &str, name: &str) -> PathBuf {
    let path = tools_dir().join(slot).join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-tools (or scripts/test) first; \
         tests never download tools (HAU_TOOLS_DIR={:?})",
        path.display(),
        std::env::var_os("HAU_TOOLS_DIR")
    );
    path
}

/// `binary` in the directory named by `var` (`HAU_KAPP_DIR`, `HAU_OCI_DIR`, ...:
/// one per `tools/go/tools.conf` cache dir, exported by `scripts/test`),
/// checked to exist.
pub fn go_tool(var: &str, binary: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{var} is not set: run the tests through scripts/test, or first \
                 `eval \"$(scripts/build-go-tools)\"`; tests never build or download tools"
            )
        });
    let path = dir.join(binary);
    assert!(
        path.is_file(),
        "{} is missing ({var}={}): run scripts/build-go-tools",
        path.display(),
        dir.display()
    );
    path
}
