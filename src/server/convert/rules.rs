//! Rules and classifications.

use crate::classify::record::tier_of;
use crate::classify::{ActivationRecord, Classified, RunState, TierChangeRecord};
use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::rules::{Effect, Explanation, RuleError, RuleSet};
use crate::server::pb;
use std::collections::BTreeMap;

/// Rule-set files from the request; an empty set is an error naming `files`.
pub fn files_from(f: Option<pb::RuleSetFiles>, field: &str) -> Result<BTreeMap<String, String>> {
    let files: BTreeMap<String, String> =
        f.map(|f| f.files.into_iter().collect()).unwrap_or_default();
    if files.is_empty() {
        return Err(Error::invalid(
            field,
            "no files: a rule set needs at least `ruleset.toml`",
        ));
    }
    super::rule_files(field, files.iter())?;
    Ok(files)
}

/// A rule-load problem.
pub fn rule_error_to(e: &RuleError) -> pb::RuleError {
    pb::RuleError {
        severity: format!("{:?}", e.severity).to_lowercase(),
        file: e.file.clone(),
        line: e.line,
        column: e.col,
        message: e.message.clone(),
        snippet: e.snippet.clone(),
    }
}

/// Summary of a stored rule set.
pub fn rule_set_info(
    rs: &RuleSet,
    activations: &[ActivationRecord],
    active_hash: Option<&str>,
) -> pb::RuleSetInfo {
    pb::RuleSetInfo {
        hash: rs.hash().to_string(),
        name: rs.manifest.name.clone(),
        version: rs.manifest.version.clone(),
        effective_from: rs.manifest.effective_from.to_string(),
        rules: rs.rules.len() as u32,
        active: active_hash == Some(rs.hash()),
        activations: activations
            .iter()
            .filter(|a| a.hash == rs.hash())
            .map(|a| pb::Activation {
                actor: a.actor.clone(),
                at: crate::clock::rfc3339(a.at_ms),
                seq: a.seq,
            })
            .collect(),
        warnings: rs.warnings.iter().map(rule_error_to).collect(),
    }
}

/// A classification.
pub fn classification_to(c: &Classified) -> pb::Classification {
    let compiled = c.rules.compiled();
    let fired = c
        .decision
        .fired
        .iter()
        .map(|f| {
            let title = compiled
                .rule_index(&f.id)
                .and_then(|i| compiled.rule_info(i))
                .map(|(_, t, _)| t.to_string())
                .unwrap_or_default();
            let (effect, tier) = match &f.effect {
                Effect::Score(_) => ("score", String::new()),
                Effect::Cap(t) => ("cap", t.as_str().to_string()),
                Effect::Override(t) => ("tier", t.as_str().to_string()),
            };
            pb::FiredRule {
                rule_id: f.id.clone(),
                title,
                effect: effect.into(),
                contribution: f.contribution,
                tier,
                basis: f.basis.clone(),
                reads: f
                    .reads
                    .iter()
                    .map(|(n, v)| pb::FeatureRead {
                        name: n.clone(),
                        value: v.to_string(),
                    })
                    .collect(),
            }
        })
        .collect();
    pb::Classification {
        credit_code: c.record.code.to_string(),
        tier: c.decision.tier.as_str().into(),
        score: c.decision.score,
        band_tier: c.decision.band_tier.as_str().into(),
        fired,
        rule_set_hash: c.record.rule_set_hex(),
        as_of: c.record.as_of.to_string(),
        data_seq: c.record.data_seq,
        seq: c.record.seq,
        run_id: c.record.run_id,
        warnings: Vec::new(),
    }
}

/// An explanation.
pub fn explanation_to(c: &Classified, e: &Explanation) -> pb::Explanation {
    pb::Explanation {
        classification: Some(classification_to(c)),
        why: e.why.clone(),
        next: e.next.as_ref().map(|n| pb::NextStep {
            target: n.target.as_str().into(),
            blocking_overrides: n.blocking_overrides.clone(),
            blocking_caps: n.blocking_caps.clone(),
            score_gap: n.score_gap,
            covering_adjustments: n.covering_adjustments.clone(),
            reachable_by_removal: n.reachable_by_removal,
        }),
        next_words: e.next_words.clone(),
    }
}

/// A tier change.
pub fn tier_change_to(cursor: u64, t: &TierChangeRecord) -> pb::TierChange {
    let letter = |b: u8| {
        tier_of(b)
            .map(|t| t.as_str().to_string())
            .unwrap_or_default()
    };
    pb::TierChange {
        cursor,
        credit_code: t.code.to_string(),
        jurisdiction: t.jurisdiction.clone(),
        from: letter(t.from),
        to: letter(t.to),
        classification_seq: cursor,
        as_of: t.as_of.to_string(),
    }
}

/// Run progress.
pub fn progress_to(s: &RunState, resumed: bool) -> pb::ReclassifyProgress {
    pb::ReclassifyProgress {
        run_id: s.id,
        done: s.done,
        total: s.total,
        changed: s.changed,
        finished: s.finished,
        snapshot_seq: s.cut,
        rule_set_hash: s.rule_set.clone(),
        as_of: s.as_of.to_string(),
        tiers: s.tiers.to_vec(),
        resumed,
    }
}

/// A tier report to proto.
pub fn tier_report_to(r: &crate::classify::report::TierReport) -> pb::ReportTiersResponse {
    fn counts(c: &crate::classify::report::TierCounts) -> pb::TierCounts {
        pb::TierCounts {
            a: c[0],
            b: c[1],
            c: c[2],
            d: c[3],
        }
    }
    let rows = |m: &std::collections::BTreeMap<String, crate::classify::report::TierCounts>| {
        m.iter()
            .map(|(k, c)| pb::TierMixRow {
                key: k.clone(),
                counts: Some(counts(c)),
            })
            .collect()
    };
    let run = r.run.as_ref();
    pb::ReportTiersResponse {
        run_id: run.map(|s| s.id).unwrap_or(0),
        as_of: run.map(|s| s.as_of.to_string()).unwrap_or_default(),
        jurisdiction: run.and_then(|s| s.jurisdiction.clone()).unwrap_or_default(),
        finished: run.is_none_or(|s| s.finished),
        rule_set_hash: run.map(|s| s.rule_set.clone()).unwrap_or_default(),
        overall: Some(counts(&r.mix.overall)),
        by_jurisdiction: rows(&r.mix.by_jurisdiction),
        by_industry_section: rows(&r.mix.by_section),
    }
}

/// An optional tier letter (`A`..`D`, any case) as a tier byte; empty means any. The error
/// describes the bad value.
pub fn tier_filter(s: &str) -> std::result::Result<Option<u8>, String> {
    match s.trim().to_ascii_uppercase().as_str() {
        "" => Ok(None),
        "A" => Ok(Some(0)),
        "B" => Ok(Some(1)),
        "C" => Ok(Some(2)),
        "D" => Ok(Some(3)),
        _ => Err(format!("`{s}` is not a tier: use A, B, C or D")),
    }
}

/// An optional date field: empty means `default`.
pub fn date_or(s: &str, field: &str, default: Date) -> Result<Date> {
    if s.is_empty() {
        Ok(default)
    } else {
        Date::parse(s).map_err(|e| Error::invalid(field, e))
    }
}

/// A credit-code argument.
pub fn code_arg(s: &str) -> Result<CreditCode> {
    CreditCode::parse(s.trim()).map_err(|e| Error::invalid("credit_code", e))
}
