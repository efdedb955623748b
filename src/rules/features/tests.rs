use super::*;
use crate::domain::{AbnormalGround, CreditCode, RepairClass, TaxGrade};
use std::collections::BTreeSet;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn ent() -> Enterprise {
    Enterprise {
        credit_code: CreditCode::parse("91510100054946627W").unwrap(),
        legacy_code: false,
        name: "成都测试有限公司".into(),
        kind: EntityKind::Enterprise,
        registering_authority: "510104".into(),
        jurisdiction: "510104".into(),
        industry: "C1391".into(),
        established: d("2015-03-10"),
        registered_capital_yuan: 5_000_000,
        status: Status::Active,
        legal_representative: "lr:00112233445566778899aabbccddeeff".into(),
        address: "成都市锦江区".into(),
    }
}

struct B {
    events: Vec<StoredEvent>,
}

impl B {
    fn new() -> B {
        B { events: Vec::new() }
    }
    fn add(mut self, id: &str, date: &str, body: EventBody) -> B {
        let seq = self.events.len() as u64 + 1;
        self.events.push(StoredEvent {
            seq,
            event: CreditEvent {
                event_id: id.into(),
                credit_code: CreditCode::parse("91510100054946627W").unwrap(),
                effective_date: d(date),
                source_department: "samr".into(),
                body,
            },
        });
        self
    }
    fn at(&self, as_of: &str) -> FeatureVector {
        let e = ent();
        compute(
            &FeatureInput {
                enterprise: &e,
                events: &self.events,
                relations: Relations::default(),
            },
            d(as_of),
        )
    }
}

fn penalty(sev: Severity, amount: i64) -> EventBody {
    EventBody::Penalty {
        decision_number: "x".into(),
        amount_yuan: amount,
        severity: sev,
        kind: "fine".into(),
    }
}

#[test]
fn schema_is_ordered_and_named_uniquely() {
    let mut names = BTreeSet::new();
    let mut last = 0;
    for (i, f) in SCHEMA.iter().enumerate() {
        assert!(names.insert(f.name), "duplicate {}", f.name);
        let rank = match f.ty {
            Type::Int | Type::Bool => 0,
            Type::Str => 1,
            Type::StrList => 2,
        };
        assert!(rank >= last, "{} out of order", f.name);
        last = rank;
        assert_eq!(slot_of(f.name), Some(i));
        assert!(f.range.0 <= f.range.1);
    }
    assert_eq!(N_NUM + N_STR + N_LIST, SCHEMA.len());
    assert_eq!(SCHEMA[Feat::Penalties3y as usize].name, "penalties_3y");
    assert_eq!(SCHEMA[Feat::Licences as usize].ty, Type::StrList);
}

#[test]
fn window_boundaries_are_exact() {
    // as_of 2026-11-01: 3 years back is 2023-11-01, which is outside; 2023-11-02 is inside.
    let b = B::new()
        .add("p1", "2023-11-01", penalty(Severity::General, 100))
        .add("p2", "2023-11-02", penalty(Severity::Heavier, 1_000))
        .add("p3", "2025-11-01", penalty(Severity::Serious, 10_000))
        .add("p4", "2025-11-02", penalty(Severity::General, 100_000))
        .add("p5", "2026-11-01", penalty(Severity::General, 1))
        .add("p6", "2026-11-02", penalty(Severity::Serious, 7));
    let v = b.at("2026-11-01");
    assert_eq!(v.num(Feat::Penalties3y), 5 - 1);
    assert_eq!(v.num(Feat::Penalties2y), 3);
    assert_eq!(v.num(Feat::Penalties1y), 2);
    assert_eq!(v.num(Feat::PenaltyYuan3y), 1_000 + 10_000 + 100_000 + 1);
    assert_eq!(v.num(Feat::PenaltyYuan1y), 100_001);
    assert_eq!(v.num(Feat::PenaltiesHeavier3y), 1);
    assert_eq!(v.num(Feat::PenaltiesHeavier2y), 0);
    assert_eq!(v.num(Feat::PenaltiesSerious2y), 1);
    assert_eq!(v.num(Feat::PenaltiesSerious1y), 0);
    assert_eq!(v.num(Feat::PenaltiesGeneral1y), 2);
    // One day later, p2 leaves the 3-year window and p6 becomes visible.
    let v = b.at("2026-11-02");
    assert_eq!(v.num(Feat::Penalties3y), 4);
    assert_eq!(v.num(Feat::PenaltiesSerious1y), 1);
    // Leap day: 2028-02-29 minus one year is 2027-02-28 (outside).
    let b = B::new()
        .add("a", "2027-02-28", penalty(Severity::General, 1))
        .add("b", "2027-03-01", penalty(Severity::General, 1));
    assert_eq!(b.at("2028-02-29").num(Feat::Penalties1y), 1);
}

