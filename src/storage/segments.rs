//! Event segments: the events of consecutive enterprises copied into one value per range of
//! credit codes, so that a batch over millions of enterprises reads a few thousand values
//! instead of tens of millions of keys (see `docs/storage.md` for the measured costs).
//!
//! The `Event` keys stay the record: segments are a derived copy, written only by
//! [`compact`], and nothing but batch reads ([`EventSegments::events_between`]) uses them.
//!
//! - **A segment** holds, for every enterprise whose code lies in its range, that
//!   enterprise's events with seq at most the segment's *watermark* W, in seq order.
//! - **Reading at a cut C** takes a segment's events with seq ≤ C and appends the events with
//!   W < seq ≤ C, found through the event-id blocks (which list every event by seq, see
//!   [`super::event_ids`]) and read by key. A segment is therefore right at every cut, however
//!   old or new it is: an old one is topped up, a newer one filtered.
//! - **Ranges** come from the directory (`Meta("event-segments")`): each segment's first code
//!   and watermark, in code order. Segment i covers `[first_i, first_(i+1))`; the first also
//!   covers every code below it and the last every code above. Ranges are fixed when the set is
//!   first built; later compactions rewrite segments in place with a newer watermark, each value
//!   together with its directory entry in one atomic commit, never back to an older watermark.
//! - **The first build** writes its segments over several commits but publishes the directory
//!   only in the last: until then readers use the keys. A build interrupted by a crash leaves
//!   unlisted segment values behind, which nothing reads and the next build overwrites.

use super::codec::{decode, decode_borrowed, encode, SCHEMA_VERSION};
use super::event_ids::IdEntry;
use super::keys::{code_in, prefix, trailing_seq};
use super::{Engine, Key, Records, WriteOutcome, Writer};
use crate::domain::{CreditCode, StoredEvent};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Enterprises per segment when the set is first built (about 4,000 events, 400 KB).
pub const SEGMENT: usize = 1024;

/// Segments written per commit.
const PER_COMMIT: usize = 16;

/// The meta key of the directory.
const DIRECTORY: &str = "event-segments";

/// One segment in the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The first code of its range (the key of its value).
    pub first: CreditCode,
    /// Every event with seq at most this is in the segment.
    pub watermark: u64,
}

/// A segment value: its watermark and, per enterprise in code order, its events' encodings
/// (postcard of [`StoredEvent`], no version byte), borrowed on read so that an enterprise
/// outside the range asked for costs nothing to skip.
#[derive(Serialize, Deserialize)]
struct SegmentValue<'a> {
    watermark: u64,
    #[serde(borrow)]
    entries: Vec<(CreditCode, Vec<&'a [u8]>)>,
}

/// The directory, `None` until a first build has finished.
pub fn directory(engine: &dyn Engine) -> Result<Option<Vec<DirEntry>>> {
    match engine.get(&Key::Meta(DIRECTORY).encode())? {
        Some(v) => decode(&v, &"event-segment directory").map(Some),
        None => Ok(None),
    }
}

/// The index of the segment of `dir` whose range holds `code`.
fn segment_of(dir: &[DirEntry], code: &CreditCode) -> usize {
    dir.partition_point(|d| d.first <= *code).saturating_sub(1)
}

/// The oldest watermark of `dir` (`None` when it is empty).
fn oldest(dir: &[DirEntry]) -> Option<u64> {
    dir.iter().map(|d| d.watermark).min()
}

/// Every event with `after < seq <= cut`, as (code, seq), sorted, from the event-id blocks.
fn events_since(engine: &dyn Engine, after: u64, cut: u64) -> Result<Vec<(CreditCode, u64)>> {
    let mut out = Vec::new();
    for_each_since(engine, after, cut, &mut |code, seq| out.push((code, seq)))?;
    out.sort_unstable();
    Ok(out)
}

