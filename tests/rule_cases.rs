//! Runs every case file in `rules/tests/` against `rules/default/`, one test per file, and
//! checks that every default rule fires in at least one case.

use creditrisk::rules::{run_case_file, run_cases, RuleSet};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_file(name: &str) {
    let rules = RuleSet::load(&root().join("rules/default")).unwrap_or_else(|e| panic!("{e:?}"));
    let results = run_case_file(&rules, &root().join("rules/tests").join(name));
    assert!(!results.is_empty());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{}#{} {}: {}",
                r.file,
                r.index,
                r.description,
                r.failures.join("; ")
            )
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

macro_rules! case_files {
    ($($test:ident => $file:literal,)*) => {
        $( #[test] fn $test() { run_file($file); } )*

        #[test]
        fn every_case_file_has_a_test() {
            let listed: BTreeSet<&str> = [$($file),*].into_iter().collect();
            let on_disk: BTreeSet<String> = std::fs::read_dir(root().join("rules/tests"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml"))
                .collect();
            assert_eq!(on_disk.iter().map(String::as_str).collect::<BTreeSet<_>>(), listed);
        }
    };
}

case_files! {
    lists => "lists.toml",
    penalties => "penalties.toml",
    inspections => "inspections.toml",
    tax_reports_positive => "tax-reports-positive.toml",
    sectors => "sectors.toml",
    records => "records.toml",
}

#[test]
fn every_default_rule_fires_in_some_case() {
    let results = run_cases(&root().join("rules/default"), &root().join("rules/tests"));
    assert!(results.iter().all(|r| r.passed()));
    let fired: BTreeSet<String> = results
        .iter()
        .filter_map(|r| r.decision.as_ref())
        .flat_map(|d| d.fired.iter().map(|f| f.id.clone()))
        .collect();
    let rules = RuleSet::load(Path::new(&root().join("rules/default"))).unwrap();
    let missing: Vec<&str> = rules
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !fired.contains(*id))
        .collect();
    assert!(missing.is_empty(), "rules without a case: {missing:?}");
}

#[test]
fn unknown_features_and_keys_are_rejected() {
    let rules = RuleSet::load(&root().join("rules/default")).unwrap();
    let bad = "[[case]]\ndescription = \"x\"\nas_of = \"2026-11-01\"\nfeatures = { penalites_3y = 1 }\ntier = \"A\"\nfired = []\n";
    let r = creditrisk::rules::run_case_text(&rules, "bad.toml", bad);
    assert_eq!(r[0].failures, ["unknown feature `penalites_3y`"]);
    let bad = "[[case]]\ndescription = \"x\"\nas_of = \"2026-11-01\"\nfeatures = {}\ntier = \"A\"\nfired = []\nexpected = 1\n";
    let r = creditrisk::rules::run_case_text(&rules, "bad.toml", bad);
    assert!(
        r[0].failures[0].contains("unknown field `expected`"),
        "{:?}",
        r[0].failures
    );
    let wrong = "[[case]]\ndescription = \"x\"\nas_of = \"2026-11-01\"\nfeatures = { on_serious_list = true }\ntier = \"A\"\nscore = 99\nfired = []\n";
    let r = creditrisk::rules::run_case_text(&rules, "w.toml", wrong);
    assert_eq!(
        r[0].failures,
        [
            "tier is `D`, expected `A`",
            "score is `100`, expected `99`",
            "fired `[lists.serious]`, expected `[]`"
        ]
    );
}
