//! Replay of classifications and draws, one at a time or over a range of the log.

use super::locate::Locator;
use super::{Auditor, StoredEntry};
use crate::audit::entry::payload_digest;
use crate::audit::merkle::{self, Hash};
use crate::audit::EntryKind;
use crate::classify::batch::ordered;
use crate::classify::blocks::StoredRecords;
use crate::classify::inputs::{gather, gather_range, RepIndex, Shares, Sources};
use crate::classify::record::ClassificationRecord;
use crate::classify::service::decide;
use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::log::classification_subject;
use crate::storage::{EventSegments, Records};
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// Entries that replayed exactly and are authentic.
    pub matched: u64,
    /// Entries that replayed differently or are altered (any kind).
    pub mismatched: u64,
    /// Authentic entries not replayed: other kinds, or outside the time window. On the last
    /// report, `matched + mismatched + not_replayable == scanned`.
    pub not_replayable: u64,
    /// The log index of every entry found altered or replaying differently, ascending
    /// (complete on the last report only).
    pub mismatched_indices: Vec<u64>,
    /// The log index of every entry that cannot be told authentic because altered entries or
    /// stored hashes next to it leave no trusted hash to check it against (counted as
    /// mismatched, never named as altered), ascending, on the last report.
    pub unverified_indices: Vec<u64>,
    /// The first mismatches (at most [`MAX_REPORTED`]), in log order.
    pub mismatches: Vec<ReplayReport>,
    /// Size of the signed head the range was checked against (0: the log is empty).
    pub head_size: u64,
    /// True on the last report.
    pub finished: bool,
    /// Replays per second so far.
    pub rate: f64,
}

/// What one scanned entry of a range replay gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Not a classification or draw, or outside the time window.
    NotReplayable,
    /// Replayed exactly.
    Matched,
    /// Replayed differently, or its entry is altered.
    Mismatched,
    /// Its entry cannot be told authentic (altered neighbours leave no trusted hash for it).
    Unverified,
}

/// A part of a range replay: its leaf hashes, the reports of its replays, and the put-back
/// leaves of its entries whose digest check failed.
type Part = (Vec<Hash>, Vec<ReplayReport>, PutBack);

/// Leaf hashes of entries with what their own checks expect put back, by log index.
type PutBack = Vec<(u64, Hash)>;

/// `r` with its entry found altered for reason `why`: never a match.
fn tampered(mut r: ReplayReport, why: &str) -> ReplayReport {
    r.differences.push(Difference {
        field: "log.entry".into(),
        stored: "in the signed log".into(),
        replayed: why.to_string(),
    });
    r.matched = false;
    r.included_in_signed_head = false;
    r
}

/// Most mismatches a range replay lists.
pub const MAX_REPORTED: usize = 20;

