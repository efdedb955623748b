//! Consistent sampling, bit-for-bit compatible with the public Python package
//! `consistent-sampler` 1.0.10 (Ron Rivest's sampler used by election risk-limiting audits).
//!
//! Why: an inspection list drawn by the regulator must be re-checkable by anyone with
//! `pip install consistent-sampler==1.0.10` and the published seed and id list. So the ticket
//! numbers and their order must match the Python package exactly, including its quirks.
//!
//! What the Python package does (confirmed by reading its 1.0.10 source):
//!
//! * `sha256_hex(x)` = lower-case hex SHA-256 of the UTF-8 bytes of `str(x)`; the seed is hashed
//!   once (`seed_hash = sha256_hex(seed)`, as given, after `str()`), the id is appended as
//!   `str(id)`.
//! * first ticket number = `sha256_uniform(seed_hash + str(id))`: the SHA-256 digest read as a
//!   big-endian integer `N`, written with `"{:064d}"` (zero-padded to **at least** 64 digits; a
//!   256-bit integer has up to 78 decimal digits, so most tickets have 77 or 78 digits), digits
//!   reversed, `"0."` in front.
//! * tickets are Python namedtuples `(ticket_number, id, generation)` kept in a `heapq`
//!   min-heap, so the order is **string** order of the ticket numbers, ties broken by `id`
//!   (string order = code point order = UTF-8 byte order), then generation (always 1 without
//!   replacement). Equal ticket numbers for different ids would need a SHA-256 collision, so the
//!   tie-break is theoretical, but it is matched.
//! * `sampler` asserts that ids are distinct (`AssertionError` otherwise); [`sample`] returns
//!   [`SampleError::DuplicateId`] instead.
//! * the printed ticket (`digits=`) is *truncated*, not rounded, by `trim`: it keeps the initial
//!   run of 9s plus `digits` further digits; see [`Ticket::to_string_digits`].
//!
//! Performance: the hex seed is exactly 64 bytes, one SHA-256 block, so the hasher state after
//! it is prepared once ([`SeedHash`]) and cloned per id; the 256-bit digest is converted to
//! decimal with `u64` arithmetic by constant divisors and no allocation; the `k` smallest tickets
//! are kept with a bounded buffer pruned by `select_nth_unstable`, so memory is `O(k)` and
//! time `O(n + k log k)`.

use sha2::{Digest, Sha256};
use std::fmt;

/// Number of base-10^9 groups needed for the largest 256-bit integer (78 digits ≤ 81).
const GROUPS: usize = 9;
/// `"{:064d}"`: minimum number of digits of a ticket.
const MIN_DIGITS: u8 = 64;
const BILLION: u64 = 1_000_000_000;

/// A first-generation ticket number of the Python package, in a compact order-equivalent form.
///
/// The ticket string is `"0." + reversed digits of N zero-padded to at least 64 digits`, where
/// `N` is the SHA-256 digest as a big-endian integer. Internally the reversed digit string is
/// stored right-padded with zeros to 81 digits in nine groups of nine digits, plus its true
/// length. The derived `Ord` (groups first, then length) equals Python's string comparison of
/// the ticket numbers: a string that is a proper prefix of another sorts first, exactly as its
/// shorter length does here. `Display` gives the full Python string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Ticket {
    /// Reversed digits, right-padded with zeros, nine per group, most significant first.
    groups: [u32; GROUPS],
    /// Number of digits after `"0."` in the Python string (64..=78).
    len: u8,
}

