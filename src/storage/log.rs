//! The tamper-evident audit log, stored in the same key space as everything else.
//!
//! Every state change that matters (rule sets, classifications, draws, results, publications,
//! roster and token changes) appends an [`crate::audit::Entry`] **from inside the writer job that makes the
//! change** ([`super::Tx::log`]), so the entry, its index and the change commit in one atomic
//! batch. At the end of each group commit the writer extends the RFC 6962 Merkle tree with the
//! group's leaves, stores the completed perfect-subtree hashes of every fourth level, persists
//! the frontier and a head signed with the service's Ed25519 key, all in that same batch, and
//! flushes before anyone is answered. A signed head is therefore never visible before the
//! entries it covers are durable, and since the frontier is only ever extended, a head
//! published before a crash is never rolled back.
//!
//! Keys: [`Key::LogEntry`] (canonical entry bytes; a whole-population run stores each chunk's
//! entries together as one [`Key::LogBlock`] instead), [`Key::LogSubject`] (subject to index; for
//! classifications one [`Key::LogSeqs`] span per storing job instead),
//! [`Key::LogNode`] (subtree hashes at levels 4, 8, 12, ...), [`Key::LogLeaves`] (the leaf
//! hashes of each group commit), [`Key::LogHead`] (signed heads by size), and the
//! `log_frontier` meta value (size, then the frontier hashes).
//!
//! Why every fourth level: storing every level costs one extra write per entry; every fourth
//! costs one per 15 entries, and a proof step recomputes at most 15 hashes from 8 leaves.
//!
//! Why leaf hashes as well: with nodes from level 4 up only, the finest hash a range replay can
//! tie to a signed root covers 16 entries, so an entry altered inside a group commit (a run's
//! log block, or many entries under one head) could not be told from its 15 neighbours. One
//! value per group commit, 32 bytes per entry, lets the replay check the group's stored leaf
//! hashes against the signed root and then each entry against its own (`auditsvc/locate.rs`).
//! Stores written before [`Key::LogLeaves`] have none for their older entries; replay then
//! falls back to what it did before.

use super::keys::Key;
use super::records::Records;
use crate::audit::merkle::{self, CompactRange, Hash, HashStore};
use crate::audit::{SignedTreeHead, Signer, TreeHead};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Levels of the tree whose perfect-subtree hashes are stored: multiples of this.
pub const NODE_LEVEL_STEP: u32 = 4;

const FRONTIER: &str = "log_frontier";

/// Pending writes by key (`None`: delete), as the writer keeps them.
pub(crate) type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The writer's view of the log: its frontier and the signing key.
pub struct LogState {
    frontier: CompactRange,
    signer: Signer,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("audit log: {what}"))
}

impl LogState {
    /// Loads the frontier persisted by the last commit (empty for a new store).
    pub fn load(records: &Records, signer: Signer) -> Result<LogState> {
        let frontier = match records.meta(FRONTIER)? {
            None => CompactRange::new(),
            Some(v) => parse_frontier(&v)?,
        };
        Ok(LogState { frontier, signer })
    }

