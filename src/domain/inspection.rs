//! Inspections and their result codes.
//!
//! An inspection is stored as a credit event of body [`EventBody::Inspection`] whose event id is
//! the inspection id: results are part of the enterprise's credit record and share the global
//! ingest order, so "everything known up to sequence N" includes them.

use super::code::CreditCode;
use super::date::Date;
use super::event::{CreditEvent, EventBody};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;

/// Result codes used by a provincial double-random system.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ResultCode {
    /// `1` no problem found.
    NoProblem,
    /// `3` food or drug violation.
    FoodDrugViolation,
    /// `4` quality or technical-supervision violation.
    QualityViolation,
    /// `5` another department's violation.
    OtherDepartmentViolation,
    /// `6` unreachable at the registered address.
    Unreachable,
    /// `7` closed or liquidating.
    Closed,
    /// `8` refused to cooperate (serious).
    Refused,
    /// `9` deregistered.
    Deregistered,
    /// `10` licence revoked.
    LicenceRevoked,
    /// `11` registration cancelled.
    RegistrationCancelled,
    /// `12` moved out.
    MovedOut,
    /// `A` problem found, follow-up pending.
    ProblemPending,
    /// `B` failed to publish required information.
    NotPublished,
    /// `C` published false information.
    FalseInformation,
    /// `D` other violation.
    OtherViolation,
    /// `E` problem found and corrected on order.
    Corrected,
    /// `F` no business activity of the inspected kind.
    NoActivity,
    /// `G` public-security violation.
    PublicSecurity,
}

const CODES: [(ResultCode, &str); 18] = [
    (ResultCode::NoProblem, "1"),
    (ResultCode::FoodDrugViolation, "3"),
    (ResultCode::QualityViolation, "4"),
    (ResultCode::OtherDepartmentViolation, "5"),
    (ResultCode::Unreachable, "6"),
    (ResultCode::Closed, "7"),
    (ResultCode::Refused, "8"),
    (ResultCode::Deregistered, "9"),
    (ResultCode::LicenceRevoked, "10"),
    (ResultCode::RegistrationCancelled, "11"),
    (ResultCode::MovedOut, "12"),
    (ResultCode::ProblemPending, "A"),
    (ResultCode::NotPublished, "B"),
    (ResultCode::FalseInformation, "C"),
    (ResultCode::OtherViolation, "D"),
    (ResultCode::Corrected, "E"),
    (ResultCode::NoActivity, "F"),
    (ResultCode::PublicSecurity, "G"),
];

impl ResultCode {
    /// The code as written in the provincial system (`1`, `3`-`12`, `A`-`G`).
    pub fn as_str(self) -> &'static str {
        CODES
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, s)| *s)
            .unwrap_or("?")
    }

    /// Parses a code; the error lists the valid ones.
    pub fn parse(s: &str) -> Result<ResultCode, String> {
        CODES
            .iter()
            .find(|(_, t)| *t == s.trim())
            .map(|(c, _)| *c)
            .ok_or_else(|| {
                format!(
                    "`{}` is not a result code (valid: 1, 3-12, A-G)",
                    s.escape_default()
                )
            })
    }

    /// True when the code records a violation or a problem found (3, 4, 5, 8, A, B, C, D, E, G).
    pub fn is_violation(self) -> bool {
        use ResultCode::*;
        matches!(
            self,
            FoodDrugViolation
                | QualityViolation
                | OtherDepartmentViolation
                | Refused
                | ProblemPending
                | NotPublished
                | FalseInformation
                | OtherViolation
                | Corrected
                | PublicSecurity
        )
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ResultCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An inspection as submitted by inspectors.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspection {
    /// Unique id; also the id of the credit event that records it.
    pub inspection_id: String,
    /// The inspected enterprise.
    pub credit_code: CreditCode,
    /// Inspection item id.
    pub item_id: String,
    /// Date of the inspection.
    pub date: Date,
    /// Department that carried it out (the lead one in a joint inspection).
    pub department: String,
    /// Inspectors who took part.
    pub inspector_ids: Vec<String>,
    /// Result codes.
    pub result_codes: BTreeSet<ResultCode>,
    /// The draw it came from.
    #[serde(default)]
    pub draw_id: Option<String>,
}

impl Inspection {
    /// The credit event that records this inspection.
    pub fn into_event(self) -> CreditEvent {
        CreditEvent {
            event_id: self.inspection_id,
            credit_code: self.credit_code,
            effective_date: self.date,
            source_department: self.department,
            body: EventBody::Inspection {
                item_id: self.item_id,
                inspector_ids: self.inspector_ids,
                result_codes: self.result_codes,
                draw_id: self.draw_id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (c, s) in CODES {
            assert_eq!(ResultCode::parse(s), Ok(c));
            assert_eq!(c.as_str(), s);
        }
        assert!(ResultCode::parse("2").unwrap_err().contains("`2`"));
        assert!(ResultCode::Refused.is_violation());
        assert!(!ResultCode::NoProblem.is_violation());
    }
}