impl Ticket {
    /// Builds the ticket of a SHA-256 digest (`sha256_uniform` on an already computed digest).
    pub fn from_digest(digest: &[u8; 32]) -> Ticket {
        let mut limbs = [0u32; 8];
        for (limb, chunk) in limbs.iter_mut().zip(digest.chunks_exact(4)) {
            *limb = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Ticket::from_words(limbs)
    }

    /// Builds the ticket of a SHA-256 digest given as its eight big-endian 32-bit words (the
    /// final hash state, most significant first), as [`Ticket::from_digest`] does for bytes.
    pub fn from_words(words: [u32; 8]) -> Ticket {
        // Repeated division by 10^9 with u64 arithmetic, which the compiler turns into
        // multiplications because the divisor is a constant.
        let mut limbs = words;
        let mut rems = [0u32; GROUPS];
        let mut top = 0usize;
        while top < limbs.len() && limbs[top] == 0 {
            top += 1;
        }
        for rem_slot in rems.iter_mut() {
            if top == limbs.len() {
                break;
            }
            let mut rem = 0u64;
            for limb in limbs[top..].iter_mut() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / BILLION) as u32; // < 2^32 because rem < 10^9 < 2^32
                rem = cur % BILLION;
            }
            *rem_slot = rem as u32;
            while top < limbs.len() && limbs[top] == 0 {
                top += 1;
            }
        }
        // Number of decimal digits of N (0 for N = 0).
        let mut ndigits = 0u8;
        for (g, &r) in rems.iter().enumerate().rev() {
            if r != 0 {
                let mut d = 0u8;
                let mut x = r;
                while x > 0 {
                    d += 1;
                    x /= 10;
                }
                ndigits = (g as u8) * 9 + d;
                break;
            }
        }
        let mut groups = [0u32; GROUPS];
        for (out, &r) in groups.iter_mut().zip(rems.iter()) {
            *out = reverse9(r);
        }
        Ticket {
            groups,
            len: ndigits.max(MIN_DIGITS),
        }
    }

    /// Number of decimal digits after `"0."` in the Python ticket string (between 64 and 78).
    pub fn len_digits(&self) -> usize {
        usize::from(self.len)
    }

    /// The `i`-th digit after `"0."` (0-based), for `i < len_digits()`; 0 beyond.
    pub fn digit(&self, i: usize) -> u8 {
        if i >= usize::from(self.len) {
            return 0;
        }
        let group = self.groups[i / 9];
        let pos = 8 - (i % 9) as u32; // digit position from the right inside the group
        ((group / 10u32.pow(pos)) % 10) as u8
    }

    /// The ticket as printed by Python's `sampler(..., digits=d)`, i.e. its `trim(x, d)`.
    ///
    /// Contract: returns `"0."` followed by the initial run of 9s of the ticket and then `digits`
    /// further digits, **truncated** (never rounded), capped at the full ticket. Without a
    /// leading 9 this is simply `"0."` + the first `digits` digits.
    pub fn to_string_digits(&self, digits: usize) -> String {
        let len = usize::from(self.len);
        let mut nines = 0;
        while nines < len && self.digit(nines) == 9 {
            nines += 1;
        }
        let keep = (nines + digits).min(len);
        let mut s = String::with_capacity(2 + keep);
        s.push_str("0.");
        for i in 0..keep {
            s.push(char::from(b'0' + self.digit(i)));
        }
        s
    }
}

impl fmt::Display for Ticket {
    /// Writes the full Python ticket string `"0.<64 to 78 digits>"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each group is written as its nine digits with constant divisors (a record prints
        // hundreds of thousands of tickets), then the string is cut at the true length.
        let mut buf = [0u8; 2 + 9 * GROUPS];
        buf[0] = b'0';
        buf[1] = b'.';
        for (chunk, &g) in buf[2..].chunks_exact_mut(9).zip(&self.groups) {
            let mut x = g;
            for b in chunk.iter_mut().rev() {
                *b = b'0' + (x % 10) as u8;
                x /= 10;
            }
        }
        // Only ASCII was written, so the slice is valid UTF-8.
        f.write_str(std::str::from_utf8(&buf[..2 + usize::from(self.len)]).map_err(|_| fmt::Error)?)
    }
}

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

/// Reverses the nine decimal digits of `r < 10^9`, zero-padded to nine digits.
#[inline]
fn reverse9(r: u32) -> u32 {
    let r = r as usize;
    u32::from(REV3[r % 1000]) * 1_000_000
        + u32::from(REV3[r / 1000 % 1000]) * 1000
        + u32::from(REV3[r / 1_000_000])
}

