//! The two snapshots a draw reads, built from stored records: the candidates (every registered
//! enterprise with the tier it had at the as-of date) and the inspector roster.
//!
//! A snapshot is a pure function of the store up to a **cut** (an ingest sequence number) and
//! the as-of date: records written after the cut are ignored, so a draw can be rebuilt later
//! (for the bundle, for an auditor's replay) and must give the same digests. Reading rules:
//! - enterprise: the version current after the cut;
//! - tier: of the stored classifications with `seq <= cut` and `as_of <= as-of date`, the one
//!   with the latest as-of date (then the highest seq). An enterprise never classified by then
//!   counts as [`UNCLASSIFIED_TIER`] (B, "general supervision", as new market entities are
//!   treated until their first rating), and is counted;
//! - inspections and licences: the events indexed as draw facts with `seq <= cut` and an
//!   effective date on or before the as-of date, applied in (date, seq) order;
//! - roster: each inspector's version current after the cut.
//!
//! For speed the enterprise, classification and draw-fact key ranges are each read once, in
//! credit-code order, and merged: one pass over the store, no per-enterprise lookups except
//! for the rare versions written after the cut.

use crate::classify::blocks::TierCursor;
use crate::classify::record::{tier_of, ClassificationRecord};
use crate::classify::RunState;
use crate::domain::{
    CreditCode, Date, EnterpriseVersion, EventBody, Inspector, InspectorVersion, StoredEvent,
};
use crate::draw::candidate::LastInspection;
use crate::draw::{Candidate, EnterpriseInfo, RosterEntry, Tier};
use crate::error::{Error, Result};
use crate::storage::codec::decode;
use crate::storage::keys::{code_in, prefix, trailing_seq};
use crate::storage::{Key, Records};
use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;

/// The tier of an enterprise that has no classification at the as-of date.
pub const UNCLASSIFIED_TIER: Tier = Tier::B;

/// The candidate snapshot.
#[derive(Debug, Default)]
pub struct Candidates {
    /// Every enterprise registered at the cut, ascending credit code.
    pub candidates: Vec<Candidate>,
    /// How many had no classification at the as-of date (counted as [`UNCLASSIFIED_TIER`]).
    pub unclassified: u64,
}

type Kv = Result<(Vec<u8>, Vec<u8>)>;

/// Advances `it` past every entry whose code is below `code` and returns the entries of `code`
/// (key, value), in key order.
fn entries_of<I: Iterator<Item = Kv>>(
    it: &mut Peekable<I>,
    code: &CreditCode,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    loop {
        let c = match it.peek() {
            None => return Ok(out),
            Some(Err(_)) => {
                // Take the error out of the iterator to return it.
                return match it.next() {
                    Some(Err(e)) => Err(e),
                    _ => Ok(out),
                };
            }
            Some(Ok((k, _))) => code_in(k)
                .ok_or_else(|| Error::Corrupt(format!("malformed key {}", hex::encode(k))))?,
        };
        if c > *code {
            return Ok(out);
        }
        if let Some(Ok(kv)) = it.next() {
            if c == *code {
                out.push(kv);
            }
        }
    }
}

/// Builds the candidate snapshot at `cut` as of `as_of`; `year` is the calendar year whose
/// double-random inspections count against the yearly cap (that of the inspection date).
pub fn candidates(records: &Records, cut: u64, as_of: Date, year: i32) -> Result<Candidates> {
    let engine = records.engine();
    let mut classes = engine.scan(&prefix::classifications(), None).peekable();
    let mut facts = engine.scan(&prefix::draw_facts(), None).peekable();
    // Whole-population runs as of the date or earlier store their tiers in blocks: one cursor
    // per run, read along with the enterprises.
    let mut runs = Vec::new();
    for kv in engine.scan(&prefix::runs(), None) {
        let (_, v) = kv?;
        let run: RunState = decode(&v, &"run")?;
        if run.jurisdiction.is_none() && run.as_of <= as_of {
            runs.push((run.as_of, TierCursor::new(engine.as_ref(), run.id)));
        }
    }
    let mut out = Candidates::default();
    for kv in engine.scan(&prefix::enterprises(), None) {
        let (k, v) = kv?;
        let code = code_in(&k)
            .ok_or_else(|| Error::Corrupt(format!("malformed key {}", hex::encode(&k))))?;
        let current: EnterpriseVersion = decode(&v, &format_args!("enterprise `{code}`"))?;
        let version = if current.seq <= cut {
            Some(current)
        } else {
            records.enterprise_as_of(&code, cut)?
        };
        let class_entries = entries_of(&mut classes, &code)?;
        let fact_entries = entries_of(&mut facts, &code)?;
        let mut in_runs = Vec::with_capacity(runs.len());
        for (run_as_of, cursor) in &mut runs {
            if let Some((tier, seq)) = cursor.at(&code)? {
                if seq <= cut {
                    in_runs.push((*run_as_of, seq, tier));
                }
            }
        }
        let Some(version) = version else { continue };
        let tier = match tier_at(&class_entries, &in_runs, &code, cut, as_of)? {
            Some(t) => t,
            None => {
                out.unclassified += 1;
                UNCLASSIFIED_TIER
            }
        };
        let mut events = Vec::with_capacity(fact_entries.len());
        for (fk, _) in &fact_entries {
            let seq = trailing_seq(fk).unwrap_or(u64::MAX);
            if seq > cut {
                continue;
            }
            let raw = engine
                .get(&Key::Event(code, seq).encode())?
                .ok_or_else(|| {
                    Error::Corrupt(format!("draw fact {seq} of `{code}` has no event"))
                })?;
            let ev: StoredEvent = decode(&raw, &format_args!("event {seq} of `{code}`"))?;
            if ev.event.effective_date <= as_of {
                events.push(ev);
            }
        }
        out.candidates
            .push(candidate(version, tier, &mut events, year));
    }
    Ok(out)
}

