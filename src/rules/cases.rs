//! Case files: inputs and the expected decision, pinning a rule set's behaviour.
//!
//! A case file (`rules/tests/*.toml`) holds one or more `[[case]]` tables:
//!
//! ```toml
//! [[case]]
//! description = "on the serious list: override to D"
//! as_of = "2026-11-01"
//! features = { on_serious_list = true }   # or a [case.records] table
//! tier = "D"
//! score = 100                             # optional
//! fired = ["lists.serious"]               # exact set of fired rule ids
//! ```
//!
//! `features` starts from [`FeatureVector::neutral`] and sets the named features; an unknown
//! name or a value of the wrong type fails the case. `records` gives an `enterprise` (the
//! domain record), `events` (each an `event_id`, `effective_date`, optional `source_department`
//! and a `body` in the domain's serde form, externally tagged, e.g. `body = { penalty = { ... } }`; the credit code is the
//! enterprise's and `seq` is the position in the list unless given) and optional `relations`;
//! the features are then computed by [`compute`]. Every table rejects unknown keys.

use super::engine::{classify, Decision};
use super::features::{compute, FeatureInput, FeatureVector, Relations};
use super::ruleset::{feature_from_toml, RuleSet, Tier};
use crate::domain::{CreditEvent, Date, Enterprise, EventBody, StoredEvent};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    as_of: Date,
    #[serde(default)]
    features: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    records: Option<Records>,
    tier: Tier,
    #[serde(default)]
    score: Option<i64>,
    fired: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Records {
    enterprise: Enterprise,
    #[serde(default)]
    events: Vec<CaseEvent>,
    #[serde(default)]
    relations: Relations,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseEvent {
    event_id: String,
    effective_date: Date,
    #[serde(default)]
    source_department: Option<String>,
    #[serde(default)]
    seq: Option<u64>,
    body: EventBody,
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Case file path as given.
    pub file: String,
    /// 0-based position of the case in its file.
    pub index: usize,
    /// The case's description.
    pub description: String,
    /// What did not match, empty when the case passed.
    pub failures: Vec<String>,
    /// The decision, when the case could be evaluated.
    pub decision: Option<Decision>,
}

impl CaseResult {
    /// True when the decision matched every expectation.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// [`FeatureVector::neutral`] with the named features set from TOML values; an unknown name or
/// a value of the wrong type is an error. Shared with the warning case files.
pub(crate) fn features_from_map(
    map: &BTreeMap<String, toml::Value>,
) -> Result<FeatureVector, String> {
    let mut v = FeatureVector::neutral();
    for (name, val) in map {
        v.set(name, feature_from_toml(name, val)?)?;
    }
    Ok(v)
}

fn features_of(case: &Case) -> Result<FeatureVector, String> {
    match (&case.features, &case.records) {
        (Some(map), None) => features_from_map(map),
        (None, Some(r)) => {
            let events: Vec<StoredEvent> = r
                .events
                .iter()
                .enumerate()
                .map(|(i, e)| StoredEvent {
                    seq: e.seq.unwrap_or(i as u64 + 1),
                    event: CreditEvent {
                        event_id: e.event_id.clone(),
                        credit_code: r.enterprise.credit_code,
                        effective_date: e.effective_date,
                        source_department: e
                            .source_department
                            .clone()
                            .unwrap_or_else(|| "case".into()),
                        body: e.body.clone(),
                    },
                })
                .collect();
            let input = FeatureInput {
                enterprise: &r.enterprise,
                events: &events,
                relations: r.relations,
            };
            Ok(compute(&input, case.as_of))
        }
        _ => Err("give exactly one of `features` or `records`".into()),
    }
}

/// Runs the cases of one file's text against a loaded rule set; `file` names it in results.
pub fn run_case_text(rules: &RuleSet, file: &str, text: &str) -> Vec<CaseResult> {
    let parsed: CaseFile = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            return vec![CaseResult {
                file: file.into(),
                index: 0,
                description: String::new(),
                failures: vec![format!("{file}: {}", e.to_string().trim_end())],
                decision: None,
            }]
        }
    };
    let compiled = rules.compiled();
    parsed
        .case
        .into_iter()
        .enumerate()
        .map(|(index, case)| {
            let mut failures = Vec::new();
            let decision = match features_of(&case) {
                Ok(f) => Some(classify(compiled, &f, case.as_of)),
                Err(m) => {
                    failures.push(m);
                    None
                }
            };
            if let Some(d) = &decision {
                if d.tier != case.tier {
                    failures.push(format!("tier is `{}`, expected `{}`", d.tier, case.tier));
                }
                if let Some(s) = case.score {
                    if d.score != s {
                        failures.push(format!("score is `{}`, expected `{s}`", d.score));
                    }
                }
                let mut want = case.fired.clone();
                want.sort();
                let got: Vec<String> = d.fired.iter().map(|f| f.id.clone()).collect();
                if got != want {
                    failures.push(format!(
                        "fired `[{}]`, expected `[{}]`",
                        got.join(", "),
                        want.join(", ")
                    ));
                }
            }
            CaseResult {
                file: file.into(),
                index,
                description: case.description,
                failures,
                decision,
            }
        })
        .collect()
}

/// Runs one case file against a loaded rule set.
pub fn run_case_file(rules: &RuleSet, path: &Path) -> Vec<CaseResult> {
    read_case_file(path, |file, text| run_case_text(rules, file, text))
}

/// A failed result not tied to a case (unreadable file, rule set that does not load).
pub(crate) fn failed(file: &str, description: &str, failures: Vec<String>) -> CaseResult {
    CaseResult {
        file: file.into(),
        index: 0,
        description: description.into(),
        failures,
        decision: None,
    }
}

/// Reads the case file at `path` and runs `run(file name, text)` on it; an unreadable file is
/// one failed result. Shared with the warning case files.
pub(crate) fn read_case_file(
    path: &Path,
    run: impl FnOnce(&str, &str) -> Vec<CaseResult>,
) -> Vec<CaseResult> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => run(&file, &text),
        Err(e) => vec![failed(&file, "", vec![format!("{file}: cannot read: {e}")])],
    }
}

/// The `*.toml` files of `dir`, sorted by name, or one failed result when it cannot be read.
/// Shared with the warning case files.
pub(crate) fn case_file_paths(dir: &Path) -> Result<Vec<std::path::PathBuf>, CaseResult> {
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(d) => d
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            let file = dir.display().to_string();
            return Err(failed(&file, "", vec![format!("{file}: cannot read: {e}")]));
        }
    };
    paths.sort();
    Ok(paths)
}

/// Loads the rule set in `rules_dir` and runs every `*.toml` case file in `cases_dir` (sorted by
/// name). A rule set that fails to load yields one failed result listing its errors.
pub fn run_cases(rules_dir: &Path, cases_dir: &Path) -> Vec<CaseResult> {
    let rules = match RuleSet::load(rules_dir) {
        Ok(r) => r,
        Err(errs) => {
            return vec![CaseResult {
                file: rules_dir.display().to_string(),
                index: 0,
                description: "load the rule set".into(),
                failures: errs.iter().map(|e| e.to_string()).collect(),
                decision: None,
            }]
        }
    };
    let paths = match case_file_paths(cases_dir) {
        Ok(p) => p,
        Err(r) => return vec![r],
    };
    paths
        .iter()
        .flat_map(|p| run_case_file(&rules, p))
        .collect()
}