/// The first nine digits of the ticket of `digest` (its first group), computed without the
/// full decimal conversion: `reverse9(N mod 10^9)`.
#[inline]
fn first_group(digest: &[u8; 32]) -> u32 {
    // Each term is < 2^32 · 10^9 < 2^62; sum four at a time to stay below 2^64.
    let mut sums = [0u64; 2];
    for (i, chunk) in digest.chunks_exact(4).enumerate() {
        let limb = u64::from(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        sums[i / 4] += (limb * LIMB_MOD[7 - i]) % BILLION;
    }
    reverse9(((sums[0] + sums[1]) % BILLION) as u32)
}

/// The seed of a draw, hashed once: holds `sha256_hex(seed)` and the SHA-256 state after it.
#[derive(Clone)]
pub struct SeedHash {
    hex: String,
    prefix: Sha256,
}

impl SeedHash {
    /// Prepares a draw for `seed` (hashed as its UTF-8 bytes, exactly as given; Python does
    /// `str(seed)`, so pass the seed's string form).
    pub fn new(seed: &str) -> Self {
        let hex = hex_lower(&Sha256::digest(seed.as_bytes()).into());
        let prefix = Sha256::new().chain_update(hex.as_bytes());
        SeedHash { hex, prefix }
    }

    /// `sha256_hex(seed)`: the 64 lower-case hex characters that prefix every ticket input.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first ticket of `id`: `sha256_uniform(sha256_hex(seed) + id)`.
    pub fn ticket(&self, id: &str) -> Ticket {
        Ticket::from_digest(&self.digest(id))
    }

    /// SHA-256 of `sha256_hex(seed) + id`, reusing the prepared state of the 64-byte prefix.
    fn digest(&self, id: &str) -> [u8; 32] {
        self.prefix
            .clone()
            .chain_update(id.as_bytes())
            .finalize()
            .into()
    }
}

fn hex_lower(bytes: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// The first ticket of `id` under `seed` (Python's `first_fraction(id, seed)`; note the
/// argument order differs from Python). For many ids, build one [`SeedHash`] instead.
pub fn first_ticket(seed: &str, id: &str) -> Ticket {
    SeedHash::new(seed).ticket(id)
}

/// Why a sample could not be drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SampleError {
    /// The id list contains this id more than once (the Python package raises `AssertionError`).
    DuplicateId(String),
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleError::DuplicateId(id) => write!(f, "duplicate id in id list: {id:?}"),
        }
    }
}

impl std::error::Error for SampleError {}

/// Draws `take` ids without replacement, exactly as
/// `list(sampler(ids, seed=seed, take=take, with_replacement=False))` in the Python package.
///
/// Contract: returns `min(take, ids.len())` pairs `(id, ticket)` in increasing `(ticket, id)`
/// order; the result does not depend on the order of `ids`. Fails with
/// [`SampleError::DuplicateId`] if any id occurs twice anywhere in `ids` (as Python does), even
/// outside the sample. Memory is `O(take)` plus 8 bytes per id for the duplicate check.
pub fn sample<'a>(
    ids: &[&'a str],
    seed: &str,
    take: usize,
) -> Result<Vec<(&'a str, Ticket)>, SampleError> {
    let seed_hash = SeedHash::new(seed);
    let take = take.min(ids.len());
    // Duplicate ids have equal digests; distinct ids have equal 64-bit digest prefixes only by
    // chance (about 4e-7 for 4 million ids), so sort the prefixes and check exactly if needed.
    let mut prefixes: Vec<u64> = Vec::with_capacity(ids.len());
    // Candidates in a flat buffer of up to 2·take entries; when full, keep the `take` smallest
    // (select_nth_unstable, O(take)) and only admit tickets below the largest kept one. This is
    // cache-friendlier than a binary heap and amortised O(1) per id.
    let mut buf: Vec<(Ticket, &'a str)> = Vec::with_capacity(if take == 0 { 0 } else { 2 * take });
    let mut bound: Option<(Ticket, &'a str)> = None;
    for &id in ids {
        let digest = seed_hash.digest(id);
        // Equal ids have equal digests; the digest prefix is enough to find candidates.
        let mut p = [0u8; 8];
        p.copy_from_slice(&digest[..8]);
        prefixes.push(u64::from_be_bytes(p));
        if take == 0 {
            continue;
        }
        if let Some(b) = &bound {
            // Cheap filter: a larger first group means a strictly larger ticket.
            if first_group(&digest) > b.0.groups[0] {
                continue;
            }
            let cand = (Ticket::from_digest(&digest), id);
            if cand >= *b {
                continue;
            }
            buf.push(cand);
        } else {
            buf.push((Ticket::from_digest(&digest), id));
        }
        if buf.len() == 2 * take {
            bound = Some(keep_smallest(&mut buf, take));
        }
    }
    prefixes.sort_unstable();
    if prefixes.windows(2).any(|w| w[0] == w[1]) {
        check_duplicates_exactly(ids)?;
    }
    if buf.len() > take {
        keep_smallest(&mut buf, take);
    }
    buf.sort_unstable();
    Ok(buf.into_iter().map(|(t, id)| (id, t)).collect())
}

/// Keeps the `take` smallest entries of `buf` (1 ≤ take < buf.len()), unordered, and returns
/// the largest kept one.
fn keep_smallest<'a>(buf: &mut Vec<(Ticket, &'a str)>, take: usize) -> (Ticket, &'a str) {
    let (_, nth, _) = buf.select_nth_unstable(take - 1);
    let nth = *nth;
    buf.truncate(take);
    nth
}

