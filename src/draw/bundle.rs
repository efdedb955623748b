//! The publication bundle ("one public") and its offline verification.
//!
//! The bundle is one JSON document holding the draw record and every input needed to re-run
//! it: the candidate snapshot (each with what the draw made of it), the roster fields used, and
//! the calendar behind the publication deadline. [`verify_bundle`] re-runs the draw from those
//! inputs alone and compares every field of the result with the record, so any change that
//! alters content (a code, a tier, a ticket, the seed, a team member, a digest) fails with the
//! path of each difference. Whitespace and key order are not content.
//!
//! For simplicity the bundle publishes the roster's conflict declarations and the legal
//! representative pseudonyms, which the re-run needs; a redacted public variant is future work.

use super::assign::TeamOutcome;
use super::calendar::Calendar;
use super::candidate::{Candidate, RosterEntry};
use super::entity::{disposition, sorted_order};
use super::error::DrawError;
use super::record::{run_draw, DrawRecord, ALGORITHM};
use crate::domain::{CreditCode, Date};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Version of the bundle format.
pub const FORMAT: &str = "creditrisk-bundle/1";

/// Most differences listed by a failed verification.
const MAX_DIFFS: usize = 20;

/// Name and address of an enterprise, for the human-readable exports only (not verified).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseInfo {
    /// Registered name.
    pub name: String,
    /// Registered address.
    pub address: String,
}

/// A candidate as published: its inputs and what the draw made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCandidate {
    /// The inputs the draw read.
    pub candidate: Candidate,
    /// `eligible`, `out-of-scope`, `not-active`, `recently-inspected` or `yearly-cap`.
    pub disposition: String,
}

/// The JSON document of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleDoc {
    /// [`FORMAT`].
    pub format: String,
    /// The draw record.
    pub record: DrawRecord,
    /// Last day to publish the results, 20 working days after the inspection date.
    pub publication_deadline: Date,
    /// The calendar the deadline was computed with.
    pub calendar: Calendar,
    /// The candidate snapshot, ascending code.
    pub candidates: Vec<BundleCandidate>,
    /// The roster fields used, ascending inspector id.
    pub roster: Vec<RosterEntry>,
}

/// Start of every CSV file we write for people: the UTF-8 byte order mark, without which Excel
/// on Chinese Windows reads UTF-8 as the local code page and garbles every Chinese name. CSV
/// readers that know UTF-8 (the `csv` crate, Python's `utf-8-sig`) skip it.
pub const CSV_BOM: &str = "\u{feff}";

/// A publication bundle: the JSON document and two CSV lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The [`BundleDoc`] as pretty JSON.
    pub json: String,
    /// Selected enterprises in draw order: order, code, name, tier, ticket, address, team,
    /// unstaffed reason, publication deadline; starts with [`CSV_BOM`].
    pub csv_selected: String,
    /// Excluded enterprises: code, tier, reason; starts with [`CSV_BOM`].
    pub csv_excluded: String,
}

/// What a successful verification checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Id of the verified draw.
    pub draw_id: String,
    /// Candidate digest, recomputed.
    pub candidate_digest: String,
    /// Roster digest, recomputed.
    pub roster_digest: String,
    /// Candidates in the snapshot.
    pub candidates: usize,
    /// Enterprises drawn.
    pub selected: usize,
    /// Of those, staffed.
    pub staffed: usize,
    /// Of those, unstaffed.
    pub unstaffed: usize,
}

