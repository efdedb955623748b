//! Audit log entries and their canonical byte encoding, the bytes hashed into the Merkle tree.
//!
//! Why a hand-written encoding: the leaf hash of an entry must be reproducible by an outsider,
//! years later, from this description alone. Protobuf and serde encodings are not canonical (field
//! order, varint forms, map order and unknown fields can vary between implementations and
//! versions), so neither is used here. The encoding is injective and the decoder strict, so every
//! valid encoding is the *only* encoding of its entry: `encode(decode(b)) == b`.
//!
//! An entry does not carry the change itself, only `payload_digest`, the SHA-256 of the change's
//! own canonical bytes (computed by the caller, e.g. a classification's stored record). That keeps
//! the log small and lets replay compare digests; for simplicity the log does not define those
//! payload encodings.
//!
//! # Canonical encoding, version 1
//!
//! All integers are big-endian and fixed width; `i64` is two's complement. A *string* is a `u32`
//! byte length followed by that many bytes of UTF-8 (no terminator, no normalisation).
//!
//! | # | field            | bytes                                                       |
//! |---|------------------|-------------------------------------------------------------|
//! | 1 | magic            | the 6 ASCII bytes `CRLOG1` (`43 52 4c 4f 47 31`)            |
//! | 2 | kind             | 1 byte, see [`EntryKind::code`]: 1 `rule_set_uploaded`, 2 `rule_set_activated`, 3 `classification`, 4 `draw`, 5 `inspection_result`, 6 `publication`, 7 `roster_change`, 8 `token_change`, 9 `alert` |
//! | 3 | `at_unix_ms`     | 8 bytes, `i64`                                              |
//! | 4 | `actor`          | string                                                      |
//! | 5 | `subject`        | string                                                      |
//! | 6 | `payload_digest` | 32 bytes                                                    |
//! | 7 | `details` count  | 4 bytes, `u32`                                              |
//! | 8 | `details` pairs  | per pair: key string, then value string; keys in strictly ascending order of their UTF-8 bytes (so no duplicates) |
//!
//! Nothing follows the last pair. Limits, enforced by both [`Entry::encode`] and
//! [`Entry::decode`]: each string at most [`MAX_TEXT_BYTES`] bytes, at most [`MAX_DETAILS`]
//! pairs. The decoder rejects a wrong magic, an unknown kind, a length running past the end,
//! invalid UTF-8, keys out of order or repeated, a limit exceeded, and trailing bytes.
//!
//! The Merkle leaf of an entry is `SHA-256(0x00 || encoding)` (RFC 6962), see
//! [`Entry::leaf_hash`].
//!
//! Example: kind `draw`, `at_unix_ms` 1, actor `a`, subject empty, digest all zero, no details
//! encodes to `CRLOG1` `04` `00..01` `00000001 61` `00000000` `00 x32` `00000000` (60 bytes).

use crate::audit::error::AuditError;
use crate::audit::json::hex32;
use crate::audit::merkle::{self, Hash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// First bytes of every version-1 entry encoding.
pub const ENTRY_MAGIC: &[u8; 6] = b"CRLOG1";

/// Largest allowed string (actor, subject, detail key or value), in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Largest allowed number of `details` pairs.
pub const MAX_DETAILS: usize = 64;

/// What kind of state change an entry records. The numeric codes are part of the canonical
/// encoding and never change; new kinds get new codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A rule set was uploaded (subject: its hash).
    RuleSetUploaded,
    /// A rule set was activated (subject: its hash).
    RuleSetActivated,
    /// A classification was stored (subject: `enterprise/<code>`).
    Classification,
    /// A draw was made (subject: the draw id).
    Draw,
    /// An inspection result was recorded.
    InspectionResult,
    /// Something was published.
    Publication,
    /// The inspector roster changed.
    RosterChange,
    /// An access token was issued or revoked (subject: the token id, never the secret).
    TokenChange,
    /// An early-warning alert changed: raised, fired again, assessed, warned, disposed, an
    /// outcome recorded, escalated or closed (subject: `alert/<id>`; payload: the alert's
    /// canonical JSON after the change).
    Alert,
}

