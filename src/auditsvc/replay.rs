//! Replay of classifications and draws, one at a time or over a range of the log.

use super::{Auditor, StoredEntry};
use crate::audit::entry::payload_digest;
use crate::audit::EntryKind;
use crate::classify::inputs::gather;
use crate::classify::record::ClassificationRecord;
use crate::classify::service::decide;
use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::keys::prefix;
use crate::storage::log::classification_subject;
use crate::storage::Key;

/// One field that differs between the stored value and its recomputation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Path of the field, e.g. `tier` or `fired[2].contribution`.
    pub field: String,
    /// The stored value, as text.
    pub stored: String,
    /// The recomputed value, as text.
    pub replayed: String,
}

/// The outcome of one replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// `classification/CODE/SEQ` or `draw/ID`.
    pub subject: String,
    /// True when the recomputation equals the stored value byte for byte and every log check
    /// passed.
    pub matched: bool,
    /// What differs (empty on a match, except for log failures, listed as `log` fields).
    pub differences: Vec<Difference>,
    /// Index of the log entry recording the value, when found.
    pub log_index: Option<u64>,
    /// The stored value hashes to the logged payload digest.
    pub digest_matches_log: bool,
    /// The log entry verifies against the newest signed head.
    pub included_in_signed_head: bool,
}

/// Progress of a range replay.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RangeProgress {
    /// Log entries looked at.
    pub scanned: u64,
    /// Classifications and draws replayed.
    pub replayed: u64,
    /// Of those, matches.
    pub matched: u64,
    /// Of those, mismatches.
    pub mismatched: u64,
    /// The first mismatches (at most [`MAX_REPORTED`]).
    pub mismatches: Vec<ReplayReport>,
    /// True on the last report.
    pub finished: bool,
    /// Replays per second so far.
    pub rate: f64,
}

/// Most mismatches a range replay lists.
pub const MAX_REPORTED: usize = 20;

/// Entries replayed per parallel step of a range replay.
const RANGE_CHUNK: usize = 2048;

fn diff(out: &mut Vec<Difference>, field: &str, stored: impl ToString, replayed: impl ToString) {
    let (s, r) = (stored.to_string(), replayed.to_string());
    if s != r {
        out.push(Difference {
            field: field.to_string(),
            stored: s,
            replayed: r,
        });
    }
}

fn classification_diffs(a: &ClassificationRecord, b: &ClassificationRecord) -> Vec<Difference> {
    let mut d = Vec::new();
    diff(&mut d, "credit_code", a.code, b.code);
    diff(&mut d, "tier", a.tier, b.tier);
    diff(&mut d, "score", a.score, b.score);
    diff(&mut d, "band_tier", a.band_tier, b.band_tier);
    diff(
        &mut d,
        "rule_set",
        hex::encode(a.rule_set),
        hex::encode(b.rule_set),
    );
    diff(&mut d, "as_of", a.as_of, b.as_of);
    diff(&mut d, "data_seq", a.data_seq, b.data_seq);
    diff(&mut d, "cut", a.cut, b.cut);
    diff(&mut d, "run_id", a.run_id, b.run_id);
    diff(&mut d, "fired.len", a.fired.len(), b.fired.len());
    for (i, (x, y)) in a.fired.iter().zip(&b.fired).enumerate() {
        diff(&mut d, &format!("fired[{i}].rule"), x.rule, y.rule);
        diff(
            &mut d,
            &format!("fired[{i}].contribution"),
            x.contribution,
            y.contribution,
        );
        diff(
            &mut d,
            &format!("fired[{i}].reads"),
            format!("{:?}", x.reads),
            format!("{:?}", y.reads),
        );
    }
    d
}

/// Top-level fields of two JSON objects that differ (arrays: the first differing element).
fn json_diffs(a: &serde_json::Value, b: &serde_json::Value) -> Vec<Difference> {
    let mut d = Vec::new();
    let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) else {
        diff(&mut d, "record", a, b);
        return d;
    };
    for (k, av) in ao {
        let bv = bo.get(k).unwrap_or(&serde_json::Value::Null);
        if av == bv {
            continue;
        }
        match (av.as_array(), bv.as_array()) {
            (Some(x), Some(y)) => {
                if x.len() != y.len() {
                    diff(&mut d, &format!("{k}.len"), x.len(), y.len());
                }
                if let Some(i) = (0..x.len().min(y.len())).find(|&i| x[i] != y[i]) {
                    diff(&mut d, &format!("{k}[{i}]"), &x[i], &y[i]);
                }
            }
            _ => diff(&mut d, k, av, bv),
        }
    }
    d
}

