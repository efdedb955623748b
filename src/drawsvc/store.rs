//! What the draw service stores, and the writer jobs that store it.
//!
//! A draw is stored once, under its id, together with the index of its assignments (one key per
//! team member and enterprise), in one atomic commit. Results and publications are keyed by
//! draw and enterprise. Nothing here is ever overwritten except inspection items, which are
//! reference data (each draw record embeds the item as it was).

use crate::audit::EntryKind;
use crate::domain::{CreditCode, Date, Inspection};
use crate::draw::{DrawRecord, GroupRatio, InspectionItem, TeamOutcome};
use crate::error::{Error, Result};
use crate::ingest;
use crate::storage::codec::{decode, encode};
use crate::storage::{log, Job, Key, Tx, WriteOutcome};
use serde::{Deserialize, Serialize};

/// A stored draw: the canonical record and how it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDraw {
    /// The draw record as canonical JSON ([`DrawRecord::to_json`]): the bytes the bundle
    /// carries and an auditor replays.
    pub record_json: String,
    /// Snapshot cut: the ingest sequence number of the newest record the snapshot read.
    pub cut: u64,
    /// Enterprises counted as unclassified in the snapshot.
    pub unclassified: u64,
    /// When it was stored, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Who asked for it.
    pub created_by: String,
}

impl StoredDraw {
    /// The parsed record.
    pub fn record(&self) -> Result<DrawRecord> {
        serde_json::from_str(&self.record_json)
            .map_err(|e| Error::Corrupt(format!("stored draw record: {e}")))
    }
}

/// A recorded group ratio override (differentiated supervision): the override, and who
/// recorded it when. Keyed by its basis (the alert id): one override per alert, never replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGroupRatio {
    /// The override.
    pub ratio: GroupRatio,
    /// When it was recorded, milliseconds since the Unix epoch.
    pub recorded_ms: i64,
    /// Who recorded it.
    pub recorded_by: String,
}

/// Job: stores a group ratio override with its audit log entry (kind `publication`, subject
/// `group-ratio/<basis>`: the override is a published policy decision), atomically; a second
/// override on the same basis is a conflict.
pub fn store_group_ratio(stored: StoredGroupRatio) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let id = stored.ratio.basis.as_str();
        if tx.contains(&Key::GroupRatio(id))? {
            return Err(Error::Conflict(vec![crate::domain::FieldViolation {
                field: "group_ratio.basis".into(),
                description: format!(
                    "a group ratio resting on `{id}` is already recorded; overrides are never replaced"
                ),
            }]));
        }
        let value = encode(&stored)?;
        tx.log(&log::entry(
            EntryKind::Publication,
            stored.recorded_ms,
            &stored.recorded_by,
            format!("group-ratio/{id}"),
            &value,
            &[
                ("valid_from", stored.ratio.valid_from.to_string()),
                ("valid_until", stored.ratio.valid_until.to_string()),
            ],
        ))?;
        tx.put(&Key::GroupRatio(id), value);
        Ok(WriteOutcome {
            accepted: 1,
            ..Default::default()
        })
    })
}

/// The result recorded for a drawn enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResult {
    /// Id of the inspection event.
    pub inspection_id: String,
    /// Date of the inspection.
    pub date: Date,
}

/// The publication of a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPublication {
    /// Publication date.
    pub published_on: Date,
    /// When it was recorded, milliseconds since the Unix epoch.
    pub recorded_ms: i64,
    /// Who recorded it.
    pub recorded_by: String,
}

/// Job: creates or replaces inspection items; identical ones are duplicates.
pub fn upsert_items(items: Vec<InspectionItem>) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut out = WriteOutcome::default();
        for item in items {
            let value = encode(&item)?;
            if tx.get(&Key::Item(&item.id))?.as_deref() == Some(value.as_slice()) {
                out.duplicates += 1;
            } else {
                tx.put(&Key::Item(&item.id), value);
                out.accepted += 1;
            }
        }
        Ok(out)
    })
}

/// Job: stores a new draw and its assignment index; `Conflict` if the id is taken.
pub fn store_draw(stored: StoredDraw, record: DrawRecord) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let id = record.draw_id.as_str();
        if tx.contains(&Key::Draw(id))? {
            return Err(Error::Conflict(vec![crate::domain::FieldViolation {
                field: "draw_id".into(),
                description: format!("a draw `{id}` is already stored; draws are never replaced"),
            }]));
        }
        tx.log(&log::entry(
            EntryKind::Draw,
            stored.created_ms,
            &stored.created_by,
            format!("draw/{id}"),
            stored.record_json.as_bytes(),
            &[
                ("selected", record.selected.len().to_string()),
                ("seed", record.seed.clone()),
            ],
        ))?;
        tx.put(&Key::Draw(id), encode(&stored)?);
        for team in &record.teams {
            if let TeamOutcome::Staffed { departments } = &team.outcome {
                for d in departments {
                    for m in &d.members {
                        tx.put(&Key::Assignment(m, id, team.credit_code), Vec::new());
                    }
                }
            }
        }
        Ok(WriteOutcome {
            accepted: 1,
            ..Default::default()
        })
    })
}

