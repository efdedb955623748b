//! The `k` smallest consistent-sampling tickets of many ids.
//!
//! Same tickets and the same order as [`super::consistent::sample`], but for the draw's hot
//! loops, where millions of ids are hashed under one seed (the entity draw) or a hundred ids
//! under hundreds of thousands of seeds (team assignment):
//!
//! * [`PrefixHasher`] hashes `sha256_hex(seed) + id` with the raw compression function: the
//!   64-byte hex prefix is exactly one block, compressed once per seed; an id of at most 55
//!   bytes fits with its padding in one more block, so each id costs one compression and no
//!   hasher bookkeeping. [`IdBlock`] pads an id once when it is hashed under many seeds.
//! * [`Smallest`] keeps the `take` smallest entries in a flat buffer of up to `2·take`, pruned
//!   with `select_nth_unstable` (amortised `O(1)` per id, memory `O(take)`), or for a small
//!   `take` sorted by insertion. Once the buffer has a bound, most ids are rejected on their
//!   first ticket digit (`N mod 10`, one reduction); the others cost a 9-digit prefix
//!   (`N mod 10^9`, three reductions), and the full 64-78-digit ticket is only computed on
//!   prefix ties and for the result.
//!
//! Trade-off: ids are not checked for duplicates (unlike `sample`); callers pass distinct ids.

use super::consistent::Ticket;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;

/// SHA-256 initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Longest id that fits with its SHA-256 padding (one `0x80` byte, the 8-byte bit length) in
/// the block after the 64-byte prefix.
const MAX_ONE_BLOCK: usize = 55;

/// An id padded as the final SHA-256 block of the message `sha256_hex(seed) + id`, which does
/// not depend on the seed: built once for an id hashed under many seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdBlock([u8; 64]);

impl IdBlock {
    /// The padded block of `id`, or `None` when the id is longer than 55 bytes and needs the
    /// ordinary hasher ([`PrefixHasher::digest`] handles both).
    pub fn new(id: &[u8]) -> Option<IdBlock> {
        if id.len() > MAX_ONE_BLOCK {
            return None;
        }
        let mut block = [0u8; 64];
        block[..id.len()].copy_from_slice(id);
        block[id.len()] = 0x80;
        let bits = ((64 + id.len()) as u64) * 8;
        block[56..].copy_from_slice(&bits.to_be_bytes());
        Some(IdBlock(block))
    }
}

/// SHA-256 of `sha256_hex(seed) + id` for many ids under one seed. Tested against
/// [`super::consistent::SeedHash::ticket`].
#[derive(Clone, Debug)]
pub struct PrefixHasher {
    /// State after compressing the 64 hex characters.
    state: [u32; 8],
    /// `sha256_hex(seed)`, for ids longer than 55 bytes.
    hex: [u8; 64],
}

impl PrefixHasher {
    /// Prepares the hashing of ids under `seed` (its UTF-8 bytes, exactly as given).
    pub fn new(seed: &str) -> Self {
        Self::from_seed_digest(&Sha256::digest(seed.as_bytes()).into())
    }

    /// Prepares the hashing of ids under a seed whose SHA-256 is `seed_digest`: lets callers
    /// hash seeds assembled from parts without building the seed string.
    pub fn from_seed_digest(seed_digest: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 64];
        for (pair, &b) in hex.chunks_exact_mut(2).zip(seed_digest) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
        let mut state = IV;
        sha2::compress256(&mut state, &[GenericArray::from(hex)]);
        PrefixHasher { state, hex }
    }

    /// SHA-256 of `sha256_hex(seed) + id`.
    pub fn digest(&self, id: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.digest_words(id)) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// SHA-256 of `sha256_hex(seed) + id` as eight big-endian words, the form
    /// [`Smallest::offer_words`] takes.
    pub fn digest_words(&self, id: &[u8]) -> [u32; 8] {
        match IdBlock::new(id) {
            Some(block) => self.digest_block(&block),
            None => {
                let d: [u8; 32] = Sha256::new()
                    .chain_update(self.hex)
                    .chain_update(id)
                    .finalize()
                    .into();
                be_words(&d)
            }
        }
    }

    /// SHA-256 of `sha256_hex(seed) + id`, as eight big-endian words, for an id already padded:
    /// one compression.
    #[inline]
    pub fn digest_block(&self, block: &IdBlock) -> [u32; 8] {
        let mut st = self.state;
        sha2::compress256(
            &mut st,
            std::slice::from_ref(GenericArray::from_slice(&block.0)),
        );
        st
    }
}

const BILLION: u64 = 1_000_000_000;

