//! The repository's `rules/` folder, built into the binary: the default rule set
//! (`default/`), the default warning rule set (`warnings/`), the demo's inspection items
//! (`items.toml`), the warning routing (`routing.toml`), the supervision policy (`supervision.toml`) and the working-day calendars
//! (`calendar/*.toml`).
//!
//! Why: the binary must work outside the checkout (`cargo install --path .` then
//! `creditrisk serve --demo` anywhere). The server uses these copies when no folder is
//! configured; `creditrisk rules export DIR` writes them out to edit. The case files of
//! `rules/tests/` and `rules/warning-cases/` are not built in: they test the rule sets, they do
//! not run the service.
//!
//! For simplicity the list is written by hand; a unit test fails when a file in `rules/`
//! (outside `tests/`) is missing from it, or the list names a file that no longer exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lists `(path relative to rules/, content)` for each file, read at compile time.
macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../rules/", $path)))),*]
    };
}

/// The warning routing file: `(name, text)`.
pub fn routing() -> (&'static str, &'static str) {
    ("routing.toml", file("routing.toml"))
}

/// Every built-in file as `(path relative to rules/ with '/', content)`, sorted by path.
pub const FILES: &[(&str, &str)] = embed![
    "calendar/2025.toml",
    "calendar/2026.toml",
    "calendar/2027.toml",
    "default/general/complaints.toml",
    "default/general/inspections.toml",
    "default/general/lists.toml",
    "default/general/penalties.toml",
    "default/general/positive.toml",
    "default/general/quality.toml",
    "default/general/relations.toml",
    "default/general/reports.toml",
    "default/general/tax.toml",
    "default/ruleset.toml",
    "default/sectors/drugs.toml",
    "default/sectors/food.toml",
    "default/sectors/hazardous-chemicals.toml",
    "default/sectors/special-equipment.toml",
    "items.toml",
    "routing.toml",
    "supervision.toml",
    "warnings/enterprise/lists.toml",
    "warnings/enterprise/quality.toml",
    "warnings/enterprise/tiers.toml",
    "warnings/group/complaints.toml",
    "warnings/group/concentration.toml",
    "warnings/group/spot-checks.toml",
    "warnings/warnings.toml",
];

/// How built-in files are named in messages and logs.
pub const SOURCE: &str = "built-in rules";

fn file(path: &str) -> &'static str {
    FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

/// The built-in default rule set as relative path -> content, as
/// [`RuleSet::from_files`](super::RuleSet::from_files) takes it and as reading the folder
/// `rules/default` gives it (so both hash alike).
pub fn rule_set_files() -> BTreeMap<String, String> {
    FILES
        .iter()
        .filter_map(|(p, t)| Some((p.strip_prefix("default/")?.to_string(), t.to_string())))
        .collect()
}

/// The built-in default warning rule set as relative path -> content, as
/// [`WarningRuleSet::from_files`](crate::warn::WarningRuleSet::from_files) takes it and as
/// reading the folder `rules/warnings` gives it (so both hash alike).
pub fn warning_rule_set_files() -> BTreeMap<String, String> {
    FILES
        .iter()
        .filter_map(|(p, t)| Some((p.strip_prefix("warnings/")?.to_string(), t.to_string())))
        .collect()
}

/// The built-in supervision policy (`supervision.toml`) as `(name, text)`.
pub fn supervision() -> (&'static str, &'static str) {
    ("rules/supervision.toml", file("supervision.toml"))
}

/// The built-in inspection items (`items.toml`) as `(name, text)`.
pub fn items() -> (&'static str, &'static str) {
    ("rules/items.toml", file("items.toml"))
}

/// The built-in working-day calendars as `(name, text)`, one per year, sorted.
pub fn calendar() -> Vec<(&'static str, &'static str)> {
    FILES
        .iter()
        .filter(|(p, _)| p.starts_with("calendar/"))
        .copied()
        .collect()
}

/// Writes every built-in file under `dir` (creating folders), laid out as `rules/` is, so that
/// `dir` works as `supervision_dir`, `dir/default` as `rules_dir` and `dir/warnings` as the
/// warning rule folder. Refuses, before writing
/// anything, when one of the files exists, unless `force`. Returns the paths written.
pub fn export(dir: &Path, force: bool) -> std::io::Result<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = FILES.iter().map(|(p, _)| dir.join(p)).collect();
    if !force {
        if let Some(p) = paths.iter().find(|p| p.exists()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "`{}` exists: nothing written (use --force to overwrite)",
                    p.display()
                ),
            ));
        }
    }
    for (path, (_, text)) in paths.iter().zip(FILES) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot create `{}`: {e}", parent.display()),
                )
            })?;
        }
        std::fs::write(path, text).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display()))
        })?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn rules_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
    }

    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if p.is_dir() {
                if rel != "tests" && rel != "warning-cases" {
                    walk(root, &p, out);
                }
            } else {
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_file_of_the_rules_folder_is_built_in() {
        let mut on_disk = Vec::new();
        walk(&rules_root(), &rules_root(), &mut on_disk);
        on_disk.sort();
        let listed: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            listed, on_disk,
            "src/rules/embedded.rs FILES must list every file of rules/ but tests/ and warning-cases/, sorted"
        );
        for (p, t) in FILES {
            let disk = std::fs::read_to_string(rules_root().join(p)).unwrap();
            assert_eq!(*t, disk, "{p}");
        }
    }

    #[test]
    fn built_in_rule_set_hashes_like_the_folder() {
        let folder = RuleSet::load(&rules_root().join("default")).unwrap();
        let built_in = RuleSet::from_files(rule_set_files()).unwrap();
        assert_eq!(built_in.hash(), folder.hash());
        assert_eq!(
            rule_set_files(),
            crate::classify::rulesets::read_dir_files(&rules_root().join("default")).unwrap()
        );
    }

    #[test]
    fn built_in_warning_rules_hash_like_the_folder() {
        use crate::warn::WarningRuleSet;
        let folder = WarningRuleSet::load(&rules_root().join("warnings")).unwrap();
        let built_in = WarningRuleSet::from_files(warning_rule_set_files()).unwrap();
        assert_eq!(built_in.hash(), folder.hash());
        assert_eq!(WarningRuleSet::built_in().unwrap().hash(), folder.hash());
    }

    #[test]
    fn export_writes_the_folder_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let written = export(dir.path(), false).unwrap();
        assert_eq!(written.len(), FILES.len());
        let again = RuleSet::load(&dir.path().join("default")).unwrap();
        assert_eq!(
            again.hash(),
            RuleSet::from_files(rule_set_files()).unwrap().hash()
        );
        std::fs::write(dir.path().join("items.toml"), "edited").unwrap();
        let err = export(dir.path(), false).unwrap_err();
        assert!(
            err.to_string().contains("` exists: nothing written"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("items.toml")).unwrap(),
            "edited"
        );
        export(dir.path(), true).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("items.toml")).unwrap(),
            items().1
        );
    }
}
