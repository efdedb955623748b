//! The event-id index: where each event id is stored (its enterprise and seq), so that a
//! re-sent event is recognised, a conflicting one refused, and a credit repair finds the event
//! it repairs.
//!
//! **Why not one key per id.** Durable ingest is bound by sled 0.34's insert path (every insert
//! walks the tree, copies a leaf and splits leaves of more than 16 entries), and an index key
//! per event cost as much as the event itself: measured, 31,000 events/s with it against 67,000
//! without. So the index is kept in two forms:
//!
//! - **durably, in blocks**: the writer stores the ids of each commit as a few
//!   [`Key::EventIdBlock`] values (at most [`BLOCK`] ids each, in seq order, keyed by the first
//!   seq) in the same atomic batch as the events, so the blocks hold exactly the committed
//!   events; a crash loses a block only with its events;
//! - **in memory**: a hash table from a 64-bit hash of each id to its seq, rebuilt from the
//!   blocks when the store opens (one sequential scan). A hit is confirmed by reading the block
//!   that holds the seq and comparing the id; ids whose hash is already taken by another id are
//!   kept whole in a small side table, so a hash collision can never hide or alias an event.
//!
//! Costs: about 20–40 bytes of memory per stored event (about 1 GiB for 40 million events), a
//! scan of the blocks at start-up, and one block read (a few microseconds) for each id that is
//! found; a new id costs one hash lookup.

use super::codec::{decode, decode_borrowed, encode};
use super::engine::{Engine, Op};
use super::keys::{prefix, Key};
use crate::domain::CreditCode;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

/// Most ids per stored block.
pub const BLOCK: usize = 64;

/// One id of a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdEntry {
    /// The event's seq.
    pub seq: u64,
    /// Its enterprise.
    pub code: CreditCode,
    /// Its id.
    pub event_id: String,
}

/// An [`IdEntry`] as read at start-up: same encoding, nothing copied or parsed.
#[derive(Deserialize)]
struct IdEntryRef<'a> {
    seq: u64,
    #[serde(borrow, rename = "code")]
    _code: &'a str,
    #[serde(borrow)]
    event_id: &'a str,
}

/// The blocks for `entries` (any order; sorted by seq here), cut into runs of at most [`BLOCK`].
pub fn blocks(entries: &mut [IdEntry]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    entries.sort_by_key(|e| e.seq);
    entries
        .chunks(BLOCK)
        .map(|c| Ok((Key::EventIdBlock(c[0].seq).encode(), encode(&c)?)))
        .collect()
}

/// The in-memory side of the index. Shared by the writer (which adds committed ids) and readers.
#[derive(Clone, Default)]
pub struct EventIds {
    inner: Arc<RwLock<Table>>,
}

#[derive(Default)]
struct Table {
    /// Hash of an id to its seq: the first id stored with that hash.
    by_hash: HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    /// Ids whose hash was already taken when they were stored, to their seq.
    whole: HashMap<String, u64>,
}

impl Table {
    fn insert(&mut self, id: &str, seq: u64) {
        use std::collections::hash_map::Entry;
        match self.by_hash.entry(id_hash(id)) {
            Entry::Vacant(v) => {
                v.insert(seq);
            }
            Entry::Occupied(_) => {
                self.whole.insert(id.to_string(), seq);
            }
        }
    }

    /// The seqs that may hold `id`: the exact entry if any, else the hash's.
    fn candidate(&self, id: &str) -> Option<u64> {
        self.whole
            .get(id)
            .or_else(|| self.by_hash.get(&id_hash(id)))
            .copied()
    }
}

