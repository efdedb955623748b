//! Run blocks: how a whole-population run stores its output, one value per committed chunk
//! instead of keys per enterprise.
//!
//! Stored one by one, a classification costs three or four B-tree inserts (the record, its
//! audit-log entry, the current tier, Merkle nodes), about 40 µs in the single writer: 160 s for
//! 4 million enterprises, whatever the reads cost. A run's output is immutable and produced in
//! credit-code order, so each committed chunk (up to [`super::batch::CHUNK`] enterprises, seqs
//! and log indices consecutive) is stored as:
//!
//! - [`Key::RunBlock`]`(run, first code)`: the stored bytes of every record, in code order
//!   (the bytes whose SHA-256 the audit-log entry carries);
//! - [`Key::RunTiers`]`(run, first code)`: codes and tier bytes only, for draw snapshots;
//! - [`Key::LogBlock`]`(first index)`: the chunk's audit-log entries
//!   ([`crate::storage::LogReader`] resolves an index to its block);
//! - [`Key::LogSeqs`]`(first seq)`: the span mapping seqs to log indices, plus the run block's
//!   key, so a record is found from its seq alone ([`StoredRecords`]);
//! - the [`Key::TierLayer`]: the newest run classification of every enterprise (tier, seq,
//!   run), in blocks keyed by their first code. A chunk replaces the layer's entries over its
//!   code range in the same commit ([`replace_layer`]).
//!
//! The current tier of an enterprise is the newer (by seq) of its layer entry and its
//! [`Key::CurrentTier`], which classifications stored one by one still write when they change
//! the tier. A chunk reads both for its whole range (two range reads, not one read per
//! enterprise) to log tier changes exactly as one-by-one storing does.
//!
//! Layer and tier blocks use fixed-width entries, so one enterprise is found by binary search
//! over the stored bytes without decoding the block.

use super::service::{classification_entry, log_tier_change, run_signals, Pending};
use crate::domain::CreditCode;
use crate::error::{Error, Result};
use crate::storage::codec::{decode_borrowed, encode, SCHEMA_VERSION};
use crate::storage::keys::prefix;
use crate::storage::log::SeqSpan;
use crate::storage::{Engine, Job, Key, LogReader, Records, Tx, WriteOutcome};
use serde::{Deserialize, Serialize};

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("run blocks: {what}"))
}

/// The key just after `key`: an exclusive bound that includes `key` itself.
fn after(key: Key<'_>) -> Vec<u8> {
    let mut k = key.encode();
    k.push(0);
    k
}

/// The stored records of one chunk: (code bytes, record bytes) in code order; the i-th has
/// seq `first_seq + i`.
#[derive(Serialize, Deserialize)]
pub(crate) struct RecordBlock<'a> {
    pub(crate) first_seq: u64,
    #[serde(borrow)]
    pub(crate) entries: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> RecordBlock<'a> {
    pub(crate) fn decode(v: &'a [u8], what: &dyn std::fmt::Display) -> Result<RecordBlock<'a>> {
        decode_borrowed(v, what)
    }

    /// The position of `code`.
    fn find(&self, code: &CreditCode) -> Option<usize> {
        self.entries
            .binary_search_by(|(c, _)| (*c).cmp(code.as_bytes().as_slice()))
            .ok()
    }
}

/// One enterprise's newest run classification, as the tier layer holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Current {
    /// The enterprise.
    pub code: CreditCode,
    /// Tier byte (0 = A .. 3 = D).
    pub tier: u8,
    /// The classification's seq.
    pub seq: u64,
    /// The run that stored it.
    pub run: u64,
}

const CURRENT_WIDTH: usize = 18 + 1 + 8 + 8;
const TIER_WIDTH: usize = 18 + 1;

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
}

/// Fixed-width entries after the version byte and a header of `header` bytes.
fn fixed_entries<'v>(v: &'v [u8], header: usize, width: usize, what: &str) -> Result<&'v [u8]> {
    match v.split_first() {
        Some((&SCHEMA_VERSION, rest))
            if rest.len() >= header && (rest.len() - header).is_multiple_of(width) =>
        {
            Ok(&rest[header..])
        }
        _ => Err(corrupt(format!("malformed {what}"))),
    }
}

/// Binary search over fixed-width entries that start with an 18-byte code.
fn search(entries: &[u8], width: usize, code: &CreditCode) -> Option<usize> {
    let n = entries.len() / width;
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let c = &entries[mid * width..mid * width + 18];
        match c.cmp(code.as_bytes().as_slice()) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(mid),
        }
    }
    None
}

