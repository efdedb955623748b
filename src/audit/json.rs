//! Serde helpers for the JSON export forms: hashes and key ids as lowercase hex, public keys and
//! signatures as standard base64 with padding (RFC 4648 section 4).
//!
//! Why text encodings at all: the exported heads and audit bundles are read by people and by
//! tools in other languages; hex makes hashes easy to compare by eye and with `sha256sum`,
//! base64 is what most Ed25519 tooling prints. Decoding is strict: a wrong length or a
//! non-canonical base64 string is an error, never truncated or padded.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serializer};

/// Decodes hex into exactly `N` bytes, naming `what` in the error.
pub(crate) fn hex_array<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(format!(
            "`{what}` must be {} hex digits, got {}",
            2 * N,
            s.len()
        ));
    }
    hex::decode_to_slice(s, &mut out).map_err(|e| format!("`{what}` is not hex: {e}"))?;
    Ok(out)
}

/// Decodes standard padded base64 into exactly `N` bytes, naming `what` in the error.
pub(crate) fn b64_array<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("`{what}` is not base64: {e}"))?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("`{what}` must be {N} bytes, got {}", bytes.len()))
}

/// Standard padded base64.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `#[serde(with = "hex32")]` for `[u8; 32]`.
pub(crate) mod hex32 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        hex_array(&s, "hash").map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "hex32_vec")]` for `Vec<[u8; 32]>` (proof paths).
pub(crate) mod hex32_vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub(crate) fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&hex::encode(h))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| hex_array(s, "proof hash").map_err(serde::de::Error::custom))
            .collect()
    }
}

/// `#[serde(with = "b64_32")]` for a `[u8; 32]` public key.
pub(crate) mod b64_32 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        b64_array(&s, "public_key").map_err(serde::de::Error::custom)
    }
}
