//! Recipes: declarative TOML files naming what goes into a rescue image.
//!
//! The default recipes live in the repository's `recipes/` folder and are
//! compiled into the binary, so an installed `rear-build` needs no data
//! files. Extra recipes come from a path, `/etc/rear-build/recipes/NAME.toml`,
//! or the built-in set, in that order.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Built-in recipes: (name, text), all of them defaults.
pub const BUILTIN: &[(&str, &str)] = &[
    ("rescue", include_str!("../../recipes/rescue.toml")),
    ("storage", include_str!("../../recipes/storage.toml")),
    ("network", include_str!("../../recipes/network.toml")),
    ("backup", include_str!("../../recipes/backup.toml")),
    ("rear-build", include_str!("../../recipes/rear-build.toml")),
    ("toolkit", include_str!("../../recipes/toolkit.toml")),
];

pub const DEFAULTS: &[&str] = &[
    "rescue",
    "storage",
    "network",
    "backup",
    "rear-build",
    "toolkit",
];

const RECIPE_DIR: &str = "/etc/rear-build/recipes";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    #[serde(skip)]
    pub name: String,
    /// blake3 of the recipe's text, for the manifest.
    #[serde(skip)]
    pub hash: String,
    #[serde(default)]
    pub description: String,
    /// Kernel modules the rescue system loads whatever the hardware.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Glob patterns of host paths never copied.
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default, rename = "package")]
    pub packages: Vec<Package>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// The Debian package that provides these items, named in errors.
    pub name: String,
    /// Missing items warn instead of failing the build.
    #[serde(default)]
    pub optional: bool,
    /// Program names looked up in PATH.
    #[serde(default)]
    pub binaries: Vec<String>,
    /// Host files (globs allowed; a leading `?` makes one optional).
    #[serde(default)]
    pub files: Vec<String>,
    /// Host directories copied recursively (same syntax as files).
    #[serde(default)]
    pub dirs: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Recipe {
    pub fn parse(name: &str, text: &str) -> Result<Recipe> {
        let mut r: Recipe =
            toml::from_str(text).with_context(|| format!("recipe {name:?} is not valid"))?;
        r.name = name.to_string();
        r.hash = rear_store::hash_bytes(text.as_bytes());
        for p in &r.packages {
            if p.name.is_empty() {
                bail!("recipe {name:?}: a [[package]] has no name");
            }
        }
        Ok(r)
    }

    /// Finds a recipe by path or name (see the module docs for the order).
    pub fn load(spec: &str) -> Result<Recipe> {
        if spec.contains('/') || spec.ends_with(".toml") {
            let text = std::fs::read_to_string(spec)
                .with_context(|| format!("read recipe file {spec}"))?;
            let name = Path::new(spec)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| spec.to_string());
            return Recipe::parse(&name, &text);
        }
        let local = PathBuf::from(RECIPE_DIR).join(format!("{spec}.toml"));
        if local.exists() {
            let text = std::fs::read_to_string(&local)
                .with_context(|| format!("read recipe file {}", local.display()))?;
            return Recipe::parse(spec, &text);
        }
        match BUILTIN.iter().find(|(n, _)| *n == spec) {
            Some((n, text)) => Recipe::parse(n, text),
            None => {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                bail!(
                    "no recipe {spec:?}: not a file, not in {RECIPE_DIR}, and not built in ({})",
                    names.join(", ")
                )
            }
        }
    }
}

/// A path item of a recipe, with its `?` prefix split off.
pub fn split_optional(item: &str) -> (&str, bool) {
    match item.strip_prefix('?') {
        Some(rest) => (rest, true),
        None => (item, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_recipes_parse() {
        for (name, text) in BUILTIN {
            let r = Recipe::parse(name, text).unwrap();
            assert!(!r.description.is_empty(), "{name} has no description");
            assert!(!r.packages.is_empty(), "{name} has no packages");
        }
        for d in DEFAULTS {
            assert!(BUILTIN.iter().any(|(n, _)| n == d));
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_recipe_name() {
        let err =
            Recipe::parse("mine", "[[package]]\nname = \"x\"\nbinarys = [\"a\"]\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("mine") && msg.contains("binarys"), "{msg}");
    }

    #[test]
    fn unknown_recipe_names_the_places_searched() {
        let msg = format!("{:#}", Recipe::load("nope").unwrap_err());
        assert!(
            msg.contains("/etc/rear-build/recipes") && msg.contains("storage"),
            "{msg}"
        );
    }

    #[test]
    fn optional_prefix() {
        assert_eq!(split_optional("?/a"), ("/a", true));
        assert_eq!(split_optional("/a"), ("/a", false));
    }
}