/// `LIMB_MOD[i]` = 2^(32·i) mod 10^9, for the little-endian limb index `i`.
const LIMB_MOD: [u64; 8] = {
    let mut t = [0u64; 8];
    let mut v = 1u64;
    let mut i = 0;
    while i < 8 {
        t[i] = v;
        v = (v << 32) % BILLION;
        i += 1;
    }
    t
};

/// `REV3[x]` = the three decimal digits of `x < 1000` (zero-padded) in reverse order.
const REV3: [u16; 1000] = {
    let mut t = [0u16; 1000];
    let mut x = 0;
    while x < 1000 {
        t[x] = ((x % 10) * 100 + (x / 10 % 10) * 10 + x / 100) as u16;
        x += 1;
    }
    t
};

/// `N mod 10^9` for the digest `N` given as eight big-endian words.
#[inline]
fn mod_billion(words: &[u32; 8]) -> u32 {
    // N mod 10^9 = Σ word_i · (2^(32·i) mod 10^9), reduced. Each product is below
    // 2^32 · 10^9 < 2^62, so four of them sum below 2^64: two partial sums, three reductions.
    let (mut high, mut low) = (0u64, 0u64);
    for i in 0..4 {
        high += u64::from(words[i]) * LIMB_MOD[7 - i];
        low += u64::from(words[i + 4]) * LIMB_MOD[3 - i];
    }
    ((high % BILLION + low % BILLION) % BILLION) as u32
}

/// `N mod 10`, the first ticket digit, for the digest `N` given as eight big-endian words: as
/// 2^(32·i) ≡ 6 (mod 10) for every i ≥ 1, a sum and one reduction, much cheaper than
/// [`mod_billion`], and enough to reject most ids.
#[inline]
fn first_digit(words: &[u32; 8]) -> u32 {
    let high: u64 = words[..7].iter().map(|&w| u64::from(w)).sum();
    ((u64::from(words[7]) + 6 * high) % 10) as u32
}

/// The nine decimal digits of `r < 10^9`, zero-padded, in reverse order: for `r = N mod 10^9`,
/// the first nine digits of the ticket of `N` as a number. Tickets have at least 64 digits, so
/// a smaller prefix means a strictly smaller ticket, and equal prefixes need the full tickets.
#[inline]
fn reverse9(r: u32) -> u32 {
    let r = r as usize;
    u32::from(REV3[r % 1000]) * 1_000_000
        + u32::from(REV3[r / 1000 % 1000]) * 1000
        + u32::from(REV3[r / 1_000_000])
}

/// A SHA-256 digest as eight big-endian words.
fn be_words(digest: &[u8; 32]) -> [u32; 8] {
    std::array::from_fn(|i| {
        u32::from_be_bytes([
            digest[4 * i],
            digest[4 * i + 1],
            digest[4 * i + 2],
            digest[4 * i + 3],
        ])
    })
}

/// The first nine digits of the ticket of `digest` as a number.
#[cfg(test)]
fn prefix9(digest: &[u8; 32]) -> u32 {
    reverse9(mod_billion(&be_words(digest)))
}

/// Up to this `take`, a [`Smallest`] keeps its entries sorted by insertion (team pools: a few
/// members out of about a hundred); above, it uses the pruned buffer.
const SMALL_TAKE: usize = 8;

/// One candidate of a [`Smallest`] selection: the 9-digit ticket prefix, the digest the full
/// ticket is derived from (as big-endian words), and the caller's item.
#[derive(Clone, Copy, Debug)]
pub struct Entry<T> {
    prefix: u32,
    words: [u32; 8],
    item: T,
}

impl<T: Copy> Entry<T> {
    /// The caller's item.
    pub fn item(&self) -> T {
        self.item
    }

    /// The full ticket.
    pub fn ticket(&self) -> Ticket {
        Ticket::from_words(self.words)
    }
}

/// Python's order: ticket string (prefix first, the full ticket only on a tie), then id.
fn order<T>(tie: &impl Fn(&T, &T) -> Ordering, a: &Entry<T>, b: &Entry<T>) -> Ordering {
    a.prefix
        .cmp(&b.prefix)
        .then_with(|| Ticket::from_words(a.words).cmp(&Ticket::from_words(b.words)))
        .then_with(|| tie(&a.item, &b.item))
}