/// Calls `f` with every event with `after < seq <= cut`, in seq order.
fn for_each_since(
    engine: &dyn Engine,
    after: u64,
    cut: u64,
    f: &mut dyn FnMut(CreditCode, u64),
) -> Result<()> {
    if after >= cut {
        return Ok(());
    }
    // The block holding `after + 1` starts at or before it.
    let from = engine
        .last_in(
            &Key::EventIdBlock(0).encode(),
            &Key::EventIdBlock(after + 1).encode(),
        )?
        .map_or_else(|| Key::EventIdBlock(0).encode(), |(k, _)| k);
    for kv in engine.range(&from, &Key::EventIdBlock(cut.saturating_add(1)).encode()) {
        let (k, v) = kv?;
        let entries: Vec<IdEntry> =
            decode(&v, &format_args!("event-id block {}", hex::encode(&k)))?;
        for e in entries {
            if e.seq > after && e.seq <= cut {
                f(e.code, e.seq);
            }
        }
    }
    Ok(())
}

/// The segments of a store, ready for batch reads at one cut.
#[derive(Debug)]
pub struct EventSegments {
    dir: Vec<DirEntry>,
    cut: u64,
    /// Events above the oldest watermark, up to the cut, sorted by (code, seq).
    newer: Vec<(CreditCode, u64)>,
}

impl EventSegments {
    /// Reads the directory and the events newer than its oldest watermark, up to `cut`;
    /// `None` when the store has no segments yet.
    pub fn load(engine: &dyn Engine, cut: u64) -> Result<Option<EventSegments>> {
        let Some(dir) = directory(engine)? else {
            return Ok(None);
        };
        let newer = events_since(engine, oldest(&dir).unwrap_or(0), cut)?;
        Ok(Some(EventSegments { dir, cut, newer }))
    }

    /// The first code of every segment, in order.
    pub fn firsts(&self) -> Vec<CreditCode> {
        self.dir.iter().map(|d| d.first).collect()
    }

    /// The cut these reads are for.
    pub fn cut(&self) -> u64 {
        self.cut
    }

    fn segment_of(&self, code: &CreditCode) -> usize {
        segment_of(&self.dir, code)
    }

    /// Reads and checks segment `i`'s value.
    fn value(&self, engine: &dyn Engine, i: usize) -> Result<Vec<u8>> {
        let first = self.dir[i].first;
        engine
            .get(&Key::EventSegment(first).encode())?
            .ok_or_else(|| Error::Corrupt(format!("event segment `{first}` is listed but missing")))
    }

    /// The events with seq at most the cut of `code`, from `stored` (its encodings in a
    /// segment of watermark `watermark`) and the newer events read by key.
    fn one(
        &self,
        engine: &dyn Engine,
        code: CreditCode,
        stored: &[&[u8]],
        watermark: u64,
    ) -> Result<Vec<StoredEvent>> {
        let mut events = Vec::with_capacity(stored.len());
        for b in stored {
            let e: StoredEvent = postcard::from_bytes(b)
                .map_err(|e| Error::Corrupt(format!("event segment holding `{code}`: {e}")))?;
            if e.seq <= self.cut {
                events.push(e);
            }
        }
        let start = self.newer.partition_point(|(c, _)| *c < code);
        for (_, seq) in self.newer[start..]
            .iter()
            .take_while(|(c, _)| *c == code)
            .filter(|(_, s)| *s > watermark)
        {
            let v = engine
                .get(&Key::Event(code, *seq).encode())?
                .ok_or_else(|| {
                    Error::Corrupt(format!("event {seq} of `{code}` is indexed but missing"))
                })?;
            events.push(decode(&v, &format_args!("event {seq} of `{code}`"))?);
        }
        Ok(events)
    }

