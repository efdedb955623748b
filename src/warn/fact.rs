//! Facts (the events group signals count), their compact codec, tier counts per group, and the
//! warning-only enterprise inputs ([`Extras`]).

use crate::domain::{CreditCode, Date, Enterprise, EventBody, StoredEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One event that group signals count, frozen with the enterprise's jurisdiction and industry as
/// they were when the event was ingested (so a group's count never changes afterwards, even if
/// the enterprise moves or the event is later repaired).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// Ingest sequence number of the event (snapshot cuts compare against it).
    pub seq: u64,
    /// The enterprise.
    pub credit_code: CreditCode,
    /// The event's effective date.
    pub date: Date,
    /// The enterprise's supervising jurisdiction at ingest.
    pub jurisdiction: String,
    /// The enterprise's GB/T 4754 industry code at ingest.
    pub industry: String,
    /// What happened.
    pub kind: FactKind,
}

/// The kinds of fact, each with whether it is *adverse* (what rates and changes count).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactKind {
    /// A product-quality spot check; adverse when failed.
    SpotCheck {
        /// True when the product passed.
        passed: bool,
        /// Product category as reported.
        product_category: String,
    },
    /// A complaint; adverse when verified.
    Complaint {
        /// True when verified.
        verified: bool,
    },
    /// An inspection; adverse when a violation code was found.
    Inspection {
        /// True when a result code is a violation ([`crate::domain::ResultCode::is_violation`]).
        violation: bool,
    },
}

impl FactKind {
    /// The rule-file name of the kind: `spot-check`, `complaint` or `inspection`.
    pub fn name(&self) -> &'static str {
        match self {
            FactKind::SpotCheck { .. } => "spot-check",
            FactKind::Complaint { .. } => "complaint",
            FactKind::Inspection { .. } => "inspection",
        }
    }

    /// Whether the fact is adverse: a failed spot check, a verified complaint, a violation.
    pub fn adverse(&self) -> bool {
        match self {
            FactKind::SpotCheck { passed, .. } => !passed,
            FactKind::Complaint { verified } => *verified,
            FactKind::Inspection { violation } => *violation,
        }
    }

    /// The product category of a spot check, `""` otherwise.
    pub fn product_category(&self) -> &str {
        match self {
            FactKind::SpotCheck {
                product_category, ..
            } => product_category,
            _ => "",
        }
    }
}

/// The fact an event contributes to group signals, if any (spot checks, complaints and
/// inspections), with `enterprise`'s jurisdiction and industry.
pub fn fact_of(enterprise: &Enterprise, event: &StoredEvent) -> Option<Fact> {
    let kind = match &event.event.body {
        EventBody::SpotCheck {
            passed,
            product_category,
        } => FactKind::SpotCheck {
            passed: *passed,
            product_category: product_category.clone(),
        },
        EventBody::Complaint { verified } => FactKind::Complaint {
            verified: *verified,
        },
        EventBody::Inspection { result_codes, .. } => FactKind::Inspection {
            violation: result_codes.iter().any(|c| c.is_violation()),
        },
        _ => return None,
    };
    Some(Fact {
        seq: event.seq,
        credit_code: event.event.credit_code,
        date: event.event.effective_date,
        jurisdiction: enterprise.jurisdiction.clone(),
        industry: enterprise.industry.clone(),
        kind,
    })
}

/// Version byte of the fact codec.
const FACT_V1: u8 = 1;
/// Longest jurisdiction or industry the codec accepts, in bytes.
const MAX_SHORT: usize = 255;
/// Longest product category the codec accepts, in bytes (100 characters of up to 4 bytes).
const MAX_CATEGORY: usize = 400;