    /// Number of entries committed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Appends the group's leaves (in index order, starting at [`LogState::size`]) and adds to
    /// `group` the completed subtree hashes, the new frontier and a head signed at `now_ms`.
    /// On a failed commit the caller restores the previous state with the returned undo value.
    pub(crate) fn extend(
        &mut self,
        leaves: &[Hash],
        now_ms: i64,
        group: &mut Overlay,
    ) -> Result<CompactRange> {
        let undo = self.frontier.clone();
        // The group's leaf hashes, for range replay to tell which entry of a group of 16 was
        // altered (nothing below level 4 is stored otherwise).
        let mut stored_leaves = Vec::with_capacity(leaves.len() * 32);
        for leaf in leaves {
            stored_leaves.extend_from_slice(leaf);
        }
        group.insert(
            Key::LogLeaves(self.frontier.size()).encode(),
            Some(stored_leaves),
        );
        for leaf in leaves {
            self.frontier
                .append(*leaf, |level, index, hash| {
                    if level > 0 && level.is_multiple_of(NODE_LEVEL_STEP) {
                        // INVARIANT (levels): a u64 tree has at most 64 levels, so it fits a u8.
                        group.insert(
                            Key::LogNode(level as u8, index).encode(),
                            Some(hash.to_vec()),
                        );
                    }
                })
                .map_err(|e| corrupt(format!("{e:?}")))?;
        }
        let mut f = self.frontier.size().to_be_bytes().to_vec();
        for h in self.frontier.hashes() {
            f.extend_from_slice(h);
        }
        group.insert(Key::Meta(FRONTIER).encode(), Some(f));
        let head = self.signer.sign(TreeHead {
            size: self.frontier.size(),
            root: self.frontier.root(),
            at_unix_ms: now_ms,
        });
        group.insert(
            Key::LogHead(head.head.size).encode(),
            Some(head.to_json().into_bytes()),
        );
        Ok(undo)
    }

    /// Restores the frontier after a failed commit.
    pub(crate) fn undo(&mut self, previous: CompactRange) {
        self.frontier = previous;
    }
}

/// The entry recording a change: `payload` is the change's stored bytes (their SHA-256 becomes
/// the entry's payload digest), `subject` names it uniquely (`classification/CODE/SEQ`,
/// `draw/ID`, ...).
pub fn entry(
    kind: crate::audit::EntryKind,
    at_unix_ms: i64,
    actor: &str,
    subject: String,
    payload: &[u8],
    details: &[(&str, String)],
) -> crate::audit::Entry {
    crate::audit::Entry {
        kind,
        at_unix_ms,
        actor: actor.to_string(),
        subject,
        payload_digest: crate::audit::entry::payload_digest(payload),
        details: details
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// One storing job's classifications: seqs `first_seq..` and log indices `first_index..` in
/// lockstep (the value of a [`Key::LogSeqs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqSpan {
    /// The first classification's seq.
    pub first_seq: u64,
    /// Its log index.
    pub first_index: u64,
    /// How many.
    pub count: u32,
    /// For a run chunk stored as blocks: the run id and the chunk's first credit code (the
    /// records are in that [`Key::RunBlock`], in the same order).
    pub block: Option<(u64, crate::domain::CreditCode)>,
}

impl SeqSpan {
    /// The stored value (the key holds `first_seq`).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.first_index.to_be_bytes().to_vec();
        v.extend_from_slice(&self.count.to_be_bytes());
        if let Some((run, first)) = &self.block {
            v.extend_from_slice(&run.to_be_bytes());
            v.extend_from_slice(first.as_bytes());
        }
        v
    }

    fn decode(first_seq: u64, v: &[u8]) -> Result<SeqSpan> {
        let bad = || corrupt(format!("seq span {first_seq}"));
        let u64_at = |at: usize| -> Result<u64> {
            Ok(u64::from_be_bytes(
                v.get(at..at + 8)
                    .ok_or_else(bad)?
                    .try_into()
                    .map_err(|_| bad())?,
            ))
        };
        let count = u32::from_be_bytes(
            v.get(8..12)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        let block = match v.len() {
            12 => None,
            38 => Some((
                u64_at(12)?,
                crate::domain::CreditCode::from_bytes(&v[20..38]).ok_or_else(bad)?,
            )),
            _ => return Err(bad()),
        };
        Ok(SeqSpan {
            first_seq,
            first_index: u64_at(0)?,
            count,
            block,
        })
    }
}

/// Subject of a stored classification's log entry.
pub fn classification_subject(code: &crate::domain::CreditCode, seq: u64) -> String {
    format!("classification/{code}/{seq}")
}

/// The stored form of a [`Key::LogBlock`]: consecutive entries' canonical bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Block<'a> {
    #[serde(borrow)]
    entries: Vec<&'a [u8]>,
}

