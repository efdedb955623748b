//! A group alert exported for checking by code we did not write (`tools/verify_alert.py`):
//! the rule's parameters and conditions as written, the facts of the alert's group over the
//! rule's lookback (or the tier counts, for `concentration`), and the stated evidence and level.
//!
//! What is exported is the *input* the checker recomputes from, not our computation: the facts
//! are selected by kind and group only (not by the rule's `where`, not by window), with their
//! raw outcome (`passed`, `verified`, `violation`), so counting, windows, the filter, the
//! statistic and the level are all the checker's own. Format `creditrisk-alert-export/1`,
//! described in `docs/warnings.md`.

use super::Warnings;
use crate::error::{Error, Result};
use crate::warn::{Fact, FactKind, Method};
use serde::Serialize;
use std::collections::BTreeMap;

/// The export's format name.
pub const FORMAT: &str = "creditrisk-alert-export/1";

/// Most facts one export carries.
pub const MAX_FACTS: usize = 200_000;

/// A group alert with what it was computed from.
#[derive(Clone, Debug, Serialize)]
pub struct AlertExport {
    /// [`FORMAT`].
    pub format: &'static str,
    /// The alert as stored (id, rule, subject, group, level and the level steps).
    pub alert: ExportedAlert,
    /// Hash of the warning rule set evaluated.
    pub rule_set: String,
    /// The evaluation date.
    pub as_of: String,
    /// The snapshot cut (newest ingest seq read).
    pub cut: u64,
    /// The rule as written.
    pub rule: ExportedRule,
    /// `rate` and `poisson-change`: the facts of the rule's kind in the alert's group, dated
    /// in the rule's lookback up to `as_of`, with seq at most `cut`, in date then seq order.
    pub facts: Vec<ExportedFact>,
    /// `concentration`: tier counts `[A, B, C, D]` by `jurisdiction/section`.
    pub tiers: BTreeMap<String, [u64; 4]>,
    /// The evidence stated on the alert.
    pub evidence: BTreeMap<String, String>,
}

/// The alert part of an export.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedAlert {
    /// `W<n>`.
    pub id: String,
    /// The rule.
    pub rule_id: String,
    /// `group/<key>`.
    pub subject: String,
    /// The group's `[dimension, value]` pairs.
    pub group: Vec<(String, String)>,
    /// Current level (after any escalation).
    pub level: String,
    /// Current state.
    pub state: String,
    /// The level steps, oldest first: `raise` and `refire` (the firing's level, never
    /// lowered by a refire) and `escalate` (one step up for an overdue episode).
    pub levels: Vec<(String, String)>,
}

/// A group rule as written.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedRule {
    /// Its id.
    pub id: String,
    /// `rate`, `poisson-change` or `concentration`.
    pub method: String,
    /// Grouping dimensions, in order.
    pub group_by: Vec<String>,
    /// The fact kind counted (`spot-check`, `complaint`, `inspection`), `""` for
    /// `concentration`.
    pub facts: String,
    /// The filter on facts (or tier groups), if any.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// Window length in days.
    pub window_days: i32,
    /// `poisson-change`: baseline periods.
    pub baseline_periods: u32,
    /// `rate`: least facts in the window.
    pub min_sample: i64,
    /// `poisson-change`: the test's level, ppm.
    pub alpha_ppm: i64,
    /// `concentration`: least enterprises.
    pub min_enterprises: i64,
    /// Base level.
    pub level: String,
    /// The condition for firing.
    pub when: String,
    /// Raises: `[level, condition]`.
    pub raises: Vec<(String, String)>,
}

/// A fact as exported.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedFact {
    /// Ingest seq.
    pub seq: u64,
    /// Effective date.
    pub date: String,
    /// The enterprise.
    pub credit_code: String,
    /// Jurisdiction at ingest.
    pub jurisdiction: String,
    /// GB/T 4754 industry code at ingest.
    pub industry: String,
    /// `spot-check`, `complaint` or `inspection`.
    pub kind: &'static str,
    /// Spot checks: passed.
    pub passed: Option<bool>,
    /// Complaints: verified.
    pub verified: Option<bool>,
    /// Inspections: a violation found.
    pub violation: Option<bool>,
    /// Spot checks: the product category (`""` otherwise).
    pub product_category: String,
}