#[test]
fn repairs_remove_records_from_their_effective_date() {
    let b = B::new()
        .add("p1", "2025-01-10", penalty(Severity::Heavier, 1))
        .add(
            "a1",
            "2025-02-01",
            EventBody::AbnormalListEntry {
                ground: AbnormalGround::Unreachable,
            },
        )
        .add(
            "r1",
            "2025-06-01",
            EventBody::CreditRepair {
                repairs_event_id: "p1".into(),
                class: RepairClass::General,
            },
        )
        .add(
            "r2",
            "2025-09-01",
            EventBody::CreditRepair {
                repairs_event_id: "a1".into(),
                class: RepairClass::Minor,
            },
        )
        .add(
            "r3",
            "2025-09-01",
            EventBody::CreditRepair {
                repairs_event_id: "nope".into(),
                class: RepairClass::Minor,
            },
        );
    let before = b.at("2025-05-31");
    assert_eq!(before.num(Feat::Penalties3y), 1);
    assert_eq!(before.num(Feat::OnAbnormalList), 1);
    let mid = b.at("2025-06-01");
    assert_eq!(mid.num(Feat::Penalties3y), 0);
    assert_eq!(mid.num(Feat::OnAbnormalList), 1);
    assert_eq!(mid.num(Feat::RepairsApplied), 1);
    let after = b.at("2025-09-01");
    assert_eq!(after.num(Feat::OnAbnormalList), 0);
    assert_eq!(after.num(Feat::AbnormalEntries3y), 0);
    assert_eq!(after.num(Feat::RepairsApplied), 2);
}

#[test]
fn list_membership_entries_exits_and_years() {
    let b = B::new()
        .add(
            "a1",
            "2020-05-01",
            EventBody::AbnormalListEntry {
                ground: AbnormalGround::AnnualReportNotFiled,
            },
        )
        .add(
            "a2",
            "2021-05-01",
            EventBody::AbnormalListEntry {
                ground: AbnormalGround::Unreachable,
            },
        )
        .add(
            "s1",
            "2024-01-01",
            EventBody::SeriousListEntry { reason: "r".into() },
        )
        .add("s2", "2025-01-01", EventBody::SeriousListExit {});
    let v = b.at("2023-04-30");
    assert_eq!(v.num(Feat::OnAbnormalList), 1);
    assert_eq!(
        v.num(Feat::AbnormalListedYears),
        2,
        "the listing started 2020-05-01"
    );
    assert_eq!(
        v.num(Feat::AbnormalEntries3y),
        2,
        "2020-05-01 is after 2020-04-30"
    );
    assert_eq!(
        b.at("2023-05-01").num(Feat::AbnormalEntries3y),
        1,
        "2020-05-01 is exactly 3 years back"
    );
    assert_eq!(b.at("2023-05-01").num(Feat::AbnormalListedYears), 3);
    assert_eq!(b.at("2024-06-01").num(Feat::OnSeriousList), 1);
    let v = b.at("2025-01-01");
    assert_eq!(v.num(Feat::OnSeriousList), 0);
    assert_eq!(v.num(Feat::SeriousEntries3y), 1);
    // Exit recorded with an earlier seq but a later date still applies in date order.
    let b = B::new()
        .add("x", "2024-06-01", EventBody::AbnormalListExit {})
        .add(
            "e",
            "2024-01-01",
            EventBody::AbnormalListEntry {
                ground: AbnormalGround::FalseInformation,
            },
        );
    assert_eq!(b.at("2024-12-01").num(Feat::OnAbnormalList), 0);
    assert_eq!(b.at("2024-05-01").num(Feat::OnAbnormalList), 1);
}

