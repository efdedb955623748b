//! Records: enterprises, events, inspectors, inspections, page tokens.

use crate::domain::validate::Batch;
use crate::domain::{
    AbnormalGround, CreditCode, CreditEvent, Date, Enterprise, EnterpriseVersion, EntityKind,
    EventBody, FieldViolation, Inspection, Inspector, InspectorVersion, RepairClass, ResultCode,
    Severity, Status, StoredEvent, TaxGrade, Violations,
};
use crate::error::{Error, Result};
use crate::server::pb;
use base64::Engine as _;
use std::collections::BTreeSet;

/// Converts a batch, naming fields `records[i].…`; all problems are reported together.
pub fn batch<P, T>(
    items: Vec<P>,
    f: impl Fn(P, &str, &mut Violations) -> Option<T>,
) -> Result<Vec<T>> {
    let mut v = Violations::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, p) in items.into_iter().enumerate() {
        if let Some(t) = f(p, &format!("records[{i}]"), &mut v) {
            out.push(t);
        }
    }
    if v.is_empty() {
        Ok(out)
    } else {
        Err(Error::InvalidInput(v.into_vec()))
    }
}

/// Converts a batch for checking, naming fields `records[i].…`: a record that does not convert
/// does not stop the others, and every violation found is kept in the [`Batch`] for the later
/// checks to add to. Records that came with violations are marked flawed (and may hold
/// placeholders where a field did not parse); the batch is rejected as a whole if any has one.
pub fn parse_batch<P, T>(
    items: Vec<P>,
    f: impl Fn(P, &str, &mut Violations) -> Option<T>,
) -> Batch<T> {
    let mut b = Batch::with_capacity(items.len());
    for (i, p) in items.into_iter().enumerate() {
        let before = b.violations.len();
        if let Some(t) = f(p, &format!("records[{i}]"), &mut b.violations) {
            b.push(t, i, b.violations.len() > before);
        }
    }
    b
}

/// A date placeholder (for a date that did not parse, so that the other fields of the record can
/// still be checked; a record holding it always came with a violation and is never stored), late
/// enough that no year check of the record compares against it.
fn placeholder_date() -> Date {
    Date::from_ymd(crate::domain::date::MAX_YEAR, 12, 31).unwrap_or(Date::from_days(0))
}

/// A required date field.
pub fn date(v: &mut Violations, field: String, s: &str) -> Option<Date> {
    if s.is_empty() {
        v.add(field, "is required (YYYY-MM-DD)");
        return None;
    }
    v.parse(&field, Date::parse(s))
}

/// Parses a credit code (syntax only; the check character is checked where legacy codes are
/// known).
pub fn code(v: &mut Violations, field: String, s: &str) -> Option<CreditCode> {
    v.parse(&field, CreditCode::parse(s.trim()))
}

fn enum_value<E>(
    v: &mut Violations,
    field: String,
    raw: i32,
    name: &str,
    map: impl Fn(i32) -> Option<E>,
) -> Option<E> {
    let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    match map(raw) {
        Some(e) => Some(e),
        None if raw == 0 => {
            v.add(field, format!("is required ({a} {name})"));
            None
        }
        None => {
            v.add(field, format!("`{raw}` is not {a} {name}"));
            None
        }
    }
}

/// Entity kind from its proto number.
pub fn kind_from(raw: i32) -> Option<EntityKind> {
    use pb::EntityKind as K;
    Some(match K::try_from(raw).ok()? {
        K::Enterprise => EntityKind::Enterprise,
        K::IndividualBusiness => EntityKind::IndividualBusiness,
        K::FarmersCooperative => EntityKind::FarmersCooperative,
        K::Branch => EntityKind::Branch,
        K::Other => EntityKind::Other,
        K::Unspecified => return None,
    })
}

/// Entity kind to its proto number.
pub fn kind_to(k: EntityKind) -> pb::EntityKind {
    use pb::EntityKind as K;
    match k {
        EntityKind::Enterprise => K::Enterprise,
        EntityKind::IndividualBusiness => K::IndividualBusiness,
        EntityKind::FarmersCooperative => K::FarmersCooperative,
        EntityKind::Branch => K::Branch,
        EntityKind::Other => K::Other,
    }
}