impl ExportedFact {
    fn of(f: &Fact) -> ExportedFact {
        let (kind, passed, verified, violation) = match &f.kind {
            FactKind::SpotCheck { passed, .. } => ("spot-check", Some(*passed), None, None),
            FactKind::Complaint { verified } => ("complaint", None, Some(*verified), None),
            FactKind::Inspection { violation } => ("inspection", None, None, Some(*violation)),
        };
        ExportedFact {
            seq: f.seq,
            date: f.date.to_string(),
            credit_code: f.credit_code.to_string(),
            jurisdiction: f.jurisdiction.clone(),
            industry: f.industry.clone(),
            kind,
            passed,
            verified,
            violation,
            product_category: f.kind.product_category().to_string(),
        }
    }
}

/// The value of grouping dimension `dim` for a fact.
fn dim_of<'a>(f: &'a Fact, dim: &str) -> Option<&'a str> {
    Some(match dim {
        "district" => &f.jurisdiction,
        "industry_section" => f.industry.get(..1).unwrap_or(""),
        "industry_division" => f.industry.get(..3).unwrap_or(&f.industry),
        "product_category" => f.kind.product_category(),
        _ => return None,
    })
}

impl Warnings {
    /// Exports group alert `id` (see the module doc). An enterprise alert is
    /// FAILED_PRECONDITION (`warnings replay` checks those); `scope` limits a department's
    /// token to its alerts like every read.
    pub fn export(&self, id: &str, scope: &Option<String>) -> Result<AlertExport> {
        let a = self.get(id)?;
        super::alert::check_scope(&a, scope)?;
        if a.group.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "alert `{}` is an enterprise alert (`{}`): export covers group alerts; `warnings replay` checks enterprise alerts",
                a.id, a.subject
            )));
        }
        let rules = self.rule_sets().get_blocking(&a.basis.rule_set)?;
        let r = rules
            .group
            .iter()
            .find(|r| r.c.id == a.rule_id)
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "alert `{}`: rule `{}` is not in rule set `{}`",
                    a.id, a.rule_id, a.basis.rule_set
                ))
            })?;
        let as_of = a.basis.as_of;
        let facts = if r.method == Method::Concentration {
            Vec::new()
        } else {
            let from = as_of.add_days(-r.lookback_days() + 1);
            let kind = r.facts.map_or("", |f| f.name());
            let mut out = Vec::new();
            for f in self.facts(from, as_of, a.basis.cut)? {
                let fe = ExportedFact::of(&f);
                let in_group = a
                    .group
                    .iter()
                    .all(|(d, v)| dim_of(&f, d) == Some(v.as_str()));
                if fe.kind == kind && in_group {
                    if out.len() == MAX_FACTS {
                        return Err(Error::FailedPrecondition(format!(
                            "alert `{}`: its group has more than {MAX_FACTS} facts, too many for one export",
                            a.id
                        )));
                    }
                    out.push(fe);
                }
            }
            out
        };
        let levels = a
            .history
            .iter()
            .filter(|t| matches!(t.action.as_str(), "raise" | "refire" | "escalate"))
            .map(|t| (t.action.clone(), t.level.as_str().to_string()))
            .collect();
        Ok(AlertExport {
            format: FORMAT,
            rule_set: a.basis.rule_set.clone(),
            as_of: as_of.to_string(),
            cut: a.basis.cut,
            rule: ExportedRule {
                id: r.c.id.clone(),
                method: r.method.name().to_string(),
                group_by: r.group_by.iter().map(|d| d.name().to_string()).collect(),
                facts: r.facts.map_or("", |f| f.name()).to_string(),
                filter: r.filter.as_ref().map(|(t, _)| t.clone()),
                window_days: r.window_days,
                baseline_periods: r.baseline_periods,
                min_sample: r.min_sample,
                alpha_ppm: r.alpha_ppm,
                min_enterprises: r.min_enterprises,
                level: r.c.level.as_str().to_string(),
                when: r.c.when_text.clone(),
                raises: r
                    .c
                    .raises
                    .iter()
                    .map(|x| (x.level.as_str().to_string(), x.when_text.clone()))
                    .collect(),
            },
            facts,
            tiers: a.basis.tiers.clone(),
            evidence: a.evidence.clone(),
            alert: ExportedAlert {
                id: a.id,
                rule_id: a.rule_id,
                subject: a.subject,
                group: a.group,
                level: a.level.as_str().to_string(),
                state: a.state.as_str().to_string(),
                levels,
            },
        })
    }
}
