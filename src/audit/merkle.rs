//! RFC 6962 / RFC 9162 Merkle tree over SHA-256: hashing, roots, inclusion and consistency
//! proofs over a large persisted store, an append-only frontier, and proof verification.
//!
//! Why: the regulator publishes signed tree heads of its audit log; anyone holding a leaf can
//! check it is in the log (inclusion proof) and that a later log extends an earlier one without
//! rewriting history (consistency proof). The tree shape must be exactly RFC 6962 section 2.1 so
//! that third-party verifiers (e.g. Go `transparency-dev/merkle`) agree with us.
//!
//! Design:
//!
//! * Every node of an RFC 6962 tree is either a *perfect* subtree (2^level leaves starting at a
//!   multiple of 2^level) or a right-edge "ragged" subtree, whose hash folds the O(log n)
//!   perfect subtrees of the binary decomposition of its size. Perfect subtrees never change
//!   once complete, so a store that keeps them (see [`HashStore::subtree`]) serves roots and
//!   proofs for *any* past tree size with O(log n) lookups.
//! * [`CompactRange`] is the in-memory frontier used when appending: O(log n) hashes, it reports
//!   every newly completed perfect subtree so the caller can persist it.
//! * Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 literally.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 hash: leaf hash, node hash or tree root.
pub type Hash = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string (RFC 6962 section 2.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Leaf hash `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

/// Interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Read access to the leaf hashes of a log and, optionally, to cached perfect-subtree hashes.
///
/// A *perfect subtree* `(level, index)` covers leaves `[index·2^level, (index+1)·2^level)`;
/// level 0 is a single leaf hash. Its hash never changes once all its leaves exist, so it can be
/// persisted when [`CompactRange::append`] reports it.
pub trait HashStore {
    /// Error of the underlying storage (I/O, missing row, ...).
    type Error;

    /// The leaf hash at `index`. Only called for indices below the tree size being processed.
    fn leaf(&self, index: u64) -> Result<Hash, Self::Error>;

    /// The hash of perfect subtree `(level, index)` with `level ≥ 1`, or `Ok(None)` if it is not
    /// stored, in which case it is recomputed from its two children (recursively, down to
    /// [`HashStore::leaf`]). Only called for subtrees whose leaves all exist. Returning `None`
    /// everywhere is correct but makes proofs O(n); storing every level makes them O(log n).
    fn subtree(&self, level: u32, index: u64) -> Result<Option<Hash>, Self::Error> {
        let _ = (level, index);
        Ok(None)
    }
}

/// Why a root or proof could not be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofError<E> {
    /// The leaf index is not below the tree size.
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// A consistency proof was requested from a larger to a smaller tree.
    SizeOrder {
        /// Size of the earlier tree.
        size1: u64,
        /// Size of the later tree.
        size2: u64,
    },
    /// A consistency proof from the empty tree to a non-empty tree was requested; RFC 9162
    /// defines none and [`verify_consistency`] rejects it.
    EmptyFirstTree,
    /// The store failed.
    Store(E),
}

impl<E: fmt::Display> fmt::Display for ProofError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is out of range for tree size {size}")
            }
            ProofError::SizeOrder { size1, size2 } => {
                write!(f, "size1 ({size1}) is greater than size2 ({size2})")
            }
            ProofError::EmptyFirstTree => {
                f.write_str("consistency proof from an empty tree is not defined")
            }
            ProofError::Store(e) => write!(f, "hash store: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ProofError<E> {}

impl<E> From<E> for ProofError<E> {
    fn from(e: E) -> Self {
        ProofError::Store(e)
    }
}

/// Largest power of two strictly smaller than `n` (`n ≥ 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Hash of perfect subtree `(level, index)`, from the store or recomputed from children.
fn perfect<S: HashStore + ?Sized>(store: &S, level: u32, index: u64) -> Result<Hash, S::Error> {
    if level == 0 {
        return store.leaf(index);
    }
    if let Some(h) = store.subtree(level, index)? {
        return Ok(h);
    }
    let left = perfect(store, level - 1, 2 * index)?;
    let right = perfect(store, level - 1, 2 * index + 1)?;
    Ok(node_hash(&left, &right))
}

/// MTH of leaves `[lo, hi)` for a range that occurs as a node of an RFC 6962 tree (`lo` a
/// multiple of the smallest power of two ≥ `hi - lo`), `hi > lo`. Folds the perfect subtrees of
/// the binary decomposition of `hi - lo`, largest first, from the right.
fn range_hash<S: HashStore + ?Sized>(store: &S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    debug_assert!(hi > lo);
    let mut pieces = [[0u8; 32]; 64];
    let mut count = 0;
    let mut start = lo;
    let size = hi - lo;
    for level in (0..64u32).rev() {
        if size & (1u64 << level) != 0 {
            pieces[count] = perfect(store, level, start >> level)?;
            count += 1;
            start += 1u64 << level;
        }
    }
    let mut acc = pieces[count - 1];
    for piece in pieces[..count - 1].iter().rev() {
        acc = node_hash(piece, &acc);
    }
    Ok(acc)
}

/// Root hash (MTH) of the first `size` leaves of `store`; [`EMPTY_ROOT`] for size 0.
/// O(log size) lookups when perfect subtrees are stored.
pub fn root<S: HashStore + ?Sized>(store: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    range_hash(store, 0, size)
}

/// Inclusion proof `PATH(index, D[size])` of RFC 6962 section 2.1.1, ordered from the leaf's
/// sibling upwards (as [`verify_inclusion`] expects). O(log size) lookups when perfect subtrees
/// are stored.
pub fn inclusion_proof<S: HashStore + ?Sized>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            path.push(range_hash(store, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(store, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// Consistency proof `PROOF(size1, D[size2])` of RFC 6962 section 2.1.2. Empty when
/// `size1 == size2`. Errors for `size1 > size2` and for `size1 == 0 < size2`. O(log size2)
/// lookups when perfect subtrees are stored.
pub fn consistency_proof<S: HashStore + ?Sized>(
    store: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    if size1 > size2 {
        return Err(ProofError::SizeOrder { size1, size2 });
    }
    if size1 == size2 {
        return Ok(Vec::new());
    }
    if size1 == 0 {
        return Err(ProofError::EmptyFirstTree);
    }
    // Iterative SUBPROOF(m, D[lo:hi], b): the hashes appended on the way down are emitted after
    // the terminal one, in reverse order of discovery.
    let mut tail = Vec::with_capacity(64);
    let (mut m, mut lo, mut hi, mut whole) = (size1, 0u64, size2, true);
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            tail.push(range_hash(store, lo + k, hi)?);
            hi = lo + k;
        } else {
            tail.push(range_hash(store, lo, lo + k)?);
            m -= k;
            lo += k;
            whole = false;
        }
    }
    let mut proof = Vec::with_capacity(tail.len() + 1);
    if !whole {
        proof.push(range_hash(store, lo, hi)?);
    }
    proof.extend(tail.into_iter().rev());
    Ok(proof)
}

/// Why a [`CompactRange`] could not be built or extended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactRangeError {
    /// `from_parts` got a number of hashes different from the number of one bits of the size.
    WrongHashCount {
        /// Tree size given.
        size: u64,
        /// Number of hashes given.
        got: usize,
    },
    /// The tree already has `u64::MAX` leaves.
    Full,
}

impl fmt::Display for CompactRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactRangeError::WrongHashCount { size, got } => write!(
                f,
                "tree size {size} needs {} frontier hashes, got {got}",
                size.count_ones()
            ),
            CompactRangeError::Full => f.write_str("tree is full"),
        }
    }
}