/// A 64-bit hash of an id. Nothing durable or replayed depends on it: every hit is confirmed
/// against the stored id, and the table is rebuilt at each start.
fn id_hash(id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(id.as_bytes());
    h.finish()
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl EventIds {
    /// Builds the table from the blocks in `engine`, first converting the one-key-per-id index
    /// of earlier development builds, if any, into blocks (one atomic, flushed batch).
    pub fn load(engine: &dyn Engine) -> Result<EventIds> {
        migrate_legacy(engine)?;
        let mut t = Table::default();
        for kv in engine.scan(&prefix::event_id_blocks(), None) {
            let (k, v) = kv?;
            // Borrowed, and the code left unparsed: start-up reads every id ever stored.
            let entries: Vec<IdEntryRef<'_>> =
                decode_borrowed(&v, &format_args!("event-id block {}", hex::encode(&k)))?;
            for e in &entries {
                t.insert(e.event_id, e.seq);
            }
        }
        Ok(EventIds {
            inner: Arc::new(RwLock::new(t)),
        })
    }

    /// Adds committed ids. Only the writer calls this, after the commit that stored their
    /// blocks is durable.
    pub fn add(&self, entries: &[IdEntry]) {
        let mut t = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for e in entries {
            t.insert(&e.event_id, e.seq);
        }
    }

    /// Committed event ids: the number of events stored (a count kept in memory, no read).
    pub fn stored(&self) -> u64 {
        let t = self.inner.read().unwrap_or_else(|p| p.into_inner());
        (t.by_hash.len() + t.whole.len()) as u64
    }

    /// Where `id` is stored, among committed events: the enterprise and seq.
    pub fn locate(&self, engine: &dyn Engine, id: &str) -> Result<Option<(CreditCode, u64)>> {
        let candidate = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .candidate(id);
        let Some(seq) = candidate else {
            return Ok(None);
        };
        let from = Key::EventIdBlock(0).encode();
        let to = Key::EventIdBlock(seq.saturating_add(1)).encode();
        let Some((k, v)) = engine.last_in(&from, &to)? else {
            return Err(Error::Corrupt(format!(
                "event id `{id}`: no index block holds seq {seq}"
            )));
        };
        let entries: Vec<IdEntry> =
            decode(&v, &format_args!("event-id block {}", hex::encode(&k)))?;
        Ok(entries
            .binary_search_by_key(&seq, |e| e.seq)
            .ok()
            .map(|i| &entries[i])
            .filter(|e| e.event_id == id)
            .map(|e| (e.code, e.seq)))
    }
}

/// Converts per-id keys (tag, id, 0x00 → code, seq) into blocks, in one atomic flushed batch.
fn migrate_legacy(engine: &dyn Engine) -> Result<()> {
    let mut entries = Vec::new();
    let mut old = Vec::new();
    for kv in engine.scan(&prefix::legacy_event_ids(), None) {
        let (k, v) = kv?;
        let id = k
            .get(1..k.len().saturating_sub(1))
            .and_then(|b| std::str::from_utf8(b).ok());
        let code = v.get(..18).and_then(CreditCode::from_bytes);
        let seq = v
            .get(18..26)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes);
        let (Some(id), Some(code), Some(seq)) = (id, code, seq) else {
            return Err(Error::Corrupt(format!(
                "legacy event-id key {}",
                hex::encode(&k)
            )));
        };
        entries.push(IdEntry {
            seq,
            code,
            event_id: id.to_string(),
        });
        old.push(k);
    }
    if old.is_empty() {
        return Ok(());
    }
    tracing::info!(ids = old.len(), "converting the event-id index to blocks");
    let mut ops: Vec<Op> = old.into_iter().map(Op::Delete).collect();
    ops.extend(
        blocks(&mut entries)?
            .into_iter()
            .map(|(k, v)| Op::Put(k, v)),
    );
    engine.apply(ops)?;
    engine.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryEngine;

    fn code(n: u8) -> CreditCode {
        crate::cli::bench::synthetic_code(u64::from(n))
    }

    fn entry(seq: u64, n: u8, id: &str) -> IdEntry {
        IdEntry {
            seq,
            code: code(n),
            event_id: id.into(),
        }
    }

    fn store(engine: &MemoryEngine, mut entries: Vec<IdEntry>) {
        let ops = blocks(&mut entries)
            .unwrap()
            .into_iter()
            .map(|(k, v)| Op::Put(k, v))
            .collect();
        engine.apply(ops).unwrap();
    }

    #[test]
    fn found_after_reload_across_blocks_and_absent_ids_are_none() {
        let engine = MemoryEngine::default();
        // 150 ids in three blocks, written out of order.
        let entries: Vec<IdEntry> = (0..150u64)
            .rev()
            .map(|i| entry(10 + i * 2, (i % 7) as u8, &format!("ev-{i}")))
            .collect();
        store(&engine, entries);
        assert_eq!(engine.scan(&prefix::event_id_blocks(), None).count(), 3);
        let ids = EventIds::load(&engine).unwrap();
        for i in [0u64, 63, 64, 127, 128, 149] {
            assert_eq!(
                ids.locate(&engine, &format!("ev-{i}")).unwrap(),
                Some((code((i % 7) as u8), 10 + i * 2)),
                "ev-{i}"
            );
        }
        assert_eq!(ids.locate(&engine, "ev-150").unwrap(), None);
        assert_eq!(ids.locate(&engine, "").unwrap(), None);
    }

    #[test]
    fn colliding_hashes_neither_hide_nor_alias_events() {
        let engine = MemoryEngine::default();
        let ids = EventIds::default();
        store(&engine, vec![entry(1, 1, "a")]);
        ids.add(&[entry(1, 1, "a")]);
        // A collision: the slot of "b"'s hash is taken by "a" (real collisions of 64-bit
        // hashes are too rare to find; the table treats any occupied slot alike).
        {
            let mut t = ids.inner.write().unwrap();
            let h = id_hash("b");
            t.by_hash.insert(h, 1); // "b"'s slot now points at "a"'s seq
        }
        // A lookup of "b" reads the block of seq 1, sees "a", and answers None, not "a".
        assert_eq!(ids.locate(&engine, "b").unwrap(), None);
        // Storing "b" then goes to the side table and is found exactly.
        store(&engine, vec![entry(2, 2, "b")]);
        ids.add(&[entry(2, 2, "b")]);
        assert_eq!(ids.locate(&engine, "b").unwrap(), Some((code(2), 2)));
        assert_eq!(ids.locate(&engine, "a").unwrap(), Some((code(1), 1)));
    }

    #[test]
    fn legacy_keys_are_converted_once() {
        let engine = MemoryEngine::default();
        let mut ops = Vec::new();
        for (id, n, seq) in [("x-1", 1u8, 5u64), ("x-2", 2, 3)] {
            let mut k = prefix::legacy_event_ids();
            k.extend_from_slice(id.as_bytes());
            k.push(0);
            let mut v = code(n).as_bytes().to_vec();
            v.extend_from_slice(&seq.to_be_bytes());
            ops.push(Op::Put(k, v));
        }
        engine.apply(ops).unwrap();
        let ids = EventIds::load(&engine).unwrap();
        assert_eq!(ids.locate(&engine, "x-1").unwrap(), Some((code(1), 5)));
        assert_eq!(ids.locate(&engine, "x-2").unwrap(), Some((code(2), 3)));
        assert_eq!(engine.scan(&prefix::legacy_event_ids(), None).count(), 0);
        // A corrupt block is reported, never guessed at.
        engine
            .apply(vec![Op::Put(Key::EventIdBlock(3).encode(), vec![1, 9, 9])])
            .unwrap();
        let err = EventIds::load(&engine).err().unwrap().to_string();
        assert!(err.contains("event-id block"), "{err}");
    }
}
