//! Warning case files: inputs and the expected firings, pinning a warning rule set's behaviour.
//!
//! A case file (`rules/warning-cases/*.toml`) holds `[[case]]` tables of two shapes.
//!
//! An **enterprise case** gives `tier` (and optionally `previous_tier`, `features` set on
//! [`crate::rules::FeatureVector::neutral`] as in classification case files, and `extras`,
//! which start from [`Extras::none`]); the subject is `enterprise/<CASE_CODE>`:
//!
//! ```toml
//! [[case]]
//! description = "fell from B to D: red"
//! as_of = "2026-11-01"
//! tier = "D"
//! previous_tier = "B"
//! fired = [{ rule = "enterprise.tier-fall", level = "red" }]
//! ```
//!
//! A **group case** gives `facts` (each `date`, `district`, `industry`, `kind` =
//! `spot-check` | `complaint` | `inspection`, `adverse`, optional `product_category` and
//! `count`, each copy a distinct enterprise) and/or `tiers` (`district`, `section`, `A`..`D`):
//!
//! ```toml
//! [[case]]
//! description = "bakery failures in one district"
//! as_of = "2026-11-01"
//! facts = [{ date = "2026-10-20", district = "510104", industry = "C1431", kind = "spot-check", adverse = true, product_category = "bakery", count = 6 }]
//! fired = [{ rule = "group.spot-check-failure-rate", subject = "group/district=510104;product_category=bakery", level = "orange", evidence = { k = "6" } }]
//! ```
//!
//! `fired` is the exact set of firings (rule, subject when given, level); `evidence` entries
//! must be present with those values. Every table rejects unknown keys.

