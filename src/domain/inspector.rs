//! Inspectors: the enforcement roster (执法检查人员名录库).

use super::code::CreditCode;
use super::date::Date;
use super::validate::{check_ident, check_jurisdiction, check_label, Violations};
use serde::{Deserialize, Serialize};

/// An enforcement inspector. `conflict_legal_representatives` holds pseudonyms once stored.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspector {
    /// Roster id; the key.
    pub inspector_id: String,
    /// Name.
    pub name: String,
    /// Department id.
    pub department: String,
    /// Jurisdictions covered.
    pub jurisdictions: Vec<String>,
    /// Qualification labels, e.g. `food`.
    pub qualifications: Vec<String>,
    /// Enforcement certificate number.
    pub certificate_number: String,
    /// Last day the certificate is valid.
    pub certificate_expiry: Date,
    /// Declared conflicts: enterprises.
    #[serde(default)]
    pub conflict_enterprises: Vec<CreditCode>,
    /// Declared conflicts: legal representatives.
    #[serde(default)]
    pub conflict_legal_representatives: Vec<String>,
    /// Active on the roster.
    pub active: bool,
}

/// A stored version of an inspector.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InspectorVersion {
    /// Ingest sequence number of this version.
    pub seq: u64,
    /// The record.
    pub inspector: Inspector,
}

impl Inspector {
    /// Checks every field; `path` prefixes field names.
    pub fn validate(&self, path: &str, v: &mut Violations) {
        let f = |n: &str| format!("{path}.{n}");
        v.parse(&f("inspector_id"), check_ident(&self.inspector_id));
        v.text(&f("name"), &self.name, true, 100);
        v.parse(&f("department"), check_ident(&self.department));
        if self.jurisdictions.is_empty() {
            v.add(f("jurisdictions"), "at least one jurisdiction is required");
        }
        for (i, j) in self.jurisdictions.iter().enumerate() {
            v.parse(&format!("{path}.jurisdictions[{i}]"), check_jurisdiction(j));
        }
        for (i, q) in self.qualifications.iter().enumerate() {
            v.parse(&format!("{path}.qualifications[{i}]"), check_label(q));
        }
        v.text(&f("certificate_number"), &self.certificate_number, true, 64);
        for (i, r) in self.conflict_legal_representatives.iter().enumerate() {
            v.text(
                &format!("{path}.conflict_legal_representatives[{i}]"),
                r,
                true,
                128,
            );
        }
    }

    /// True when the certificate is valid on `day`.
    pub fn certified_on(&self, day: Date) -> bool {
        day <= self.certificate_expiry
    }
}