/// Status from its proto number.
pub fn status_from(raw: i32) -> Option<Status> {
    use pb::EnterpriseStatus as S;
    Some(match S::try_from(raw).ok()? {
        S::Active => Status::Active,
        S::Deregistered => Status::Deregistered,
        S::Revoked => Status::Revoked,
        S::MovedOut => Status::MovedOut,
        S::Unspecified => return None,
    })
}

fn status_to(s: Status) -> pb::EnterpriseStatus {
    use pb::EnterpriseStatus as S;
    match s {
        Status::Active => S::Active,
        Status::Deregistered => S::Deregistered,
        Status::Revoked => S::Revoked,
        Status::MovedOut => S::MovedOut,
    }
}

/// Proto enterprise to domain; `None` if a field does not parse (each such field is a
/// violation).
pub fn enterprise_from(p: pb::Enterprise, at: &str, v: &mut Violations) -> Option<Enterprise> {
    enterprise_parts(p, at, v).and_then(|(e, complete)| complete.then_some(e))
}

/// [`enterprise_from`] for a batch being checked: a field that does not parse gets a placeholder
/// (and a violation), so the record's other fields are still checked.
pub fn enterprise_checked(p: pb::Enterprise, at: &str, v: &mut Violations) -> Option<Enterprise> {
    enterprise_parts(p, at, v).map(|(e, _)| e)
}

/// The enterprise, and whether every field parsed (else placeholders stand in).
fn enterprise_parts(p: pb::Enterprise, at: &str, v: &mut Violations) -> Option<(Enterprise, bool)> {
    let f = |n: &str| format!("{at}.{n}");
    let credit_code = code(v, f("credit_code"), &p.credit_code);
    let kind = enum_value(v, f("kind"), p.kind, "entity kind", kind_from);
    let status = enum_value(v, f("status"), p.status, "status", status_from);
    let established = date(v, f("established"), &p.established);
    let complete =
        credit_code.is_some() && kind.is_some() && status.is_some() && established.is_some();
    Some((
        Enterprise {
            credit_code: credit_code.unwrap_or(CreditCode::PLACEHOLDER),
            // A placeholder code has a right check character: no legacy question arises.
            legacy_code: p.legacy_code && complete,
            name: p.name,
            kind: kind.unwrap_or(EntityKind::Other),
            registering_authority: p.registering_authority,
            jurisdiction: p.jurisdiction,
            industry: p.industry,
            established: established.unwrap_or_else(placeholder_date),
            registered_capital_yuan: p.registered_capital_yuan,
            status: status.unwrap_or(Status::Active),
            legal_representative: p.legal_representative,
            address: p.address,
        },
        complete,
    ))
}

/// Domain enterprise to proto.
pub fn enterprise_to(e: &Enterprise, seq: u64) -> pb::Enterprise {
    pb::Enterprise {
        credit_code: e.credit_code.to_string(),
        legacy_code: e.legacy_code,
        name: e.name.clone(),
        kind: kind_to(e.kind) as i32,
        registering_authority: e.registering_authority.clone(),
        jurisdiction: e.jurisdiction.clone(),
        industry: e.industry.clone(),
        established: e.established.to_string(),
        registered_capital_yuan: e.registered_capital_yuan,
        status: status_to(e.status) as i32,
        legal_representative: e.legal_representative.clone(),
        address: e.address.clone(),
        seq,
        warnings: e.warnings(),
        tier: String::new(),
    }
}

/// A stored enterprise version to proto.
pub fn enterprise_version_to(e: &EnterpriseVersion) -> pb::Enterprise {
    enterprise_to(&e.enterprise, e.seq)
}

/// A set of result codes; each bad code is a violation under `at.result_codes[i]`.
pub fn result_codes(v: &mut Violations, at: &str, codes: &[String]) -> BTreeSet<ResultCode> {
    let mut out = BTreeSet::new();
    for (i, c) in codes.iter().enumerate() {
        if let Some(rc) = v.parse(&format!("{at}.result_codes[{i}]"), ResultCode::parse(c)) {
            out.insert(rc);
        }
    }
    out
}