impl Auditor {
    /// The log checks of a stored value: its entry's index, whether its digest matches, and
    /// whether the entry verifies against the newest signed head. Failures are added to `d`.
    fn log_checks(
        &self,
        subject: &str,
        stored: &[u8],
        d: &mut Vec<Difference>,
    ) -> Result<(Option<u64>, bool, bool)> {
        let entry: StoredEntry = match self.find(subject) {
            Ok(e) => e,
            Err(Error::NotFound(_)) => {
                diff(d, "log", "an entry", "none found");
                return Ok((None, false, false));
            }
            Err(e) => return Err(e),
        };
        let digest = payload_digest(stored);
        let digest_ok = digest == entry.entry.payload_digest;
        diff(
            d,
            "payload_digest",
            hex::encode(digest),
            hex::encode(entry.entry.payload_digest),
        );
        let included = match self.check_included(&entry)? {
            Ok(()) => true,
            Err(why) => {
                diff(d, "log.inclusion", "verifies", why);
                false
            }
        };
        Ok((Some(entry.index), digest_ok, included))
    }

    /// The stored classification of `code` with `seq`, or the newest as of `as_of` (or the
    /// newest of all): its stored bytes and decoded record.
    fn stored_classification(
        &self,
        code: &CreditCode,
        seq: Option<u64>,
        as_of: Option<Date>,
    ) -> Result<(Vec<u8>, ClassificationRecord)> {
        let engine = self.records.engine();
        let what = || format!("classification of `{code}`");
        if let Some(seq) = seq {
            let v = engine
                .get(&Key::Classification(*code, seq).encode())?
                .ok_or_else(|| Error::NotFound(format!("classification {seq} of `{code}`")))?;
            let r = decode(&v, &what())?;
            return Ok((v, r));
        }
        for kv in engine.scan_rev(&prefix::classifications_of(code)) {
            let (_, v) = kv?;
            let r: ClassificationRecord = decode(&v, &what())?;
            if as_of.is_none_or(|d| r.as_of <= d) {
                return Ok((v, r));
            }
        }
        Err(Error::NotFound(match as_of {
            Some(d) => format!("classification of `{code}` as of {d} or earlier"),
            None => what(),
        }))
    }

    /// Replays one stored classification (see the module doc).
    pub fn replay_classification(
        &self,
        code: &CreditCode,
        seq: Option<u64>,
        as_of: Option<Date>,
    ) -> Result<ReplayReport> {
        let (stored, record) = self.stored_classification(code, seq, as_of)?;
        let subject = classification_subject(code, record.seq);
        let mut differences = Vec::new();
        let rules = self
            .classifier
            .rule_sets()
            .get_blocking(&record.rule_set_hex())?;
        match gather(&self.records, code, record.cut, record.as_of)? {
            None => diff(
                &mut differences,
                "enterprise",
                "stored",
                "missing at the cut",
            ),
            Some(inputs) => {
                let (mut again, _) =
                    decide(&inputs, &rules, record.as_of, record.cut, record.run_id)?;
                again.seq = record.seq;
                differences.extend(classification_diffs(&record, &again));
                if differences.is_empty() && encode(&again)? != stored {
                    diff(
                        &mut differences,
                        "bytes",
                        "stored",
                        "re-encoded differently",
                    );
                }
            }
        }
        let (log_index, digest_ok, included) =
            self.log_checks(&subject, &stored, &mut differences)?;
        Ok(ReplayReport {
            subject,
            matched: differences.is_empty(),
            differences,
            log_index,
            digest_matches_log: digest_ok,
            included_in_signed_head: included,
        })
    }

