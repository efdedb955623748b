//! Ingest: the state-dependent checks and writes for each record kind, run as jobs of the
//! single writer so that each batch is checked against everything stored before it.
//!
//! Field-level checks happen before a batch reaches the writer (in the domain's `validate`);
//! here come the checks that need the store: duplicates and conflicts, the enterprise an event
//! names must exist (and must be a known legacy code if its check character is wrong), the event
//! a credit repair names must exist for the same enterprise, and the inspectors an inspection
//! names must be on the roster. A batch with any problem writes nothing; the violations found
//! before the writer (conversion, field checks) come along and are answered with these, so
//! one answer names every bad field of the batch.

use crate::domain::validate::{in_record_order, Batch};
use crate::domain::{
    CreditCode, CreditEvent, Enterprise, EnterpriseVersion, EventBody, FieldViolation, Inspector,
    InspectorVersion, StoredEvent,
};
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::{Job, Key, Tx, WriteOutcome};

/// Largest batch a single call may carry.
pub const MAX_BATCH: usize = 10_000;

fn violation(field: String, description: String) -> FieldViolation {
    FieldViolation { field, description }
}

fn finish(
    invalid: Vec<FieldViolation>,
    conflicts: Vec<FieldViolation>,
    outcome: WriteOutcome,
) -> Result<WriteOutcome> {
    if !invalid.is_empty() {
        let mut all = invalid;
        all.extend(conflicts);
        return Err(Error::InvalidInput(in_record_order(all)));
    }
    if !conflicts.is_empty() {
        return Err(Error::Conflict(in_record_order(conflicts)));
    }
    Ok(outcome)
}

/// Job that creates or replaces enterprises. Identical re-sends are duplicates.
pub fn upsert_enterprises(records: Vec<Enterprise>) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut out = WriteOutcome::default();
        for e in records {
            let code = e.credit_code;
            let current: Option<EnterpriseVersion> = tx
                .get(&Key::Enterprise(code))?
                .map(|v| decode(&v, &format_args!("enterprise `{code}`")))
                .transpose()?;
            if let Some(cur) = &current {
                if cur.enterprise == e {
                    out.duplicates += 1;
                    out.seqs.push(cur.seq);
                    continue;
                }
            }
            let seq = tx.alloc_seq();
            if let Some(cur) = current {
                if cur.enterprise.jurisdiction != e.jurisdiction {
                    tx.delete(&Key::Jurisdiction(&cur.enterprise.jurisdiction, code));
                }
                if cur.enterprise.legal_representative != e.legal_representative {
                    tx.delete(&Key::LegalRep(&cur.enterprise.legal_representative, code));
                }
                tx.put(&Key::EnterpriseHistory(code, cur.seq), encode(&cur)?);
            }
            tx.put(&Key::Jurisdiction(&e.jurisdiction, code), Vec::new());
            tx.put(&Key::LegalRep(&e.legal_representative, code), Vec::new());
            tx.put(
                &Key::Enterprise(code),
                encode(&EnterpriseVersion { seq, enterprise: e })?,
            );
            out.accepted += 1;
            out.seqs.push(seq);
        }
        Ok(out)
    })
}

/// True for the events a draw snapshot reads: inspections and licence changes. They are also
/// indexed under [`Key::DrawFact`].
pub fn is_draw_fact(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::Inspection { .. }
            | EventBody::LicenceGranted { .. }
            | EventBody::LicenceRevoked { .. }
    )
}

/// True for the events group warning signals count (spot checks, complaints, inspections):
/// each is also written as a [`crate::warn::Fact`] under [`Key::WarnFact`], with the
/// enterprise's jurisdiction and industry as they are when it is ingested.
pub fn is_warning_fact(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::SpotCheck { .. } | EventBody::Complaint { .. } | EventBody::Inspection { .. }
    )
}

/// Job that appends credit events (inspections included). Identical re-sends are duplicates;
/// a known id with other content is a conflict.
pub fn append_events(records: Vec<CreditEvent>) -> Job {
    append_checked_events(Batch::whole(records))
}