/// An optional text field: empty means absent.
pub fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn body_from(b: Option<pb::credit_event::Body>, at: &str, v: &mut Violations) -> Option<EventBody> {
    use pb::credit_event::Body as B;
    let Some(b) = b else {
        v.add(format!("{at}.body"), "is required: one of penalty, abnormal_list_entry, abnormal_list_exit, serious_list_entry, serious_list_exit, spot_check, complaint, honour, tax_grade, annual_report, credit_repair, licence_granted, licence_revoked, inspection");
        return None;
    };
    Some(match b {
        B::Penalty(p) => {
            let at = format!("{at}.penalty");
            let severity = enum_value(
                v,
                format!("{at}.severity"),
                p.severity,
                "penalty severity",
                |r| {
                    use pb::PenaltySeverity as S;
                    match S::try_from(r).ok()? {
                        S::General => Some(Severity::General),
                        S::Heavier => Some(Severity::Heavier),
                        S::Serious => Some(Severity::Serious),
                        S::Unspecified => None,
                    }
                },
            )?;
            EventBody::Penalty {
                decision_number: p.decision_number,
                amount_yuan: p.amount_yuan,
                severity,
                kind: p.kind,
            }
        }
        B::AbnormalListEntry(e) => {
            let ground = enum_value(
                v,
                format!("{at}.abnormal_list_entry.ground"),
                e.ground,
                "abnormal-list ground",
                |r| {
                    use pb::AbnormalGround as G;
                    match G::try_from(r).ok()? {
                        G::AnnualReportNotFiled => Some(AbnormalGround::AnnualReportNotFiled),
                        G::InformationNotDisclosed => Some(AbnormalGround::InformationNotDisclosed),
                        G::FalseInformation => Some(AbnormalGround::FalseInformation),
                        G::Unreachable => Some(AbnormalGround::Unreachable),
                        G::Unspecified => None,
                    }
                },
            )?;
            EventBody::AbnormalListEntry { ground }
        }
        B::AbnormalListExit(_) => EventBody::AbnormalListExit {},
        B::SeriousListEntry(e) => EventBody::SeriousListEntry { reason: e.reason },
        B::SeriousListExit(_) => EventBody::SeriousListExit {},
        B::SpotCheck(s) => EventBody::SpotCheck {
            passed: s.passed,
            product_category: s.product_category,
        },
        B::Complaint(c) => EventBody::Complaint {
            verified: c.verified,
        },
        B::Honour(h) => EventBody::Honour { kind: h.kind },
        B::TaxGrade(t) => {
            let grade = enum_value(
                v,
                format!("{at}.tax_grade.grade"),
                t.grade,
                "tax grade",
                |r| {
                    use pb::TaxGrade as G;
                    match G::try_from(r).ok()? {
                        G::A => Some(TaxGrade::A),
                        G::B => Some(TaxGrade::B),
                        G::M => Some(TaxGrade::M),
                        G::C => Some(TaxGrade::C),
                        G::D => Some(TaxGrade::D),
                        G::Unspecified => None,
                    }
                },
            )?;
            EventBody::TaxGrade {
                year: t.year as i32,
                grade,
            }
        }
        B::AnnualReport(a) => {
            let filed_on = date(v, format!("{at}.annual_report.filed_on"), &a.filed_on)?;
            EventBody::AnnualReport {
                year: a.year as i32,
                filed_on,
            }
        }
        B::CreditRepair(r) => {
            let class = enum_value(
                v,
                format!("{at}.credit_repair.class"),
                r.class,
                "repair class",
                |x| {
                    use pb::RepairClass as C;
                    match C::try_from(x).ok()? {
                        C::Minor => Some(RepairClass::Minor),
                        C::General => Some(RepairClass::General),
                        C::Serious => Some(RepairClass::Serious),
                        C::Unspecified => None,
                    }
                },
            )?;
            EventBody::CreditRepair {
                repairs_event_id: r.repairs_event_id,
                class,
            }
        }
        B::LicenceGranted(l) => EventBody::LicenceGranted { kind: l.kind },
        B::LicenceRevoked(l) => EventBody::LicenceRevoked { kind: l.kind },
        B::Inspection(i) => EventBody::Inspection {
            result_codes: result_codes(v, &format!("{at}.inspection"), &i.result_codes),
            item_id: i.item_id,
            inspector_ids: i.inspector_ids,
            draw_id: opt(i.draw_id),
        },
    })
}