#[test]
fn inspections_spot_checks_complaints() {
    let insp = |codes: &[&str]| EventBody::Inspection {
        item_id: "i".into(),
        inspector_ids: vec!["a".into()],
        result_codes: codes
            .iter()
            .map(|c| ResultCode::parse(c).unwrap())
            .collect(),
        draw_id: None,
    };
    let b = B::new()
        .add("i1", "2026-01-01", insp(&["1"]))
        .add("i2", "2026-02-01", insp(&["8", "4"]))
        .add("i3", "2024-03-01", insp(&["8"]))
        .add("i4", "2025-12-01", insp(&["6"]))
        .add("i5", "2025-12-02", insp(&["1", "E"]))
        .add(
            "s1",
            "2026-03-01",
            EventBody::SpotCheck {
                passed: false,
                product_category: "c".into(),
            },
        )
        .add(
            "s2",
            "2025-03-01",
            EventBody::SpotCheck {
                passed: false,
                product_category: "c".into(),
            },
        )
        .add(
            "s3",
            "2025-03-02",
            EventBody::SpotCheck {
                passed: true,
                product_category: "c".into(),
            },
        )
        .add("c1", "2026-10-01", EventBody::Complaint { verified: true })
        .add("c2", "2026-10-02", EventBody::Complaint { verified: false })
        .add("c3", "2025-06-01", EventBody::Complaint { verified: true })
        .add("c4", "2025-06-02", EventBody::Complaint { verified: true });
    let v = b.at("2026-11-01");
    assert_eq!(v.num(Feat::Inspections2y), 4);
    assert_eq!(v.num(Feat::InspectionsClean2y), 1);
    assert_eq!(v.num(Feat::InspectionsViolation2y), 2);
    assert_eq!(v.num(Feat::InspectionsRefused3y), 2);
    assert_eq!(v.num(Feat::InspectionsUnreachable2y), 1);
    assert_eq!(v.num(Feat::SpotCheckFailures1y), 1);
    assert_eq!(v.num(Feat::SpotCheckFailures2y), 2);
    assert_eq!(v.num(Feat::SpotChecks2y), 3);
    assert_eq!(v.num(Feat::Complaints1y), 2);
    assert_eq!(v.num(Feat::ComplaintsVerified1y), 1);
    assert_eq!(v.num(Feat::ComplaintsVerifiedPrev1y), 2);
    assert_eq!(v.num(Feat::ComplaintsGrowth), -1);
}

