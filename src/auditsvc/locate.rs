//! Finding the altered entries of a range of the log against a signed head the auditor trusts.
//!
//! Why not proofs from the store: an inclusion proof built from the stored log hashes the
//! stored (possibly altered) entries and stored subtree hashes, so one altered entry spoils the
//! proofs of its untouched neighbours, and a proof can even be made to verify an altered entry
//! by altering the stored subtree hashes with it. Here nothing stored is believed until it is
//! tied to the trusted root:
//!
//! 1. Every leaf of the range is hashed again from its stored entry bytes (`leaves`).
//! 2. [`Locator::descend`] walks down from the trusted root. At a node whose trusted hash `t`
//!    is known, the node's hash recomputed from the range's leaves (with stored subtree hashes
//!    used only outside the range) either equals `t` (every leaf under it is authentic, by
//!    collision resistance) or not. If not, its two children's hashes are taken from two
//!    sources, recomputed and stored; a pair that hashes to `t` *is* the pair of trusted child
//!    hashes, and the walk goes down into each child whose recomputed hash differs. A single
//!    leaf reached this way is altered.
//! 3. When no pair hashes to `t` (below level 4 no subtree hash is stored, so a group of 16
//!    entries is the finest unit the stored nodes give, and an attacker who also rewrote stored
//!    nodes makes the unit coarser), the node is resolved with what else is stored, signed or
//!    derivable, in this order:
//!    - the stored leaf hashes of its entries (`Key::LogLeaves`, one value per group commit):
//!      if they, with the recomputed leaves of entries that have none, hash to `t`, they are
//!      the trusted leaves, and an entry is altered exactly when its recomputed leaf differs
//!      from its stored one (whatever field was altered, whatever the entry's kind);
//!    - older signed heads ending inside it (each one, checked with the service key, proves a
//!      prefix of the node authentic, and a failing head right after a passing one names the
//!      leaf between them);
//!    - the entries' own checks (a classification entry whose payload digest differs from its
//!      stored record's: with the digest put back, does the node hash to `t`? if so exactly
//!      those entries were altered).
//!
//!    The last two matter for stores written before leaf hashes were stored, and when the
//!    stored leaf hashes were rewritten too. What is still unresolved is reported as a whole:
//!    each of its entries is a mismatch that says so.

use crate::audit::merkle::{node_hash, Hash, HashStore};
use crate::audit::SignedTreeHead;
use crate::error::Result;
use crate::storage::LogReader;
use std::collections::{BTreeMap, HashMap};

/// Levels at which recomputed subtree hashes are kept while locating (every fourth, as stored).
const MEMO_STEP: u32 = 4;

/// Largest unresolved node (in leaves) checked against the signed heads ending inside it.
const MAX_HEAD_SCAN: u64 = 4096;

/// Largest unresolved node (in leaves) checked against its entries' stored leaf hashes.
const MAX_LEAF_SCAN: u64 = 1 << 20;

/// Why an entry is named.
pub(crate) const ALTERED: &str = "entry bytes do not match the signed log";

/// Hashes of the tree with the leaves of one window recomputed from stored entry bytes (or
/// replaced by `over`), and stored subtree hashes used only for subtrees outside the window.
struct Tree<'a> {
    reader: &'a LogReader<'a>,
    /// First index of `leaves`.
    from: u64,
    /// Leaf hashes recomputed from the stored entries of `[from, from + leaves.len())`.
    leaves: &'a [Hash],
    /// Leaf hashes put in place of recomputed ones.
    over: &'a BTreeMap<u64, Hash>,
    /// The window `[lo, hi)` whose leaves are recomputed (within or outside `leaves`).
    lo: u64,
    hi: u64,
    /// Recomputed perfect-subtree hashes overlapping the window, at levels multiple of 4. Looked
    /// up only, never iterated.
    memo: HashMap<(u32, u64), Hash>,
    /// Trusted perfect-subtree hashes (the stored frontier, once it folds to the trusted root).
    known: &'a HashMap<(u32, u64), Hash>,
}