    /// The events with seq at most the cut of every enterprise with a code in
    /// `[first, last]` that has any, grouped by enterprise, in code order.
    pub fn events_between(
        &self,
        engine: &dyn Engine,
        first: &CreditCode,
        last: &CreditCode,
    ) -> Result<Vec<(CreditCode, Vec<StoredEvent>)>> {
        let mut out: Vec<(CreditCode, Vec<StoredEvent>)> = Vec::new();
        if self.dir.is_empty() || first > last {
            return Ok(out);
        }
        for i in self.segment_of(first)..=self.segment_of(last) {
            let v = self.value(engine, i)?;
            let seg: SegmentValue<'_> =
                decode_borrowed(&v, &format_args!("event segment `{}`", self.dir[i].first))?;
            // This segment's share of [first, last]: its stored enterprises and those with
            // newer events only.
            let lo = if i == 0 {
                *first
            } else {
                self.dir[i].first.max(*first)
            };
            let hi = self.dir.get(i + 1).map(|n| n.first);
            let in_range = |c: &CreditCode| *c >= lo && *c <= *last && hi.is_none_or(|h| *c < h);
            let start = self.newer.partition_point(|(c, _)| *c < lo);
            let mut codes: Vec<CreditCode> = self.newer[start..]
                .iter()
                .take_while(|(c, _)| in_range(c))
                .filter(|(_, s)| *s > seg.watermark)
                .map(|(c, _)| *c)
                .collect();
            codes.extend(seg.entries.iter().map(|(c, _)| *c).filter(in_range));
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                let stored = match seg.entries.binary_search_by(|(c, _)| c.cmp(&code)) {
                    Ok(j) => seg.entries[j].1.as_slice(),
                    Err(_) => &[],
                };
                let events = self.one(engine, code, stored, seg.watermark)?;
                if !events.is_empty() {
                    out.push((code, events));
                }
            }
        }
        Ok(out)
    }

    /// The events with seq at most the cut of each of `codes` (sorted) that has any, grouped
    /// by enterprise, in code order; each segment is read once.
    pub fn events_of(
        &self,
        engine: &dyn Engine,
        codes: &[CreditCode],
    ) -> Result<Vec<(CreditCode, Vec<StoredEvent>)>> {
        let mut out = Vec::new();
        let mut rest = codes;
        while let Some(first) = rest.first() {
            if self.dir.is_empty() {
                break;
            }
            let i = self.segment_of(first);
            let n = match self.dir.get(i + 1) {
                Some(next) => rest.partition_point(|c| *c < next.first),
                None => rest.len(),
            };
            let (here, next) = rest.split_at(n.max(1));
            let v = self.value(engine, i)?;
            let seg: SegmentValue<'_> =
                decode_borrowed(&v, &format_args!("event segment `{}`", self.dir[i].first))?;
            for code in here {
                let stored = match seg.entries.binary_search_by(|(c, _)| c.cmp(code)) {
                    Ok(j) => seg.entries[j].1.as_slice(),
                    Err(_) => &[],
                };
                let events = self.one(engine, *code, stored, seg.watermark)?;
                if !events.is_empty() {
                    out.push((*code, events));
                }
            }
            rest = next;
        }
        Ok(out)
    }
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    /// The directory was written for the first time.
    pub first_build: bool,
    /// Segments written.
    pub segments: usize,
    /// Segments in the directory afterwards.
    pub total: usize,
    /// Events copied into the segments written (old and new).
    pub events: u64,
    /// The watermark of the segments written.
    pub watermark: u64,
}

/// One compaction at a time per process (the writer serialises commits, this the reads that
/// decide them).
static COMPACTING: Mutex<()> = Mutex::new(());

/// Brings the segments up to every record acknowledged now: builds the set on first use, else
/// rewrites each segment that has newer events. Runs beside ingest and reads; see the module
/// documentation for why readers are right at every step.
pub fn compact(records: &Records, writer: &Writer) -> Result<Compaction> {
    compact_sized(records, writer, SEGMENT)
}

/// [`compact`] with `per_segment` enterprises per segment on a first build.
fn compact_sized(records: &Records, writer: &Writer, per_segment: usize) -> Result<Compaction> {
    let _one = COMPACTING.lock().unwrap_or_else(|p| p.into_inner());
    let engine = records.engine().as_ref();
    let cut = records.next_seq()?.saturating_sub(1);
    match directory(engine)? {
        None => first_build(engine, writer, cut, per_segment),
        Some(dir) => refresh(engine, writer, dir, cut),
    }
}

/// One segment being assembled: (code, event encodings) in code order.
type Building = Vec<(CreditCode, Vec<Vec<u8>>)>;

fn segment_value(watermark: u64, entries: &Building) -> Result<Vec<u8>> {
    encode(&SegmentValue {
        watermark,
        entries: entries
            .iter()
            .map(|(c, b)| (*c, b.iter().map(|x| x.as_slice()).collect()))
            .collect(),
    })
}

/// The encoding of a stored event value without its version byte.
fn body_of(v: &[u8], code: &CreditCode, seq: u64) -> Result<Vec<u8>> {
    match v.split_first() {
        Some((&SCHEMA_VERSION, rest)) => Ok(rest.to_vec()),
        _ => Err(Error::Corrupt(format!(
            "event {seq} of `{code}`: unknown schema version"
        ))),
    }
}