/// Log entries read per step of a range replay.
const RANGE_CHUNK: usize = 8192;

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
    /// The report on `subject`: the recomputation's `differences`, plus the log checks of its
    /// `stored` bytes.
    fn report(
        &self,
        subject: String,
        stored: &[u8],
        mut differences: Vec<Difference>,
    ) -> Result<ReplayReport> {
        let (log_index, digest_ok, included) =
            self.log_checks(&subject, stored, &mut differences)?;
        Ok(ReplayReport {
            subject,
            matched: differences.is_empty(),
            differences,
            log_index,
            digest_matches_log: digest_ok,
            included_in_signed_head: included,
        })
    }

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
        let what = || format!("classification of `{code}`");
        if let Some(seq) = seq {
            let v = StoredRecords::new(&self.records)
                .get(code, seq)?
                .ok_or_else(|| Error::NotFound(format!("classification {seq} of `{code}`")))?;
            let r = decode(&v, &what())?;
            return Ok((v, r));
        }
        for (v, r) in self.classifier.history_stored(code)?.into_iter().rev() {
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
        let rules = self
            .classifier
            .rule_sets()
            .get_blocking(&record.rule_set_hex())?;
        let again = match gather(&self.records, code, record.cut, record.as_of)? {
            None => None,
            Some(inputs) => {
                Some(decide(&inputs, &rules, record.as_of, record.cut, record.run_id)?.0)
            }
        };
        let differences = recomputation_diffs(&stored, &record, again)?;
        self.report(subject, &stored, differences)
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
        self.report(subject, view.stored.record_json.as_bytes(), differences)
    }

    /// Replays every classification and draw logged in `[from, to)` (`to` `None`: the end)
    /// against the newest signed head; see [`Auditor::replay_range_against`].
    pub fn replay_range(
        &self,
        from: u64,
        to: Option<u64>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        progress: &mut dyn FnMut(&RangeProgress) -> bool,
    ) -> Result<RangeProgress> {
        self.replay_range_against(None, from, to, from_ms, to_ms, progress)
    }

    /// Checks every entry logged in `[from, to)` (`to` `None`: the end of the trusted tree)
    /// against the trusted head, and replays the classifications and draws among them made in
    /// `[from_ms, to_ms)` (`None`: unbounded), reporting progress after each step and once
    /// more at the end; `progress` returning false cancels.
    ///
    /// The trusted head is the signed head stored for tree size `head_size` (`NotFound` if
    /// none), or the newest one; its signature must check with the service key, and the range
    /// ends at its size. Every entry of the range has its leaf hashed from its stored bytes and
    /// is found authentic or altered against that head's root (see `auditsvc/locate.rs`); no
    /// proof is built from the stored tree. Every scanned entry is counted once: matched (a
    /// replayed entry that recomputes exactly, whose digest and leaf check out), mismatched
    /// (anything else replayed, and every altered entry whatever its kind or time), or not
    /// replayable (other kinds, or outside the time window, with an authentic leaf). The
    /// counts in the progress reports before the last cover the replays only; the last one is
    /// final, with the log check applied and every mismatched index named.
    pub fn replay_range_against(
        &self,
        head_size: Option<u64>,
        from: u64,
        to: Option<u64>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        progress: &mut dyn FnMut(&RangeProgress) -> bool,
    ) -> Result<RangeProgress> {
        let started = std::time::Instant::now();
        let anchor = match head_size {
            Some(_) => Some(self.head(head_size)?),
            None => self.reader().latest_head()?,
        };
        if let Some(a) = &anchor {
            crate::audit::verify_head(&self.public_key, a).map_err(|e| {
                Error::Corrupt(format!("signed tree head of size {}: {e}", a.head.size))
            })?;
        }
        let size = anchor.as_ref().map_or(0, |a| a.head.size);
        let end = to.map_or(size, |t| t.min(size));
        let from = from.min(end);
        let mut p = RangeProgress {
            head_size: size,
            ..RangeProgress::default()
        };
        // Leaf hashes of the range, from the stored entries.
        let mut leaves: Vec<Hash> = Vec::with_capacity((end - from) as usize);
        // Per entry of the range, what its replay gave.
        let mut outcome: Vec<Outcome> = Vec::with_capacity((end - from) as usize);
        // Leaves of entries whose digest check failed, with the digest they should have.
        let mut restored: BTreeMap<u64, Hash> = BTreeMap::new();
        // Reports of the replays that mismatched, by log index.
        let mut reports: BTreeMap<u64, ReplayReport> = BTreeMap::new();
        let reps = RepIndex::load(&self.records)?;
        let batches = Batches::default();
        // Parts of the range are read and recomputed on every core, and taken in log order.
        let parts: Vec<(u64, u64)> = (from..end)
            .step_by(RANGE_CHUNK)
            .map(|a| (a, (a + RANGE_CHUNK as u64).min(end)))
            .collect();
        let replay_part = |&(at, stop): &(u64, u64)| -> Result<Part> {
            let reader = self.reader();
            let mut stored = StoredRecords::new(&self.records);
            let mut hashes = Vec::with_capacity((stop - at) as usize);
            let mut chunk = Vec::with_capacity((stop - at) as usize);
            for i in at..stop {
                let e = self.entry_in(&reader, i)?;
                hashes.push(e.leaf_hash());
                let t = e.entry.at_unix_ms;
                if from_ms.is_some_and(|f| t < f) || to_ms.is_some_and(|u| t >= u) {
                    continue;
                }
                if matches!(e.entry.kind, EntryKind::Classification | EntryKind::Draw) {
                    chunk.push(e);
                }
            }
            let (done, restored) = self.replay_chunk(&chunk, &reps, &mut stored, &batches)?;
            Ok((hashes, done, restored))
        };
        ordered(
            &parts,
            replay_part,
            |&(at, _), (hashes, done, part_restored)| {
                p.scanned += hashes.len() as u64;
                leaves.extend(hashes);
                outcome.resize(leaves.len(), Outcome::NotReplayable);
                restored.extend(part_restored);
                for r in done {
                    let i = r.log_index.unwrap_or(at);
                    p.replayed += 1;
                    if r.matched {
                        p.matched += 1;
                        outcome[(i - from) as usize] = Outcome::Matched;
                    } else {
                        p.mismatched += 1;
                        outcome[(i - from) as usize] = Outcome::Mismatched;
                        reports.insert(i, r);
                    }
                }
                p.not_replayable = p.scanned - p.replayed;
                p.mismatches = reports.values().take(MAX_REPORTED).cloned().collect();
                p.rate = p.replayed as f64 / started.elapsed().as_secs_f64().max(1e-9);
                if !progress(&p) {
                    return Err(Error::Unavailable("replay cancelled".into()));
                }
                Ok(())
            },
        )?;
        // The log check: which entries of the range are not those the trusted head signed.
        if let Some(anchor) = &anchor {
            let reader = self.reader();
            let mut locator = Locator {
                reader: &reader,
                public_key: &self.public_key,
                anchor,
                from,
                leaves: &leaves,
                restored: &restored,
                known: Default::default(),
            };
            locator.trust_frontier()?;
            let located = locator.locate()?;
            for &i in located.named.keys() {
                outcome[(i - from) as usize] = Outcome::Mismatched;
            }
            for &i in located.unverified.keys() {
                // A replay that already mismatched stays named.
                if outcome[(i - from) as usize] != Outcome::Mismatched {
                    outcome[(i - from) as usize] = Outcome::Unverified;
                }
            }
            for (&i, why) in located.named.iter().chain(&located.unverified) {
                let r = match reports.remove(&i) {
                    Some(r) => r,
                    None => {
                        let e = self.entry_in(&reader, i)?;
                        ReplayReport {
                            subject: e.entry.subject,
                            matched: false,
                            differences: Vec::new(),
                            log_index: Some(i),
                            digest_matches_log: true,
                            included_in_signed_head: false,
                        }
                    }
                };
                reports.insert(i, tampered(r, why));
            }
        }
        p.matched = 0;
        p.mismatched = 0;
        p.not_replayable = 0;
        p.mismatched_indices.clear();
        p.unverified_indices.clear();
        for (k, o) in outcome.iter().enumerate() {
            match o {
                Outcome::Matched => p.matched += 1,
                Outcome::NotReplayable => p.not_replayable += 1,
                Outcome::Mismatched => {
                    p.mismatched += 1;
                    p.mismatched_indices.push(from + k as u64);
                }
                Outcome::Unverified => {
                    p.mismatched += 1;
                    p.unverified_indices.push(from + k as u64);
                }
            }
        }
        // INVARIANT (counts): every scanned entry has exactly one outcome.
        debug_assert_eq!(p.matched + p.mismatched + p.not_replayable, p.scanned);
        p.mismatches = reports.values().take(MAX_REPORTED).cloned().collect();
        p.finished = true;
        p.rate = p.replayed as f64 / started.elapsed().as_secs_f64().max(1e-9);
        progress(&p);
        Ok(p)
    }
    /// Replays the classification and draw entries of one chunk, in log order; also gives,
    /// for each classification entry whose digest differs from its stored record's, the leaf
    /// hash the entry would have with that digest.
    fn replay_chunk(
        &self,
        chunk: &[StoredEntry],
        reps: &RepIndex,
        records: &mut StoredRecords<'_>,
        batches: &Batches,
    ) -> Result<(Vec<ReplayReport>, PutBack)> {
        // Stored records first: digest checks need only the entry and the stored bytes.
        let mut jobs: Vec<Job> = Vec::with_capacity(chunk.len());
        for e in chunk {
            match e.entry.kind {
                EntryKind::Classification => {
                    // An altered entry or record is a mismatch of that entry, not a failed
                    // replay.
                    let (code, seq) = match parse_classification_subject(e) {
                        Ok(x) => x,
                        Err(why) => {
                            jobs.push(Job::Missing(e.clone(), why.to_string()));
                            continue;
                        }
                    };
                    let what = format!("classification {seq} of `{code}`");
                    match records.get(&code, seq)? {
                        None => jobs.push(Job::Missing(e.clone(), what)),
                        Some(v) => match decode::<ClassificationRecord>(&v, &what) {
                            Ok(r) => jobs.push(Job::Classification(e.clone(), v, r)),
                            Err(why) => jobs.push(Job::Missing(e.clone(), why.to_string())),
                        },
                    }
                }
                _ => jobs.push(Job::Draw(e.clone())),
            }
        }
        // Classifications sharing a run (same cut, date, rule set) are recomputed together, in
        // code order, on two threads.
        let mut groups: BTreeMap<(u64, Date, [u8; 32], u64), Vec<usize>> = BTreeMap::new();
        for (i, j) in jobs.iter().enumerate() {
            if let Job::Classification(_, _, r) = j {
                groups
                    .entry((r.cut, r.as_of, r.rule_set, r.run_id))
                    .or_default()
                    .push(i);
            }
        }
        let mut out: Vec<Option<ReplayReport>> = vec![None; jobs.len()];
        for ((cut, as_of, rule_set, run_id), mut idx) in groups {
            let rules = self
                .classifier
                .rule_sets()
                .get_blocking(&hex::encode(rule_set))?;
            idx.sort_by_key(|&i| match &jobs[i] {
                Job::Classification(_, _, r) => r.code,
                _ => unreachable!("grouped jobs are classifications"),
            });
            let codes: Vec<CreditCode> = idx
                .iter()
                .map(|&i| match &jobs[i] {
                    Job::Classification(_, _, r) => r.code,
                    _ => unreachable!("grouped jobs are classifications"),
                })
                .collect();
            // A run's group reads as the run did (segments and relation shares loaded once for
            // its cut and date); a small group reads segments and looks relations up.
            let (segments, shares) = if codes.len() >= BATCH_GROUP {
                let b = batches.get(&self.records, reps, cut, as_of)?;
                (b.0.clone(), Some(b))
            } else {
                (
                    EventSegments::load(self.records.engine().as_ref(), cut)?.map(Arc::new),
                    None,
                )
            };
            let src = Sources {
                reps,
                segments: segments.as_deref(),
                shares: shares.as_ref().map(|b| &b.1),
            };
            let recomputed = gather_range(&self.records, &codes, cut, as_of, src)?
                .into_iter()
                .map(|x| {
                    x.map(|inp| decide(&inp, &rules, as_of, cut, run_id).map(|(r, _)| r))
                        .transpose()
                })
                .collect::<Result<Vec<_>>>()?;
            for (i, again) in idx.into_iter().zip(recomputed) {
                if let Job::Classification(e, stored, record) = &jobs[i] {
                    out[i] = Some(classification_report(e, stored, record, again)?);
                }
            }
        }
        for (i, j) in jobs.iter().enumerate() {
            match j {
                Job::Draw(e) => {
                    let id = e.entry.subject.strip_prefix("draw/").ok_or_else(|| {
                        Error::Corrupt(format!(
                            "log entry {}: subject `{}`",
                            e.index, e.entry.subject
                        ))
                    })?;
                    let mut r = self.replay_draw(id)?;
                    // The range's inclusion is checked once for all entries.
                    r.differences.retain(|d| d.field != "log.inclusion");
                    r.included_in_signed_head = true;
                    r.log_index = Some(e.index);
                    r.matched = r.differences.is_empty();
                    out[i] = Some(r);
                }
                Job::Missing(e, what) => {
                    out[i] = Some(ReplayReport {
                        subject: e.entry.subject.clone(),
                        matched: false,
                        differences: vec![Difference {
                            field: "stored".into(),
                            stored: "missing".into(),
                            replayed: what.clone(),
                        }],
                        log_index: Some(e.index),
                        digest_matches_log: false,
                        included_in_signed_head: true,
                    });
                }
                Job::Classification(..) => {}
            }
        }
        let mut restored = Vec::new();
        for j in &jobs {
            if let Job::Classification(e, stored, _) = j {
                let digest = payload_digest(stored);
                if digest != e.entry.payload_digest {
                    let mut put_back = e.entry.clone();
                    put_back.payload_digest = digest;
                    if let Ok(bytes) = put_back.encode() {
                        restored.push((e.index, merkle::leaf_hash(&bytes)));
                    }
                }
            }
        }
        Ok((out.into_iter().flatten().collect(), restored))
    }
}