impl Fact {
    /// Compact, versioned encoding: version `1`, seq (u64 BE), credit code (18 bytes), date (i32
    /// BE days), jurisdiction and industry (u8 length + UTF-8), kind tag (1 spot check, 2
    /// complaint, 3 inspection), flag (0/1), and for spot checks the category (u16 BE length +
    /// UTF-8). Strings longer than the codec allows are truncated at a character boundary
    /// (the domain's validation keeps them far shorter).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(48 + self.jurisdiction.len() + self.industry.len());
        b.push(FACT_V1);
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(self.credit_code.as_bytes());
        b.extend_from_slice(&self.date.days().to_be_bytes());
        for s in [&self.jurisdiction, &self.industry] {
            let s = truncate(s, MAX_SHORT);
            b.push(s.len() as u8);
            b.extend_from_slice(s.as_bytes());
        }
        let (tag, flag) = match &self.kind {
            FactKind::SpotCheck { passed, .. } => (1u8, *passed),
            FactKind::Complaint { verified } => (2, *verified),
            FactKind::Inspection { violation } => (3, *violation),
        };
        b.push(tag);
        b.push(flag as u8);
        if let FactKind::SpotCheck {
            product_category, ..
        } = &self.kind
        {
            let s = truncate(product_category, MAX_CATEGORY);
            b.extend_from_slice(&(s.len() as u16).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        b
    }

    /// Decodes [`Fact::encode`]'s output. Strict: an unknown version or tag, a flag other than
    /// 0/1, a bad credit code, a date outside the domain's years, invalid UTF-8, an over-long
    /// string or a trailing byte all give `None`.
    pub fn decode(b: &[u8]) -> Option<Fact> {
        let mut r = Reader(b);
        if r.u8()? != FACT_V1 {
            return None;
        }
        let seq = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let credit_code = CreditCode::from_bytes(r.take(18)?)?;
        let days = i32::from_be_bytes(r.take(4)?.try_into().ok()?);
        // Bound the day number before asking for a year (far-out values would overflow).
        let lo = Date::from_ymd(crate::domain::date::MIN_YEAR, 1, 1)?.days();
        let hi = Date::from_ymd(crate::domain::date::MAX_YEAR, 12, 31)?.days();
        if !(lo..=hi).contains(&days) {
            return None;
        }
        let date = Date::from_days(days);
        let jn = r.u8()? as usize;
        let jurisdiction = r.str(jn)?;
        let inl = r.u8()? as usize;
        let industry = r.str(inl)?;
        let tag = r.u8()?;
        let flag = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let kind = match tag {
            1 => {
                let n = u16::from_be_bytes(r.take(2)?.try_into().ok()?) as usize;
                if n > MAX_CATEGORY {
                    return None;
                }
                FactKind::SpotCheck {
                    passed: flag,
                    product_category: r.str(n)?,
                }
            }
            2 => FactKind::Complaint { verified: flag },
            3 => FactKind::Inspection { violation: flag },
            _ => return None,
        };
        if !r.0.is_empty() {
            return None;
        }
        Some(Fact {
            seq,
            credit_code,
            date,
            jurisdiction,
            industry,
            kind,
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn str(&mut self, n: usize) -> Option<String> {
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// Tier counts (`[A, B, C, D]`) per `(jurisdiction, industry section)`, for concentration
/// signals.
pub type GroupTiers = BTreeMap<(String, String), [u64; 4]>;

/// "None on record" for the `days_since_*` extras.
pub const NEVER: i64 = 100_000;

/// Warning-only enterprise inputs, computed from the same events and as-of date as the
/// features by [`extras`]. Events after `as_of` and repaired events are ignored, as for the
/// features.
/// `Default` (and a missing field when deserialising) is "none on record", [`Extras::none`],
/// not zero days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Extras {
    /// Days from the latest serious-list entry to `as_of` (0 = that day); 100000 when none.
    pub days_since_serious_entry: i64,
    /// Days since the latest failed spot check; 100000 when none.
    pub days_since_failed_spot_check: i64,
    /// Days since the latest verified complaint; 100000 when none.
    pub days_since_verified_complaint: i64,
    /// Failed spot checks in the last 90 days (`as_of - 90 < date <= as_of`).
    pub failed_spot_checks_90d: i64,
    /// Verified complaints in the last 90 days.
    pub verified_complaints_90d: i64,
}

impl Default for Extras {
    fn default() -> Extras {
        Extras::none()
    }
}

impl Extras {
    /// No event on record: every `days_since_*` is 100000, every count 0.
    pub fn none() -> Extras {
        Extras {
            days_since_serious_entry: NEVER,
            days_since_failed_spot_check: NEVER,
            days_since_verified_complaint: NEVER,
            failed_spot_checks_90d: 0,
            verified_complaints_90d: 0,
        }
    }

    /// The value of the extra named `name` (see [`EXTRAS`]).
    pub fn get(&self, name: &str) -> Option<i64> {
        Some(match name {
            "days_since_serious_entry" => self.days_since_serious_entry,
            "days_since_failed_spot_check" => self.days_since_failed_spot_check,
            "days_since_verified_complaint" => self.days_since_verified_complaint,
            "failed_spot_checks_90d" => self.failed_spot_checks_90d,
            "verified_complaints_90d" => self.verified_complaints_90d,
            _ => return None,
        })
    }

    /// Sets the extra named `name`; false for an unknown name.
    pub fn set(&mut self, name: &str, v: i64) -> bool {
        let slot = match name {
            "days_since_serious_entry" => &mut self.days_since_serious_entry,
            "days_since_failed_spot_check" => &mut self.days_since_failed_spot_check,
            "days_since_verified_complaint" => &mut self.days_since_verified_complaint,
            "failed_spot_checks_90d" => &mut self.failed_spot_checks_90d,
            "verified_complaints_90d" => &mut self.verified_complaints_90d,
            _ => return false,
        };
        *slot = v;
        true
    }
}

/// The extras as `(name, inclusive range, meaning)`, in schema order.
pub const EXTRAS: &[(&str, (i64, i64), &str)] = &[
    (
        "days_since_serious_entry",
        (0, NEVER),
        "days since the latest serious-list entry (100000 when none)",
    ),
    (
        "days_since_failed_spot_check",
        (0, NEVER),
        "days since the latest failed spot check (100000 when none)",
    ),
    (
        "days_since_verified_complaint",
        (0, NEVER),
        "days since the latest verified complaint (100000 when none)",
    ),
    (
        "failed_spot_checks_90d",
        (0, NEVER),
        "failed spot checks in the last 90 days",
    ),
    (
        "verified_complaints_90d",
        (0, NEVER),
        "verified complaints in the last 90 days",
    ),
];

/// Computes the [`Extras`] of one enterprise from its events (cut at the same sequence number as
/// the features) as of `as_of`.
pub fn extras(events: &[StoredEvent], as_of: Date) -> Extras {
    let visible = |se: &&StoredEvent| se.event.effective_date <= as_of;
    let mut repaired: Vec<&str> = events
        .iter()
        .filter(visible)
        .filter_map(|se| match &se.event.body {
            EventBody::CreditRepair {
                repairs_event_id, ..
            } => Some(repairs_event_id.as_str()),
            _ => None,
        })
        .collect();
    repaired.sort_unstable();
    repaired.dedup();
    let mut x = Extras::none();
    let w90 = as_of.add_days(-90);
    for se in events.iter().filter(visible) {
        let ev = &se.event;
        if repaired.binary_search(&ev.event_id.as_str()).is_ok() {
            continue;
        }
        let days = (as_of.days() - ev.effective_date.days()) as i64;
        let days = days.clamp(0, NEVER);
        let in90 = ev.effective_date > w90;
        match &ev.body {
            EventBody::SeriousListEntry { .. } => {
                x.days_since_serious_entry = x.days_since_serious_entry.min(days)
            }
            EventBody::SpotCheck { passed: false, .. } => {
                x.days_since_failed_spot_check = x.days_since_failed_spot_check.min(days);
                x.failed_spot_checks_90d += in90 as i64;
            }
            EventBody::Complaint { verified: true } => {
                x.days_since_verified_complaint = x.days_since_verified_complaint.min(days);
                x.verified_complaints_90d += in90 as i64;
            }
            _ => {}
        }
    }
    x
}