fn first_build(
    engine: &dyn Engine,
    writer: &Writer,
    cut: u64,
    per_segment: usize,
) -> Result<Compaction> {
    let mut report = Compaction {
        first_build: true,
        watermark: cut,
        ..Default::default()
    };
    let mut dir: Vec<DirEntry> = Vec::new();
    let mut pending: Vec<(CreditCode, Vec<u8>)> = Vec::new();
    let mut building: Building = Vec::new();
    let mut close = |building: &mut Building, pending: &mut Vec<(CreditCode, Vec<u8>)>| {
        if let Some((first, _)) = building.first() {
            let first = *first;
            pending.push((first, segment_value(cut, building)?));
            dir.push(DirEntry {
                first,
                watermark: cut,
            });
            building.clear();
        }
        Ok::<_, Error>(())
    };
    for kv in engine.scan(&prefix::events(), None) {
        let (k, v) = kv?;
        let (Some(code), Some(seq)) = (code_in(&k), trailing_seq(&k)) else {
            return Err(Error::Corrupt(format!("event key {}", hex::encode(&k))));
        };
        if seq > cut {
            continue;
        }
        let body = body_of(&v, &code, seq)?;
        report.events += 1;
        match building.last_mut() {
            Some((c, bodies)) if *c == code => bodies.push(body),
            _ => {
                if building.len() >= per_segment {
                    close(&mut building, &mut pending)?;
                    if pending.len() >= PER_COMMIT {
                        report.segments += pending.len();
                        commit(writer, std::mem::take(&mut pending), None)?;
                    }
                }
                building.push((code, vec![body]));
            }
        }
    }
    close(&mut building, &mut pending)?;
    report.segments += pending.len();
    report.total = dir.len();
    commit(writer, pending, Some(Publish::First(dir)))?;
    Ok(report)
}

/// How a commit changes the directory.
enum Publish {
    /// Publishes the first directory (refused if one exists).
    First(Vec<DirEntry>),
    /// Sets these segments' watermarks (a segment already newer is left alone).
    Refreshed(u64),
}

fn commit(
    writer: &Writer,
    segments: Vec<(CreditCode, Vec<u8>)>,
    publish: Option<Publish>,
) -> Result<()> {
    writer.submit_blocking(Box::new(move |tx| {
        let key = Key::Meta(DIRECTORY);
        match publish {
            None => {
                for (first, v) in segments {
                    tx.put(&Key::EventSegment(first), v);
                }
            }
            Some(Publish::First(dir)) => {
                if tx.get(&key)?.is_some() {
                    return Err(Error::Internal(
                        "event segments: another build published first".into(),
                    ));
                }
                for (first, v) in segments {
                    tx.put(&Key::EventSegment(first), v);
                }
                tx.put(&key, encode(&dir)?);
            }
            Some(Publish::Refreshed(watermark)) => {
                let mut dir: Vec<DirEntry> = match tx.get(&key)? {
                    Some(v) => decode(&v, &"event-segment directory")?,
                    None => return Err(Error::Internal("event segments: no directory".into())),
                };
                for (first, v) in segments {
                    let Ok(i) = dir.binary_search_by(|d| d.first.cmp(&first)) else {
                        return Err(Error::Internal(format!(
                            "event segment `{first}` is not in the directory"
                        )));
                    };
                    if dir[i].watermark < watermark {
                        dir[i].watermark = watermark;
                        tx.put(&Key::EventSegment(first), v);
                    }
                }
                tx.put(&key, encode(&dir)?);
            }
        }
        Ok(WriteOutcome::default())
    }))?;
    Ok(())
}

