//! Credit events: the append-only facts the rules read.
//!
//! Every event has a caller-supplied unique id (so re-sending is safe), the enterprise's code,
//! the date it takes effect (windows such as "in the last 3 years" are counted from it) and the
//! department that reported it. Events are never changed or deleted: a correction is a new event
//! (an exit from a list, a credit repair naming the event it repairs).

use super::code::CreditCode;
use super::date::Date;
use super::inspection::ResultCode;
use super::validate::{check_ident, check_label, Violations};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Severity of an administrative penalty.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// General (一般).
    General,
    /// Heavier (较重).
    Heavier,
    /// Serious (严重).
    Serious,
}

/// The four grounds for the abnormal-operations list.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbnormalGround {
    /// Annual report not filed by 30 June.
    AnnualReportNotFiled,
    /// Required information not disclosed in time.
    InformationNotDisclosed,
    /// False information published.
    FalseInformation,
    /// Unreachable at the registered address.
    Unreachable,
}

/// Tax credit grade (纳税信用等级).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum TaxGrade {
    /// 90 points or more.
    A,
    /// 70-90.
    B,
    /// New or without income.
    M,
    /// 40-70.
    C,
    /// Under 40 or seriously dishonest.
    D,
}

/// Repair class, which decides the repair period.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepairClass {
    /// Up to 3 months.
    Minor,
    /// 3 months to 1 year.
    General,
    /// 1 to 3 years.
    Serious,
}

/// What happened.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
/// Externally tagged (`{"penalty": {...}}`, names as in the proto) because the storage encoding
/// (postcard) cannot read internally tagged enums.
#[serde(rename_all = "snake_case")]
pub enum EventBody {
    /// An administrative penalty decision.
    Penalty {
        /// Decision document number.
        decision_number: String,
        /// Amount in yuan (0 for non-monetary penalties).
        amount_yuan: i64,
        /// Severity.
        severity: Severity,
        /// Kind, e.g. `fine`, `licence-revocation`.
        kind: String,
    },
    /// Entered the abnormal-operations list.
    AbnormalListEntry {
        /// On which ground.
        ground: AbnormalGround,
    },
    /// Left the abnormal-operations list.
    AbnormalListExit {},
    /// Entered the serious illegal and dishonest list.
    SeriousListEntry {
        /// Why, in words.
        reason: String,
    },
    /// Left the serious list.
    SeriousListExit {},
    /// Product-quality spot check.
    SpotCheck {
        /// True when the product passed.
        passed: bool,
        /// Product category.
        product_category: String,
    },
    /// Complaint, e.g. through the 12345 hotline.
    Complaint {
        /// True when verified.
        verified: bool,
    },
    /// Honour such as a quality award.
    Honour {
        /// Kind label, e.g. `quality-award`.
        kind: String,
    },
    /// Yearly tax credit grade.
    TaxGrade {
        /// Tax year.
        year: i32,
        /// Grade.
        grade: TaxGrade,
    },
    /// Annual report filed.
    AnnualReport {
        /// Report year.
        year: i32,
        /// Filing date.
        filed_on: Date,
    },
    /// Credit repair of an earlier event of the same enterprise.
    CreditRepair {
        /// The repaired event.
        repairs_event_id: String,
        /// Class.
        class: RepairClass,
    },
    /// Licence granted.
    LicenceGranted {
        /// Kind label, e.g. `food`.
        kind: String,
    },
    /// Licence revoked.
    LicenceRevoked {
        /// Kind label.
        kind: String,
    },
    /// An inspection and its results.
    Inspection {
        /// Inspection item id.
        item_id: String,
        /// Inspectors who took part.
        inspector_ids: Vec<String>,
        /// Result codes (a set).
        result_codes: BTreeSet<ResultCode>,
        /// The draw it came from, if any.
        #[serde(default)]
        draw_id: Option<String>,
    },
}

impl EventBody {
    /// Short name of the body kind, as used in field paths and filters.
    pub fn kind_name(&self) -> &'static str {
        match self {
            EventBody::Penalty { .. } => "penalty",
            EventBody::AbnormalListEntry { .. } => "abnormal_list_entry",
            EventBody::AbnormalListExit {} => "abnormal_list_exit",
            EventBody::SeriousListEntry { .. } => "serious_list_entry",
            EventBody::SeriousListExit {} => "serious_list_exit",
            EventBody::SpotCheck { .. } => "spot_check",
            EventBody::Complaint { .. } => "complaint",
            EventBody::Honour { .. } => "honour",
            EventBody::TaxGrade { .. } => "tax_grade",
            EventBody::AnnualReport { .. } => "annual_report",
            EventBody::CreditRepair { .. } => "credit_repair",
            EventBody::LicenceGranted { .. } => "licence_granted",
            EventBody::LicenceRevoked { .. } => "licence_revoked",
            EventBody::Inspection { .. } => "inspection",
        }
    }
}