fn current_at(entries: &[u8], i: usize) -> Result<Current> {
    let e = &entries[i * CURRENT_WIDTH..(i + 1) * CURRENT_WIDTH];
    Ok(Current {
        code: CreditCode::from_bytes(&e[..18]).ok_or_else(|| corrupt("code in the tier layer"))?,
        tier: e[18],
        seq: be64(&e[19..27]),
        run: be64(&e[27..35]),
    })
}

fn encode_layer(entries: &[Current]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + entries.len() * CURRENT_WIDTH);
    v.push(SCHEMA_VERSION);
    for c in entries {
        v.extend_from_slice(c.code.as_bytes());
        v.push(c.tier);
        v.extend_from_slice(&c.seq.to_be_bytes());
        v.extend_from_slice(&c.run.to_be_bytes());
    }
    v
}

fn decode_layer(v: &[u8]) -> Result<Vec<Current>> {
    let e = fixed_entries(v, 0, CURRENT_WIDTH, "tier-layer block")?;
    (0..e.len() / CURRENT_WIDTH)
        .map(|i| current_at(e, i))
        .collect()
}

/// `code`'s entry in a stored layer block.
fn find_current(v: &[u8], code: &CreditCode) -> Result<Option<Current>> {
    let e = fixed_entries(v, 0, CURRENT_WIDTH, "tier-layer block")?;
    search(e, CURRENT_WIDTH, code)
        .map(|i| current_at(e, i))
        .transpose()
}

/// The tier and seq in a [`Key::CurrentTier`] value (seq 0 for the one-byte form of older
/// stores).
pub(crate) fn individual(v: &[u8], code: &CreditCode) -> Result<(u8, u64)> {
    match v.len() {
        1 => Ok((v[0], 0)),
        9 => Ok((v[0], be64(&v[1..]))),
        _ => Err(corrupt(format!("current tier of `{code}`"))),
    }
}