fn body_to(b: &EventBody) -> pb::credit_event::Body {
    use pb::credit_event::Body as B;
    match b.clone() {
        EventBody::Penalty {
            decision_number,
            amount_yuan,
            severity,
            kind,
        } => B::Penalty(pb::Penalty {
            decision_number,
            amount_yuan,
            severity: match severity {
                Severity::General => pb::PenaltySeverity::General,
                Severity::Heavier => pb::PenaltySeverity::Heavier,
                Severity::Serious => pb::PenaltySeverity::Serious,
            } as i32,
            kind,
        }),
        EventBody::AbnormalListEntry { ground } => B::AbnormalListEntry(pb::AbnormalListEntry {
            ground: match ground {
                AbnormalGround::AnnualReportNotFiled => pb::AbnormalGround::AnnualReportNotFiled,
                AbnormalGround::InformationNotDisclosed => {
                    pb::AbnormalGround::InformationNotDisclosed
                }
                AbnormalGround::FalseInformation => pb::AbnormalGround::FalseInformation,
                AbnormalGround::Unreachable => pb::AbnormalGround::Unreachable,
            } as i32,
        }),
        EventBody::AbnormalListExit {} => B::AbnormalListExit(pb::AbnormalListExit {}),
        EventBody::SeriousListEntry { reason } => {
            B::SeriousListEntry(pb::SeriousListEntry { reason })
        }
        EventBody::SeriousListExit {} => B::SeriousListExit(pb::SeriousListExit {}),
        EventBody::SpotCheck {
            passed,
            product_category,
        } => B::SpotCheck(pb::SpotCheck {
            passed,
            product_category,
        }),
        EventBody::Complaint { verified } => B::Complaint(pb::Complaint { verified }),
        EventBody::Honour { kind } => B::Honour(pb::Honour { kind }),
        EventBody::TaxGrade { year, grade } => B::TaxGrade(pb::TaxCreditGrade {
            year: year.max(0) as u32,
            grade: match grade {
                TaxGrade::A => pb::TaxGrade::A,
                TaxGrade::B => pb::TaxGrade::B,
                TaxGrade::M => pb::TaxGrade::M,
                TaxGrade::C => pb::TaxGrade::C,
                TaxGrade::D => pb::TaxGrade::D,
            } as i32,
        }),
        EventBody::AnnualReport { year, filed_on } => B::AnnualReport(pb::AnnualReport {
            year: year.max(0) as u32,
            filed_on: filed_on.to_string(),
        }),
        EventBody::CreditRepair {
            repairs_event_id,
            class,
        } => B::CreditRepair(pb::CreditRepair {
            repairs_event_id,
            class: match class {
                RepairClass::Minor => pb::RepairClass::Minor,
                RepairClass::General => pb::RepairClass::General,
                RepairClass::Serious => pb::RepairClass::Serious,
            } as i32,
        }),
        EventBody::LicenceGranted { kind } => B::LicenceGranted(pb::Licence { kind }),
        EventBody::LicenceRevoked { kind } => B::LicenceRevoked(pb::Licence { kind }),
        EventBody::Inspection {
            item_id,
            inspector_ids,
            result_codes,
            draw_id,
        } => B::Inspection(pb::InspectionResult {
            item_id,
            inspector_ids,
            result_codes: result_codes
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            draw_id: draw_id.unwrap_or_default(),
        }),
    }
}

/// Proto event to domain; `None` if a field does not parse (each such field is a violation).
pub fn event_from(p: pb::CreditEvent, at: &str, v: &mut Violations) -> Option<CreditEvent> {
    event_parts(p, at, v).and_then(|(e, complete)| complete.then_some(e))
}