/// The `take` entries with the smallest tickets among those offered, in Python's order:
/// ascending ticket, then id. `tie` orders two items by their ids (UTF-8 byte order); it is only
/// called when two tickets are equal, which needs a SHA-256 collision, or for the same id.
///
/// Exact under splitting: the `take` smallest of a union are among the `take` smallest of each
/// part, so selections over parts can be [absorbed](Smallest::absorb) into one.
pub struct Smallest<T, F> {
    take: usize,
    buf: Vec<Entry<T>>,
    /// Largest kept entry once the buffer has been pruned: anything not below it is dropped.
    bound: Option<Entry<T>>,
    /// The bound's prefix, `u32::MAX` (above every prefix) without a bound.
    bound_prefix: u32,
    /// The bound's first ticket digit (`bound_prefix / 10^8`, above 9 without a bound): most
    /// ids are rejected on their first digit, before the rest of their prefix is computed.
    bound_digit: u32,
    tie: F,
}

impl<T: Copy, F: Fn(&T, &T) -> Ordering> Smallest<T, F> {
    /// An empty selection of at most `take` entries.
    pub fn new(take: usize, tie: F) -> Self {
        Smallest {
            take,
            buf: Vec::with_capacity(take.min(1 << 20).saturating_mul(2)),
            bound: None,
            bound_prefix: u32::MAX,
            bound_digit: u32::MAX / 100_000_000,
            tie,
        }
    }

    /// Empties the selection for a new round of at most `take` entries, keeping the buffer.
    pub fn reset(&mut self, take: usize) {
        self.take = take;
        self.buf.clear();
        self.bound = None;
        self.bound_prefix = u32::MAX;
        self.bound_digit = u32::MAX / 100_000_000;
    }

    /// Offers `item`, whose `sha256(sha256_hex(seed) + id)` is `digest`.
    pub fn offer(&mut self, digest: &[u8; 32], item: T) {
        self.offer_words(&be_words(digest), item);
    }

    /// Offers `item`, whose `sha256(sha256_hex(seed) + id)` is `words` (eight big-endian
    /// words, as [`PrefixHasher::digest_block`] returns).
    #[inline]
    pub fn offer_words(&mut self, words: &[u32; 8], item: T) {
        // The first ticket digit is the last decimal digit of N: most ids stop here.
        if self.take == 0 || first_digit(words) > self.bound_digit {
            return;
        }
        self.push(Entry {
            prefix: reverse9(mod_billion(words)),
            words: *words,
            item,
        });
    }

    /// Offers every entry kept by `other` (a selection over other items under the same seed).
    pub fn absorb(&mut self, other: &Self) {
        for e in &other.buf {
            self.push(*e);
        }
    }

    #[inline]
    fn push(&mut self, e: Entry<T>) {
        if self.take == 0 || e.prefix > self.bound_prefix {
            return;
        }
        if let Some(b) = &self.bound {
            if e.prefix == b.prefix && order(&self.tie, &e, b).is_ge() {
                return;
            }
        }
        if self.take <= SMALL_TAKE {
            // Kept sorted: an insertion costs a few comparisons, and the bound is the last.
            let tie = &self.tie;
            let at = self
                .buf
                .iter()
                .rposition(|x| order(tie, x, &e).is_lt())
                .map_or(0, |p| p + 1);
            self.buf.insert(at, e);
            self.buf.truncate(self.take);
            if let Some(last) = self.buf.get(self.take - 1).copied() {
                self.set_bound(last);
            }
            return;
        }
        self.buf.push(e);
        if self.buf.len() >= self.take.saturating_mul(2) {
            self.prune();
        }
    }

    fn set_bound(&mut self, b: Entry<T>) {
        self.bound_prefix = b.prefix;
        self.bound_digit = b.prefix / 100_000_000;
        self.bound = Some(b);
    }

    /// Keeps the `take` smallest entries (1 ≤ take < buf.len()), unordered, and remembers the
    /// largest kept one as the bound.
    fn prune(&mut self) {
        let tie = &self.tie;
        let (_, nth, _) = self
            .buf
            .select_nth_unstable_by(self.take - 1, |a, b| order(tie, a, b));
        let nth = *nth;
        self.set_bound(nth);
        self.buf.truncate(self.take);
    }

    /// The selection, at most `take` entries in ascending (ticket, id) order.
    pub fn finish(&mut self) -> &[Entry<T>] {
        if self.buf.len() > self.take {
            self.prune();
        }
        let tie = &self.tie;
        self.buf.sort_unstable_by(|a, b| order(tie, a, b));
        &self.buf
    }
}