/// [`append_events`] for a batch that went through the field checks: the store checks run on
/// every record without violations of its own, and the violations found before are reported
/// with theirs in one answer (nothing is written if there is any).
pub fn append_checked_events(batch: Batch<CreditEvent>) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut out = WriteOutcome::default();
        let Batch {
            records,
            positions,
            flawed,
            violations,
            ..
        } = batch;
        let mut invalid = violations.into_vec();
        let mut conflicts = Vec::new();
        // The enterprises of this job's warning facts (their jurisdiction and industry as now).
        let mut fact_enterprises: std::collections::BTreeMap<CreditCode, Enterprise> =
            Default::default();
        // This job's facts by effective day: (seq of the first, the block).
        let mut fact_blocks: std::collections::BTreeMap<i32, (u64, Vec<u8>)> = Default::default();
        for (k, ev) in records.into_iter().enumerate() {
            if flawed.contains(&k) {
                continue;
            }
            let i = positions.get(k).copied().unwrap_or(k);
            let at = |f: &str| format!("records[{i}].{f}");
            // Problems of this record alone decide whether it is staged: later records of a
            // rejected batch are still checked against the earlier ones (a repair may name an
            // event sent before it); a rejected job's writes are discarded.
            let found_before = invalid.len() + conflicts.len();
            let code = ev.credit_code;
            if let Some((c, seq)) = tx.event_location(&ev.event_id)? {
                let stored = tx.get(&Key::Event(c, seq))?.ok_or_else(|| {
                    Error::Corrupt(format!("event `{}` indexed but missing", ev.event_id))
                })?;
                let same = encode(&StoredEvent {
                    seq,
                    event: ev.clone(),
                })? == stored;
                if same {
                    out.duplicates += 1;
                    out.seqs.push(seq);
                } else {
                    conflicts.push(violation(
                        at("event_id"),
                        format!(
                            "`{}` is already stored (seq {seq}) with different content; events are never changed, send a new event instead",
                            ev.event_id
                        ),
                    ));
                }
                continue;
            }
            // Most codes are valid: then existence is all that matters and nothing is decoded.
            let known = if code.check_ok() {
                tx.contains_permanent(&Key::Enterprise(code))?
            } else {
                match enterprise_of(tx, &code)? {
                    Some(e) if !e.legacy_code => {
                        invalid.push(violation(
                            at("credit_code"),
                            format!("`{code}` has a wrong check character and is not a registered legacy code"),
                        ));
                        true
                    }
                    found => found.is_some(),
                }
            };
            if !known {
                invalid.push(violation(
                    at("credit_code"),
                    format!("no enterprise `{code}` is registered; create it before its events"),
                ));
            }
            match &ev.body {
                EventBody::CreditRepair {
                    repairs_event_id, ..
                } => match tx.event_location(repairs_event_id)? {
                    None => invalid.push(violation(
                        at("credit_repair.repairs_event_id"),
                        format!("no event `{repairs_event_id}` is stored"),
                    )),
                    Some((c, _)) => {
                        if c != code {
                            invalid.push(violation(
                                at("credit_repair.repairs_event_id"),
                                format!(
                                    "event `{repairs_event_id}` belongs to `{c}`, not `{code}`"
                                ),
                            ));
                        }
                    }
                },
                EventBody::Inspection { inspector_ids, .. } => {
                    for (j, id) in inspector_ids.iter().enumerate() {
                        if tx.get(&Key::Inspector(id))?.is_none() {
                            invalid.push(violation(
                                at(&format!("inspection.inspector_ids[{j}]")),
                                format!("no inspector `{id}` is on the roster"),
                            ));
                        }
                    }
                }
                _ => {}
            }
            if invalid.len() + conflicts.len() > found_before {
                continue;
            }
            let seq = tx.alloc_seq();
            tx.put_event_id(&ev.event_id, code, seq);
            if is_draw_fact(&ev.body) {
                tx.put(&Key::DrawFact(code, seq), Vec::new());
            }
            let stored = StoredEvent { seq, event: ev };
            if is_warning_fact(&stored.event.body) {
                // One small put per fact event; the enterprise is read once per job.
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    fact_enterprises.entry(code)
                {
                    if let Some(e) = enterprise_of(tx, &code)? {
                        slot.insert(e);
                    }
                }
                if let Some(f) = fact_enterprises
                    .get(&code)
                    .and_then(|e| crate::warn::fact_of(e, &stored))
                {
                    let (_, block) = fact_blocks
                        .entry(f.date.days())
                        .or_insert((seq, Vec::new()));
                    push_fact(block, &f.encode());
                }
            }
            tx.put(&Key::Event(code, seq), encode(&stored)?);
            out.accepted += 1;
            out.seqs.push(seq);
        }
        // One key per effective day per job, not one per fact: a sled insert costs far more
        // than the bytes (a batch of spot checks over a month writes about 30 keys).
        for (day, (first, block)) in fact_blocks {
            tx.put(&Key::WarnFact(day, first), block);
        }
        finish(invalid, conflicts, out)
    })
}