    /// Replays one stored draw: rebuilds its snapshots at its recorded cut and re-runs it.
    pub fn replay_draw(&self, draw_id: &str) -> Result<ReplayReport> {
        let draws = self.draws.as_ref().ok_or_else(|| {
            Error::FailedPrecondition("draws are not enabled on this server".into())
        })?;
        let view = draws.get(draw_id)?;
        let subject = format!("draw/{draw_id}");
        let mut differences = Vec::new();
        let (again, _, _) = draws.replay(&view)?;
        let again_json = again.to_json();
        if again_json != view.stored.record_json {
            let a: serde_json::Value = serde_json::from_str(&view.stored.record_json)
                .map_err(|e| Error::Corrupt(format!("draw `{draw_id}`: {e}")))?;
            let b: serde_json::Value = serde_json::from_str(&again_json)
                .map_err(|e| Error::Internal(format!("replayed draw `{draw_id}`: {e}")))?;
            let d = json_diffs(&a, &b);
            if d.is_empty() {
                diff(
                    &mut differences,
                    "bytes",
                    "stored",
                    "re-encoded differently",
                );
            }
            differences.extend(d);
        }
        let (log_index, digest_ok, included) = self.log_checks(
            &subject,
            view.stored.record_json.as_bytes(),
            &mut differences,
        )?;
        Ok(ReplayReport {
            subject,
            matched: differences.is_empty(),
            differences,
            log_index,
            digest_matches_log: digest_ok,
            included_in_signed_head: included,
        })
    }

    /// Replays one log entry's subject, if it is a classification or a draw.
    fn replay_entry(&self, e: &StoredEntry) -> Result<Option<ReplayReport>> {
        match e.entry.kind {
            EntryKind::Classification => {
                let mut parts = e.entry.subject.split('/');
                let (Some("classification"), Some(code), Some(seq), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(Error::Corrupt(format!(
                        "log entry {}: subject `{}`",
                        e.index, e.entry.subject
                    )));
                };
                let code = CreditCode::parse(code)
                    .map_err(|m| Error::Corrupt(format!("log entry {}: {m}", e.index)))?;
                let seq: u64 = seq
                    .parse()
                    .map_err(|_| Error::Corrupt(format!("log entry {}: seq `{seq}`", e.index)))?;
                self.replay_classification(&code, Some(seq), None).map(Some)
            }
            EntryKind::Draw => {
                let id = e.entry.subject.strip_prefix("draw/").ok_or_else(|| {
                    Error::Corrupt(format!(
                        "log entry {}: subject `{}`",
                        e.index, e.entry.subject
                    ))
                })?;
                self.replay_draw(id).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Replays every classification and draw logged in `[from, to)` (`to` `None`: the end)
    /// and made in `[from_ms, to_ms)` (`None`: unbounded), reporting progress after each step
    /// and once more at the end. Two threads replay in parallel; reports keep log order.
    pub fn replay_range(
        &self,
        from: u64,
        to: Option<u64>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        progress: &mut dyn FnMut(&RangeProgress) -> bool,
    ) -> Result<RangeProgress> {
        let started = std::time::Instant::now();
        let end = to.map_or(self.size()?, |t| t.min(self.size().unwrap_or(t)));
        let mut p = RangeProgress::default();
        let mut at = from;
        while at < end {
            let stop = (at + RANGE_CHUNK as u64).min(end);
            let mut chunk = Vec::with_capacity((stop - at) as usize);
            for i in at..stop {
                let e = self.entry(i)?;
                p.scanned += 1;
                let t = e.entry.at_unix_ms;
                if from_ms.is_some_and(|f| t < f) || to_ms.is_some_and(|u| t >= u) {
                    continue;
                }
                if matches!(e.entry.kind, EntryKind::Classification | EntryKind::Draw) {
                    chunk.push(e);
                }
            }
            at = stop;
            // Two OS threads over halves of the chunk: pure CPU and sled reads, no shared
            // mutable state.
            let (left, right) = chunk.split_at(chunk.len() / 2);
            let run = |part: &[StoredEntry]| -> Result<Vec<ReplayReport>> {
                let mut out = Vec::with_capacity(part.len());
                for e in part {
                    if let Some(r) = self.replay_entry(e)? {
                        out.push(r);
                    }
                }
                Ok(out)
            };
            let (a, b) = std::thread::scope(|s| {
                let h = s.spawn(|| run(left));
                let b = run(right);
                (h.join().unwrap_or_else(|x| std::panic::resume_unwind(x)), b)
            });
            for r in a?.into_iter().chain(b?) {
                p.replayed += 1;
                if r.matched {
                    p.matched += 1;
                } else {
                    p.mismatched += 1;
                    if p.mismatches.len() < MAX_REPORTED {
                        p.mismatches.push(r);
                    }
                }
            }
            p.rate = p.replayed as f64 / started.elapsed().as_secs_f64().max(1e-9);
            if !progress(&p) {
                return Err(Error::Unavailable("replay cancelled".into()));
            }
        }
        p.finished = true;
        p.rate = p.replayed as f64 / started.elapsed().as_secs_f64().max(1e-9);
        progress(&p);
        Ok(p)
    }
}
