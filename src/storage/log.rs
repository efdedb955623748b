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
//! Keys: [`Key::LogEntry`] (canonical entry bytes), [`Key::LogSubject`] (subject to index; for
//! classifications one [`Key::LogSeqs`] span per storing job instead),
//! [`Key::LogNode`] (subtree hashes at levels 4, 8, 12, ...), [`Key::LogHead`] (signed heads by
//! size), and the `log_frontier` meta value (size, then the frontier hashes).
//!
//! Why every fourth level: storing every level costs one extra write per entry; every fourth
//! costs one per 15 entries, and a proof step recomputes at most 15 hashes from 8 leaves.

use super::keys::Key;
use super::records::Records;
use crate::audit::merkle::{self, CompactRange, Hash, HashStore};
use crate::audit::{SignedTreeHead, Signer, TreeHead};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

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
            Some(v) => {
                if v.len() < 8 || (v.len() - 8) % 32 != 0 {
                    return Err(corrupt("malformed frontier"));
                }
                let size = u64::from_be_bytes(v[..8].try_into().map_err(|_| corrupt("size"))?);
                let hashes = v[8..]
                    .chunks(32)
                    .map(|c| c.try_into().map_err(|_| corrupt("frontier hash")))
                    .collect::<Result<Vec<Hash>>>()?;
                CompactRange::from_parts(size, hashes).map_err(|e| corrupt(format!("{e:?}")))?
            }
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

/// Subject of a stored classification's log entry.
pub fn classification_subject(code: &crate::domain::CreditCode, seq: u64) -> String {
    format!("classification/{code}/{seq}")
}

/// Read access to the stored log, for roots and proofs (implements [`HashStore`]).
pub struct LogReader<'a> {
    records: &'a Records,
}

impl<'a> LogReader<'a> {
    /// Reads through `records`.
    pub fn new(records: &'a Records) -> Self {
        LogReader { records }
    }

    /// The canonical bytes of entry `index`, or `NotFound`.
    pub fn entry_bytes(&self, index: u64) -> Result<Vec<u8>> {
        self.records
            .engine()
            .get(&Key::LogEntry(index).encode())?
            .ok_or_else(|| Error::NotFound(format!("audit log entry {index}")))
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
        let Some((k, v)) = self.records.engine().last_in(
            &Key::LogSeqs(0).encode(),
            &Key::LogSeqs(seq.saturating_add(1)).encode(),
        )?
        else {
            return Ok(None);
        };
        let s0 = super::keys::trailing_seq(&k).ok_or_else(|| corrupt("seq span key"))?;
        if v.len() != 12 {
            return Err(corrupt(format!("seq span {s0}")));
        }
        let i0 = u64::from_be_bytes(v[..8].try_into().map_err(|_| corrupt("span index"))?);
        let n = u32::from_be_bytes(v[8..].try_into().map_err(|_| corrupt("span count"))?);
        Ok((seq - s0 < u64::from(n)).then(|| i0 + (seq - s0)))
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

    /// The signed head stored for tree size `size`, if that size was ever published.
    pub fn head_at(&self, size: u64) -> Result<Option<SignedTreeHead>> {
        self.records
            .engine()
            .get(&Key::LogHead(size).encode())?
            .map(|v| parse_head(&v))
            .transpose()
    }
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
