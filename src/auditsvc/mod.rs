//! The audit service: reads of the tamper-evident log (heads, entries, proofs) and exact replay
//! of stored classifications and draws.
//!
//! Replay is recomputation, not trust: a classification is computed again from the stored
//! records up to its recorded cut, as of its recorded date, with its recorded rule set (fetched
//! by hash), and the result must equal the stored record byte for byte. Independently, the
//! stored bytes must hash to the payload digest of the log entry that recorded them, and that
//! entry must belong to the tree of a signed head the auditor trusts (the newest, or one named
//! by size for a range), whose signature is checked and whose root is the only hash believed:
//! altered entries are found against it (see `locate.rs`), never with proofs built from the
//! stored, possibly altered, tree. So a value altered behind the service's back shows up as a
//! MISMATCH (the recomputation or the digest differs), and an altered log entry is named.

mod locate;
pub mod replay;

use crate::audit::merkle::{self, Hash};
use crate::audit::{verify_head, Entry, SignedTreeHead};
use crate::classify::Classifier;
use crate::drawsvc::Draws;
use crate::error::{Error, Result};
use crate::storage::{LogReader, Records};

pub use replay::{Difference, RangeProgress, ReplayReport};

/// Most entries returned by one [`Auditor::entries`] call.
pub const MAX_ENTRIES: usize = 1000;

/// Log reads and replay over the store. Cheap to clone.
#[derive(Clone)]
pub struct Auditor {
    records: Records,
    classifier: Classifier,
    draws: Option<Draws>,
    public_key: [u8; 32],
}

/// A stored log entry.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    /// Its index.
    pub index: u64,
    /// Its canonical bytes.
    pub canonical: Vec<u8>,
    /// Decoded.
    pub entry: Entry,
}

impl StoredEntry {
    /// `SHA-256(0x00 || canonical)`.
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.canonical)
    }
}

/// A page of [`Auditor::alert_entries`].
#[derive(Clone, Debug)]
pub struct AlertEntries {
    /// The signed head the proofs are against.
    pub head: SignedTreeHead,
    /// The entries, by log index, each with its inclusion proof.
    pub entries: Vec<(StoredEntry, Vec<Hash>)>,
    /// The log index to continue from, when more may follow.
    pub next: Option<u64>,
}

fn proof_error(e: merkle::ProofError<Error>) -> Error {
    match e {
        merkle::ProofError::Store(e) => e,
        other => Error::invalid("tree_size", format!("{other:?}")),
    }
}

impl Auditor {
    /// Audits `records`; `public_key` verifies the signed heads.
    pub fn new(
        records: Records,
        classifier: Classifier,
        draws: Option<Draws>,
        public_key: [u8; 32],
    ) -> Auditor {
        Auditor {
            records,
            classifier,
            draws,
            public_key,
        }
    }

