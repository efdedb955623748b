//! The two snapshots a draw reads: candidate enterprises and the inspector roster, with their
//! canonical digests.
//!
//! The caller builds both from storage at the as-of date (tiers change monthly, so the tier a
//! candidate had *then* is what counts). The digests let anyone check that a published bundle
//! holds the snapshot announced at draw time. Encodings, so an outsider can recompute them:
//!
//! **Candidate digest**: lower-case hex SHA-256 of the concatenation, over all candidates in
//! ascending byte order of the credit code, of `CODE TIER "\n"`: the 18 ASCII characters of the
//! code, the tier letter `A`-`D`, a line feed (20 bytes per candidate, no separators). In
//! Python: `sha256("".join(f"{c}{t}\n" for c, t in sorted(pairs)).encode()).hexdigest()`.
//!
//! **Roster digest**: lower-case hex SHA-256 of one line per inspector, in ascending byte order
//! of the inspector id, each line the UTF-8 text
//! `id TAB department TAB active TAB certificate_expiry TAB jurisdictions TAB qualifications TAB
//! conflict_enterprises TAB conflict_legal_representatives LF`, where `active` is `1` or `0`,
//! the expiry is `YYYY-MM-DD`, and each list is sorted ascending (byte order) and joined with
//! `,` (empty list: empty text). Fields may not contain TAB, LF or `,`
//! ([`validate_roster`] rejects them), so the encoding is unambiguous.

use super::error::DrawError;
use super::tier::Tier;
use crate::domain::validate::{check_ident, check_jurisdiction, check_label};
use crate::domain::{CreditCode, Date, EntityKind, Inspector, Status, Violations};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The last inspection of one item on an enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastInspection {
    /// Inspection item id.
    pub item_id: String,
    /// Date of that inspection.
    pub date: Date,
}

/// An enterprise as the draw sees it at the as-of date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Unified social credit code; unique in a snapshot.
    pub credit_code: CreditCode,
    /// Tier the enterprise had at the as-of date.
    pub tier: Tier,
    /// Supervising jurisdiction.
    pub jurisdiction: String,
    /// GB/T 4754 industry code.
    pub industry: String,
    /// Kind of entity.
    pub kind: EntityKind,
    /// Registration status at the as-of date.
    pub status: Status,
    /// Licence kinds held, e.g. `food-business`.
    #[serde(default)]
    pub licences: Vec<String>,
    /// Legal representative pseudonym (`lr:` + 32 hex digits), for conflict checks.
    pub legal_representative: String,
    /// Last inspection per item (only the items the caller cares about need be present).
    #[serde(default)]
    pub last_inspections: Vec<LastInspection>,
    /// Double-random inspections already made this calendar year.
    #[serde(default)]
    pub inspections_this_year: u32,
    /// Inspector ids of the team that last inspected the enterprise (any item); empty if none.
    #[serde(default)]
    pub last_team: Vec<String>,
}

/// The roster fields a draw uses of one inspector (no name, no certificate number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEntry {
    /// Roster id; unique.
    pub inspector_id: String,
    /// Department id.
    pub department: String,
    /// Active on the roster.
    pub active: bool,
    /// Last day the enforcement certificate is valid.
    pub certificate_expiry: Date,
    /// Jurisdictions covered.
    pub jurisdictions: Vec<String>,
    /// Qualification labels.
    pub qualifications: Vec<String>,
    /// Declared conflicts with enterprises.
    #[serde(default)]
    pub conflict_enterprises: Vec<CreditCode>,
    /// Declared conflicts with legal representatives (pseudonyms).
    #[serde(default)]
    pub conflict_legal_representatives: Vec<String>,
}

impl From<&Inspector> for RosterEntry {
    fn from(i: &Inspector) -> Self {
        RosterEntry {
            inspector_id: i.inspector_id.clone(),
            department: i.department.clone(),
            active: i.active,
            certificate_expiry: i.certificate_expiry,
            jurisdictions: i.jurisdictions.clone(),
            qualifications: i.qualifications.clone(),
            conflict_enterprises: i.conflict_enterprises.clone(),
            conflict_legal_representatives: i.conflict_legal_representatives.clone(),
        }
    }
}

impl RosterEntry {
    /// True when the certificate is valid on `day` (same rule as [`Inspector::certified_on`]).
    pub fn certified_on(&self, day: Date) -> bool {
        day <= self.certificate_expiry
    }
}

/// Candidate digest over `(code, tier)` pairs; see the module doc for the encoding. The order
/// of `pairs` does not matter.
pub fn candidate_digest(pairs: &mut [(CreditCode, Tier)]) -> String {
    pairs.sort_unstable();
    digest_sorted(pairs.iter().map(|(c, t)| (c, *t)))
}

/// The candidate digest of pairs already in ascending code order.
pub(crate) fn digest_sorted<'a>(pairs: impl Iterator<Item = (&'a CreditCode, Tier)>) -> String {
    let mut w = DigestWriter::new();
    for (code, tier) in pairs {
        w.push(code.as_bytes(), tier);
    }
    w.finish()
}