/// Groups of at least this many classifications in one part of a range replay (a run's) read
/// through relation shares loaded once for their cut and date.
const BATCH_GROUP: usize = 1024;

/// Segments and relation shares for a cut and as-of date, shared by a range replay's workers;
/// the last one loaded is kept (a run's parts all ask for the same one).
#[derive(Default)]
struct Batches {
    last: std::sync::Mutex<Option<LastBatch>>,
}

/// Segments and shares at one cut and date.
type Batch = (Option<Arc<EventSegments>>, Shares);

/// The batch last loaded, with its cut and date.
type LastBatch = ((u64, Date), Arc<Batch>);

impl Batches {
    fn get(&self, records: &Records, reps: &RepIndex, cut: u64, as_of: Date) -> Result<Arc<Batch>> {
        // Held while loading, so workers asking for the same batch wait for one load.
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((key, b)) = last.as_ref() {
            if *key == (cut, as_of) {
                return Ok(b.clone());
            }
        }
        let segments = EventSegments::load(records.engine().as_ref(), cut)?.map(Arc::new);
        let shares = Shares::load(records, reps, segments.as_deref(), cut, as_of)?;
        let b = Arc::new((segments, shares));
        *last = Some(((cut, as_of), b.clone()));
        Ok(b)
    }
}