/// Job: records results as inspection events plus their draw-result keys, atomically. A result
/// already recorded under the same inspection id is a duplicate (the event job decides whether
/// its content is identical); another inspection id for the same enterprise is a conflict.
pub fn record_results(draw_id: String, results: Vec<Inspection>, actor: String, at_ms: i64) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut conflicts = Vec::new();
        for (i, r) in results.iter().enumerate() {
            if let Some(v) = tx.get(&Key::DrawResult(&draw_id, r.credit_code))? {
                let prev: StoredResult =
                    decode(&v, &format_args!("result of `{}`", r.credit_code))?;
                if prev.inspection_id != r.inspection_id {
                    conflicts.push(crate::domain::FieldViolation {
                        field: format!("results[{i}].credit_code"),
                        description: format!(
                            "a result for `{}` is already recorded in draw `{draw_id}` as inspection `{}`",
                            r.credit_code, prev.inspection_id
                        ),
                    });
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(Error::Conflict(conflicts));
        }
        let keys: Vec<(CreditCode, StoredResult)> = results
            .iter()
            .map(|r| {
                (
                    r.credit_code,
                    StoredResult {
                        inspection_id: r.inspection_id.clone(),
                        date: r.date,
                    },
                )
            })
            .collect();
        let events = results.into_iter().map(Inspection::into_event).collect();
        let out = ingest::append_events(events)(tx).map_err(|e| {
            ingest::map_paths(e, |p| {
                ingest::inspection_path(&p.replacen("records[", "results[", 1))
            })
        })?;
        for (code, stored) in keys {
            let key = Key::DrawResult(&draw_id, code);
            if tx.contains(&key)? {
                continue; // a duplicate: logged when first recorded
            }
            // The payload is the stored inspection event (what enters the credit record).
            let (c, seq) = match tx.event_location(&stored.inspection_id)? {
                Some(loc) => loc,
                None => {
                    return Err(Error::Internal(format!(
                        "inspection `{}` was not stored",
                        stored.inspection_id
                    )))
                }
            };
            let event = tx.get(&Key::Event(c, seq))?.unwrap_or_default();
            tx.log(&log::entry(
                EntryKind::InspectionResult,
                at_ms,
                &actor,
                format!("result/{draw_id}/{code}"),
                &event,
                &[("inspection_id", stored.inspection_id.clone())],
            ))?;
            tx.put(&key, encode(&stored)?);
        }
        Ok(out)
    })
}

/// Job: records publications; re-sending the same date is a duplicate, another date a conflict.
pub fn publish(draw_id: String, codes: Vec<CreditCode>, publication: StoredPublication) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut out = WriteOutcome::default();
        let mut problems = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            if !tx.contains(&Key::DrawResult(&draw_id, *code))? {
                problems.push(crate::domain::FieldViolation {
                    field: format!("credit_codes[{i}]"),
                    description: format!(
                        "no result is recorded for `{code}` in draw `{draw_id}`; record it first"
                    ),
                });
                continue;
            }
            match tx.get(&Key::Publication(&draw_id, *code))? {
                Some(v) => {
                    let prev: StoredPublication =
                        decode(&v, &format_args!("publication of `{code}`"))?;
                    if prev.published_on == publication.published_on {
                        out.duplicates += 1;
                    } else {
                        return Err(Error::Conflict(vec![crate::domain::FieldViolation {
                            field: format!("credit_codes[{i}]"),
                            description: format!(
                                "the result of `{code}` was already published on {}",
                                prev.published_on
                            ),
                        }]));
                    }
                }
                None => {
                    let value = encode(&publication)?;
                    tx.log(&log::entry(
                        EntryKind::Publication,
                        publication.recorded_ms,
                        &publication.recorded_by,
                        format!("publication/{draw_id}/{code}"),
                        &value,
                        &[("published_on", publication.published_on.to_string())],
                    ))?;
                    tx.put(&Key::Publication(&draw_id, *code), value);
                    out.accepted += 1;
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::InvalidInput(problems));
        }
        Ok(out)
    })
}