/// A credit event as submitted.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditEvent {
    /// Caller-supplied id, unique across all events.
    pub event_id: String,
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Date the event takes effect.
    pub effective_date: Date,
    /// Reporting department id.
    pub source_department: String,
    /// What happened.
    pub body: EventBody,
}

/// A stored event with its global ingest sequence number.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Global ingest sequence number.
    pub seq: u64,
    /// The event.
    pub event: CreditEvent,
}

impl CreditEvent {
    /// Checks every field that can be checked without the store; `path` prefixes field names.
    /// The credit code's check character is checked by the store, which knows legacy codes.
    pub fn validate(&self, path: &str, v: &mut Violations) {
        let f = |n: &str| format!("{path}.{n}");
        v.parse(&f("event_id"), check_ident(&self.event_id));
        v.parse(
            &f("source_department"),
            check_ident(&self.source_department),
        );
        let b = format!("{path}.{}", self.body.kind_name());
        let bf = |n: &str| format!("{b}.{n}");
        let year_ok = |v: &mut Violations, name: &str, year: i32| {
            if !(1978..=self.effective_date.year() + 1).contains(&year) {
                v.add(
                    bf(name),
                    format!(
                        "`{year}` is not a plausible year for an event effective {}",
                        self.effective_date
                    ),
                );
            }
        };
        match &self.body {
            EventBody::Penalty {
                decision_number,
                amount_yuan,
                kind,
                ..
            } => {
                v.text(&bf("decision_number"), decision_number, true, 100);
                if *amount_yuan < 0 {
                    v.add(bf("amount_yuan"), format!("`{amount_yuan}` is negative"));
                }
                v.parse(&bf("kind"), check_label(kind));
            }
            EventBody::SeriousListEntry { reason } => v.text(&bf("reason"), reason, false, 500),
            EventBody::SpotCheck {
                product_category, ..
            } => v.text(&bf("product_category"), product_category, true, 100),
            EventBody::Honour { kind }
            | EventBody::LicenceGranted { kind }
            | EventBody::LicenceRevoked { kind } => {
                v.parse(&bf("kind"), check_label(kind));
            }
            EventBody::TaxGrade { year, .. } => year_ok(v, "year", *year),
            EventBody::AnnualReport { year, filed_on } => {
                year_ok(v, "year", *year);
                if filed_on.year() <= *year {
                    v.add(
                        bf("filed_on"),
                        format!("`{filed_on}` is not after the report year `{year}`"),
                    );
                }
            }
            EventBody::CreditRepair {
                repairs_event_id, ..
            } => {
                v.parse(&bf("repairs_event_id"), check_ident(repairs_event_id));
                if *repairs_event_id == self.event_id {
                    v.add(bf("repairs_event_id"), "an event cannot repair itself");
                }
            }
            EventBody::Inspection {
                item_id,
                inspector_ids,
                result_codes,
                draw_id,
            } => {
                v.parse(&bf("item_id"), check_ident(item_id));
                if inspector_ids.is_empty() {
                    v.add(bf("inspector_ids"), "at least one inspector is required");
                }
                let mut seen = BTreeSet::new();
                for (i, id) in inspector_ids.iter().enumerate() {
                    v.parse(&format!("{b}.inspector_ids[{i}]"), check_ident(id));
                    if !seen.insert(id) {
                        v.add(
                            format!("{b}.inspector_ids[{i}]"),
                            format!("`{id}` is listed twice"),
                        );
                    }
                }
                if result_codes.is_empty() {
                    v.add(bf("result_codes"), "at least one result code is required");
                }
                if let Some(d) = draw_id {
                    v.parse(&bf("draw_id"), check_ident(d));
                }
            }
            EventBody::AbnormalListEntry { .. }
            | EventBody::AbnormalListExit {}
            | EventBody::SeriousListExit {}
            | EventBody::Complaint { .. } => {}
        }
    }
}