/// The `take` entries of `ids` with the smallest tickets under `seed`, as `(position, ticket)`
/// in increasing `(ticket, id)` order, exactly as the Python package orders them. `ids` must be
/// distinct.
pub fn smallest<'a, I>(ids: I, seed: &str, take: usize) -> Vec<(usize, Ticket)>
where
    I: IntoIterator<Item = (usize, &'a str)>,
{
    let hasher = PrefixHasher::new(seed);
    let mut sel = Smallest::new(take, |a: &(usize, &str), b: &(usize, &str)| a.1.cmp(b.1));
    for (pos, id) in ids {
        sel.offer_words(&hasher.digest_words(id.as_bytes()), (pos, id));
    }
    sel.finish()
        .iter()
        .map(|e| (e.item().0, e.ticket()))
        .collect()
}

#[cfg(test)]
fn ticket_prefix9(t: &Ticket) -> u32 {
    (0..9).fold(0u32, |acc, i| acc * 10 + u32::from(t.digit(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::{sample, SeedHash};

    #[test]
    fn equals_sample_for_every_take() {
        let owned: Vec<String> = (0..3000).map(|i| format!("9151{i:014}")).collect();
        let ids: Vec<&str> = owned.iter().map(String::as_str).collect();
        for take in [1, 2, 8, 100, 1499, 1500, 2999, 3000, 5000] {
            let want = sample(&ids, "order seed", take).unwrap();
            let got = smallest(ids.iter().copied().enumerate(), "order seed", take);
            assert_eq!(got.len(), want.len());
            for ((p, t), (id, wt)) in got.iter().zip(&want) {
                assert_eq!((ids[*p], t), (*id, wt), "take {take}");
            }
        }
        assert!(smallest(ids.iter().copied().enumerate(), "s", 0).is_empty());
    }

    #[test]
    fn raw_compression_equals_the_hasher_for_every_id_length() {
        let h = PrefixHasher::new("raw");
        let sh = SeedHash::new("raw");
        for len in 0..130 {
            let id: String = "9151ABCDEFGHJKLMNPQRTUWXY"
                .chars()
                .cycle()
                .take(len)
                .collect();
            assert_eq!(
                Ticket::from_digest(&h.digest(id.as_bytes())),
                sh.ticket(&id),
                "length {len}"
            );
            match IdBlock::new(id.as_bytes()) {
                Some(b) => assert_eq!(h.digest_block(&b), h.digest_words(id.as_bytes())),
                None => assert!(len > 55),
            }
        }
        let seed_digest: [u8; 32] = Sha256::digest(b"raw").into();
        assert_eq!(
            PrefixHasher::from_seed_digest(&seed_digest).digest(b"x"),
            h.digest(b"x")
        );
    }

    #[test]
    fn first_digit_and_prefix_agree_with_the_ticket() {
        let h = PrefixHasher::new("digits");
        let mut samples: Vec<[u32; 8]> = (0..3000)
            .map(|i| h.digest_words(format!("{i}").as_bytes()))
            .collect();
        samples.extend([[0; 8], [u32::MAX; 8], [0, 0, 0, 0, 0, 0, 0, 7]]);
        for w in samples {
            let t = Ticket::from_words(w);
            assert_eq!(first_digit(&w), u32::from(t.digit(0)));
            assert_eq!(reverse9(mod_billion(&w)), ticket_prefix9(&t));
        }
    }

    #[test]
    fn absorbed_parts_equal_one_selection() {
        let owned: Vec<String> = (0..4000).map(|i| format!("9151{i:014}")).collect();
        let h = PrefixHasher::new("parts");
        let tie = |a: &usize, b: &usize| owned[*a].cmp(&owned[*b]);
        for take in [1, 3, 8, 9, 100, 1999, 2000, 2001, 4000, 9000] {
            let mut whole = Smallest::new(take, tie);
            let mut parts = [Smallest::new(take, tie), Smallest::new(take, tie)];
            for (i, id) in owned.iter().enumerate() {
                let d = h.digest(id.as_bytes());
                whole.offer(&d, i);
                parts[i % 3 / 2].offer(&d, i);
            }
            let [mut a, b] = parts;
            a.absorb(&b);
            let want: Vec<(usize, Ticket)> = whole
                .finish()
                .iter()
                .map(|e| (e.item(), e.ticket()))
                .collect();
            let got: Vec<(usize, Ticket)> =
                a.finish().iter().map(|e| (e.item(), e.ticket())).collect();
            assert_eq!(got, want, "take {take}");
            assert_eq!(want.len(), take.min(owned.len()));
            a.reset(2);
            assert!(a.finish().is_empty());
        }
    }

    #[test]
    fn prefix9_is_the_first_nine_ticket_digits() {
        let sh = SeedHash::new("p9");
        for i in 0..3000 {
            let id = i.to_string();
            let hex = sh.hex().to_string();
            let d: [u8; 32] = Sha256::digest(format!("{hex}{id}").as_bytes()).into();
            assert_eq!(prefix9(&d), ticket_prefix9(&sh.ticket(&id)));
        }
    }
}