fn refresh(
    engine: &dyn Engine,
    writer: &Writer,
    dir: Vec<DirEntry>,
    cut: u64,
) -> Result<Compaction> {
    let mut report = Compaction {
        watermark: cut,
        total: dir.len(),
        ..Default::default()
    };
    let newer = events_since(engine, oldest(&dir).unwrap_or(cut), cut)?;
    // The newer events of each segment (above its own watermark).
    let mut per_segment: Vec<Vec<(CreditCode, u64)>> = vec![Vec::new(); dir.len()];
    for (code, seq) in newer {
        let i = segment_of(&dir, &code);
        if seq > dir[i].watermark {
            per_segment[i].push((code, seq));
        }
    }
    let mut pending = Vec::new();
    for (i, added) in per_segment.into_iter().enumerate() {
        if added.is_empty() {
            continue;
        }
        let d = dir[i];
        let v = engine
            .get(&Key::EventSegment(d.first).encode())?
            .ok_or_else(|| {
                Error::Corrupt(format!("event segment `{}` is listed but missing", d.first))
            })?;
        let old: SegmentValue<'_> =
            decode_borrowed(&v, &format_args!("event segment `{}`", d.first))?;
        let mut building: Building = old
            .entries
            .iter()
            .map(|(c, b)| (*c, b.iter().map(|x| x.to_vec()).collect()))
            .collect();
        for (code, seq) in added {
            // Events the old value already holds (a newer watermark raced us) are skipped.
            if seq <= old.watermark {
                continue;
            }
            let ev = engine
                .get(&Key::Event(code, seq).encode())?
                .ok_or_else(|| {
                    Error::Corrupt(format!("event {seq} of `{code}` is indexed but missing"))
                })?;
            let body = body_of(&ev, &code, seq)?;
            match building.binary_search_by(|(c, _)| c.cmp(&code)) {
                Ok(j) => building[j].1.push(body),
                Err(j) => building.insert(j, (code, vec![body])),
            }
        }
        report.events += building.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        pending.push((d.first, segment_value(cut, &building)?));
        if pending.len() >= PER_COMMIT {
            report.segments += pending.len();
            commit(
                writer,
                std::mem::take(&mut pending),
                Some(Publish::Refreshed(cut)),
            )?;
        }
    }
    if !pending.is_empty() {
        report.segments += pending.len();
        commit(writer, pending, Some(Publish::Refreshed(cut)))?;
    }
    Ok(report)
}