impl EntryKind {
    /// Every kind, in code order.
    pub const ALL: [EntryKind; 9] = [
        EntryKind::RuleSetUploaded,
        EntryKind::RuleSetActivated,
        EntryKind::Classification,
        EntryKind::Draw,
        EntryKind::InspectionResult,
        EntryKind::Publication,
        EntryKind::RosterChange,
        EntryKind::TokenChange,
        EntryKind::Alert,
    ];

    /// The kind's byte in the canonical encoding (1 to 9).
    pub fn code(self) -> u8 {
        match self {
            EntryKind::RuleSetUploaded => 1,
            EntryKind::RuleSetActivated => 2,
            EntryKind::Classification => 3,
            EntryKind::Draw => 4,
            EntryKind::InspectionResult => 5,
            EntryKind::Publication => 6,
            EntryKind::RosterChange => 7,
            EntryKind::TokenChange => 8,
            EntryKind::Alert => 9,
        }
    }

    /// The snake-case name used in JSON and reports (`rule_set_uploaded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::RuleSetUploaded => "rule_set_uploaded",
            EntryKind::RuleSetActivated => "rule_set_activated",
            EntryKind::Classification => "classification",
            EntryKind::Draw => "draw",
            EntryKind::InspectionResult => "inspection_result",
            EntryKind::Publication => "publication",
            EntryKind::RosterChange => "roster_change",
            EntryKind::TokenChange => "token_change",
            EntryKind::Alert => "alert",
        }
    }

    /// The kind with that code, if any.
    pub fn from_code(code: u8) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One audit log entry: who changed what, when, and the digest of the change.
///
/// The JSON form (used in audit bundles) has the same field names, `kind` in snake case and
/// `payload_digest` as 64 lowercase hex digits; unknown fields are rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// What kind of change this is.
    pub kind: EntryKind,
    /// When the service made the change, in milliseconds since the Unix epoch (an input, not
    /// read from a clock here).
    pub at_unix_ms: i64,
    /// Who made it: a token id, or `system` for the service itself.
    pub actor: String,
    /// What it is about: a rule-set hash, `enterprise/<code>`, a draw id, ...
    pub subject: String,
    /// SHA-256 of the change's own canonical bytes, computed by the caller.
    #[serde(with = "hex32")]
    pub payload_digest: [u8; 32],
    /// Small optional key-value annotations.
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