impl std::error::Error for CompactRangeError {}

/// The frontier of an append-only tree: the hashes of the perfect subtrees of the binary
/// decomposition of its size, largest (leftmost) first. O(log n) memory; appending and the root
/// are O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a frontier from a size and its perfect-subtree hashes, largest first
    /// (as returned by [`CompactRange::hashes`]). Fails if the count is not `size.count_ones()`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, CompactRangeError> {
        if hashes.len() != size.count_ones() as usize {
            return Err(CompactRangeError::WrongHashCount {
                size,
                got: hashes.len(),
            });
        }
        Ok(CompactRange { size, hashes })
    }

    /// Rebuilds the frontier of the first `size` leaves of `store` with O(log size) lookups.
    pub fn from_store<S: HashStore + ?Sized>(store: &S, size: u64) -> Result<Self, S::Error> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                hashes.push(perfect(store, level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(CompactRange { size, hashes })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier hashes, largest perfect subtree first; `size().count_ones()` of them.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash. Calls `completed(level, index, hash)` for every perfect subtree
    /// completed by this leaf, bottom-up: first `(0, old_size, leaf)`, then each merged parent.
    /// Fails only if the tree already has `u64::MAX` leaves.
    pub fn append(
        &mut self,
        leaf: Hash,
        mut completed: impl FnMut(u32, u64, &Hash),
    ) -> Result<(), CompactRangeError> {
        let new_size = self.size.checked_add(1).ok_or(CompactRangeError::Full)?;
        let mut hash = leaf;
        let mut level = 0u32;
        let mut index = self.size;
        completed(level, index, &hash);
        while index & 1 == 1 {
            // A one bit at this level of the old size means a frontier entry for it exists: the
            // frontier holds exactly one hash per one bit, the smallest last.
            let Some(left) = self.hashes.pop() else {
                unreachable!("compact range invariant: one hash per one bit of the size");
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed(level, index, &hash);
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(())
    }

    /// The root of the tree of the leaves appended so far ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(mut acc) = iter.next().copied() else {
            return EMPTY_ROOT;
        };
        for h in iter {
            acc = node_hash(h, &acc);
        }
        acc
    }
}

/// An in-memory [`HashStore`] keeping every perfect subtree (about 2n hashes for n leaves), for
/// tests, tools and small logs. Proofs for any size up to [`MemoryStore::len`] are O(log n).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    /// `levels[l][i]` = hash of perfect subtree `(l, i)`.
    levels: Vec<Vec<Hash>>,
    frontier: CompactRange,
}