fn check_duplicates_exactly(ids: &[&str]) -> Result<(), SampleError> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    for &id in ids {
        if !seen.insert(id) {
            return Err(SampleError::DuplicateId(id.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/consistent-sampler/vectors.json"
    );

    #[derive(Deserialize)]
    struct File {
        cases: Vec<Case>,
    }
    #[derive(Deserialize)]
    struct Case {
        seed: String,
        ids: Vec<String>,
        take: usize,
        expected: Vec<Expected>,
        first_ticket_of_first_id: String,
    }
    #[derive(Deserialize)]
    struct Expected {
        id: String,
        ticket_30_digits: String,
    }

    fn load() -> Vec<Case> {
        let text = std::fs::read_to_string(VECTORS).expect("read vectors.json");
        let f: File = serde_json::from_str(&text).expect("parse vectors.json");
        assert!(!f.cases.is_empty(), "no cases in vectors.json");
        f.cases
    }

    /// Reference: Python's sha256_uniform via string formatting of a big integer, done the slow
    /// way with u8 digit arithmetic.
    fn slow_ticket_string(seed: &str, id: &str) -> String {
        let seed_hex = hex::encode(Sha256::digest(seed.as_bytes()));
        let digest = Sha256::digest(format!("{seed_hex}{id}").as_bytes());
        let mut n: Vec<u32> = digest.iter().map(|&b| u32::from(b)).collect(); // base 256 BE
        let mut digits = Vec::new();
        while n.iter().any(|&x| x != 0) {
            let mut rem = 0u32;
            for x in n.iter_mut() {
                let cur = rem * 256 + *x;
                *x = cur / 10;
                rem = cur % 10;
            }
            digits.push(char::from(b'0' + rem as u8));
        }
        while digits.len() < 64 {
            digits.push('0');
        }
        // `digits` is least significant first, i.e. already reversed.
        format!("0.{}", digits.into_iter().collect::<String>())
    }

    #[test]
    fn vectors_samples_and_tickets() {
        let cases = load();
        let mut rounding_would_differ = 0;
        for c in &cases {
            let ids: Vec<&str> = c.ids.iter().map(String::as_str).collect();
            let got = sample(&ids, &c.seed, c.take).expect("sample");
            assert_eq!(got.len(), c.expected.len(), "seed {}", c.seed);
            for ((id, t), e) in got.iter().zip(&c.expected) {
                assert_eq!(*id, e.id, "seed {}", c.seed);
                assert_eq!(
                    t.to_string_digits(30),
                    e.ticket_30_digits,
                    "seed {}",
                    c.seed
                );
                if t.digit(30) >= 5 {
                    rounding_would_differ += 1;
                }
            }
            let first = first_ticket(&c.seed, &c.ids[0]);
            assert_eq!(
                first.to_string(),
                c.first_ticket_of_first_id,
                "seed {}",
                c.seed
            );
            assert_eq!(
                first.to_string(),
                slow_ticket_string(&c.seed, &c.ids[0]),
                "seed {}",
                c.seed
            );
        }
        // The vectors must discriminate truncation from rounding, otherwise the test is weak.
        assert!(
            rounding_would_differ > 0,
            "vectors do not discriminate rounding"
        );
        println!("{rounding_would_differ} expected tickets would differ if rounded");
    }

    #[test]
    fn fast_ticket_matches_slow_reference() {
        let sh = SeedHash::new("reference seed");
        for i in 0..3000 {
            let id = format!("9151{i:014}");
            let t = sh.ticket(&id);
            assert_eq!(t.to_string(), slow_ticket_string("reference seed", &id));
        }
    }

    #[test]
    fn first_group_matches_full_conversion() {
        let sh = SeedHash::new("fg");
        for i in 0..5000 {
            let d = sh.digest(&i.to_string());
            assert_eq!(first_group(&d), Ticket::from_digest(&d).groups[0]);
        }
        for d in [[0u8; 32], [0xff; 32], [0x3b; 32]] {
            assert_eq!(first_group(&d), Ticket::from_digest(&d).groups[0]);
        }
    }

    #[test]
    fn small_and_large_digests() {
        // N = 0: 64 zeros. N = 1: "1" then 63 zeros. N = 2^256-1: 78 digits.
        let zero = Ticket::from_digest(&[0u8; 32]);
        assert_eq!(zero.to_string(), format!("0.{}", "0".repeat(64)));
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(
            Ticket::from_digest(&one).to_string(),
            format!("0.1{}", "0".repeat(63))
        );
        let max = Ticket::from_digest(&[0xff; 32]);
        let dec = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let rev: String = dec.chars().rev().collect();
        assert_eq!(max.to_string(), format!("0.{rev}"));
        assert_eq!(max.len_digits(), 78);
        assert!(zero < Ticket::from_digest(&one));
    }

    #[test]
    fn order_equals_python_string_order() {
        let sh = SeedHash::new("order");
        let mut ts: Vec<Ticket> = (0..2000).map(|i| sh.ticket(&i.to_string())).collect();
        ts.sort();
        for w in ts.windows(2) {
            assert!(w[0].to_string() < w[1].to_string());
        }
        // A proper prefix sorts first, as in string comparison.
        let a = Ticket {
            groups: [1, 0, 0, 0, 0, 0, 0, 0, 0],
            len: 64,
        };
        let b = Ticket { len: 70, ..a };
        assert!(a < b && a.to_string() < b.to_string());
    }

    #[test]
    fn trim_keeps_leading_nines() {
        let t = Ticket {
            groups: [999_123_456, 789_000_000, 0, 0, 0, 0, 0, 0, 0],
            len: 64,
        };
        assert_eq!(t.to_string_digits(4), "0.9991234");
        assert_eq!(t.to_string_digits(0), "0.999");
        let all9 = Ticket {
            groups: [999_999_999; 9],
            len: 78,
        };
        assert_eq!(all9.to_string_digits(5), format!("0.{}", "9".repeat(78)));
    }

    /// splitmix64, for deterministic shuffles without the rand crate.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn order_independent_and_deterministic() {
        let owned: Vec<String> = (0..5000).map(|i| format!("91510{i:013}X")).collect();
        let mut ids: Vec<&str> = owned.iter().map(String::as_str).collect();
        let base = sample(&ids, "seed-42", 100).expect("sample");
        assert_eq!(base, sample(&ids, "seed-42", 100).expect("sample"));
        let mut st = 7u64;
        for _ in 0..3 {
            for i in (1..ids.len()).rev() {
                let j = (splitmix(&mut st) % (i as u64 + 1)) as usize;
                ids.swap(i, j);
            }
            assert_eq!(base, sample(&ids, "seed-42", 100).expect("sample"));
        }
        // A prefix of a longer sample; take larger than the list gives everything.
        let all = sample(&ids, "seed-42", usize::MAX).expect("sample");
        assert_eq!(all.len(), ids.len());
        assert_eq!(&all[..100], &base[..]);
        assert!(all.windows(2).all(|w| w[0].1 < w[1].1));
        assert!(sample(&ids, "seed-42", 0).expect("sample").is_empty());
        // Subset consistency: filtering the full order to a subset equals sampling the subset.
        let subset: Vec<&str> = ids.iter().copied().filter(|s| s.ends_with("7X")).collect();
        let filtered: Vec<_> = all
            .iter()
            .filter(|(id, _)| id.ends_with("7X"))
            .copied()
            .collect();
        assert_eq!(
            sample(&subset, "seed-42", usize::MAX).expect("sample"),
            filtered
        );
    }

    #[test]
    fn bounded_selection_equals_full_sort() {
        let owned: Vec<String> = (0..3000).map(|i| format!("id-{i}")).collect();
        let ids: Vec<&str> = owned.iter().map(String::as_str).collect();
        let sh = SeedHash::new("sel");
        let mut full: Vec<(Ticket, &str)> = ids.iter().map(|id| (sh.ticket(id), *id)).collect();
        full.sort();
        for take in [1, 2, 7, 100, 1499, 1500, 1501, 2999, 3000, 3001] {
            let got = sample(&ids, "sel", take).expect("sample");
            let want: Vec<(&str, Ticket)> =
                full.iter().take(take).map(|(t, id)| (*id, *t)).collect();
            assert_eq!(got, want, "take {take}");
        }
    }

    #[test]
    fn duplicates_rejected() {
        let ids = ["a", "b", "c", "b"];
        assert_eq!(
            sample(&ids, "s", 1),
            Err(SampleError::DuplicateId("b".to_owned()))
        );
        assert_eq!(
            SampleError::DuplicateId("b".into()).to_string(),
            "duplicate id in id list: \"b\""
        );
    }

    /// Cross-check against the real Python package if it is importable.
    #[test]
    fn cross_check_with_python_package() {
        if let Err(why) = crate::sampling::python_package() {
            eprintln!("SKIPPED cross_check_with_python_package: {why}");
            return;
        }
        let mut st = 2026u64;
        let alphabet = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        let owned: Vec<String> = (0..1500)
            .map(|_| {
                let mut s = String::from("9151");
                for _ in 0..14 {
                    s.push(char::from(alphabet[(splitmix(&mut st) % 31) as usize]));
                }
                s
            })
            .collect();
        let mut uniq = owned.clone();
        uniq.sort();
        uniq.dedup();
        let ids: Vec<&str> = uniq.iter().map(String::as_str).collect();
        let seed = "审计 seed 2026-Q1 #7";
        // digits=3 makes leading-9 trimming visible; output all tickets in order.
        let script = r#"
import sys, json
from consistent_sampler import sampler, first_fraction
d = json.load(sys.stdin)
out = [list(t[:2]) for t in sampler(d["ids"], seed=d["seed"], take=len(d["ids"]), output="tuple", digits=3)]
full = [first_fraction(i, d["seed"]) for i in d["ids"][:50]]
ids_only = list(sampler(d["ids"], seed=d["seed"], take=10, output="id"))
json.dump({"out": out, "full": full, "ids_only": ids_only}, sys.stdout)
"#;
        let input = serde_json::json!({ "ids": ids, "seed": seed }).to_string();
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn python3");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        let output = child.wait_with_output().expect("python3 output");
        assert!(output.status.success(), "python failed");
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).expect("python json");
        let got = sample(&ids, seed, ids.len()).expect("sample");
        let out = v["out"].as_array().expect("out");
        assert_eq!(out.len(), got.len());
        let mut with_nines = 0;
        for ((id, t), e) in got.iter().zip(out) {
            assert_eq!(e[1].as_str(), Some(*id));
            assert_eq!(e[0].as_str(), Some(t.to_string_digits(3).as_str()));
            if t.digit(0) == 9 {
                with_nines += 1;
            }
        }
        assert!(with_nines > 0, "no ticket with a leading 9 exercised");
        for (id, full) in ids.iter().zip(v["full"].as_array().expect("full")) {
            assert_eq!(
                full.as_str(),
                Some(first_ticket(seed, id).to_string().as_str())
            );
        }
        let ids_only: Vec<&str> = v["ids_only"]
            .as_array()
            .expect("ids_only")
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        let mine: Vec<&str> = got.iter().take(10).map(|(id, _)| *id).collect();
        assert_eq!(ids_only, mine);
        println!(
            "python cross-check: {} ids, {with_nines} tickets with leading 9",
            ids.len()
        );
    }
}
