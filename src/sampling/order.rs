//! The `k` smallest consistent-sampling tickets of many ids, returned by position.
//!
//! Same tickets and the same order as [`super::consistent::sample`], but for the draw's hot
//! loops: ids come from an iterator with their positions (no `&str` list to build, no search to
//! map results back), nothing is allocated per id, and each id costs one SHA-256 block plus a
//! cheap 9-digit prefix test; the full 64-78-digit ticket is only computed for ids that may
//! enter the result. Unlike `sample`, duplicates are not detected: callers pass distinct ids.

use super::consistent::{SeedHash, Ticket};
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

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

/// SHA-256 of `sha256_hex(seed) + id`, computed with the raw compression function: the 64-byte
/// hex prefix is exactly one block, compressed once; an id of at most 55 bytes fits with its
/// padding in one more block, so each id costs one compression and no hasher bookkeeping.
/// Longer ids take the ordinary path. Tested against [`SeedHash::ticket`].
struct PrefixHasher {
    state: [u32; 8],
    slow: Sha256,
}

impl PrefixHasher {
    fn new(seed: &str) -> Self {
        let hex = SeedHash::new(seed).hex().to_string();
        let mut state = IV;
        sha2::compress256(&mut state, &[*GenericArray::from_slice(hex.as_bytes())]);
        PrefixHasher {
            state,
            slow: Sha256::new().chain_update(hex.as_bytes()),
        }
    }

    fn digest(&self, id: &str) -> [u8; 32] {
        let b = id.as_bytes();
        if b.len() > 55 {
            return self.slow.clone().chain_update(b).finalize().into();
        }
        let mut block = [0u8; 64];
        block[..b.len()].copy_from_slice(b);
        block[b.len()] = 0x80;
        let bits = ((64 + b.len()) as u64) * 8;
        block[56..].copy_from_slice(&bits.to_be_bytes());
        let mut st = self.state;
        sha2::compress256(&mut st, &[GenericArray::from(block)]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(st) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
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

/// The first nine digits of the ticket of `digest` as a number: the nine lowest decimal digits
/// of the digest read as an integer, reversed. Tickets have at least 64 digits, so a smaller
/// prefix means a strictly smaller ticket, and equal prefixes need the full tickets.
fn prefix9(digest: &[u8; 32]) -> u32 {
    let mut sum = 0u64;
    for (i, chunk) in digest.chunks_exact(4).enumerate() {
        let limb = u64::from(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        sum += (limb * LIMB_MOD[7 - i]) % BILLION; // each term < 10^9, eight terms fit in u64
    }
    let r = (sum % BILLION) as usize;
    u32::from(REV3[r % 1000]) * 1_000_000
        + u32::from(REV3[r / 1000 % 1000]) * 1000
        + u32::from(REV3[r / 1_000_000])
}

/// A candidate entry: 9-digit prefix, digest, id, position. The full ticket is derived from
/// the digest only when prefixes tie and for the final result.
type Entry<'a> = (u32, [u8; 32], &'a str, usize);

/// Python's order: ticket string, then id.
fn cmp(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| Ticket::from_digest(&a.1).cmp(&Ticket::from_digest(&b.1)))
        .then_with(|| a.2.cmp(b.2))
}

/// The `take` entries of `ids` with the smallest tickets under `seed`, as `(position, ticket)`
/// in increasing `(ticket, id)` order, exactly as the Python package orders them. `ids` must be
/// distinct.
pub fn smallest<'a, I>(ids: I, seed: &str, take: usize) -> Vec<(usize, Ticket)>
where
    I: IntoIterator<Item = (usize, &'a str)>,
{
    if take == 0 {
        return Vec::new();
    }
    let hasher = PrefixHasher::new(seed);
    let mut buf: Vec<Entry<'a>> = Vec::with_capacity(2 * take.min(1 << 20));
    // Largest kept entry once the buffer has been pruned.
    let mut bound: Option<Entry<'a>> = None;
    for (pos, id) in ids {
        let digest = hasher.digest(id);
        let e = (prefix9(&digest), digest, id, pos);
        if let Some(b) = &bound {
            if e.0 > b.0 || (e.0 == b.0 && cmp(&e, b).is_ge()) {
                continue;
            }
        }
        buf.push(e);
        if buf.len() >= 2 * take {
            let (_, nth, _) = buf.select_nth_unstable_by(take - 1, cmp);
            bound = Some(*nth);
            buf.truncate(take);
        }
    }
    if buf.len() > take {
        buf.select_nth_unstable_by(take - 1, cmp);
        buf.truncate(take);
    }
    buf.sort_unstable_by(cmp);
    buf.into_iter()
        .map(|(_, d, _, p)| (p, Ticket::from_digest(&d)))
        .collect()
}

#[cfg(test)]
fn ticket_prefix9(t: &Ticket) -> u32 {
    (0..9).fold(0u32, |acc, i| acc * 10 + u32::from(t.digit(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::sample;

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
                Ticket::from_digest(&h.digest(&id)),
                sh.ticket(&id),
                "length {len}"
            );
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