/// Streams the candidate digest: `push` the candidates in ascending code order, then `finish`.
/// Lines are gathered in a buffer hashed 80 KiB at a time.
pub(crate) struct DigestWriter {
    hasher: Sha256,
    buf: Vec<u8>,
}

impl DigestWriter {
    const FLUSH: usize = 20 * 4096;

    pub(crate) fn new() -> Self {
        DigestWriter {
            hasher: Sha256::new(),
            buf: Vec::with_capacity(Self::FLUSH + 20),
        }
    }

    /// Adds the line of one candidate: its 18 code bytes, its tier letter, a line feed.
    #[inline]
    pub(crate) fn push(&mut self, code: &[u8; 18], tier: Tier) {
        self.buf.extend_from_slice(code);
        self.buf.extend_from_slice(tier.as_str().as_bytes());
        self.buf.push(b'\n');
        if self.buf.len() >= Self::FLUSH {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    /// The lower-case hex digest.
    pub(crate) fn finish(mut self) -> String {
        self.hasher.update(&self.buf);
        hex::encode(self.hasher.finalize())
    }
}

/// Roster digest; see the module doc for the encoding. The order of `roster` and of the lists
/// inside each entry does not matter.
pub fn roster_digest(roster: &[RosterEntry]) -> String {
    let mut sorted: Vec<&RosterEntry> = roster.iter().collect();
    sorted.sort_by(|a, b| a.inspector_id.cmp(&b.inspector_id));
    let mut h = Sha256::new();
    for r in sorted {
        let join = |v: Vec<&str>| {
            let mut v = v;
            v.sort_unstable();
            v.join(",")
        };
        let line = format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.inspector_id,
            r.department,
            if r.active { 1 } else { 0 },
            r.certificate_expiry,
            join(r.jurisdictions.iter().map(String::as_str).collect()),
            join(r.qualifications.iter().map(String::as_str).collect()),
            join(
                r.conflict_enterprises
                    .iter()
                    .map(CreditCode::as_str)
                    .collect()
            ),
            join(
                r.conflict_legal_representatives
                    .iter()
                    .map(String::as_str)
                    .collect()
            ),
        );
        h.update(line.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Checks the roster: unique ids, well-formed fields, nothing that would make the digest
/// encoding ambiguous. Collects every problem under `roster[i]`.
pub fn validate_roster(roster: &[RosterEntry]) -> Result<(), DrawError> {
    let mut v = Violations::new();
    let mut ids: Vec<(&str, usize)> = roster
        .iter()
        .enumerate()
        .map(|(i, r)| (r.inspector_id.as_str(), i))
        .collect();
    ids.sort_unstable();
    for w in ids.windows(2) {
        if w[0].0 == w[1].0 {
            v.add(
                format!("roster[{}].inspector_id", w[1].1),
                format!("`{}` appears twice in the roster", w[1].0),
            );
        }
    }
    for (i, r) in roster.iter().enumerate() {
        let p = |n: &str| format!("roster[{i}].{n}");
        v.parse(&p("inspector_id"), check_ident(&r.inspector_id));
        v.parse(&p("department"), check_ident(&r.department));
        for (j, x) in r.jurisdictions.iter().enumerate() {
            v.parse(&p(&format!("jurisdictions[{j}]")), check_jurisdiction(x));
        }
        for (j, x) in r.qualifications.iter().enumerate() {
            v.parse(&p(&format!("qualifications[{j}]")), check_label(x));
        }
        for (j, x) in r.conflict_legal_representatives.iter().enumerate() {
            if x.is_empty() || x.contains([',', '\t', '\n']) || x.chars().any(char::is_control) {
                v.add(
                    p(&format!("conflict_legal_representatives[{j}]")),
                    format!(
                        "`{}` is empty or contains `,` or a control character",
                        x.escape_default()
                    ),
                );
            }
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(DrawError::Invalid(v.into_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> CreditCode {
        CreditCode::parse(s).unwrap()
    }

    #[test]
    fn candidate_digest_matches_the_documented_encoding() {
        let mut pairs = vec![
            (code("9151010032742290X5"), Tier::C),
            (code("91510100054946627W"), Tier::A),
        ];
        let text = "91510100054946627WA\n9151010032742290X5C\n";
        assert_eq!(
            candidate_digest(&mut pairs),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }

    #[test]
    fn roster_digest_matches_the_documented_encoding() {
        let r = RosterEntry {
            inspector_id: "i-2".into(),
            department: "amr".into(),
            active: true,
            certificate_expiry: Date::parse("2027-01-31").unwrap(),
            jurisdictions: vec!["510105".into(), "510104".into()],
            qualifications: vec!["food".into()],
            conflict_enterprises: vec![code("91510100054946627W")],
            conflict_legal_representatives: vec![],
        };
        let mut s = r.clone();
        s.inspector_id = "i-1".into();
        s.active = false;
        s.conflict_enterprises.clear();
        let text = "i-1\tamr\t0\t2027-01-31\t510104,510105\tfood\t\t\n\
                    i-2\tamr\t1\t2027-01-31\t510104,510105\tfood\t91510100054946627W\t\n";
        assert_eq!(
            roster_digest(&[r, s]),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }
}
