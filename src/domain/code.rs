//! Unified social credit codes (统一社会信用代码, GB 32100-2015).
//!
//! 18 characters from a 31-character alphabet; the 18th is a check character over the first 17.
//! Real registers hold a few legacy codes whose check character is wrong. Those are accepted
//! only when the caller vouches for them, and are flagged wherever they appear, never silently.
//! The code never changes, so positions 3-8 may name a retired division: jurisdiction is kept
//! as a field of its own and never derived from the code.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The code alphabet: digits and upper-case letters without I, O, S, V, Z.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// An 18-character code drawn from [`ALPHABET`]. Its check character may be wrong
/// (see [`CreditCode::check_ok`]); whether that is acceptable is the caller's decision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode([u8; 18]);

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character GB 32100 prescribes for the first 17 characters, which must be in the
/// alphabet.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value(*c)? * w;
    }
    Some(ALPHABET[((31 - sum % 31) % 31) as usize])
}

impl CreditCode {
    /// Eighteen zeros, a code with a right check character that no register issues: it stands in
    /// for a code that did not parse while the rest of its record is checked, and is never
    /// stored (a record holding it always comes with a violation).
    pub const PLACEHOLDER: CreditCode = CreditCode(*b"000000000000000000");

    /// Parses the syntax: exactly 18 characters of the alphabet (upper case). The check character
    /// is not enforced here; see [`CreditCode::check_ok`].
    pub fn parse(s: &str) -> Result<CreditCode, String> {
        let b = s.as_bytes();
        if b.len() != 18 {
            // Quoted cut short: errors travel in HTTP/2 headers, which a huge value would break.
            let more = if s.chars().count() > 24 { "…" } else { "" };
            return Err(format!(
                "`{}{more}` has {} characters, a credit code has 18",
                crate::domain::validate::truncate(s, 24),
                s.chars().count()
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !c.is_ascii() || value(*c as u8).is_none())
        {
            return Err(format!(
                "`{s}` contains `{bad}`, which is not in the credit-code alphabet {}",
                String::from_utf8_lossy(ALPHABET)
            ));
        }
        let mut a = [0u8; 18];
        a.copy_from_slice(b);
        Ok(CreditCode(a))
    }

    /// Parses and requires a correct check character unless `legacy` is set.
    pub fn parse_checked(s: &str, legacy: bool) -> Result<CreditCode, String> {
        let c = CreditCode::parse(s)?;
        if !legacy && !c.check_ok() {
            return Err(format!(
                "`{s}` has check character `{}`, expected `{}`; a real legacy code must be marked legacy",
                c.0[17] as char,
                c.expected_check() as char
            ));
        }
        Ok(c)
    }

    /// Builds a valid code from its first 17 characters, or `None` if one is outside the alphabet.
    pub fn with_check(first17: &[u8; 17]) -> Option<CreditCode> {
        let mut a = [0u8; 18];
        a[..17].copy_from_slice(first17);
        a[17] = check_char(first17)?;
        Some(CreditCode(a))
    }

    /// True when the 18th character is the one GB 32100 prescribes.
    pub fn check_ok(&self) -> bool {
        self.expected_check() == self.0[17]
    }

    fn expected_check(&self) -> u8 {
        // INVARIANT (alphabet): `parse` admitted only alphabet characters, so this cannot fail.
        check_char(&self.0[..17]).unwrap_or(b'?')
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // INVARIANT (alphabet): only ASCII alphabet bytes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The 18 bytes, for keys.
    pub fn as_bytes(&self) -> &[u8; 18] {
        &self.0
    }

    /// Rebuilds a code from key bytes, re-checking the syntax.
    pub fn from_bytes(b: &[u8]) -> Option<CreditCode> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| CreditCode::parse(s).ok())
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.as_str())
    }
}

impl Serialize for CreditCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CreditCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_has_a_right_check_character() {
        assert!(CreditCode::PLACEHOLDER.check_ok());
    }

    #[test]
    fn valid_examples_from_the_domain_brief() {
        for s in [
            "91510100054946627W",
            "9151010032742290X5",
            "91310115MA1K3CUM7M",
            "91510132720386386A",
        ] {
            let c = CreditCode::parse_checked(s, false).unwrap();
            assert!(c.check_ok(), "{s}");
            assert_eq!(c.to_string(), s);
        }
    }

    #[test]
    fn legacy_code_needs_the_flag() {
        let s = "91350100M0001TGQXM";
        let err = CreditCode::parse_checked(s, false).unwrap_err();
        assert!(err.contains("check character `M`"), "{err}");
        assert!(!CreditCode::parse_checked(s, true).unwrap().check_ok());
    }

    #[test]
    fn every_single_character_change_is_caught_or_reported() {
        let s = b"91510100054946627W";
        for pos in 0..17 {
            for &c in ALPHABET {
                if c == s[pos] {
                    continue;
                }
                let mut t = *s;
                t[pos] = c;
                let code = CreditCode::parse(std::str::from_utf8(&t).unwrap()).unwrap();
                assert!(!code.check_ok(), "substitution at {pos} went unnoticed");
            }
        }
    }

    #[test]
    fn bad_syntax() {
        assert!(CreditCode::parse("91510100054946627")
            .unwrap_err()
            .contains("17 characters"));
        assert!(CreditCode::parse("9151010005494662IW")
            .unwrap_err()
            .contains("`I`"));
        assert!(CreditCode::parse("91510100054946627w")
            .unwrap_err()
            .contains("`w`"));
    }
}