/// SHA-256 of `bytes`: the helper callers use to fill [`Entry::payload_digest`].
pub fn payload_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn check_text(field: &str, s: &str) -> Result<(), AuditError> {
    if s.len() > MAX_TEXT_BYTES {
        return Err(AuditError::EntryTooLarge {
            field: field.to_string(),
            got: s.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    Ok(())
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    // INVARIANT (text limit): callers checked `s.len() <= MAX_TEXT_BYTES`, so it fits a u32.
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Entry {
    /// The canonical encoding documented in the module doc. Fails only if a limit
    /// ([`MAX_TEXT_BYTES`], [`MAX_DETAILS`]) is exceeded.
    pub fn encode(&self) -> Result<Vec<u8>, AuditError> {
        check_text("actor", &self.actor)?;
        check_text("subject", &self.subject)?;
        if self.details.len() > MAX_DETAILS {
            return Err(AuditError::EntryTooLarge {
                field: "details".to_string(),
                got: self.details.len(),
                limit: MAX_DETAILS,
            });
        }
        for (k, v) in &self.details {
            check_text("details", k)?;
            check_text(&format!("details[{k}]"), v)?;
        }
        let text: usize = self.actor.len()
            + self.subject.len()
            + self
                .details
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>();
        let mut out = Vec::with_capacity(6 + 1 + 8 + 8 + 32 + 4 + text);
        out.extend_from_slice(ENTRY_MAGIC);
        out.push(self.kind.code());
        out.extend_from_slice(&self.at_unix_ms.to_be_bytes());
        put_text(&mut out, &self.actor);
        put_text(&mut out, &self.subject);
        out.extend_from_slice(&self.payload_digest);
        // INVARIANT (details limit): checked above, so the count fits a u32.
        out.extend_from_slice(&(self.details.len() as u32).to_be_bytes());
        // BTreeMap<String, _> iterates in ascending byte order of the keys, which is the
        // order the encoding requires.
        for (k, v) in &self.details {
            put_text(&mut out, k);
            put_text(&mut out, v);
        }
        Ok(out)
    }

    /// Strictly decodes a canonical encoding; see the module doc for everything rejected.
    pub fn decode(bytes: &[u8]) -> Result<Entry, AuditError> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.take(ENTRY_MAGIC.len(), "magic")?;
        if magic != ENTRY_MAGIC {
            return Err(r.error_at(0, "magic is not `CRLOG1`"));
        }
        let code = r.array::<1>("kind")?[0];
        let kind = EntryKind::from_code(code)
            .ok_or_else(|| r.error_at(6, format!("unknown entry kind {code}")))?;
        let at_unix_ms = i64::from_be_bytes(r.array::<8>("at_unix_ms")?);
        let actor = r.text("actor")?;
        let subject = r.text("subject")?;
        let payload_digest = r.array::<32>("payload_digest")?;
        let count_at = r.pos;
        let count = u32::from_be_bytes(r.array::<4>("details count")?) as usize;
        if count > MAX_DETAILS {
            return Err(r.error_at(
                count_at,
                format!("details count {count} exceeds the limit of {MAX_DETAILS}"),
            ));
        }
        let mut details = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..count {
            let key_at = r.pos;
            let key = r.text("details key")?;
            if last
                .as_ref()
                .is_some_and(|prev| prev.as_bytes() >= key.as_bytes())
            {
                return Err(r.error_at(
                    key_at,
                    format!("details key `{key}` is out of order or repeated"),
                ));
            }
            let value = r.text("details value")?;
            last = Some(key.clone());
            details.insert(key, value);
        }
        if r.pos != bytes.len() {
            return Err(r.error_at(r.pos, format!("{} trailing bytes", bytes.len() - r.pos)));
        }
        Ok(Entry {
            kind,
            at_unix_ms,
            actor,
            subject,
            payload_digest,
            details,
        })
    }

    /// The RFC 6962 leaf hash `SHA-256(0x00 || encode())` under which this entry is logged.
    pub fn leaf_hash(&self) -> Result<Hash, AuditError> {
        Ok(merkle::leaf_hash(&self.encode()?))
    }
}

/// A cursor over an encoding that reports the offset of every failure.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error_at(&self, offset: usize, reason: impl Into<String>) -> AuditError {
        AuditError::InvalidEncoding {
            offset,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], AuditError> {
        let remaining = self.bytes.len() - self.pos;
        if n > remaining {
            return Err(self.error_at(
                self.pos,
                format!("`{what}` needs {n} bytes, only {remaining} remain"),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], AuditError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn text(&mut self, what: &str) -> Result<String, AuditError> {
        let len_at = self.pos;
        let len = u32::from_be_bytes(self.array::<4>(what)?) as usize;
        if len > MAX_TEXT_BYTES {
            return Err(self.error_at(
                len_at,
                format!("`{what}` length {len} exceeds the limit of {MAX_TEXT_BYTES}"),
            ));
        }
        let at = self.pos;
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec())
            .map_err(|_| self.error_at(at, format!("`{what}` is not valid utf-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A random string mixing ASCII, multi-byte UTF-8 and the empty string.
    fn text(st: &mut u64, max: u64) -> String {
        const ALPHABET: &[&str] = &["a", "Z", "0", "/", "_", " ", "é", "信", "用", "🦀", "\u{0}"];
        let n = splitmix(st) % (max + 1);
        (0..n)
            .map(|_| ALPHABET[(splitmix(st) % ALPHABET.len() as u64) as usize])
            .collect()
    }

    pub(crate) fn random_entry(st: &mut u64) -> Entry {
        let kind = EntryKind::ALL[(splitmix(st) % 8) as usize];
        let mut digest = [0u8; 32];
        for chunk in digest.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix(st).to_be_bytes());
        }
        let details = (0..splitmix(st) % 5)
            .map(|_| (text(st, 6), text(st, 12)))
            .collect();
        Entry {
            kind,
            at_unix_ms: splitmix(st) as i64,
            actor: text(st, 10),
            subject: text(st, 20),
            payload_digest: digest,
            details,
        }
    }

    fn sample() -> Entry {
        Entry {
            kind: EntryKind::Classification,
            at_unix_ms: 1_700_000_000_000,
            actor: "tok-planner".into(),
            subject: "enterprise/91350100M000100Y43".into(),
            payload_digest: payload_digest(b"classification record"),
            details: [
                ("tier".to_string(), "B".to_string()),
                ("rule_set".to_string(), "ab12".to_string()),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn documented_example_bytes() {
        let e = Entry {
            kind: EntryKind::Draw,
            at_unix_ms: 1,
            actor: "a".into(),
            subject: String::new(),
            payload_digest: [0; 32],
            details: BTreeMap::new(),
        };
        let mut want = b"CRLOG1".to_vec();
        want.push(4);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend_from_slice(&[0, 0, 0, 1, b'a']);
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&[0; 32]);
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(e.encode().expect("encode"), want);
        assert_eq!(want.len(), 60);
    }

    #[test]
    fn details_are_encoded_sorted_by_key_bytes() {
        let bytes = sample().encode().expect("encode");
        let rule = bytes
            .windows(8)
            .position(|w| w == b"rule_set")
            .expect("rule_set");
        let tier = bytes.windows(4).position(|w| w == b"tier").expect("tier");
        assert!(rule < tier);
        // The count precedes the pairs.
        let count_at = rule - 8;
        assert_eq!(&bytes[count_at..count_at + 4], &[0, 0, 0, 2]);
    }

    #[test]
    fn round_trips_generated_entries() {
        let mut st = 7;
        for i in 0..2000 {
            let e = random_entry(&mut st);
            let bytes = e.encode().expect("encode");
            let back = Entry::decode(&bytes).unwrap_or_else(|err| panic!("entry {i}: {err}"));
            assert_eq!(back, e);
            assert_eq!(back.encode().expect("re-encode"), bytes, "canonical");
            // The JSON form round-trips too.
            let json = serde_json::to_string(&e).expect("json");
            assert_eq!(serde_json::from_str::<Entry>(&json).expect("parse"), e);
        }
    }

    #[test]
    fn every_kind_round_trips_and_codes_are_stable() {
        for (i, k) in EntryKind::ALL.into_iter().enumerate() {
            assert_eq!(k.code() as usize, i + 1);
            assert_eq!(EntryKind::from_code(k.code()), Some(k));
            assert_eq!(serde_json::to_value(k).expect("json"), k.as_str());
            let e = Entry {
                kind: k,
                ..sample()
            };
            assert_eq!(
                Entry::decode(&e.encode().expect("encode")).expect("decode"),
                e
            );
        }
        assert_eq!(EntryKind::from_code(0), None);
        assert_eq!(EntryKind::from_code(10), None);
    }

    #[test]
    fn rejects_every_truncation_and_any_trailing_byte() {
        let mut st = 11;
        let mut entries: Vec<Entry> = (0..20).map(|_| random_entry(&mut st)).collect();
        entries.push(sample());
        for e in entries {
            let bytes = e.encode().expect("encode");
            for cut in 0..bytes.len() {
                assert!(
                    matches!(
                        Entry::decode(&bytes[..cut]),
                        Err(AuditError::InvalidEncoding { .. })
                    ),
                    "prefix of {cut} of {} bytes was accepted",
                    bytes.len()
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            let err = Entry::decode(&longer).expect_err("trailing byte");
            assert_eq!(
                err,
                AuditError::InvalidEncoding {
                    offset: bytes.len(),
                    reason: "1 trailing bytes".into()
                }
            );
        }
    }

    #[test]
    fn rejects_bad_magic_kind_lengths_utf8_and_order() {
        let good = sample().encode().expect("encode");
        let reject = |b: &[u8], want: &str| {
            let err = Entry::decode(b).expect_err(want).to_string();
            assert!(err.contains(want), "{err:?} does not mention {want:?}");
        };
        let mut b = good.clone();
        b[5] = b'2';
        reject(&b, "magic");
        for code in [0u8, 10, 255] {
            let mut b = good.clone();
            b[6] = code;
            reject(&b, &format!("unknown entry kind {code}"));
        }
        // actor length (at byte 15) one too long / absurdly long.
        let mut b = good.clone();
        b[18] += 1;
        assert!(Entry::decode(&b).is_err());
        let mut b = good.clone();
        b[15] = 0xff;
        reject(&b, "exceeds the limit");
        // invalid utf-8 in the actor.
        let mut b = good.clone();
        b[19] = 0xff;
        reject(&b, "not valid utf-8");
        // details count too large.
        let count_at = 6 + 1 + 8 + 4 + 11 + 4 + 29 + 32;
        assert_eq!(&good[count_at..count_at + 4], &[0, 0, 0, 2]);
        let mut b = good.clone();
        b[count_at + 3] = 3;
        assert!(Entry::decode(&b).is_err());
        let mut b = good.clone();
        b[count_at] = 1;
        reject(&b, "details count");
        // Swapped pairs (`tier` before `rule_set`) and a repeated key are non-canonical.
        let mut swapped = good[..count_at + 4].to_vec();
        for (k, v) in [("tier", "B"), ("rule_set", "ab12")] {
            put_text(&mut swapped, k);
            put_text(&mut swapped, v);
        }
        reject(&swapped, "out of order or repeated");
        let mut repeated = good[..count_at + 4].to_vec();
        for (k, v) in [("tier", "B"), ("tier", "C")] {
            put_text(&mut repeated, k);
            put_text(&mut repeated, v);
        }
        reject(&repeated, "out of order or repeated");
    }

    #[test]
    fn encode_enforces_limits() {
        let mut e = sample();
        e.subject = "x".repeat(MAX_TEXT_BYTES);
        Entry::decode(&e.encode().expect("at the limit")).expect("decode at the limit");
        e.subject.push('x');
        assert_eq!(
            e.encode(),
            Err(AuditError::EntryTooLarge {
                field: "subject".into(),
                got: MAX_TEXT_BYTES + 1,
                limit: MAX_TEXT_BYTES
            })
        );
        let mut e = sample();
        e.details = (0..=MAX_DETAILS)
            .map(|i| (format!("{i:03}"), String::new()))
            .collect();
        assert!(matches!(e.encode(), Err(AuditError::EntryTooLarge { .. })));
        let mut e = sample();
        e.details.insert("k".into(), "v".repeat(MAX_TEXT_BYTES + 1));
        assert!(e.encode().unwrap_err().to_string().contains("`details[k]`"));
    }

    #[test]
    fn known_answers_from_an_independent_implementation() {
        // Computed with a few lines of Python (struct + hashlib) from the module doc alone; the
        // same values are printed in docs/audit.md.
        let example = Entry {
            kind: EntryKind::Draw,
            at_unix_ms: 1,
            actor: "a".into(),
            subject: String::new(),
            payload_digest: [0; 32],
            details: BTreeMap::new(),
        };
        assert_eq!(
            hex::encode(example.leaf_hash().expect("leaf")),
            "f487ebab9a1d883c0bf57cae000d5f0d1152699e460631058bc989913c427b94"
        );
        let bytes = sample().encode().expect("encode");
        assert_eq!(
            hex::encode(&bytes),
            "43524c4f4731030000018bcfe568000000000b746f6b2d706c616e6e65720000001d656e7465727072\
             6973652f39313335303130304d30303031303059343393ed9f34239f03136dc3857298addff9a842bf\
             b94305fc5ec0f204c3c812c5e9000000020000000872756c655f73657400000004616231320000000474\
             6965720000000142"
        );
        assert_eq!(
            hex::encode(sample().leaf_hash().expect("leaf")),
            "ddd5558a17ca892ff31b356a27b188ea97c3d581c93ab5b1c8c46249e5036314"
        );
    }

    #[test]
    fn leaf_hash_is_rfc6962_leaf_of_encoding() {
        let e = sample();
        let mut data = vec![0u8];
        data.extend(e.encode().expect("encode"));
        assert_eq!(e.leaf_hash().expect("leaf"), payload_digest(&data));
    }

    #[test]
    fn json_form_is_strict() {
        let json = serde_json::to_value(sample()).expect("json");
        assert_eq!(json["kind"], "classification");
        assert_eq!(json["payload_digest"], hex::encode(sample().payload_digest));
        let mut extra = json.clone();
        extra["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Entry>(extra).is_err());
        let mut short = json;
        short["payload_digest"] = serde_json::json!("abcd");
        assert!(serde_json::from_value::<Entry>(short).is_err());
    }
}
