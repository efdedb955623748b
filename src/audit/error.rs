//! The audit core's error type, by category.
//!
//! Why a separate enum: the audit core is copied into the main crate as one unit and is also
//! usable by the offline verifier, which has no storage or gRPC. The lead maps [`AuditError`]
//! into the library's `Error` (`InvalidInput` for bad bundles and encodings, `Corrupt` for a
//! stored entry that fails to decode) in one `From` impl. Access-control failures have their
//! own type ([`crate::audit::access::AuthError`]) because they map to other gRPC codes and
//! their messages follow stricter rules (they must not leak anything).

/// Everything the audit core can reject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// A canonical entry encoding is invalid (truncated, bad length, unknown kind, non-canonical
    /// map order, trailing bytes, ...). `offset` is the byte where decoding stopped.
    #[error("invalid entry encoding at byte {offset}: {reason}")]
    InvalidEncoding {
        /// Byte offset into the encoding.
        offset: usize,
        /// What was wrong there.
        reason: String,
    },
    /// An entry field exceeds the documented limits of the canonical encoding.
    #[error("entry field `{field}` is too large: {got} exceeds the limit of {limit}")]
    EntryTooLarge {
        /// The field (`actor`, `subject`, `details`, or `details[<key>]`).
        field: String,
        /// Size found (bytes for strings, items for the map).
        got: usize,
        /// Allowed maximum.
        limit: usize,
    },
    /// A JSON document (signed tree head, audit bundle) could not be parsed.
    #[error("invalid {what}: {reason}")]
    InvalidJson {
        /// Which document (`signed tree head`, `audit bundle`, ...).
        what: &'static str,
        /// The parser's or validator's complaint.
        reason: String,
    },
    /// The bytes are not a valid Ed25519 public key.
    #[error("invalid ed25519 public key")]
    InvalidPublicKey,
    /// The signed head names a different key than the one it is verified with.
    #[error("key id `{got}` of the signed head does not match key id `{want}` of the public key")]
    KeyIdMismatch {
        /// Key id (hex) carried by the signed head.
        got: String,
        /// Key id (hex) of the public key used for verification.
        want: String,
    },
    /// The signature does not verify over the head's signing bytes.
    #[error("signature does not verify")]
    BadSignature,
    /// A token id is not 1 to 64 ASCII letters, digits or `-`.
    #[error("token id `{0}` must be 1 to 64 ascii letters, digits or `-`")]
    InvalidTokenId(String),
}