#[test]
fn annual_reports_tax_licences_and_sectors() {
    let rep = |y: i32, f: &str| EventBody::AnnualReport {
        year: y,
        filed_on: d(f),
    };
    let b = B::new()
        .add("r22", "2023-06-30", rep(2022, "2023-06-30"))
        .add("r23", "2024-05-01", rep(2023, "2024-05-01"))
        .add("r24", "2025-07-15", rep(2024, "2025-07-15"))
        .add(
            "t1",
            "2025-04-10",
            EventBody::TaxGrade {
                year: 2024,
                grade: TaxGrade::A,
            },
        )
        .add(
            "t0",
            "2025-05-10",
            EventBody::TaxGrade {
                year: 2023,
                grade: TaxGrade::D,
            },
        )
        .add(
            "l1",
            "2016-01-01",
            EventBody::LicenceGranted {
                kind: "food-production".into(),
            },
        )
        .add(
            "l2",
            "2017-01-01",
            EventBody::LicenceGranted {
                kind: "special-equipment".into(),
            },
        )
        .add(
            "l3",
            "2018-01-01",
            EventBody::LicenceRevoked {
                kind: "special-equipment".into(),
            },
        );
    // On 2026-06-30 the last due year is 2024 (filed late); on 2026-07-01 it is 2025 (missing).
    let v = b.at("2026-06-30");
    assert_eq!(v.num(Feat::AnnualReportMissing), 0);
    assert_eq!(
        v.num(Feat::AnnualReportsLate3y),
        1,
        "2022 and 2023 on time, 2024 late"
    );
    let v = b.at("2026-07-01");
    assert_eq!(v.num(Feat::AnnualReportMissing), 1);
    assert_eq!(v.num(Feat::AnnualReportsLate3y), 2);
    assert_eq!(
        v.str(Feat::TaxGrade as usize),
        "A",
        "latest by tax year, not by date"
    );
    assert_eq!(v.num(Feat::TaxGradeYear), 2024);
    assert_eq!(
        v.list(Feat::Licences as usize),
        ["food-production".to_string()]
    );
    assert_eq!(v.num(Feat::SectorFood), 1);
    assert_eq!(v.num(Feat::SectorSpecialEquipment), 0);
    assert_eq!(v.num(Feat::KeySector), 1);
    assert_eq!(v.num(Feat::AgeYears), 11);
    assert_eq!(v.str(Feat::IndustrySection as usize), "C");
    assert_eq!(v.str(Feat::EntityKind as usize), "enterprise");
    // An enterprise established in 2026 owes no report yet.
    let mut e = ent();
    e.established = d("2026-01-05");
    let v = compute(
        &FeatureInput {
            enterprise: &e,
            events: &[],
            relations: Relations::default(),
        },
        d("2026-11-01"),
    );
    assert_eq!(v.num(Feat::AnnualReportMissing), 0);
    assert_eq!(v.num(Feat::AgeYears), 0);
}

#[test]
fn relations_exclude_the_enterprise_itself() {
    let listed = B::new()
        .add(
            "s",
            "2025-01-01",
            EventBody::SeriousListEntry { reason: "r".into() },
        )
        .add("p", "2025-01-01", penalty(Severity::Serious, 1))
        .at("2026-01-01");
    let clean = B::new().at("2026-01-01");
    let mut total = RepContribution::default();
    for v in [&listed, &clean, &clean] {
        total.add(&RepContribution::of(v));
    }
    let r = Relations::from_totals(&total, &RepContribution::of(&clean));
    assert_eq!(
        r,
        Relations {
            other_enterprises: 2,
            others_on_serious_list: 1,
            others_on_abnormal_list: 0,
            others_penalised_3y: 1
        }
    );
    let r = Relations::from_totals(&total, &RepContribution::of(&listed));
    assert_eq!(r.others_on_serious_list, 0);
    let mut v = clean.clone();
    v.set_relations(&r);
    assert_eq!(v.num(Feat::RepOtherEnterprises), 2);
}

#[test]
fn set_rejects_unknown_names_and_wrong_types() {
    let mut v = FeatureVector::neutral();
    assert_eq!(
        v.set("penalites_3y", FeatureValue::Int(1)).unwrap_err(),
        "unknown feature `penalites_3y`"
    );
    assert!(v
        .set("on_serious_list", FeatureValue::Int(1))
        .unwrap_err()
        .contains("has type `bool`"));
    v.set("tax_grade", FeatureValue::Str("D".into())).unwrap();
    assert_eq!(
        v.value(Feat::TaxGrade as usize),
        Some(FeatureValue::Str("D".into()))
    );
}