use super::fact::{Extras, Fact, FactKind, GroupTiers};
use super::{EnterpriseInput, Level, WarningRuleSet};
use crate::domain::{CreditCode, Date};
use crate::rules::{case_file_paths, failed, features_from_map, read_case_file, CaseResult, Tier};
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
    tier: Option<Tier>,
    #[serde(default)]
    previous_tier: Option<Tier>,
    #[serde(default)]
    features: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    extras: BTreeMap<String, i64>,
    #[serde(default)]
    facts: Vec<CaseFact>,
    #[serde(default)]
    tiers: Vec<CaseTiers>,
    fired: Vec<Expected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFact {
    date: Date,
    district: String,
    industry: String,
    kind: String,
    adverse: bool,
    #[serde(default)]
    product_category: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseTiers {
    district: String,
    section: String,
    #[serde(rename = "A", default)]
    a: u64,
    #[serde(rename = "B", default)]
    b: u64,
    #[serde(rename = "C", default)]
    c: u64,
    #[serde(rename = "D", default)]
    d: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    rule: String,
    #[serde(default)]
    subject: Option<String>,
    level: Level,
    #[serde(default)]
    evidence: BTreeMap<String, String>,
}

/// The credit code of case enterprise `i`: `91510100MA` and `i` in 7 digits, with its check
/// character (enterprise cases use `case_code(0)`; group-case facts number theirs from 1).
pub fn case_code(i: u32) -> CreditCode {
    let mut b = *b"91510100MA0000000";
    let digits = format!("{:07}", i % 10_000_000);
    b[10..].copy_from_slice(digits.as_bytes());
    // Every byte is in the code alphabet, so a check character always exists.
    CreditCode::with_check(&b).expect("alphabet characters have a check character")
}

fn facts_of(case: &Case) -> Result<Vec<Fact>, String> {
    let mut out = Vec::new();
    let mut next = 1u32;
    for (i, f) in case.facts.iter().enumerate() {
        let kind = match f.kind.as_str() {
            "spot-check" => FactKind::SpotCheck {
                passed: !f.adverse,
                product_category: f.product_category.clone(),
            },
            "complaint" => FactKind::Complaint {
                verified: f.adverse,
            },
            "inspection" => FactKind::Inspection {
                violation: f.adverse,
            },
            other => {
                return Err(format!(
                    "facts[{i}].kind `{other}` is not spot-check, complaint or inspection"
                ))
            }
        };
        for _ in 0..f.count {
            out.push(Fact {
                seq: next as u64,
                credit_code: case_code(next),
                date: f.date,
                jurisdiction: f.district.clone(),
                industry: f.industry.clone(),
                kind: kind.clone(),
            });
            next += 1;
        }
    }
    Ok(out)
}

fn run_case(rules: &WarningRuleSet, case: &Case) -> Result<Vec<super::Firing>, String> {
    let group_case = !case.facts.is_empty() || !case.tiers.is_empty();
    match (case.tier, group_case) {
        (Some(tier), false) => {
            let features = match &case.features {
                Some(m) => features_from_map(m)?,
                None => crate::rules::FeatureVector::neutral(),
            };
            let mut extras = Extras::none();
            for (k, v) in &case.extras {
                if !extras.set(k, *v) {
                    return Err(format!("unknown extra `{k}`"));
                }
            }
            Ok(rules.evaluate_enterprise(&EnterpriseInput {
                credit_code: case_code(0),
                as_of: case.as_of,
                features: &features,
                tier,
                previous_tier: case.previous_tier,
                extras,
            }))
        }
        (None, true) => {
            if case.features.is_some() || !case.extras.is_empty() || case.previous_tier.is_some() {
                return Err("a group case takes `facts` and `tiers` only".into());
            }
            let facts = facts_of(case)?;
            let mut tiers = GroupTiers::new();
            for t in &case.tiers {
                let e = tiers
                    .entry((t.district.clone(), t.section.clone()))
                    .or_insert([0; 4]);
                for (x, y) in e.iter_mut().zip([t.a, t.b, t.c, t.d]) {
                    *x += y;
                }
            }
            Ok(rules.evaluate_groups(case.as_of, &facts, &tiers))
        }
        _ => Err("give `tier` (an enterprise case) or `facts`/`tiers` (a group case)".into()),
    }
}

/// Runs the cases of one file's text against a loaded warning rule set; `file` names it.
pub fn run_warning_case_text(rules: &WarningRuleSet, file: &str, text: &str) -> Vec<CaseResult> {
    let parsed: CaseFile = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            return vec![failed(
                file,
                "",
                vec![format!("{file}: {}", e.to_string().trim_end())],
            )]
        }
    };
    parsed
        .case
        .into_iter()
        .enumerate()
        .map(|(index, case)| {
            let mut failures = Vec::new();
            match run_case(rules, &case) {
                Err(m) => failures.push(m),
                Ok(got) => {
                    let show = |rule: &str, subject: &str, level: Level| {
                        format!("{rule} {subject} {level}")
                    };
                    let mut unmatched: Vec<&super::Firing> = got.iter().collect();
                    for want in &case.fired {
                        let pos = unmatched.iter().position(|f| {
                            f.rule_id == want.rule
                                && want.subject.as_ref().is_none_or(|s| *s == f.subject)
                        });
                        match pos {
                            None => failures.push(format!(
                                "expected `{}` to fire, it did not",
                                show(
                                    &want.rule,
                                    want.subject.as_deref().unwrap_or("*"),
                                    want.level
                                )
                            )),
                            Some(i) => {
                                let f = unmatched.remove(i);
                                if f.level != want.level {
                                    failures.push(format!(
                                        "`{}` fired at `{}`, expected `{}`",
                                        show(&f.rule_id, &f.subject, f.level),
                                        f.level,
                                        want.level
                                    ));
                                }
                                for (k, v) in &want.evidence {
                                    match f.evidence.get(k) {
                                        Some(x) if x == v => {}
                                        other => failures.push(format!(
                                            "`{}` evidence `{k}` is `{}`, expected `{v}`",
                                            show(&f.rule_id, &f.subject, f.level),
                                            other.map_or("(absent)", |s| s.as_str())
                                        )),
                                    }
                                }
                            }
                        }
                    }
                    for f in unmatched {
                        failures.push(format!(
                            "`{}` fired, not expected (evidence {:?})",
                            show(&f.rule_id, &f.subject, f.level),
                            f.evidence
                        ));
                    }
                }
            }
            CaseResult {
                file: file.into(),
                index,
                description: case.description,
                failures,
                decision: None,
            }
        })
        .collect()
}

/// Loads the warning rule set in `rules_dir` and runs every `*.toml` case file of `cases_dir`
/// (sorted by name). A rule set that fails to load yields one failed result listing its errors.
pub fn run_warning_cases(rules_dir: &Path, cases_dir: &Path) -> Vec<CaseResult> {
    let rules = match WarningRuleSet::load(rules_dir) {
        Ok(r) => r,
        Err(errs) => {
            return vec![failed(
                &rules_dir.display().to_string(),
                "load the warning rule set",
                errs.iter().map(|e| e.to_string()).collect(),
            )]
        }
    };
    let paths = match case_file_paths(cases_dir) {
        Ok(p) => p,
        Err(r) => return vec![r],
    };
    paths
        .iter()
        .flat_map(|p| read_case_file(p, |file, text| run_warning_case_text(&rules, file, text)))
        .collect()
}
