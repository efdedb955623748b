//! Pseudonyms for personal identifiers.
//!
//! Legal representatives are linked across enterprises (a person behind several listed companies
//! is a risk signal), but raw identity-card numbers must never be stored. Every reference is
//! replaced at the edge by `lr:` + the first 16 bytes of HMAC-SHA256(key, reference) in hex. The
//! key is the deployment's secret: the same person gets the same pseudonym everywhere in one
//! deployment, and nobody without the key can test a guessed number against it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of every pseudonym.
pub const PREFIX: &str = "lr:";

/// Turns references into pseudonyms with a secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<secret>)")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer with this secret key (at least 16 bytes is sensible; 32 are generated).
    pub fn new(key: Vec<u8>) -> Self {
        Pseudonymizer { key }
    }

    /// True when `s` already has the pseudonym form `lr:` + 32 lower-case hex digits.
    pub fn is_pseudonym(s: &str) -> bool {
        s.strip_prefix(PREFIX).is_some_and(|h| {
            h.len() == 32
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }

    /// The pseudonym of `reference`; a value already in pseudonym form is kept as it is, so
    /// records read back from the service can be sent again unchanged.
    pub fn pseudonym(&self, reference: &str) -> String {
        if Self::is_pseudonym(reference) {
            return reference.to_string();
        }
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("hmac takes keys of any length"),
        };
        mac.update(reference.trim().as_bytes());
        let out = mac.finalize().into_bytes();
        format!("{PREFIX}{}", hex::encode(&out[..16]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_keyed_and_idempotent() {
        let p = Pseudonymizer::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let q = Pseudonymizer::new(b"another key, another deployment!".to_vec());
        let a = p.pseudonym("510104199001011234");
        assert!(Pseudonymizer::is_pseudonym(&a));
        assert_eq!(a, p.pseudonym("510104199001011234"));
        assert_ne!(a, q.pseudonym("510104199001011234"));
        assert_eq!(p.pseudonym(&a), a);
        assert!(!a.contains("1990"));
    }
}
