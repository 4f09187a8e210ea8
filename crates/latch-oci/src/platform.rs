//! Platforms (`os/architecture[/variant]`) and how a wanted platform matches an index entry.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A platform as it appears in an index entry or an image config.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in Go's naming (`amd64`, `arm64`, `arm`, `ppc64le`, `s390x`…).
    pub architecture: String,
    /// Operating system (`linux`, `windows`…).
    pub os: String,
    /// OS version (Windows images).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features (Windows images).
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v7`, `v8`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Why a platform string is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("platform {0:?} is not os/architecture[/variant] (e.g. linux/amd64, linux/arm64/v8)")]
pub struct PlatformError(pub String);

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            os_version: None,
            os_features: None,
            variant: variant.map(str::to_owned),
        }
    }

    /// Parses `os/arch[/variant]`. A bare architecture (`amd64`, `arm64`) means Linux, as
    /// Dangerzone's `--arch` does.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if !parts.iter().all(|p| ok(p)) {
            return Err(PlatformError(s.to_owned()));
        }
        match parts.as_slice() {
            [arch] => Ok(Platform::new("linux", arch, None)),
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(PlatformError(s.to_owned())),
        }
    }

    /// The platform this program runs on, in Go's naming.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        // Containers on macOS and Windows run in a Linux VM (podman machine, WSL).
        let os = if os == "windows" || os == "darwin" {
            "linux"
        } else {
            os
        };
        Platform::new(os, arch, None)
    }

    /// The variant with the architecture's default filled in (`arm64` means `v8`,
    /// `arm` means `v7`), so that `linux/arm64` and `linux/arm64/v8` compare equal.
    pub fn normalized_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            ("arm", None) => Some("v7"),
            (_, v) => v,
        }
    }

    /// Whether an index entry with platform `self` satisfies a request for `wanted`.
    /// OS and architecture must be equal; a variant is compared only when `wanted` has one
    /// or when the architecture has a default (arm, arm64).
    pub fn satisfies(&self, wanted: &Platform) -> bool {
        if self.os != wanted.os || self.architecture != wanted.architecture {
            return false;
        }
        match wanted.variant {
            None if !matches!(wanted.architecture.as_str(), "arm" | "arm64") => true,
            _ => self.normalized_variant() == wanted.normalized_variant(),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parses() {
        assert_eq!(p("linux/amd64"), Platform::new("linux", "amd64", None));
        assert_eq!(p("arm64"), Platform::new("linux", "arm64", None));
        assert_eq!(p("linux/arm/v6").variant.as_deref(), Some("v6"));
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64/v8");
        for bad in ["", "/", "linux/", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matching() {
        assert!(p("linux/amd64").satisfies(&p("linux/amd64")));
        assert!(p("linux/amd64/v3").satisfies(&p("linux/amd64")));
        assert!(!p("linux/amd64").satisfies(&p("linux/arm64")));
        assert!(!p("windows/amd64").satisfies(&p("linux/amd64")));
        assert!(p("linux/arm64").satisfies(&p("linux/arm64/v8")));
        assert!(p("linux/arm64/v8").satisfies(&p("linux/arm64")));
        assert!(!p("linux/arm/v6").satisfies(&p("linux/arm")));
        assert!(p("linux/arm/v7").satisfies(&p("linux/arm")));
        assert!(!p("linux/arm/v7").satisfies(&p("linux/arm/v6")));
    }

    #[test]
    fn serde_field_names() {
        let json = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.1"}"#;
        let plat: Platform = serde_json::from_str(json).unwrap();
        assert_eq!(plat.os_version.as_deref(), Some("10.0.1"));
        assert_eq!(serde_json::to_string(&plat).unwrap(), json);
    }
}