impl Tree<'_> {
    fn leaf(&self, i: u64) -> Result<Hash> {
        if let Some(h) = self.over.get(&i) {
            return Ok(*h);
        }
        match i.checked_sub(self.from) {
            Some(k) if (k as usize) < self.leaves.len() => Ok(self.leaves[k as usize]),
            _ => self.reader.leaf(i),
        }
    }

    /// Hash of perfect subtree `(level, index)`: with `stored`, stored subtree hashes wherever
    /// there are some; without, only outside the window.
    fn perfect(&mut self, level: u32, index: u64, stored: bool) -> Result<Hash> {
        if stored {
            if let Some(h) = self.known.get(&(level, index)) {
                return Ok(*h);
            }
        }
        if level == 0 {
            return self.leaf(index);
        }
        let lo = index << level;
        let hi = lo + (1u64 << level);
        let overlaps = hi > self.lo && lo < self.hi;
        if stored || !overlaps {
            if let Some(h) = self.reader.subtree(level, index)? {
                return Ok(h);
            }
        }
        let memo = !stored && overlaps && level.is_multiple_of(MEMO_STEP);
        if memo {
            if let Some(h) = self.memo.get(&(level, index)) {
                return Ok(*h);
            }
        }
        let l = self.perfect(level - 1, 2 * index, stored)?;
        let r = self.perfect(level - 1, 2 * index + 1, stored)?;
        let h = node_hash(&l, &r);
        if memo {
            self.memo.insert((level, index), h);
        }
        Ok(h)
    }

    /// Hash of the RFC 6962 node over leaves `[lo, hi)` (`lo` aligned to its size), folding the
    /// perfect subtrees of the decomposition of `hi - lo` from the right.
    fn node(&mut self, lo: u64, hi: u64, stored: bool) -> Result<Hash> {
        let mut pieces = Vec::with_capacity(64);
        let mut start = lo;
        let size = hi - lo;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                pieces.push(self.perfect(level, start >> level, stored)?);
                start += 1u64 << level;
            }
        }
        let mut acc = pieces.pop().unwrap_or(crate::audit::merkle::EMPTY_ROOT);
        while let Some(p) = pieces.pop() {
            acc = node_hash(&p, &acc);
        }
        Ok(acc)
    }
}

/// Largest power of two strictly smaller than `n` (`n ≥ 2`), the RFC 6962 split.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// What locating found: the altered entries of the range, by index, with why.
#[derive(Debug, Default)]
pub(crate) struct Located {
    /// Entries whose bytes do not belong to the trusted tree, with the reason reported.
    pub named: BTreeMap<u64, String>,
    /// Entries that cannot be told authentic because altered entries (or stored hashes) near
    /// them leave no trusted hash to check them against, with the reason reported.
    pub unverified: BTreeMap<u64, String>,
}

/// Locates the altered entries of a range (see the module doc).
pub(crate) struct Locator<'a> {
    /// Reads stored entries, subtree hashes and heads.
    pub reader: &'a LogReader<'a>,
    /// The service's public key, for the signed heads used inside an unresolved node.
    pub public_key: &'a [u8; 32],
    /// The trusted head (its signature already checked).
    pub anchor: &'a SignedTreeHead,
    /// First index of the range.
    pub from: u64,
    /// Leaf hashes recomputed from the stored entries of the range.
    pub leaves: &'a [Hash],
    /// For entries whose own checks failed: the leaf hash they would have with what the
    /// check expects put back (a classification's digest of its stored record).
    pub restored: &'a BTreeMap<u64, Hash>,
    /// Trusted perfect-subtree hashes; see [`Locator::trust_frontier`].
    pub known: HashMap<(u32, u64), Hash>,
}