/// One entry of a chunk being replayed.
#[derive(Clone)]
enum Job {
    /// A classification entry, its stored bytes and record.
    Classification(StoredEntry, Vec<u8>, ClassificationRecord),
    /// A draw entry.
    Draw(StoredEntry),
    /// A classification entry whose stored record is gone.
    Missing(StoredEntry, String),
}

fn parse_classification_subject(e: &StoredEntry) -> Result<(CreditCode, u64)> {
    let bad = || {
        Error::Corrupt(format!(
            "log entry {}: subject `{}`",
            e.index, e.entry.subject
        ))
    };
    let mut parts = e.entry.subject.split('/');
    let (Some("classification"), Some(code), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let code = CreditCode::parse(code).map_err(|_| bad())?;
    let seq: u64 = seq.parse().map_err(|_| bad())?;
    Ok((code, seq))
}

/// What differs between a stored classification (`stored` bytes, decoded `record`) and its
/// recomputation (`None`: the enterprise did not exist at the cut), field by field, then byte
/// for byte.
fn recomputation_diffs(
    stored: &[u8],
    record: &ClassificationRecord,
    again: Option<ClassificationRecord>,
) -> Result<Vec<Difference>> {
    let mut differences = Vec::new();
    match again {
        None => diff(
            &mut differences,
            "enterprise",
            "stored",
            "missing at the cut",
        ),
        Some(mut again) => {
            again.seq = record.seq;
            differences.extend(classification_diffs(record, &again));
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
    Ok(differences)
}

/// The report of one classification of a range: recomputation and digest (inclusion is
/// checked for the whole range).
fn classification_report(
    e: &StoredEntry,
    stored: &[u8],
    record: &ClassificationRecord,
    again: Option<ClassificationRecord>,
) -> Result<ReplayReport> {
    let mut differences = recomputation_diffs(stored, record, again)?;
    let digest = payload_digest(stored);
    let digest_ok = digest == e.entry.payload_digest;
    diff(
        &mut differences,
        "payload_digest",
        hex::encode(digest),
        hex::encode(e.entry.payload_digest),
    );
    Ok(ReplayReport {
        subject: e.entry.subject.clone(),
        matched: differences.is_empty(),
        differences,
        log_index: Some(e.index),
        digest_matches_log: digest_ok,
        included_in_signed_head: true,
    })
}
