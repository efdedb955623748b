//! Enterprises: the supervised market entities.

use super::code::CreditCode;
use super::date::Date;
use super::validate::{check_division, check_industry, check_jurisdiction, Violations};
use serde::{Deserialize, Serialize};

/// Kind of market entity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    /// A company or other enterprise.
    Enterprise,
    /// An individual business (个体工商户).
    IndividualBusiness,
    /// A farmers' specialised cooperative.
    FarmersCooperative,
    /// A branch of an enterprise.
    Branch,
    /// Anything else.
    Other,
}

/// Registration status.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Operating: may be drawn for inspection.
    Active,
    /// Deregistered (注销).
    Deregistered,
    /// Business licence revoked (吊销).
    Revoked,
    /// Moved out of the jurisdiction (迁出).
    MovedOut,
}

/// An enterprise as stored. Its `legal_representative` is always a pseudonym (`lr:` + 32 hex
/// digits) once stored: see [`crate::domain::pseudonym`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enterprise {
    /// Unified social credit code; the key.
    pub credit_code: CreditCode,
    /// The code's check character is wrong and the caller vouched that it is a real legacy code.
    #[serde(default)]
    pub legacy_code: bool,
    /// Registered name.
    pub name: String,
    /// Kind of entity.
    pub kind: EntityKind,
    /// 6-digit division code of the registering authority.
    pub registering_authority: String,
    /// Supervising jurisdiction: division code or zone id.
    pub jurisdiction: String,
    /// GB/T 4754 industry code.
    pub industry: String,
    /// Date of establishment.
    pub established: Date,
    /// Registered capital in yuan.
    pub registered_capital_yuan: i64,
    /// Registration status.
    pub status: Status,
    /// Legal representative reference (pseudonym once stored).
    pub legal_representative: String,
    /// Registered address.
    pub address: String,
}

impl Enterprise {
    /// Checks every field; `path` prefixes the field names (e.g. `records[2]`).
    pub fn validate(&self, path: &str, v: &mut Violations) {
        if !self.legacy_code && !self.credit_code.check_ok() {
            v.parse::<()>(
                &format!("{path}.credit_code"),
                CreditCode::parse_checked(self.credit_code.as_str(), false).map(|_| ()),
            );
        }
        v.text(&format!("{path}.name"), &self.name, true, 200);
        let f = |n: &str| format!("{path}.{n}");
        v.parse(
            &f("registering_authority"),
            check_division(&self.registering_authority),
        );
        v.parse(&f("jurisdiction"), check_jurisdiction(&self.jurisdiction));
        v.parse(&f("industry"), check_industry(&self.industry));
        if self.registered_capital_yuan < 0 {
            v.add(
                f("registered_capital_yuan"),
                format!("`{}` is negative", self.registered_capital_yuan),
            );
        }
        v.text(
            &f("legal_representative"),
            &self.legal_representative,
            true,
            128,
        );
        v.text(&f("address"), &self.address, false, 300);
    }

    /// Notes a reader must see with this record (for example that the code is a legacy code).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.legacy_code {
            w.push(format!(
                "legacy credit code `{}`: its check character is wrong; accepted because the caller marked it legacy",
                self.credit_code
            ));
        }
        w
    }

    /// The GB/T 4754 section letter.
    pub fn industry_section(&self) -> &str {
        self.industry.get(..1).unwrap_or("")
    }
}

/// A stored version of an enterprise: the record and the ingest sequence number that wrote it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EnterpriseVersion {
    /// Ingest sequence number of this version.
    pub seq: u64,
    /// The record.
    pub enterprise: Enterprise,
}