/// The [`Key::CurrentTier`] value for `tier` set by classification `seq`.
pub fn individual_value(tier: u8, seq: u64) -> Vec<u8> {
    let mut v = vec![tier];
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

/// The newer of two (tier, seq) sources.
pub(crate) fn newest(a: Option<(u8, u64)>, b: Option<(u8, u64)>) -> Option<(u8, u64)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.1 > x.1 { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// The current tier and its seq of `code` as a writer job sees it.
pub fn current_in(tx: &Tx<'_>, code: &CreditCode) -> Result<Option<(u8, u64)>> {
    let single = match tx.get(&Key::CurrentTier(*code))? {
        Some(v) => Some(individual(&v, code)?),
        None => None,
    };
    let layered = match tx.last_in(&prefix::tier_layer(), &after(Key::TierLayer(*code)))? {
        Some((_, v)) => find_current(&v, code)?.map(|c| (c.tier, c.seq)),
        None => None,
    };
    Ok(newest(single, layered))
}

/// `code`'s newest run classification in the tier layer, read from the store.
pub fn layer_entry(engine: &dyn Engine, code: &CreditCode) -> Result<Option<Current>> {
    match engine.last_in(&prefix::tier_layer(), &after(Key::TierLayer(*code)))? {
        Some((_, v)) => find_current(&v, code),
        None => Ok(None),
    }
}

/// The job storing one chunk of whole-population run `run` (items in code order, each code
/// once) as blocks, with the run's checkpoint in the same commit. Seqs and log indices are
/// consecutive; a tier change is logged, under the record's seq, for every enterprise whose
/// current tier differs. Each item's [`Pending::signal`] (the run's enterprise warning signals)
/// runs last, with the tier its enterprise had before the chunk, so its alerts commit with the
/// chunk and its checkpoint: a run resumed after a crash neither repeats nor loses them.
/// `WriteOutcome::note` counts the tier changes.
pub fn store_chunk_job(
    run: u64,
    items: Vec<Pending>,
    checkpoint: (Key<'static>, Vec<u8>),
    actor: String,
    at_ms: i64,
) -> Job {
    Box::new(move |tx| {
        let mut out = WriteOutcome::default();
        let (Some(first), Some(last)) = (
            items.first().map(|p| p.record.code),
            items.last().map(|p| p.record.code),
        ) else {
            tx.put(&checkpoint.0, checkpoint.1);
            return Ok(out);
        };
        if items
            .windows(2)
            .any(|w| w[0].record.code >= w[1].record.code)
        {
            return Err(Error::Internal(format!(
                "run {run}: a chunk's enterprises are not in strict code order"
            )));
        }
        let mut singles = Vec::new();
        for (k, v) in tx.range(
            &Key::CurrentTier(first).encode(),
            &after(Key::CurrentTier(last)),
        )? {
            let code = crate::storage::keys::code_in(&k).ok_or_else(|| corrupt("tier key"))?;
            singles.push((code, individual(&v, &code)?));
        }
        let (old_keys, old) = layer_over(tx, &first, &last)?;
        let n = items.len();
        let (mut records, mut entries) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut tiers = Vec::with_capacity(n * TIER_WIDTH + 9);
        let mut currents = Vec::with_capacity(n);
        let mut first_seq = None;
        let mut signals = Vec::new();
        for mut p in items {
            let code = p.record.code;
            let seq = tx.alloc_seq();
            first_seq.get_or_insert(seq);
            p.record.seq = seq;
            let single = singles
                .binary_search_by(|(c, _)| c.cmp(&code))
                .ok()
                .map(|i| singles[i].1);
            let layered = old
                .binary_search_by(|c| c.code.cmp(&code))
                .ok()
                .map(|i| (old[i].tier, old[i].seq));
            let prev = newest(single, layered).map(|(t, _)| t);
            if let Some(from) = prev {
                if from != p.record.tier {
                    log_tier_change(tx, &p.record, p.jurisdiction, from)?;
                    out.note += 1;
                }
            }
            let value = encode(&p.record)?;
            entries.push(classification_entry(&p.record, &value, &actor, at_ms));
            tiers.extend_from_slice(code.as_bytes());
            tiers.push(p.record.tier);
            currents.push(Current {
                code,
                tier: p.record.tier,
                seq,
                run,
            });
            records.push((code, value));
            out.accepted += 1;
            out.seqs.push(seq);
            if let Some(f) = p.signal {
                signals.push((f, prev, p.record));
            }
        }
        let first_seq = first_seq.unwrap_or(0);
        let first_index = tx.log_block(&entries)?;
        let block = RecordBlock {
            first_seq,
            entries: records
                .iter()
                .map(|(c, v)| (c.as_bytes().as_slice(), v.as_slice()))
                .collect(),
        };
        tx.put(&Key::RunBlock(run, first), encode(&block)?);
        let mut t = vec![SCHEMA_VERSION];
        t.extend_from_slice(&first_seq.to_be_bytes());
        t.extend_from_slice(&tiers);
        tx.put(&Key::RunTiers(run, first), t);
        let span = SeqSpan {
            first_seq,
            first_index,
            count: u32::try_from(n).map_err(|_| Error::Internal("chunk too large".into()))?,
            block: Some((run, first)),
        };
        tx.put(&Key::LogSeqs(first_seq), span.encode());
        replace_layer(tx, &old_keys, old, currents, &first, &last)?;
        tx.put(&checkpoint.0, checkpoint.1);
        // After the chunk's log block, whose indices must stay consecutive.
        run_signals(tx, signals)?;
        Ok(out)
    })
}

/// The layer blocks that may hold entries in `[first, last]` (the one starting at or before
/// `first`, and every one starting inside), as this job sees them: their keys and all their
/// entries, in code order.
fn layer_over(
    tx: &Tx<'_>,
    first: &CreditCode,
    last: &CreditCode,
) -> Result<(Vec<Vec<u8>>, Vec<Current>)> {
    let from = match tx.last_in(&prefix::tier_layer(), &after(Key::TierLayer(*first)))? {
        Some((k, _)) => k,
        None => Key::TierLayer(*first).encode(),
    };
    let (mut keys, mut entries) = (Vec::new(), Vec::new());
    for (k, v) in tx.range(&from, &after(Key::TierLayer(*last)))? {
        entries.extend(decode_layer(&v)?);
        keys.push(k);
    }
    Ok((keys, entries))
}

/// Replaces the layer's entries over `[first, last]` with `new` (sorted, inside the range;
/// newer than every old entry, so they win): old entries inside the range that `new` lacks
/// (enterprises this run did not see) are kept; those below `first` stay in their block, those
/// after `last` move to a block keyed by their first code. Every block stays keyed by its
/// first entry, and blocks never overlap.
pub fn replace_layer(
    tx: &mut Tx<'_>,
    old_keys: &[Vec<u8>],
    old: Vec<Current>,
    new: Vec<Current>,
    first: &CreditCode,
    last: &CreditCode,
) -> Result<()> {
    let (mut below, mut inside, mut above) = (Vec::new(), Vec::new(), Vec::new());
    for c in old {
        if c.code < *first {
            below.push(c);
        } else if c.code > *last {
            above.push(c);
        } else {
            inside.push(c);
        }
    }
    for k in old_keys {
        tx.delete_raw(k);
    }
    if let Some(b) = below.first() {
        tx.put(&Key::TierLayer(b.code), encode_layer(&below));
    }
    // Merge: both sorted by code; `new` wins on equal codes.
    let mut merged = Vec::with_capacity(new.len() + inside.len());
    let mut olds = inside.into_iter().peekable();
    for c in new {
        while let Some(o) = olds.next_if(|o| o.code < c.code) {
            merged.push(o);
        }
        olds.next_if(|o| o.code == c.code);
        merged.push(c);
    }
    merged.extend(olds);
    if let Some(m) = merged.first() {
        tx.put(&Key::TierLayer(m.code), encode_layer(&merged));
    }
    if let Some(a) = above.first() {
        tx.put(&Key::TierLayer(a.code), encode_layer(&above));
    }
    Ok(())
}

/// The stored bytes of `code`'s classification in run `run`, if that run stored it as blocks.
pub fn record_in_run(engine: &dyn Engine, run: u64, code: &CreditCode) -> Result<Option<Vec<u8>>> {
    let Some((k, v)) =
        engine.last_in(&prefix::run_blocks(run), &after(Key::RunBlock(run, *code)))?
    else {
        return Ok(None);
    };
    let block = RecordBlock::decode(&v, &format_args!("run block {}", hex::encode(&k)))?;
    Ok(block.find(code).map(|i| block.entries[i].1.to_vec()))
}

/// Finds stored classifications by code and seq: stored one by one, or in a run block found
/// through the [`Key::LogSeqs`] span of the seq. Keeps the last block it read, so reading a
/// run's records in order reads each block once.
pub struct StoredRecords<'a> {
    records: &'a Records,
    cached: Option<CachedRecords>,
}

impl<'a> StoredRecords<'a> {
    /// Over `records`.
    pub fn new(records: &'a Records) -> Self {
        StoredRecords {
            records,
            cached: None,
        }
    }

    /// The stored bytes of classification `seq` of `code`, if it was stored.
    pub fn get(&mut self, code: &CreditCode, seq: u64) -> Result<Option<Vec<u8>>> {
        // A seq inside the cached block's span can be nowhere else.
        if let Some((c, r)) = self.cached.as_ref().and_then(|b| hit(b, seq)) {
            return Ok((c == code).then(|| r.clone()));
        }
        match self
            .records
            .engine()
            .get(&Key::Classification(*code, seq).encode())?
        {
            Some(v) => Ok(Some(v)),
            None => self.in_block(code, seq),
        }
    }

    fn in_block(&mut self, code: &CreditCode, seq: u64) -> Result<Option<Vec<u8>>> {
        if self.cached.as_ref().and_then(|c| hit(c, seq)).is_none() {
            let Some(span) = LogReader::new(self.records).span_of(seq)? else {
                return Ok(None);
            };
            let Some((run, first)) = span.block else {
                return Ok(None);
            };
            let what = format!("run block of run {run} at `{first}`");
            let v = self
                .records
                .engine()
                .get(&Key::RunBlock(run, first).encode())?
                .ok_or_else(|| corrupt(format!("{what} is indexed but missing")))?;
            let block = RecordBlock::decode(&v, &what)?;
            if block.first_seq != span.first_seq || block.entries.len() != span.count as usize {
                return Err(corrupt(format!("{what} does not match its seq span")));
            }
            let recs = block
                .entries
                .iter()
                .map(|(c, r)| {
                    let c = CreditCode::from_bytes(c).ok_or_else(|| corrupt(&what))?;
                    Ok((c, r.to_vec()))
                })
                .collect::<Result<Vec<_>>>()?;
            self.cached = Some((span, recs));
        }
        Ok(self
            .cached
            .as_ref()
            .and_then(|c| hit(c, seq))
            .filter(|(c, _)| c == code)
            .map(|(_, r)| r.clone()))
    }
}

/// A block's records, decoded: its seq span and (code, record bytes) in seq order.
type CachedRecords = (SeqSpan, Vec<(CreditCode, Vec<u8>)>);

/// Record `seq` of a decoded block, if the block's span covers it.
fn hit((s, recs): &CachedRecords, seq: u64) -> Option<&(CreditCode, Vec<u8>)> {
    let i = seq.checked_sub(s.first_seq)?;
    recs.get(usize::try_from(i).ok()?)
}

/// Reads one run's tier blocks in code order, for a scan over every enterprise.
pub struct TierCursor<'a> {
    blocks: crate::storage::engine::KvIter<'a>,
    current: Option<(u64, Vec<u8>)>,
    pos: usize,
}

impl<'a> TierCursor<'a> {
    /// Over the tier blocks of run `run`.
    pub fn new(engine: &'a dyn Engine, run: u64) -> Self {
        TierCursor {
            blocks: engine.scan(&prefix::run_tiers(run), None),
            current: None,
            pos: 0,
        }
    }

    /// The (tier, seq) the run stored for `code`. Calls must come in increasing code order.
    pub fn at(&mut self, code: &CreditCode) -> Result<Option<(u8, u64)>> {
        loop {
            if let Some((first_seq, v)) = &self.current {
                let entries = &v[9..];
                let n = entries.len() / TIER_WIDTH;
                while self.pos < n {
                    let e = &entries[self.pos * TIER_WIDTH..(self.pos + 1) * TIER_WIDTH];
                    match e[..18].cmp(code.as_bytes().as_slice()) {
                        std::cmp::Ordering::Less => self.pos += 1,
                        std::cmp::Ordering::Equal => {
                            return Ok(Some((e[18], first_seq + self.pos as u64)))
                        }
                        std::cmp::Ordering::Greater => return Ok(None),
                    }
                }
            }
            match self.blocks.next() {
                None => return Ok(None),
                Some(kv) => {
                    let (_, v) = kv?;
                    fixed_entries(&v, 8, TIER_WIDTH, "run tier block")?;
                    let first_seq = be64(&v[1..9]);
                    self.current = Some((first_seq, v));
                    self.pos = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Signer;
    use crate::cli::bench::synthetic_code;
    use crate::storage::{MemoryEngine, Writer};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// Replacement after replacement, over ranges that shift, overlap and skip codes, with two
    /// jobs in flight at once (so one sees the other's pending writes): the layer always gives
    /// every code its newest entry, in disjoint blocks keyed by their first entry.
    #[test]
    fn layer_keeps_the_newest_entry_of_every_code_in_disjoint_blocks() {
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let (w, thread) = Writer::start(records.clone(), Signer::from_seed([1; 32])).unwrap();
        let mut universe: Vec<CreditCode> = (0..500).map(synthetic_code).collect();
        universe.sort();
        let mut model: BTreeMap<CreditCode, Current> = BTreeMap::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut seq = 1u64;
        for step in 0..80u64 {
            let mut pending = Vec::new();
            for _ in 0..2 {
                let i = next(universe.len());
                let j = (i + next(300)).min(universe.len() - 1);
                // Endpoints always present (a chunk's first and last); inside, some missing.
                let chunk: Vec<CreditCode> = universe[i..=j]
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k == 0 || i + k == j || next(5) > 0)
                    .map(|(_, c)| *c)
                    .collect();
                let new: Vec<Current> = chunk
                    .iter()
                    .map(|code| {
                        seq += 1;
                        Current {
                            code: *code,
                            tier: next(4) as u8,
                            seq,
                            run: step,
                        }
                    })
                    .collect();
                for c in &new {
                    model.insert(c.code, *c);
                }
                let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
                pending.push(
                    w.enqueue_blocking(Box::new(move |tx| {
                        let (keys, old) = layer_over(tx, &first, &last)?;
                        replace_layer(tx, &keys, old, new, &first, &last)?;
                        Ok(WriteOutcome::default())
                    }))
                    .unwrap(),
                );
            }
            for p in pending {
                p.wait_blocking().unwrap();
            }
            let engine = records.engine().as_ref();
            for code in &universe {
                assert_eq!(
                    layer_entry(engine, code).unwrap(),
                    model.get(code).copied(),
                    "step {step}, `{code}`"
                );
            }
            let mut all = Vec::new();
            for kv in engine.scan(&prefix::tier_layer(), None) {
                let (k, v) = kv.unwrap();
                let entries = decode_layer(&v).unwrap();
                assert!(!entries.is_empty(), "step {step}: an empty block");
                assert_eq!(k, Key::TierLayer(entries[0].code).encode(), "step {step}");
                all.extend(entries);
            }
            assert_eq!(
                all,
                model.values().copied().collect::<Vec<_>>(),
                "step {step}"
            );
        }
        thread.close();
    }
}