/// [`event_from`] for a batch being checked: a credit code or date that does not parse gets a
/// placeholder (and a violation), so the record's other fields are still checked. A body that
/// does not parse leaves nothing to check.
pub fn event_checked(p: pb::CreditEvent, at: &str, v: &mut Violations) -> Option<CreditEvent> {
    event_parts(p, at, v).map(|(e, _)| e)
}

fn event_parts(p: pb::CreditEvent, at: &str, v: &mut Violations) -> Option<(CreditEvent, bool)> {
    let f = |n: &str| format!("{at}.{n}");
    let credit_code = code(v, f("credit_code"), &p.credit_code);
    let effective_date = date(v, f("effective_date"), &p.effective_date);
    let body = body_from(p.body, at, v);
    let complete = credit_code.is_some() && effective_date.is_some();
    Some((
        CreditEvent {
            event_id: p.event_id,
            credit_code: credit_code.unwrap_or(CreditCode::PLACEHOLDER),
            effective_date: effective_date.unwrap_or_else(placeholder_date),
            source_department: p.source_department,
            body: body?,
        },
        complete,
    ))
}

/// Domain event to proto.
pub fn event_to(e: &CreditEvent, seq: u64) -> pb::CreditEvent {
    pb::CreditEvent {
        event_id: e.event_id.clone(),
        credit_code: e.credit_code.to_string(),
        effective_date: e.effective_date.to_string(),
        source_department: e.source_department.clone(),
        body: Some(body_to(&e.body)),
        seq,
    }
}

/// A stored event to proto.
pub fn stored_event_to(e: &StoredEvent) -> pb::CreditEvent {
    event_to(&e.event, e.seq)
}

/// Proto inspector to domain; `None` if a field does not parse (each such field is a
/// violation).
pub fn inspector_from(p: pb::Inspector, at: &str, v: &mut Violations) -> Option<Inspector> {
    let (ins, complete) = inspector_parts(p, at, v);
    complete.then_some(ins)
}

/// [`inspector_from`] for a batch being checked: a field that does not parse gets a placeholder
/// or is left out (with a violation), so the record's other fields are still checked.
pub fn inspector_checked(p: pb::Inspector, at: &str, v: &mut Violations) -> Option<Inspector> {
    Some(inspector_parts(p, at, v).0)
}

fn inspector_parts(p: pb::Inspector, at: &str, v: &mut Violations) -> (Inspector, bool) {
    let f = |n: &str| format!("{at}.{n}");
    let expiry = date(v, f("certificate_expiry"), &p.certificate_expiry);
    let mut conflicts = Vec::new();
    for (i, c) in p.conflict_enterprises.iter().enumerate() {
        if let Some(c) = code(v, format!("{at}.conflict_enterprises[{i}]"), c) {
            conflicts.push(c);
        }
    }
    let complete = expiry.is_some() && conflicts.len() == p.conflict_enterprises.len();
    (
        Inspector {
            inspector_id: p.inspector_id,
            name: p.name,
            department: p.department,
            jurisdictions: p.jurisdictions,
            qualifications: p.qualifications,
            certificate_number: p.certificate_number,
            certificate_expiry: expiry.unwrap_or_else(placeholder_date),
            conflict_enterprises: conflicts,
            conflict_legal_representatives: p.conflict_legal_representatives,
            active: p.active,
        },
        complete,
    )
}

/// Domain inspector to proto.
pub fn inspector_to(i: &InspectorVersion) -> pb::Inspector {
    let x = &i.inspector;
    pb::Inspector {
        inspector_id: x.inspector_id.clone(),
        name: x.name.clone(),
        department: x.department.clone(),
        jurisdictions: x.jurisdictions.clone(),
        qualifications: x.qualifications.clone(),
        certificate_number: x.certificate_number.clone(),
        certificate_expiry: x.certificate_expiry.to_string(),
        conflict_enterprises: x
            .conflict_enterprises
            .iter()
            .map(|c| c.to_string())
            .collect(),
        conflict_legal_representatives: x.conflict_legal_representatives.clone(),
        active: x.active,
        seq: i.seq,
    }
}

