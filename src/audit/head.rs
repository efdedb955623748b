//! Signed tree heads: the log's size and Merkle root at a moment, signed with the service's
//! Ed25519 key.
//!
//! Why: a signed head is a commitment the service cannot take back. An auditor who saved one can
//! later demand a consistency proof from it to any newer head; if the service ever rewrote or
//! dropped an entry, no such proof exists, and the auditor holds the signed evidence.
//!
//! # Signing bytes, version 1
//!
//! The signature is plain Ed25519 (RFC 8032, not prehashed, no context) over exactly 54 bytes:
//!
//! | bytes | field                                          |
//! |-------|------------------------------------------------|
//! | 6     | the ASCII magic `CRSTH1` (`43 52 53 54 48 31`)  |
//! | 8     | `size`, `u64` big-endian                       |
//! | 32    | `root`, the RFC 6962 root of the first `size` entries |
//! | 8     | `at_unix_ms`, `i64` big-endian two's complement |
//!
//! The magic separates these bytes from anything else the key might sign. The key id
//! (first 8 bytes of SHA-256 of the 32-byte public key) is *not* signed: it only helps pick the
//! key, and [`verify_head`] checks it against the key anyway. Verification is strict
//! (`verify_strict`: no small-order keys or `R`, canonical `s`), so a signature has one form.
//!
//! # JSON form
//!
//! ```json
//! {"size": 3, "root": "<64 hex digits>", "at_unix_ms": 1700000000000,
//!  "signature": "<base64 of 64 bytes>", "key_id": "<16 hex digits>"}
//! ```
//!
//! Hex is lowercase when written and accepted in either case; base64 is standard with padding.
//! Unknown fields are rejected.
//!
//! Keys: [`Signer::from_seed`] takes the 32-byte Ed25519 secret seed from the caller (the
//! service reads it from `/dev/urandom` on first start and stores it); nothing here draws
//! randomness.

use crate::audit::error::AuditError;
use crate::audit::json::{b64, b64_array, hex_array};
use crate::audit::merkle::Hash;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// First bytes of the signing bytes of a version-1 tree head.
pub const HEAD_MAGIC: &[u8; 6] = b"CRSTH1";

/// The state of the log at a moment: its size, its Merkle root and when it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries in the log.
    pub size: u64,
    /// RFC 6962 root of those entries ([`crate::audit::merkle::EMPTY_ROOT`] when empty).
    pub root: Hash,
    /// When the head was taken, in milliseconds since the Unix epoch (an input).
    pub at_unix_ms: i64,
}

impl TreeHead {
    /// The exact 54 bytes that are signed, as documented in the module doc.
    pub fn signing_bytes(&self) -> [u8; 54] {
        let mut out = [0u8; 54];
        out[..6].copy_from_slice(HEAD_MAGIC);
        out[6..14].copy_from_slice(&self.size.to_be_bytes());
        out[14..46].copy_from_slice(&self.root);
        out[46..].copy_from_slice(&self.at_unix_ms.to_be_bytes());
        out
    }
}

/// A tree head with the service's signature and the id of the key that made it.
///
/// Serializes to (and parses from) the JSON form of the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SignedTreeHeadJson", into = "SignedTreeHeadJson")]
pub struct SignedTreeHead {
    /// The signed head.
    pub head: TreeHead,
    /// Ed25519 signature over [`TreeHead::signing_bytes`].
    pub signature: [u8; 64],
    /// [`key_id`] of the signing key.
    pub key_id: [u8; 8],
}

/// The JSON shape of a [`SignedTreeHead`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedTreeHeadJson {
    size: u64,
    root: String,
    at_unix_ms: i64,
    signature: String,
    key_id: String,
}

impl From<SignedTreeHead> for SignedTreeHeadJson {
    fn from(s: SignedTreeHead) -> Self {
        SignedTreeHeadJson {
            size: s.head.size,
            root: hex::encode(s.head.root),
            at_unix_ms: s.head.at_unix_ms,
            signature: b64(&s.signature),
            key_id: hex::encode(s.key_id),
        }
    }
}

impl TryFrom<SignedTreeHeadJson> for SignedTreeHead {
    /// The reason, which the JSON parser wraps with its position.
    type Error = String;

    fn try_from(j: SignedTreeHeadJson) -> Result<Self, String> {
        Ok(SignedTreeHead {
            head: TreeHead {
                size: j.size,
                root: hex_array(&j.root, "root")?,
                at_unix_ms: j.at_unix_ms,
            },
            signature: b64_array(&j.signature, "signature")?,
            key_id: hex_array(&j.key_id, "key_id")?,
        })
    }
}