/// Error of [`MemoryStore`]: a lookup beyond the stored leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotStored {
    /// Level of the requested subtree (0 for a leaf).
    pub level: u32,
    /// Index of the requested subtree within its level.
    pub index: u64,
}

impl fmt::Display for NotStored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subtree at level {} index {} is not stored",
            self.level, self.index
        )
    }
}

impl std::error::Error for NotStored {}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves stored.
    pub fn len(&self) -> u64 {
        self.frontier.size()
    }

    /// Whether no leaf is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash and stores every perfect subtree it completes.
    pub fn push(&mut self, leaf: Hash) -> Result<(), CompactRangeError> {
        let levels = &mut self.levels;
        self.frontier.append(leaf, |level, _index, hash| {
            let level = level as usize;
            if levels.len() <= level {
                levels.push(Vec::new());
            }
            levels[level].push(*hash);
        })
    }

    /// Root of all stored leaves, O(log n).
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl HashStore for MemoryStore {
    type Error = NotStored;

    fn leaf(&self, index: u64) -> Result<Hash, NotStored> {
        self.subtree(0, index)?.ok_or(NotStored { level: 0, index })
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Option<Hash>, NotStored> {
        let found = self
            .levels
            .get(level as usize)
            .and_then(|l| usize::try_from(index).ok().and_then(|i| l.get(i)));
        match found {
            Some(h) => Ok(Some(*h)),
            None => Err(NotStored { level, index }),
        }
    }
}

/// Why a proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// `size1 > size2`.
    SizeOrder {
        /// Size of the earlier tree.
        size1: u64,
        /// Size of the later tree.
        size2: u64,
    },
    /// A consistency proof from the empty tree (size1 = 0) to a non-empty tree.
    EmptyFirstTree,
    /// The proof has more hashes than the tree shape allows.
    ProofTooLong,
    /// The proof has fewer hashes than the tree shape requires.
    ProofTooShort,
    /// Equal sizes need an empty consistency proof.
    ProofNotEmpty,
    /// The recomputed (first) root differs from the given one.
    RootMismatch,
    /// The recomputed second root of a consistency proof differs from the given one.
    Root2Mismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is out of range for tree size {size}")
            }
            VerifyError::SizeOrder { size1, size2 } => {
                write!(f, "size1 ({size1}) is greater than size2 ({size2})")
            }
            VerifyError::EmptyFirstTree => {
                f.write_str("consistency proof from an empty tree is not defined")
            }
            VerifyError::ProofTooLong => f.write_str("proof is too long"),
            VerifyError::ProofTooShort => f.write_str("proof is too short"),
            VerifyError::ProofNotEmpty => f.write_str("proof must be empty for equal tree sizes"),
            VerifyError::RootMismatch => f.write_str("root hash mismatch"),
            VerifyError::Root2Mismatch => f.write_str("second root hash mismatch"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Verifies that `leaf_hash` is leaf `leaf_index` of the tree of size `tree_size` with root
/// `root`, using `proof` as produced by [`inclusion_proof`] (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if leaf_index >= tree_size {
        return Err(VerifyError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    let (mut fnode, mut snode) = (leaf_index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of size `size2` with root `root2` extends the tree of size `size1`
/// with root `root1`, using `proof` as produced by [`consistency_proof`] (RFC 9162 section
/// 2.1.4.2). Equal sizes need an empty proof and equal roots (and the empty-tree root for size
/// 0); `size1 = 0 < size2` is rejected, as in `transparency-dev/merkle`.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if size1 > size2 {
        return Err(VerifyError::SizeOrder { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(VerifyError::ProofNotEmpty);
        }
        if size1 == 0 && *root1 != EMPTY_ROOT {
            return Err(VerifyError::RootMismatch);
        }
        if root1 != root2 {
            return Err(VerifyError::Root2Mismatch);
        }
        return Ok(());
    }
    if size1 == 0 {
        return Err(VerifyError::EmptyFirstTree);
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(VerifyError::ProofTooShort);
    };
    // Step 2: if size1 is a power of two, the proof implicitly starts with root1.
    let (start, path) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        (first, rest)
    };
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in path {
        if snode == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if fr != *root1 {
        return Err(VerifyError::RootMismatch);
    }
    if sr != *root2 {
        return Err(VerifyError::Root2Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::cell::Cell;
    use std::path::{Path, PathBuf};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/rfc6962");

    // ---- naive reference, straight from RFC 6962 section 2.1 ----

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => Sha256::digest([]).into(),
            1 => d[0],
            n => {
                let k = split(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn naive_proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        subproof(m, d, true)
    }

    // ---- helpers ----

    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    fn memory_store(d: &[Hash]) -> MemoryStore {
        let mut s = MemoryStore::new();
        for h in d {
            s.push(*h).expect("push");
        }
        s
    }

    /// Leaves only: exercises the recompute-from-children fallback.
    struct LeafOnly<'a>(&'a [Hash]);
    impl HashStore for LeafOnly<'_> {
        type Error = String;
        fn leaf(&self, index: u64) -> Result<Hash, String> {
            self.0
                .get(index as usize)
                .copied()
                .ok_or_else(|| format!("no leaf {index}"))
        }
    }

    /// Stores only even levels of a MemoryStore and counts lookups.
    struct Sparse<'a> {
        inner: &'a MemoryStore,
        even_only: bool,
        lookups: Cell<u64>,
    }
    impl HashStore for Sparse<'_> {
        type Error = NotStored;
        fn leaf(&self, index: u64) -> Result<Hash, NotStored> {
            self.lookups.set(self.lookups.get() + 1);
            self.inner.leaf(index)
        }
        fn subtree(&self, level: u32, index: u64) -> Result<Option<Hash>, NotStored> {
            self.lookups.set(self.lookups.get() + 1);
            if self.even_only && level % 2 == 1 {
                return Ok(None);
            }
            self.inner.subtree(level, index)
        }
    }

    fn check_size(d: &[Hash], store: &MemoryStore, indices: &[usize], pairs: &[(usize, usize)]) {
        let n = d.len();
        let sparse = Sparse {
            inner: store,
            even_only: true,
            lookups: Cell::new(0),
        };
        let leaf_only = LeafOnly(d);
        let want_root = mth(d);
        assert_eq!(root(store, n as u64).expect("root"), want_root, "n={n}");
        assert_eq!(root(&sparse, n as u64).expect("root"), want_root, "n={n}");
        assert_eq!(
            root(&leaf_only, n as u64).expect("root"),
            want_root,
            "n={n}"
        );
        for &m in indices {
            let want = path(m, d);
            let got = inclusion_proof(store, m as u64, n as u64).expect("proof");
            assert_eq!(got, want, "inclusion m={m} n={n}");
            assert_eq!(
                inclusion_proof(&sparse, m as u64, n as u64).expect("p"),
                want
            );
            assert_eq!(
                inclusion_proof(&leaf_only, m as u64, n as u64).expect("p"),
                want
            );
            verify_inclusion(m as u64, n as u64, &d[m], &got, &want_root).expect("verify");
            // Tampering anything must fail.
            if !got.is_empty() {
                let mut bad = got.clone();
                let i = m % bad.len();
                bad[i][7] ^= 1;
                assert!(verify_inclusion(m as u64, n as u64, &d[m], &bad, &want_root).is_err());
                assert!(
                    verify_inclusion(m as u64, n as u64, &d[m], &got[1..], &want_root).is_err()
                );
            }
            let mut longer = got.clone();
            longer.push(want_root);
            assert!(verify_inclusion(m as u64, n as u64, &d[m], &longer, &want_root).is_err());
            let other = leaf_hash(b"not in the tree");
            assert!(verify_inclusion(m as u64, n as u64, &other, &got, &want_root).is_err());
        }
        for &(m1, m2) in pairs {
            let r1 = mth(&d[..m1]);
            let r2 = mth(&d[..m2]);
            if m1 == 0 && m2 > 0 {
                assert_eq!(
                    consistency_proof(store, 0, m2 as u64),
                    Err(ProofError::EmptyFirstTree)
                );
                continue;
            }
            let want = naive_proof(m1, &d[..m2]);
            let got = consistency_proof(store, m1 as u64, m2 as u64).expect("proof");
            assert_eq!(got, want, "consistency {m1} -> {m2}");
            assert_eq!(
                consistency_proof(&sparse, m1 as u64, m2 as u64).expect("p"),
                want
            );
            assert_eq!(
                consistency_proof(&leaf_only, m1 as u64, m2 as u64).expect("p"),
                want
            );
            verify_consistency(m1 as u64, m2 as u64, &r1, &r2, &got).expect("verify");
            if !got.is_empty() {
                let mut bad = got.clone();
                let i = m2 % bad.len();
                bad[i][0] ^= 0x80;
                assert!(verify_consistency(m1 as u64, m2 as u64, &r1, &r2, &bad).is_err());
                assert!(
                    verify_consistency(m1 as u64, m2 as u64, &r2, &r1, &got).is_err() || r1 == r2
                );
            }
        }
    }

    #[test]
    fn matches_naive_reference_small_sizes_all_indices_and_pairs() {
        let d = leaves(70);
        for n in 0..=70usize {
            let store = memory_store(&d[..n]);
            assert_eq!(store.root(), mth(&d[..n]));
            let indices: Vec<usize> = (0..n).collect();
            let pairs: Vec<(usize, usize)> = (0..=n)
                .flat_map(|m2| (0..=m2).map(move |m1| (m1, m2)))
                .collect();
            // Every pair (m1, m2) with m2 <= n is checked against the tree of size n's store;
            // the efficient side only reads the first m2 leaves.
            check_size(&d[..n], &store, &indices, &[]);
            for &(m1, m2) in &pairs {
                if m2 == n {
                    check_size(&d[..n], &store, &[], &[(m1, m2)]);
                }
            }
        }
    }

    #[test]
    fn matches_naive_reference_random_large_sizes() {
        let mut st = 0x5eed_u64;
        let d = leaves(5000);
        let store = memory_store(&d);
        for _ in 0..4 {
            let n = 71 + (splitmix(&mut st) % 4930) as usize;
            let indices: Vec<usize> = (0..12)
                .map(|_| (splitmix(&mut st) % n as u64) as usize)
                .chain([0, n - 1])
                .collect();
            let mut pairs: Vec<(usize, usize)> = (0..12)
                .map(|_| {
                    let a = 1 + (splitmix(&mut st) % n as u64) as usize;
                    let b = 1 + (splitmix(&mut st) % n as u64) as usize;
                    (a.min(b), a.max(b))
                })
                .collect();
            pairs.extend([(1, n), (n - 1, n), (n, n), (64, n.max(64))]);
            // The store holds 5000 leaves; proofs for the smaller size n must ignore the rest.
            check_size(&d[..n], &store, &indices, &pairs);
        }
    }

    #[test]
    fn proofs_need_only_logarithmic_lookups() {
        let n = 1u64 << 17;
        let mut store = MemoryStore::new();
        for i in 0..n + 12345 {
            store.push(leaf_hash(&i.to_be_bytes())).expect("push");
        }
        let counting = Sparse {
            inner: &store,
            even_only: false,
            lookups: Cell::new(0),
        };
        let size = store.len();
        let mut st = 99u64;
        let mut worst = 0;
        for _ in 0..200 {
            let idx = splitmix(&mut st) % size;
            let s1 = 1 + splitmix(&mut st) % size;
            counting.lookups.set(0);
            inclusion_proof(&counting, idx, size).expect("inclusion");
            worst = worst.max(counting.lookups.get());
            counting.lookups.set(0);
            consistency_proof(&counting, s1, size).expect("consistency");
            worst = worst.max(counting.lookups.get());
            counting.lookups.set(0);
            root(&counting, s1).expect("root");
            worst = worst.max(counting.lookups.get());
        }
        // log2(size) is 18 here; every proof hash is one lookup or a fold of a few.
        assert!(worst <= 3 * 18, "worst lookups {worst}");
        println!("worst-case lookups for size {size}: {worst}");
    }

    #[test]
    fn compact_range_reports_completed_subtrees_and_roots() {
        let d = leaves(70);
        let mut cr = CompactRange::new();
        assert_eq!(cr.root(), EMPTY_ROOT);
        for (i, h) in d.iter().enumerate() {
            let mut seen = Vec::new();
            cr.append(*h, |level, index, hash| seen.push((level, index, *hash)))
                .expect("append");
            // Exactly the perfect subtrees ending at leaf i, bottom-up.
            for (level, (l, idx, hash)) in seen.iter().enumerate() {
                assert_eq!(*l as usize, level);
                let width = 1usize << l;
                assert_eq!(((*idx as usize) + 1) * width, i + 1);
                assert_eq!(
                    *hash,
                    mth(&d[(*idx as usize) * width..(*idx as usize + 1) * width])
                );
            }
            assert_eq!(seen.len() as u32, (i as u64 + 1).trailing_zeros() + 1);
            assert_eq!(cr.size(), i as u64 + 1);
            assert_eq!(cr.root(), mth(&d[..=i]));
            let store = memory_store(&d[..=i]);
            assert_eq!(
                CompactRange::from_store(&store, i as u64 + 1).expect("fs"),
                cr
            );
            let restored = CompactRange::from_parts(cr.size(), cr.hashes().to_vec()).expect("fp");
            assert_eq!(restored, cr);
        }
        assert_eq!(
            CompactRange::from_parts(3, vec![EMPTY_ROOT]),
            Err(CompactRangeError::WrongHashCount { size: 3, got: 1 })
        );
        let mut full = CompactRange::from_parts(u64::MAX, vec![EMPTY_ROOT; 64]).expect("fp");
        assert_eq!(
            full.append(EMPTY_ROOT, |_, _, _| {}),
            Err(CompactRangeError::Full)
        );
    }

    #[test]
    fn empty_root_constant_and_errors() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest([])));
        let store = memory_store(&leaves(5));
        assert_eq!(
            inclusion_proof(&store, 5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_proof(&store, 4, 3),
            Err(ProofError::SizeOrder { size1: 4, size2: 3 })
        );
        assert_eq!(
            inclusion_proof(&store, 3, 6),
            Err(ProofError::Store(NotStored { level: 1, index: 2 }))
        );
        let messages = [
            VerifyError::IndexOutOfRange { index: 1, size: 1 }.to_string(),
            VerifyError::SizeOrder { size1: 2, size2: 1 }.to_string(),
            VerifyError::EmptyFirstTree.to_string(),
            VerifyError::ProofTooLong.to_string(),
            VerifyError::ProofTooShort.to_string(),
            VerifyError::ProofNotEmpty.to_string(),
            VerifyError::RootMismatch.to_string(),
            VerifyError::Root2Mismatch.to_string(),
            ProofError::<NotStored>::EmptyFirstTree.to_string(),
            ProofError::Store(NotStored { level: 1, index: 2 }).to_string(),
            CompactRangeError::Full.to_string(),
            CompactRangeError::WrongHashCount { size: 3, got: 1 }.to_string(),
        ];
        for m in messages {
            assert_eq!(m, m.to_lowercase(), "{m}");
            assert!(!m.ends_with('.'), "{m}");
        }
    }

    // ---- transparency-dev/merkle testdata ----

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}"));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                json_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }

    fn bytes_of(v: &serde_json::Value) -> Vec<u8> {
        let s = v.as_str().expect("base64 string");
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .expect("base64")
    }

    /// Leaf hashes and proof entries: the typed API only accepts 32 bytes, so a value of any
    /// other length (0 or 9 bytes in the Go vectors) is rejected at decoding, exactly like the
    /// length checks of `transparency-dev/merkle`.
    fn hash_of(v: &serde_json::Value) -> Result<Hash, String> {
        let bytes = bytes_of(v);
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| format!("hash has {} bytes, want 32", bytes.len()))
    }

    fn proof_of(v: &serde_json::Value) -> Result<Vec<Hash>, String> {
        match v.as_array() {
            Some(a) => a.iter().map(hash_of).collect(),
            None => {
                assert!(v.is_null(), "proof must be an array or null");
                Ok(Vec::new())
            }
        }
    }

    /// Roots: Go compares them as opaque bytes, and its vectors use "don't care" roots of 0, 9
    /// or 12 bytes (one of them, with equal sizes, must verify). Such a root is replaced by
    /// SHA-256("not a 32-byte root:" || bytes): equal roots stay equal and it never equals a
    /// computed hash, so the verifier itself must reject every mutation.
    fn root_of(v: &serde_json::Value) -> Hash {
        let bytes = bytes_of(v);
        match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(h) => h,
            Err(_) => Sha256::new()
                .chain_update(b"not a 32-byte root:")
                .chain_update(&bytes)
                .finalize()
                .into(),
        }
    }

    /// The 8 classic CT leaves named in the README.
    fn classic_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| leaf_hash(&hex::decode(h).expect("hex")))
        .collect()
    }

    #[test]
    fn transparency_dev_vectors() {
        let classic = classic_leaves();
        let store = memory_store(&classic);
        let mut counts = [0usize; 4]; // inclusion ok / rejected, consistency ok / rejected
        let mut regenerated = 0;
        for (kind, slot) in [("inclusion", 0usize), ("consistency", 2usize)] {
            let mut files = Vec::new();
            json_files(&Path::new(VECTORS).join(kind), &mut files);
            files.sort();
            assert!(!files.is_empty(), "no {kind} vector files found");
            for f in files {
                let text = std::fs::read_to_string(&f).expect("read vector");
                let v: serde_json::Value = serde_json::from_str(&text).expect("json");
                let want_err = v["wantErr"].as_bool().expect("wantErr");
                let happy = f.file_name().is_some_and(|n| n == "happy-path.json");
                assert!(!(happy && want_err), "{f:?}");
                let result: Result<(), String> = if kind == "inclusion" {
                    let idx = v["leafIdx"].as_u64().expect("leafIdx");
                    let size = v["treeSize"].as_u64().expect("treeSize");
                    let root_hash = root_of(&v["root"]);
                    match (hash_of(&v["leafHash"]), proof_of(&v["proof"])) {
                        (Ok(leaf), Ok(proof)) => {
                            if happy && size <= 8 && classic.get(idx as usize) == Some(&leaf) {
                                assert_eq!(inclusion_proof(&store, idx, size).expect("p"), proof);
                                assert_eq!(root(&store, size).expect("root"), root_hash);
                                regenerated += 1;
                            }
                            verify_inclusion(idx, size, &leaf, &proof, &root_hash)
                                .map_err(|e| e.to_string())
                        }
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    }
                } else {
                    let s1 = v["size1"].as_u64().expect("size1");
                    let s2 = v["size2"].as_u64().expect("size2");
                    let r1 = root_of(&v["root1"]);
                    let r2 = root_of(&v["root2"]);
                    match proof_of(&v["proof"]) {
                        Ok(proof) => {
                            if happy && s2 <= 8 && s1 > 0 && root(&store, s2).expect("r") == r2 {
                                assert_eq!(consistency_proof(&store, s1, s2).expect("p"), proof);
                                assert_eq!(root(&store, s1).expect("root"), r1);
                                regenerated += 1;
                            }
                            verify_consistency(s1, s2, &r1, &r2, &proof).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e),
                    }
                };
                match (want_err, &result) {
                    (true, Err(_)) => counts[slot + 1] += 1,
                    (false, Ok(())) => counts[slot] += 1,
                    (true, Ok(())) => panic!("{f:?}: accepted but wantErr is true"),
                    (false, Err(e)) => panic!("{f:?}: rejected ({e}) but wantErr is false"),
                }
            }
        }
        println!(
            "inclusion: {} verified, {} rejected; consistency: {} verified, {} rejected; \
             {regenerated} happy paths regenerated from the classic leaves",
            counts[0], counts[1], counts[2], counts[3]
        );
        assert!(counts.iter().all(|&c| c > 0));
        assert!(regenerated > 0);
    }
}