/// The value of a [`Key::LogBlock`] holding `entries`.
pub fn encode_block(entries: &[Vec<u8>]) -> Result<Vec<u8>> {
    super::codec::encode(&Block {
        entries: entries.iter().map(|e| e.as_slice()).collect(),
    })
}

/// A decoded log block: its first index and its entries.
type CachedBlock = (u64, Arc<Vec<Vec<u8>>>);

/// Read access to the stored log, for roots and proofs (implements [`HashStore`]). It keeps
/// the last log block it read, so reading a run's entries in order reads each block once.
pub struct LogReader<'a> {
    records: &'a Records,
    block: Mutex<Option<CachedBlock>>,
}

impl<'a> LogReader<'a> {
    /// Reads through `records`.
    pub fn new(records: &'a Records) -> Self {
        LogReader {
            records,
            block: Mutex::new(None),
        }
    }

    /// The canonical bytes of entry `index`, or `NotFound`: stored on its own, or in the
    /// [`Key::LogBlock`] starting at or before it.
    pub fn entry_bytes(&self, index: u64) -> Result<Vec<u8>> {
        let in_block = |(first, b): &CachedBlock| {
            index
                .checked_sub(*first)
                .and_then(|i| b.get(usize::try_from(i).ok()?).cloned())
        };
        let mut cache = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = cache.as_ref().and_then(in_block) {
            return Ok(e);
        }
        let engine = self.records.engine();
        if let Some(e) = engine.get(&Key::LogEntry(index).encode())? {
            return Ok(e);
        }
        let not_found = || Error::NotFound(format!("audit log entry {index}"));
        let Some((k, v)) = engine.last_in(
            &Key::LogBlock(0).encode(),
            &Key::LogBlock(index.saturating_add(1)).encode(),
        )?
        else {
            return Err(not_found());
        };
        let first = super::keys::trailing_seq(&k).ok_or_else(|| corrupt("log block key"))?;
        let block: Block<'_> =
            super::codec::decode_borrowed(&v, &format_args!("audit log block {first}"))?;
        let entries: Vec<Vec<u8>> = block.entries.iter().map(|e| e.to_vec()).collect();
        let cached = (first, Arc::new(entries));
        let found = in_block(&cached);
        *cache = Some(cached);
        found.ok_or_else(not_found)
    }