/// Team members as one cell: `dept: id, id; dept: id`.
pub(crate) fn team_text(outcome: &TeamOutcome) -> String {
    match outcome {
        TeamOutcome::Staffed { departments } => departments
            .iter()
            .map(|d| format!("{}: {}", d.department, d.members.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
        TeamOutcome::Unstaffed { .. } => String::new(),
    }
}

/// Builds the bundle of `record` from the inputs it was drawn from. `calendar` gives the
/// publication deadline; `info` adds names and addresses to the CSV list only.
pub fn bundle(
    record: &DrawRecord,
    candidates: &[Candidate],
    roster: &[RosterEntry],
    calendar: &Calendar,
    info: &BTreeMap<CreditCode, EnterpriseInfo>,
) -> Result<Bundle, DrawError> {
    let deadline = calendar.publication_deadline(record.inspection_date)?;
    let order = sorted_order(candidates)?;
    let mut roster_sorted: Vec<RosterEntry> = roster.to_vec();
    roster_sorted.sort_by(|a, b| a.inspector_id.cmp(&b.inspector_id));
    let doc = BundleDoc {
        format: FORMAT.to_string(),
        record: record.clone(),
        publication_deadline: deadline,
        calendar: calendar.clone(),
        candidates: order
            .iter()
            .map(|&i| BundleCandidate {
                candidate: candidates[i].clone(),
                disposition: disposition(
                    &record.item,
                    &record.policy,
                    record.inspection_date,
                    &candidates[i],
                )
                .as_str()
                .to_string(),
            })
            .collect(),
        roster: roster_sorted,
    };
    let json = serde_json::to_string_pretty(&doc).map_err(|e| DrawError::Bundle(e.to_string()))?;
    let csv_err = |e: csv::Error| DrawError::Bundle(format!("csv: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "order",
        "credit_code",
        "name",
        "tier",
        "ticket",
        "address",
        "team",
        "unstaffed_reason",
        "publication_deadline",
    ])
    .map_err(csv_err)?;
    for (n, (s, t)) in record.selected.iter().zip(&record.teams).enumerate() {
        let i = info.get(&s.credit_code).cloned().unwrap_or_default();
        let reason = match &t.outcome {
            TeamOutcome::Unstaffed { reason } => reason.as_str(),
            TeamOutcome::Staffed { .. } => "",
        };
        w.write_record([
            (n + 1).to_string().as_str(),
            s.credit_code.as_str(),
            &i.name,
            s.tier.as_str(),
            &s.ticket,
            &i.address,
            &team_text(&t.outcome),
            reason,
            &deadline.to_string(),
        ])
        .map_err(csv_err)?;
    }
    let csv_selected = into_string(w)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["credit_code", "tier", "reason"])
        .map_err(csv_err)?;
    for e in &record.exclusions {
        w.write_record([e.credit_code.as_str(), e.tier.as_str(), e.reason.as_str()])
            .map_err(csv_err)?;
    }
    let csv_excluded = into_string(w)?;
    Ok(Bundle {
        json,
        csv_selected,
        csv_excluded,
    })
}

/// The CSV text, after [`CSV_BOM`].
fn into_string(w: csv::Writer<Vec<u8>>) -> Result<String, DrawError> {
    let bytes = w
        .into_inner()
        .map_err(|e| DrawError::Bundle(format!("csv: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| DrawError::Bundle(format!("csv: {e}")))?;
    Ok(format!("{CSV_BOM}{text}"))
}

/// Re-runs the draw of a bundle offline and compares everything with what the bundle claims.
/// Fails with [`DrawError::Bundle`] when the document cannot be read and with
/// [`DrawError::Mismatch`] listing each differing field otherwise.
pub fn verify_bundle(json: &str) -> Result<VerifyReport, DrawError> {
    let doc: BundleDoc =
        serde_json::from_str(json).map_err(|e| DrawError::Bundle(e.to_string()))?;
    if doc.format != FORMAT {
        return Err(DrawError::Bundle(format!(
            "format `{}` is not `{FORMAT}`",
            doc.format
        )));
    }
    let mut diffs = Vec::new();
    if doc.record.algorithm != ALGORITHM {
        diffs.push(format!(
            "record.algorithm: bundle has `{}`, this verifier implements `{ALGORITHM}`",
            doc.record.algorithm
        ));
        return Err(DrawError::Mismatch(diffs));
    }
    let candidates: Vec<Candidate> = doc.candidates.iter().map(|c| c.candidate.clone()).collect();
    let rerun = run_draw(
        &doc.record.request(),
        &doc.record.policy,
        &candidates,
        &doc.roster,
    )?;
    let claimed =
        serde_json::to_value(&doc.record).map_err(|e| DrawError::Bundle(e.to_string()))?;
    let actual = serde_json::to_value(&rerun).map_err(|e| DrawError::Bundle(e.to_string()))?;
    diff("record", &claimed, &actual, &mut diffs);
    for (i, c) in doc.candidates.iter().enumerate() {
        let d = disposition(
            &rerun.item,
            &rerun.policy,
            rerun.inspection_date,
            &c.candidate,
        );
        if d.as_str() != c.disposition {
            diffs.push(format!(
                "candidates[{i}].disposition: bundle has `{}`, re-run gives `{}`",
                c.disposition,
                d.as_str()
            ));
        }
        if i > 0 && doc.candidates[i - 1].candidate.credit_code >= c.candidate.credit_code {
            diffs.push(format!(
                "candidates[{i}]: `{}` is out of ascending code order",
                c.candidate.credit_code
            ));
        }
    }
    match doc.calendar.publication_deadline(rerun.inspection_date) {
        Ok(d) if d == doc.publication_deadline => {}
        Ok(d) => diffs.push(format!(
            "publication_deadline: bundle has `{}`, the bundle's calendar gives `{d}`",
            doc.publication_deadline
        )),
        Err(e) => diffs.push(format!("publication_deadline: {e}")),
    }
    if !diffs.is_empty() {
        let n = diffs.len();
        if n > MAX_DIFFS {
            diffs.truncate(MAX_DIFFS);
            diffs.push(format!("and {} more differences", n - MAX_DIFFS));
        }
        return Err(DrawError::Mismatch(diffs));
    }
    let unstaffed = rerun
        .teams
        .iter()
        .filter(|t| matches!(t.outcome, TeamOutcome::Unstaffed { .. }))
        .count();
    Ok(VerifyReport {
        draw_id: rerun.draw_id,
        candidate_digest: rerun.candidate_digest,
        roster_digest: rerun.roster_digest,
        candidates: candidates.len(),
        selected: rerun.selected.len(),
        staffed: rerun.teams.len() - unstaffed,
        unstaffed,
    })
}

/// Appends the paths where `claimed` and `actual` differ (stops early past the display limit).
fn diff(path: &str, claimed: &Value, actual: &Value, out: &mut Vec<String>) {
    if out.len() > MAX_DIFFS {
        return;
    }
    match (claimed, actual) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => diff(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: not produced by the re-run")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k}: missing from the bundle"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: bundle has {} entries, re-run gives {}",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: bundle has `{a}`, re-run gives `{b}`")),
        _ => {}
    }
}