/// The tier of the classification that applies at `as_of` among `entries` (one enterprise's
/// classification keys and values) and `in_runs` (its classifications in run blocks, as
/// (as-of date, seq, tier), already within the date and cut): the latest as-of date, then the
/// highest seq.
fn tier_at(
    entries: &[(Vec<u8>, Vec<u8>)],
    in_runs: &[(Date, u64, u8)],
    code: &CreditCode,
    cut: u64,
    as_of: Date,
) -> Result<Option<Tier>> {
    let mut best: Option<(Date, u64, u8)> = in_runs.iter().copied().max();
    for (k, v) in entries {
        if trailing_seq(k).is_none_or(|s| s > cut) {
            continue;
        }
        let r: ClassificationRecord = decode(v, &format_args!("classification of `{code}`"))?;
        if r.as_of <= as_of && best.is_none_or(|(d, s, _)| (r.as_of, r.seq) > (d, s)) {
            best = Some((r.as_of, r.seq, r.tier));
        }
    }
    best.map(|(_, _, t)| tier_of(t)).transpose()
}

/// One candidate from its enterprise version, tier and draw-fact events up to the as-of date.
fn candidate(
    version: EnterpriseVersion,
    tier: Tier,
    events: &mut [StoredEvent],
    year: i32,
) -> Candidate {
    events.sort_by_key(|e| (e.event.effective_date, e.seq));
    let mut licences = BTreeSet::new();
    let mut last: BTreeMap<String, Date> = BTreeMap::new();
    let mut this_year = 0u32;
    let mut last_team = Vec::new();
    for e in events.iter() {
        match &e.event.body {
            EventBody::LicenceGranted { kind } => {
                licences.insert(kind.clone());
            }
            EventBody::LicenceRevoked { kind } => {
                licences.remove(kind);
            }
            EventBody::Inspection {
                item_id,
                inspector_ids,
                draw_id,
                ..
            } => {
                last.insert(item_id.clone(), e.event.effective_date);
                if draw_id.is_some() && e.event.effective_date.year() == year {
                    this_year += 1;
                }
                last_team = inspector_ids.clone();
            }
            _ => {}
        }
    }
    let e = version.enterprise;
    Candidate {
        credit_code: e.credit_code,
        tier,
        jurisdiction: e.jurisdiction,
        industry: e.industry,
        kind: e.kind,
        status: e.status,
        licences: licences.into_iter().collect(),
        legal_representative: e.legal_representative,
        last_inspections: last
            .into_iter()
            .map(|(item_id, date)| LastInspection { item_id, date })
            .collect(),
        inspections_this_year: this_year,
        last_team,
    }
}

/// Every inspector's version current after `cut`, ascending id.
pub fn inspectors(records: &Records, cut: u64) -> Result<Vec<Inspector>> {
    let engine = records.engine();
    let mut out = Vec::new();
    for kv in engine.scan(&prefix::inspectors(), None) {
        let (_, v) = kv?;
        let cur: InspectorVersion = decode(&v, &"inspector")?;
        if cur.seq <= cut {
            out.push(cur.inspector);
            continue;
        }
        let id = cur.inspector.inspector_id;
        let mut hist = Key::InspectorHistory(&id, 0).encode();
        hist.truncate(hist.len() - 8);
        for kv in engine.scan_rev(&hist) {
            let (k, v) = kv?;
            if trailing_seq(&k).is_some_and(|s| s <= cut) {
                let old: InspectorVersion = decode(&v, &format_args!("inspector `{id}` history"))?;
                out.push(old.inspector);
                break;
            }
        }
    }
    Ok(out)
}

/// The roster snapshot at `cut`.
pub fn roster(records: &Records, cut: u64) -> Result<Vec<RosterEntry>> {
    Ok(inspectors(records, cut)?
        .iter()
        .map(RosterEntry::from)
        .collect())
}

/// Names and addresses of `codes` at `cut`, for lists meant for people.
pub fn enterprise_info(
    records: &Records,
    codes: impl IntoIterator<Item = CreditCode>,
    cut: u64,
) -> Result<BTreeMap<CreditCode, EnterpriseInfo>> {
    let mut out = BTreeMap::new();
    for code in codes {
        if let Some(v) = records.enterprise_as_of(&code, cut)? {
            out.insert(
                code,
                EnterpriseInfo {
                    name: v.enterprise.name,
                    address: v.enterprise.address,
                },
            );
        }
    }
    Ok(out)
}