    /// The index of the entry about `subject`, if one was logged. Classifications are found
    /// through [`Key::LogSeqs`] (by their seq), everything else through [`Key::LogSubject`];
    /// callers check the entry's subject.
    pub fn index_of(&self, subject: &str) -> Result<Option<u64>> {
        if let Some(seq) = subject
            .strip_prefix("classification/")
            .and_then(|rest| rest.rsplit_once('/'))
            .and_then(|(_, seq)| seq.parse::<u64>().ok())
        {
            return self.classification_index(seq);
        }
        match self
            .records
            .engine()
            .get(&Key::LogSubject(subject).encode())?
        {
            None => Ok(None),
            Some(v) => Ok(Some(u64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| corrupt(format!("index of `{subject}`")))?,
            ))),
        }
    }

    /// The log index of the classification stored with `seq`, from the job span covering it.
    fn classification_index(&self, seq: u64) -> Result<Option<u64>> {
        Ok(self
            .span_of(seq)?
            .map(|s| s.first_index + (seq - s.first_seq)))
    }

    /// The storing job's span covering classification `seq`, if any.
    pub fn span_of(&self, seq: u64) -> Result<Option<SeqSpan>> {
        let Some((k, v)) = self.records.engine().last_in(
            &Key::LogSeqs(0).encode(),
            &Key::LogSeqs(seq.saturating_add(1)).encode(),
        )?
        else {
            return Ok(None);
        };
        let s0 = super::keys::trailing_seq(&k).ok_or_else(|| corrupt("seq span key"))?;
        let span = SeqSpan::decode(s0, &v)?;
        Ok((seq - s0 < u64::from(span.count)).then_some(span))
    }

    /// The stored leaf hashes ([`Key::LogLeaves`]) of the entries in `[lo, hi)` that have one,
    /// by index. Data to be checked, not believed: a malformed value is skipped, not an error.
    pub fn stored_leaves(&self, lo: u64, hi: u64) -> Result<BTreeMap<u64, Hash>> {
        let mut out = BTreeMap::new();
        if lo >= hi {
            return Ok(out);
        }
        let engine = self.records.engine();
        let mut add = |k: &[u8], v: &[u8]| {
            let Some(first) = super::keys::trailing_seq(k) else {
                return;
            };
            if !v.len().is_multiple_of(32) {
                return;
            }
            for (i, h) in (first..).zip(v.chunks_exact(32)) {
                if i >= hi {
                    break;
                }
                if i >= lo {
                    if let Ok(h) = h.try_into() {
                        out.insert(i, h);
                    }
                }
            }
        };
        // The group commit starting at or before `lo`, then those starting inside.
        if let Some((k, v)) = engine.last_in(
            &Key::LogLeaves(0).encode(),
            &Key::LogLeaves(lo.saturating_add(1)).encode(),
        )? {
            add(&k, &v);
        }
        for kv in engine.range(
            &Key::LogLeaves(lo.saturating_add(1)).encode(),
            &Key::LogLeaves(hi).encode(),
        ) {
            let (k, v) = kv?;
            add(&k, &v);
        }
        Ok(out)
    }

    /// The newest signed head, if any entry was ever logged.
    pub fn latest_head(&self) -> Result<Option<SignedTreeHead>> {
        match self
            .records
            .engine()
            .scan_rev(&super::keys::prefix::log_heads())
            .next()
        {
            None => Ok(None),
            Some(kv) => {
                let (_, v) = kv?;
                Ok(Some(parse_head(&v)?))
            }
        }
    }

    /// The persisted frontier (the perfect-subtree hashes of the current size), as stored: a
    /// reader trusts it only after folding it to a signed root.
    pub fn frontier(&self) -> Result<CompactRange> {
        match self.records.meta(FRONTIER)? {
            None => Ok(CompactRange::new()),
            Some(v) => parse_frontier(&v),
        }
    }

    /// The signed head stored for tree size `size`, if that size was ever published.
    pub fn head_at(&self, size: u64) -> Result<Option<SignedTreeHead>> {
        self.records
            .engine()
            .get(&Key::LogHead(size).encode())?
            .map(|v| parse_head(&v))
            .transpose()
    }
}

fn parse_frontier(v: &[u8]) -> Result<CompactRange> {
    if v.len() < 8 || !(v.len() - 8).is_multiple_of(32) {
        return Err(corrupt("malformed frontier"));
    }
    let size = u64::from_be_bytes(v[..8].try_into().map_err(|_| corrupt("size"))?);
    let hashes = v[8..]
        .chunks(32)
        .map(|c| c.try_into().map_err(|_| corrupt("frontier hash")))
        .collect::<Result<Vec<Hash>>>()?;
    CompactRange::from_parts(size, hashes).map_err(|e| corrupt(format!("{e:?}")))
}

fn parse_head(v: &[u8]) -> Result<SignedTreeHead> {
    let text = std::str::from_utf8(v).map_err(|_| corrupt("head is not UTF-8"))?;
    SignedTreeHead::from_json(text).map_err(|e| corrupt(format!("head: {e}")))
}

impl HashStore for LogReader<'_> {
    type Error = Error;

    fn leaf(&self, index: u64) -> Result<Hash> {
        Ok(merkle::leaf_hash(&self.entry_bytes(index)?))
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Option<Hash>> {
        if !level.is_multiple_of(NODE_LEVEL_STEP) {
            return Ok(None);
        }
        match self
            .records
            .engine()
            .get(&Key::LogNode(level as u8, index).encode())?
        {
            None => Ok(None),
            Some(v) => {
                Ok(Some(v.as_slice().try_into().map_err(|_| {
                    corrupt(format!("node ({level}, {index})"))
                })?))
            }
        }
    }
}