impl SignedTreeHead {
    /// The JSON form of the module doc, on one line.
    pub fn to_json(&self) -> String {
        // Cannot fail: the JSON shape is a struct of strings and integers, no maps with
        // non-string keys and no fallible `Serialize` impls.
        serde_json::to_string(self).expect("signed tree head serializes")
    }

    /// Parses the JSON form; does not verify the signature (see [`verify_head`]).
    pub fn from_json(text: &str) -> Result<SignedTreeHead, AuditError> {
        serde_json::from_str(text).map_err(|e| AuditError::InvalidJson {
            what: "signed tree head",
            reason: e.to_string(),
        })
    }
}

/// The key id of a public key: the first 8 bytes of SHA-256 of its 32 bytes.
pub fn key_id(public_key: &[u8; 32]) -> [u8; 8] {
    let digest = Sha256::digest(public_key);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

/// Signs tree heads with the service's Ed25519 key. Its `Debug` shows only the key id; the
/// secret is wiped from memory when the signer is dropped (by `ed25519-dalek`).
pub struct Signer {
    key: SigningKey,
    key_id: [u8; 8],
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The signer for a 32-byte Ed25519 secret seed (RFC 8032 private key). Every seed is
    /// valid; the caller must draw it from a cryptographic source and keep it secret.
    pub fn from_seed(seed: [u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(&key.verifying_key().to_bytes());
        Signer { key, key_id }
    }

    /// The 32-byte Ed25519 public key, for export and for [`verify_head`].
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// [`key_id`] of this signer's public key.
    pub fn key_id(&self) -> [u8; 8] {
        self.key_id
    }

    /// Signs `head`. Deterministic (Ed25519): the same head gives the same signature.
    pub fn sign(&self, head: TreeHead) -> SignedTreeHead {
        use ed25519_dalek::Signer as _;
        let signature = self.key.sign(&head.signing_bytes()).to_bytes();
        SignedTreeHead {
            head,
            signature,
            key_id: self.key_id,
        }
    }
}

/// Checks that `signed` was signed by `public_key`: the key id must match the key, the key must
/// be a valid Ed25519 point, and the signature must verify strictly over the head's signing
/// bytes.
pub fn verify_head(public_key: &[u8; 32], signed: &SignedTreeHead) -> Result<(), AuditError> {
    let want = key_id(public_key);
    if signed.key_id != want {
        return Err(AuditError::KeyIdMismatch {
            got: hex::encode(signed.key_id),
            want: hex::encode(want),
        });
    }
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| AuditError::InvalidPublicKey)?;
    let signature = Signature::from_bytes(&signed.signature);
    key.verify_strict(&signed.head.signing_bytes(), &signature)
        .map_err(|_| AuditError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::EMPTY_ROOT;

    fn head() -> TreeHead {
        TreeHead {
            size: 12,
            root: [7; 32],
            at_unix_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn signing_bytes_layout() {
        let b = head().signing_bytes();
        assert_eq!(&b[..6], b"CRSTH1");
        assert_eq!(&b[6..14], &12u64.to_be_bytes());
        assert_eq!(&b[14..46], &[7; 32]);
        assert_eq!(&b[46..], &1_700_000_000_123i64.to_be_bytes());
        assert_eq!(
            hex::encode(b),
            "435253544831000000000000000c0707070707070707070707070707070707070707070707070707070707\
             0707070000018bcfe5687b"
        );
    }

    #[test]
    fn rfc8032_test_vector_1_key_and_signature() {
        // RFC 8032 section 7.1, TEST 1: our signer is plain Ed25519.
        let seed: [u8; 32] = hex_array(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "seed",
        )
        .expect("hex");
        let signer = Signer::from_seed(seed);
        assert_eq!(
            hex::encode(signer.public_key_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = ed25519_dalek::Signer::sign(&signer.key, b"");
        assert_eq!(
            hex::encode(sig.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(!format!("{signer:?}").contains("9d61"));
    }

    #[test]
    fn sign_and_verify() {
        let signer = Signer::from_seed([1; 32]);
        let pk = signer.public_key_bytes();
        let sth = signer.sign(head());
        assert_eq!(sth.key_id, key_id(&pk));
        assert_eq!(sth.key_id, signer.key_id());
        verify_head(&pk, &sth).expect("verifies");
        assert_eq!(signer.sign(head()), sth, "deterministic");
        let empty = signer.sign(TreeHead {
            size: 0,
            root: EMPTY_ROOT,
            at_unix_ms: -5,
        });
        verify_head(&pk, &empty).expect("verifies");
    }

    #[test]
    fn tampering_is_rejected() {
        let signer = Signer::from_seed([2; 32]);
        let pk = signer.public_key_bytes();
        let sth = signer.sign(head());

        let mut t = sth;
        t.head.size += 1;
        assert_eq!(verify_head(&pk, &t), Err(AuditError::BadSignature));
        let mut t = sth;
        t.head.root[31] ^= 1;
        assert_eq!(verify_head(&pk, &t), Err(AuditError::BadSignature));
        let mut t = sth;
        t.head.at_unix_ms -= 1;
        assert_eq!(verify_head(&pk, &t), Err(AuditError::BadSignature));
        for i in [0, 31, 32, 63] {
            let mut t = sth;
            t.signature[i] ^= 0x10;
            assert!(verify_head(&pk, &t).is_err(), "signature byte {i}");
        }
        let mut t = sth;
        t.key_id[0] ^= 1;
        assert!(matches!(
            verify_head(&pk, &t),
            Err(AuditError::KeyIdMismatch { .. })
        ));
        // Another key, even with the key id rewritten to match it.
        let other = Signer::from_seed([3; 32]).public_key_bytes();
        assert!(matches!(
            verify_head(&other, &sth),
            Err(AuditError::KeyIdMismatch { .. })
        ));
        let mut t = sth;
        t.key_id = key_id(&other);
        assert_eq!(verify_head(&other, &t), Err(AuditError::BadSignature));
        // A public key that is not a curve point (y = 2 does not decompress).
        let mut bad_pk = [0u8; 32];
        bad_pk[0] = 2;
        let mut t = sth;
        t.key_id = key_id(&bad_pk);
        assert_eq!(verify_head(&bad_pk, &t), Err(AuditError::InvalidPublicKey));
    }

    #[test]
    fn json_round_trip_and_tampering() {
        let signer = Signer::from_seed([4; 32]);
        let pk = signer.public_key_bytes();
        let sth = signer.sign(head());
        let json = sth.to_json();
        let back = SignedTreeHead::from_json(&json).expect("parse");
        assert_eq!(back, sth);
        verify_head(&pk, &back).expect("verifies");

        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["size"], 12);
        assert_eq!(v["root"], hex::encode([7u8; 32]));
        assert_eq!(v["key_id"].as_str().map(str::len), Some(16));

        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = v.clone();
            f(&mut v);
            SignedTreeHead::from_json(&v.to_string())
        };
        // Well-formed but tampered: parses, fails verification.
        for tampered in [
            edit(&|v| v["size"] = serde_json::json!(13)),
            edit(&|v| v["at_unix_ms"] = serde_json::json!(1)),
            edit(&|v| v["root"] = serde_json::json!(hex::encode([8u8; 32]))),
            edit(&|v| {
                let mut sig = b64_array::<64>(v["signature"].as_str().expect("s"), "s").expect("b");
                sig[5] ^= 1;
                v["signature"] = serde_json::json!(b64(&sig));
            }),
            edit(&|v| v["key_id"] = serde_json::json!("0000000000000000")),
        ] {
            let t = tampered.expect("still parses");
            assert!(verify_head(&pk, &t).is_err());
        }
        // Malformed: rejected at parsing, with the field named.
        for (bad, field) in [
            (edit(&|v| v["root"] = serde_json::json!("abcd")), "`root`"),
            (
                edit(&|v| v["root"] = serde_json::json!("zz".repeat(32))),
                "`root`",
            ),
            (
                edit(&|v| v["signature"] = serde_json::json!("AAAA")),
                "`signature`",
            ),
            (
                edit(&|v| v["signature"] = serde_json::json!("not base64!")),
                "`signature`",
            ),
            (edit(&|v| v["key_id"] = serde_json::json!("00")), "`key_id`"),
            (
                edit(&|v| v["extra"] = serde_json::json!(1)),
                "unknown field",
            ),
            (
                edit(&|v| v["size"] = serde_json::json!(-1)),
                "invalid value",
            ),
            (
                edit(&|v| {
                    v.as_object_mut().expect("object").remove("root");
                }),
                "missing field",
            ),
        ] {
            let err = bad.expect_err(field).to_string();
            assert!(err.starts_with("invalid signed tree head: "), "{err}");
            assert!(err.contains(field), "{err} should mention {field}");
        }
    }
}