/// How far the segments lag: the events acknowledged now that are not in their segment yet
/// (all events when there are no segments), counted from the event-id blocks.
pub fn lag(records: &Records) -> Result<u64> {
    let engine = records.engine().as_ref();
    let cut = records.next_seq()?.saturating_sub(1);
    let mut n = 0;
    match directory(engine)? {
        Some(dir) => {
            for_each_since(engine, oldest(&dir).unwrap_or(0), cut, &mut |code, seq| {
                if seq > dir[segment_of(&dir, &code)].watermark {
                    n += 1;
                }
            })?;
        }
        None => for_each_since(engine, 0, cut, &mut |_, _| n += 1)?,
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Signer;
    use crate::domain::{CreditEvent, Date, EventBody, Severity};
    use crate::storage::MemoryEngine;
    use std::sync::Arc;

    /// A valid code for number `n`, in increasing order with `n`.
    fn code(n: u64) -> CreditCode {
        crate::cli::bench::synthetic_code(n)
    }

    fn store() -> (Records, Writer, crate::storage::WriterThread) {
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let (w, t) = Writer::start(records.clone(), Signer::from_seed([1; 32])).unwrap();
        (records, w, t)
    }

    /// Appends one event per code in `codes` (as ingest does: seq, id block, event key).
    fn append(w: &Writer, codes: &[u64], tag: &str) {
        let codes = codes.to_vec();
        let tag = tag.to_string();
        w.submit_blocking(Box::new(move |tx| {
            for n in codes {
                let seq = tx.alloc_seq();
                let id = format!("{tag}-{n}-{seq}");
                tx.put_event_id(&id, code(n), seq);
                let event = CreditEvent {
                    event_id: id,
                    credit_code: code(n),
                    effective_date: Date::parse("2025-05-01").unwrap(),
                    source_department: "samr-chengdu".into(),
                    body: EventBody::Penalty {
                        decision_number: format!("罚{seq}"),
                        amount_yuan: 1000 * seq as i64,
                        severity: Severity::General,
                        kind: "fine".into(),
                    },
                };
                tx.put(
                    &Key::Event(code(n), seq),
                    encode(&StoredEvent { seq, event })?,
                );
            }
            Ok(WriteOutcome::default())
        }))
        .unwrap();
    }

    /// What the event keys say: every enterprise in `[a, b]` with events at `cut`.
    fn truth(r: &Records, a: u64, b: u64, cut: u64) -> Vec<(CreditCode, Vec<StoredEvent>)> {
        (a..=b)
            .map(|n| (code(n), r.all_events_of(&code(n), cut).unwrap()))
            .filter(|(_, e)| !e.is_empty())
            .collect()
    }

    /// Segments agree with the keys for every cut up to now and many ranges.
    fn check_all(r: &Records, max_code: u64) {
        let now = r.next_seq().unwrap() - 1;
        for cut in [0, 1, now / 3, now / 2, now - 1, now] {
            let segs = EventSegments::load(r.engine().as_ref(), cut)
                .unwrap()
                .unwrap();
            for (a, b) in [
                (0, max_code),
                (0, 0),
                (3, 4),
                (5, 17),
                (max_code - 2, max_code),
            ] {
                assert_eq!(
                    segs.events_between(r.engine().as_ref(), &code(a), &code(b))
                        .unwrap(),
                    truth(r, a, b, cut),
                    "cut {cut}, codes {a}..={b}"
                );
            }
            // Picked codes, one segment read for several of them, some without events.
            let picked: Vec<u64> = vec![0, 1, 2, 5, 6, 7, 9, 13, 19, 21, 23, 24];
            let codes: Vec<CreditCode> = picked.iter().map(|n| code(*n)).collect();
            let want: Vec<_> = picked.iter().flat_map(|n| truth(r, *n, *n, cut)).collect();
            assert_eq!(
                segs.events_of(r.engine().as_ref(), &codes).unwrap(),
                want,
                "cut {cut}, picked codes"
            );
        }
    }

    #[test]
    fn segments_read_like_the_keys_at_every_cut_before_and_after_a_refresh() {
        let (r, w, t) = store();
        // Codes 2..=20, two rounds of events, so each enterprise has several.
        let first: Vec<u64> = (2..=20).collect();
        append(&w, &first, "a");
        append(&w, &first[..10], "b");
        assert!(EventSegments::load(r.engine().as_ref(), 5)
            .unwrap()
            .is_none());
        assert_eq!(lag(&r).unwrap(), 29);
        let built = compact_sized(&r, &w, 3).unwrap();
        assert!(built.first_build);
        assert_eq!((built.segments, built.total, built.events), (7, 7, 29));
        assert_eq!(lag(&r).unwrap(), 0);
        check_all(&r, 24);
        // Newer events: in old enterprises, below the first segment's range, above the last,
        // and between two enterprises of one segment.
        append(&w, &[0, 1, 5, 7, 21, 22, 24], "c");
        append(&w, &[5, 24], "d");
        assert_eq!(lag(&r).unwrap(), 9);
        check_all(&r, 24);
        // A refresh rewrites only the segments with newer events (first, the one with 5 and 7,
        // the last) and leaves every read unchanged.
        let again = compact_sized(&r, &w, 3).unwrap();
        assert!(!again.first_build);
        assert_eq!((again.segments, again.total), (3, 7));
        assert_eq!(lag(&r).unwrap(), 0);
        check_all(&r, 24);
        // Nothing new: nothing written.
        assert_eq!(compact_sized(&r, &w, 3).unwrap().segments, 0);
        // Some segments newer than others: reads still agree at every cut.
        append(&w, &[8], "e");
        compact_sized(&r, &w, 3).unwrap();
        append(&w, &[2, 9], "f");
        check_all(&r, 24);
        t.close();
    }

    #[test]
    fn a_listed_segment_that_is_missing_is_reported_as_corrupt() {
        let (r, w, t) = store();
        append(&w, &[1, 2, 3, 4], "a");
        compact_sized(&r, &w, 2).unwrap();
        t.close();
        r.engine()
            .apply(vec![super::super::engine::Op::Delete(
                Key::EventSegment(code(3)).encode(),
            )])
            .unwrap();
        let segs = EventSegments::load(r.engine().as_ref(), 4)
            .unwrap()
            .unwrap();
        let err = segs
            .events_between(r.engine().as_ref(), &code(0), &code(9))
            .unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
        assert!(err.to_string().contains(code(3).as_str()), "{err}");
    }
}