/// No leaf replacements.
static NONE: BTreeMap<u64, Hash> = BTreeMap::new();

impl<'a> Locator<'a> {
    fn end(&self) -> u64 {
        self.from + self.leaves.len() as u64
    }

    /// Takes the stored frontier as trusted when it is the frontier of the trusted head's
    /// size and folds to its root: its hashes, down to single leaves, then authenticate the
    /// newest entries, which no stored subtree hash covers.
    pub fn trust_frontier(&mut self) -> Result<()> {
        let f = self.reader.frontier()?;
        let size = self.anchor.head.size;
        if f.size() != size || f.root() != self.anchor.head.root {
            return Ok(());
        }
        let mut start = 0u64;
        let mut hashes = f.hashes().iter();
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                if let Some(h) = hashes.next() {
                    self.known.insert((level, start >> level), *h);
                }
                start += 1u64 << level;
            }
        }
        Ok(())
    }

    fn tree<'b>(&'b self, lo: u64, hi: u64, over: &'b BTreeMap<u64, Hash>) -> Tree<'b> {
        Tree {
            known: &self.known,
            reader: self.reader,
            from: self.from,
            leaves: self.leaves,
            over,
            lo,
            hi,
            memo: HashMap::new(),
        }
    }

    /// The altered entries of the range.
    pub fn locate(&self) -> Result<Located> {
        let mut out = Located::default();
        let size = self.anchor.head.size;
        if self.leaves.is_empty() || size == 0 {
            return Ok(out);
        }
        let mut tree = self.tree(self.from, self.end(), &NONE);
        let mut unresolved = Vec::new();
        self.descend(
            &mut tree,
            0,
            size,
            self.anchor.head.root,
            &mut out,
            &mut unresolved,
        )?;
        for (lo, hi, t) in unresolved {
            self.resolve(lo, hi, t, &mut out)?;
        }
        Ok(out)
    }

    /// Walks down from node `[lo, hi)` with trusted hash `t`.
    fn descend(
        &self,
        tree: &mut Tree<'_>,
        lo: u64,
        hi: u64,
        t: Hash,
        out: &mut Located,
        unresolved: &mut Vec<(u64, u64, Hash)>,
    ) -> Result<()> {
        if hi <= self.from || lo >= self.end() {
            return Ok(());
        }
        if tree.node(lo, hi, false)? == t {
            return Ok(());
        }
        if hi - lo == 1 {
            out.named.insert(lo, ALTERED.to_string());
            return Ok(());
        }
        let mid = lo + split_point(hi - lo);
        let left = [tree.node(lo, mid, false)?, tree.node(lo, mid, true)?];
        let right = [tree.node(mid, hi, false)?, tree.node(mid, hi, true)?];
        for a in left {
            for b in right {
                if node_hash(&a, &b) == t {
                    self.descend(tree, lo, mid, a, out, unresolved)?;
                    return self.descend(tree, mid, hi, b, out, unresolved);
                }
            }
        }
        unresolved.push((lo, hi, t));
        Ok(())
    }

    /// The root of size `m` with the leaves `[lo, m)` recomputed, everything left of `lo` as
    /// stored.
    fn prefix_root(&self, lo: u64, m: u64) -> Result<Hash> {
        self.tree(lo, m, &NONE).node(0, m, false)
    }

    /// The root signed for size `m`, if a head of that size is stored and its signature checks.
    fn signed_root(&self, m: u64) -> Result<Option<Hash>> {
        Ok(self
            .reader
            .head_at(m)?
            .filter(|h| crate::audit::verify_head(self.public_key, h).is_ok())
            .map(|h| h.head.root))
    }

    /// Settles node `[lo, hi)` (trusted hash `t`) with its entries' stored leaf hashes, if
    /// they, with the recomputed leaves of entries that have none, hash to `t`: then each
    /// entry of the range is altered exactly when its recomputed leaf differs from its stored
    /// one. False, with nothing named, when there are none or they do not hash to `t`.
    fn by_stored_leaves(&self, lo: u64, hi: u64, t: Hash, out: &mut Located) -> Result<bool> {
        if hi - lo > MAX_LEAF_SCAN {
            return Ok(false);
        }
        let stored = self.reader.stored_leaves(lo, hi)?;
        if stored.is_empty() || self.tree(lo, hi, &stored).node(lo, hi, false)? != t {
            return Ok(false);
        }
        // INVARIANT (trusted leaves): the leaves just used hash to the trusted `t`, so (by
        // collision resistance) each is the leaf the head signed: a stored one is the true
        // leaf of its entry, and an entry without one has an authentic recomputed leaf.
        let (start, stop) = (lo.max(self.from), hi.min(self.end()));
        if start >= stop {
            return Ok(true);
        }
        for (&i, h) in stored.range(start..stop) {
            if self.leaves[(i - self.from) as usize] != *h {
                out.named.insert(
                    i,
                    format!(
                        "{ALTERED} (its group's stored leaf hashes match the signed head, \
                         its bytes do not)"
                    ),
                );
            }
        }
        Ok(true)
    }

    /// Names what it can inside node `[lo, hi)` whose trusted hash is `t` but whose
    /// recomputed hash is not (see the module doc, step 3).
    fn resolve(&self, lo: u64, hi: u64, t: Hash, out: &mut Located) -> Result<()> {
        if self.by_stored_leaves(lo, hi, t, out)? {
            return Ok(());
        }
        // Signed heads ending inside the node: a passing one proves its prefix.
        let mut good_to = lo;
        let mut pinned = None;
        if hi - lo <= MAX_HEAD_SCAN && lo >= self.from && hi <= self.end() {
            let mut verdicts = Vec::new();
            for m in lo..=hi {
                if let Some(root) = self.signed_root(m)? {
                    verdicts.push((m, m == 0 || self.prefix_root(lo, m)? == root));
                }
            }
            // INVARIANT (left context): a passing head shows the stored hashes left of `lo`
            // are authentic, and every head here reads them the same way, so then a failing
            // head fails because of leaves in `[lo, m)`.
            if let Some(&(p, _)) = verdicts.iter().rev().find(|v| v.1) {
                good_to = p;
                if verdicts.iter().any(|&(m, ok)| m == p + 1 && !ok) {
                    pinned = Some(p);
                }
            }
        }
        if let Some(p) = pinned {
            out.named.insert(
                p,
                format!("{ALTERED} (signed head of size {} disagrees)", p + 1),
            );
        }
        let start = pinned.map_or(good_to, |p| p + 1).max(self.from);
        let stop = hi.min(self.end());
        // The entries' own checks, when nothing was pinned: put back what they expect.
        if pinned.is_none() {
            let over: BTreeMap<u64, Hash> = self
                .restored
                .range(start..stop)
                .map(|(&i, &h)| (i, h))
                .collect();
            if !over.is_empty() && self.tree(lo, hi, &over).node(lo, hi, false)? == t {
                for i in over.keys() {
                    out.named
                        .insert(*i, format!("{ALTERED} (its payload digest was altered)"));
                }
                return Ok(());
            }
        }
        for i in start..stop {
            out.unverified.insert(
                i,
                format!(
                    "cannot be verified: entries [{lo}, {hi}) do not hash to the signed tree \
                     and no finer signed or stored hash tells which of them were altered"
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EntryKind, Signer};
    use crate::storage::engine::Op;
    use crate::storage::{Key, MemoryEngine, Records, WriteOutcome, Writer};
    use std::sync::Arc;

    fn entry(i: u64) -> crate::audit::Entry {
        crate::storage::log::entry(
            EntryKind::Draw,
            1_000 + i as i64,
            "tester",
            format!("draw/d{i}"),
            b"x",
            &[],
        )
    }

    /// Five entries logged one job each (a signed head each), then 40 logged by one job (one
    /// group commit, one head); the store and the service key.
    fn store() -> (Records, [u8; 32]) {
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let signer = Signer::from_seed([7; 32]);
        let key = signer.public_key_bytes();
        let (w, thread) = Writer::start(records.clone(), signer).unwrap();
        for i in 0..5 {
            w.submit_blocking(Box::new(move |tx| {
                tx.log_unindexed(&entry(i))?;
                Ok(WriteOutcome::default())
            }))
            .unwrap();
        }
        w.submit_blocking(Box::new(|tx| {
            for i in 5..45 {
                tx.log_unindexed(&entry(i))?;
            }
            Ok(WriteOutcome::default())
        }))
        .unwrap();
        thread.close();
        (records, key)
    }

    /// Flips a bit of the actor of each of `indices`; with `with_leaf`, rewrites its stored
    /// leaf hash to match, as an attacker would.
    fn alter(records: &Records, indices: &[u64], with_leaf: bool) {
        let engine = records.engine();
        for &i in indices {
            let k = Key::LogEntry(i).encode();
            let mut v = engine.get(&k).unwrap().unwrap();
            // The actor text starts after magic (6), kind (1), time (8) and its length (4).
            v[19] ^= 0x01;
            let mut ops = vec![Op::Put(k, v.clone())];
            if with_leaf {
                let lk = Key::LogLeaves(5).encode();
                let mut lv = engine.get(&lk).unwrap().unwrap();
                let at = (i - 5) as usize * 32;
                lv[at..at + 32].copy_from_slice(&crate::audit::merkle::leaf_hash(&v));
                ops.push(Op::Put(lk, lv));
            }
            engine.apply(ops).unwrap();
        }
    }

    /// Locates over the whole log against the newest head.
    fn locate(records: &Records, key: &[u8; 32]) -> Located {
        let reader = LogReader::new(records);
        let head = reader.latest_head().unwrap().unwrap();
        assert_eq!(head.head.size, 45);
        let leaves: Vec<Hash> = (0..45).map(|i| reader.leaf(i).unwrap()).collect();
        let restored = BTreeMap::new();
        let mut locator = Locator {
            reader: &reader,
            public_key: key,
            anchor: &head,
            from: 0,
            leaves: &leaves,
            restored: &restored,
            known: HashMap::new(),
        };
        locator.trust_frontier().unwrap();
        locator.locate().unwrap()
    }

    fn keys<V>(m: &BTreeMap<u64, V>) -> Vec<u64> {
        m.keys().copied().collect()
    }

    #[test]
    fn the_stored_leaf_hashes_name_entries_altered_inside_a_group_commit() {
        let (records, key) = store();
        assert!(locate(&records, &key).named.is_empty());
        // 20: inside a group of 16 under a stored level-4 node; 41: among the newest entries,
        // under the frontier only.
        alter(&records, &[20, 41], false);
        let found = locate(&records, &key);
        assert_eq!(keys(&found.named), [20, 41]);
        assert!(found.unverified.is_empty(), "{found:?}");
    }

    #[test]
    fn without_trustworthy_leaf_hashes_the_group_is_unverified() {
        // A store written before leaf hashes were stored.
        let (records, key) = store();
        records
            .engine()
            .apply(vec![Op::Delete(Key::LogLeaves(5).encode())])
            .unwrap();
        alter(&records, &[20], false);
        let found = locate(&records, &key);
        assert!(found.named.is_empty(), "{found:?}");
        assert_eq!(keys(&found.unverified), (16..32).collect::<Vec<_>>());
        // Leaf hashes rewritten with the entry.
        let (records, key) = store();
        alter(&records, &[20], true);
        let found = locate(&records, &key);
        assert!(found.named.is_empty(), "{found:?}");
        assert_eq!(keys(&found.unverified), (16..32).collect::<Vec<_>>());
    }
}