/// Proto inspection to domain; `None` if a field does not parse (each such field is a
/// violation).
pub fn inspection_from(p: pb::Inspection, at: &str, v: &mut Violations) -> Option<Inspection> {
    let (i, complete) = inspection_parts(p, at, v);
    complete.then_some(i)
}

/// [`inspection_from`] for a batch being checked: a field that does not parse gets a placeholder
/// (and a violation), so the record's other fields are still checked.
pub fn inspection_checked(p: pb::Inspection, at: &str, v: &mut Violations) -> Option<Inspection> {
    Some(inspection_parts(p, at, v).0)
}

fn inspection_parts(p: pb::Inspection, at: &str, v: &mut Violations) -> (Inspection, bool) {
    let f = |n: &str| format!("{at}.{n}");
    let credit_code = code(v, f("credit_code"), &p.credit_code);
    let day = date(v, f("date"), &p.date);
    let result_codes = result_codes(v, at, &p.result_codes);
    let complete = credit_code.is_some() && day.is_some();
    (
        Inspection {
            inspection_id: p.inspection_id,
            credit_code: credit_code.unwrap_or(CreditCode::PLACEHOLDER),
            item_id: p.item_id,
            date: day.unwrap_or_else(placeholder_date),
            department: p.department,
            inspector_ids: p.inspector_ids,
            result_codes,
            draw_id: opt(p.draw_id),
        },
        complete,
    )
}

/// Domain inspection to proto.
pub fn inspection_to(i: &Inspection) -> pb::Inspection {
    pb::Inspection {
        inspection_id: i.inspection_id.clone(),
        credit_code: i.credit_code.to_string(),
        item_id: i.item_id.clone(),
        date: i.date.to_string(),
        department: i.department.clone(),
        inspector_ids: i.inspector_ids.clone(),
        result_codes: i
            .result_codes
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        draw_id: i.draw_id.clone().unwrap_or_default(),
    }
}

/// Write outcome to proto.
pub fn summary_to(o: crate::storage::WriteOutcome) -> pb::WriteSummary {
    pb::WriteSummary {
        accepted: o.accepted,
        duplicates: o.duplicates,
        seqs: o.seqs,
    }
}

/// Violations to proto.
pub fn violations_to(v: &[FieldViolation]) -> Vec<pb::FieldViolation> {
    v.iter()
        .map(|f| pb::FieldViolation {
            field: f.field.clone(),
            description: f.description.clone(),
        })
        .collect()
}

/// Page size: 0 means `default`; more than `max` is an error naming the value.
pub fn page_size(raw: u32, default: usize, max: usize) -> Result<usize> {
    match raw as usize {
        0 => Ok(default),
        n if n > max => Err(Error::invalid(
            "page_size",
            format!("`{n}` is larger than the maximum page size {max}"),
        )),
        n => Ok(n),
    }
}

/// An opaque page token: base64url of `v1|<filter fingerprint>|<position>`. The fingerprint makes
/// a token from one listing unusable with other filters instead of silently skipping records.
pub fn encode_token(filter: &str, position: &str) -> String {
    let fp = fingerprint(filter);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1|{fp}|{position}"))
}

/// Decodes a page token made by [`encode_token`] for the same filter; empty means the start.
pub fn decode_token(token: &str, filter: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| {
        Error::invalid(
            "page_token",
            format!("`{}` {why}", crate::domain::validate::truncate(token, 40)),
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad("is not a page token from this service"))?;
    let text = String::from_utf8(raw).map_err(|_| bad("is not a page token from this service"))?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(fp), Some(pos)) => {
            if fp != fingerprint(filter) {
                return Err(bad(
                    "was issued for other filters; start again without a token",
                ));
            }
            Ok(Some(pos.to_string()))
        }
        _ => Err(bad("is not a page token from this service")),
    }
}

fn fingerprint(filter: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(filter.as_bytes())[..6])
}