/// Appends one encoded fact to a [`Key::WarnFact`] block: a big-endian `u16` length, then
/// the bytes (a fact encodes to well under 1 KiB).
fn push_fact(block: &mut Vec<u8>, fact: &[u8]) {
    block.extend_from_slice(&(fact.len().min(u16::MAX as usize) as u16).to_be_bytes());
    block.extend_from_slice(fact);
}

/// The encoded facts of a [`Key::WarnFact`] block, or `None` if it is malformed.
pub fn facts_in_block(block: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = block;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return None;
        }
        let (fact, tail) = tail.split_at(len);
        out.push(fact);
        rest = tail;
    }
    Some(out)
}

/// Job that creates or replaces inspectors.
pub fn upsert_inspectors(records: Vec<Inspector>, actor: String, at_ms: i64) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut out = WriteOutcome::default();
        for ins in records {
            let id = ins.inspector_id.clone();
            let current: Option<InspectorVersion> = tx
                .get(&Key::Inspector(&id))?
                .map(|v| decode(&v, &format_args!("inspector `{id}`")))
                .transpose()?;
            if let Some(cur) = &current {
                if cur.inspector == ins {
                    out.duplicates += 1;
                    out.seqs.push(cur.seq);
                    continue;
                }
            }
            let seq = tx.alloc_seq();
            if let Some(cur) = current {
                tx.put(&Key::InspectorHistory(&id, cur.seq), encode(&cur)?);
            }
            let value = encode(&InspectorVersion {
                seq,
                inspector: ins,
            })?;
            tx.log(&crate::storage::log::entry(
                crate::audit::EntryKind::RosterChange,
                at_ms,
                &actor,
                format!("inspector/{id}/{seq}"),
                &value,
                &[],
            ))?;
            tx.put(&Key::Inspector(&id), value);
            out.accepted += 1;
            out.seqs.push(seq);
        }
        Ok(out)
    })
}

fn enterprise_of(tx: &Tx<'_>, code: &CreditCode) -> Result<Option<Enterprise>> {
    Ok(tx
        .get(&Key::Enterprise(*code))?
        .map(|v| decode::<EnterpriseVersion>(&v, &format_args!("enterprise `{code}`")))
        .transpose()?
        .map(|v| v.enterprise))
}

/// Maps the field paths of an error's violations through `f`; other errors pass unchanged.
pub fn map_paths(e: Error, f: impl Fn(&str) -> String) -> Error {
    let fix = |mut v: Vec<FieldViolation>| {
        for x in &mut v {
            x.field = f(&x.field);
        }
        v
    };
    match e {
        Error::InvalidInput(v) => Error::InvalidInput(fix(v)),
        Error::Conflict(v) => Error::Conflict(fix(v)),
        other => other,
    }
}

/// An inspection is validated and stored as an event: names its fields as callers send them
/// (`records[2].inspection.result_codes` becomes `records[2].result_codes`).
pub fn inspection_path(p: &str) -> String {
    p.replace(".inspection.", ".")
        .replace(".event_id", ".inspection_id")
        .replace(".effective_date", ".date")
        .replace(".source_department", ".department")
}

/// [`map_paths`] with [`inspection_path`].
pub fn rename_inspection_paths(e: Error) -> Error {
    map_paths(e, inspection_path)
}