    /// The public key that verifies signed heads.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn reader(&self) -> LogReader<'_> {
        LogReader::new(&self.records)
    }

    /// The newest signed head, or the one published for `size` (`NotFound` if none).
    pub fn head(&self, size: Option<u64>) -> Result<SignedTreeHead> {
        let found = match size {
            None => self.reader().latest_head()?,
            Some(s) => self.reader().head_at(s)?,
        };
        found.ok_or_else(|| match size {
            None => Error::NotFound("signed tree head (the log is empty)".into()),
            Some(s) => Error::NotFound(format!("signed tree head of size {s}")),
        })
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<StoredEntry> {
        self.entry_in(&self.reader(), index)
    }

    /// The entry at `index` read through `reader` (which keeps the last log block it read).
    fn entry_in(&self, reader: &LogReader<'_>, index: u64) -> Result<StoredEntry> {
        let canonical = reader.entry_bytes(index)?;
        let entry = Entry::decode(&canonical)
            .map_err(|e| Error::Corrupt(format!("audit log entry {index}: {e}")))?;
        Ok(StoredEntry {
            index,
            canonical,
            entry,
        })
    }

    /// Entries `[from, from + count)` that exist, at most [`MAX_ENTRIES`].
    pub fn entries(&self, from: u64, count: usize) -> Result<Vec<StoredEntry>> {
        let size = self.size()?;
        let end = from.saturating_add(count.min(MAX_ENTRIES) as u64).min(size);
        let reader = self.reader();
        (from..end).map(|i| self.entry_in(&reader, i)).collect()
    }

    /// The entry about `subject`, or `NotFound`.
    pub fn find(&self, subject: &str) -> Result<StoredEntry> {
        let not_found = || Error::NotFound(format!("audit log entry about `{subject}`"));
        let index = self.reader().index_of(subject)?.ok_or_else(not_found)?;
        let e = self.entry(index)?;
        if e.entry.subject != subject {
            return Err(not_found());
        }
        Ok(e)
    }

    /// The alert entries about `subject` (`alert/<id>`, or an alert subject:
    /// `enterprise/<code>`, `group/<key>`) from log index `from` on, at most `count` (capped
    /// at [`MAX_ENTRIES`]), each with its inclusion proof against the newest signed head
    /// (returned too); and the index to go on from when more may follow. Read from the index
    /// written with each entry ([`crate::storage::Key::AlertEntry`]); entries after the head
    /// are left for the next call. An index row naming an entry of another subject or kind
    /// is reported as corrupt rather than listed.
    pub fn alert_entries(&self, subject: &str, from: u64, count: usize) -> Result<AlertEntries> {
        use crate::storage::keys::{prefix, trailing_seq};
        let head = self.head(None)?;
        let size = head.head.size;
        let pre = prefix::alert_entries(subject);
        let mut start = pre.clone();
        start.extend_from_slice(&from.to_be_bytes());
        let mut end = pre.clone();
        end.extend_from_slice(&size.to_be_bytes());
        let count = count.clamp(1, MAX_ENTRIES);
        let reader = self.reader();
        let mut entries = Vec::new();
        let mut next = None;
        for kv in self.records.engine().range(&start, &end) {
            let (k, _) = kv?;
            let index = trailing_seq(&k)
                .filter(|_| k.len() == pre.len() + 8)
                .ok_or_else(|| Error::Corrupt(format!("alert entry index of `{subject}`")))?;
            if entries.len() == count {
                next = Some(index);
                break;
            }
            let e = self.entry_in(&reader, index)?;
            // An alert entry's subject is `alert/<id>`; the alert's own subject is its
            // `subject` detail.
            let about = e.entry.subject == subject
                || e.entry.details.get("subject").map(String::as_str) == Some(subject);
            if e.entry.kind != crate::audit::EntryKind::Alert || !about {
                return Err(Error::Corrupt(format!(
                    "alert entry index of `{subject}` names entry {index} about `{}`",
                    e.entry.subject
                )));
            }
            let proof = merkle::inclusion_proof(&reader, index, size).map_err(proof_error)?;
            entries.push((e, proof));
        }
        Ok(AlertEntries {
            head,
            entries,
            next,
        })
    }

    /// Entries in the log as of the newest head (0 when empty).
    pub fn size(&self) -> Result<u64> {
        Ok(self.reader().latest_head()?.map_or(0, |h| h.head.size))
    }

    /// Inclusion proof of `index` in the tree of `size` entries.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        merkle::inclusion_proof(&self.reader(), index, size).map_err(proof_error)
    }

    /// Consistency proof between sizes `from` and `to`.
    pub fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>> {
        merkle::consistency_proof(&self.reader(), from, to).map_err(proof_error)
    }

    /// Checks `entry` against the newest signed head: the head's signature, then whether the
    /// entry's leaf, hashed from its stored bytes, belongs to the signed tree (found against
    /// the signed root, see `locate.rs`; no proof is built from the stored tree, so an altered
    /// neighbour does not fail it). A description of the failure.
    pub fn check_included(&self, entry: &StoredEntry) -> Result<std::result::Result<(), String>> {
        let head = self.head(None)?;
        if let Err(e) = verify_head(&self.public_key, &head) {
            return Ok(Err(format!("newest head: {e}")));
        }
        let size = head.head.size;
        if entry.index >= size {
            return Ok(Err(format!(
                "entry {} is not covered by the newest head (size {size})",
                entry.index
            )));
        }
        let reader = self.reader();
        let leaves = [entry.leaf_hash()];
        let restored = Default::default();
        let mut locator = locate::Locator {
            reader: &reader,
            public_key: &self.public_key,
            anchor: &head,
            from: entry.index,
            leaves: &leaves,
            restored: &restored,
            known: Default::default(),
        };
        locator.trust_frontier()?;
        let found = locator.locate()?;
        match found
            .named
            .get(&entry.index)
            .or_else(|| found.unverified.get(&entry.index))
        {
            Some(why) => Ok(Err(format!("entry {}: {why}", entry.index))),
            None => Ok(Ok(())),
        }
    }
}
