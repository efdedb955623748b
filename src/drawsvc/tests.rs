//! Snapshots read the store as it was at a cut and as of a date.

use super::snapshot::{candidates, inspectors, UNCLASSIFIED_TIER};
use crate::domain::*;
use crate::draw::Tier;
use std::collections::BTreeSet;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn ent(code: &str, jurisdiction: &str) -> Enterprise {
    Enterprise {
        credit_code: CreditCode::parse(code).unwrap(),
        legacy_code: false,
        name: "成都测试有限公司".into(),
        kind: EntityKind::Enterprise,
        registering_authority: "510104".into(),
        jurisdiction: jurisdiction.into(),
        industry: "H6210".into(),
        established: d("2015-03-10"),
        registered_capital_yuan: 5_000_000,
        status: Status::Active,
        legal_representative: "person-1".into(),
        address: "成都市锦江区".into(),
    }
}

fn insp(id: &str, dept: &str) -> Inspector {
    Inspector {
        inspector_id: id.into(),
        name: "检查员".into(),
        department: dept.into(),
        jurisdictions: vec!["510104".into()],
        qualifications: vec!["food".into()],
        certificate_number: "川执1".into(),
        certificate_expiry: d("2030-12-31"),
        conflict_enterprises: vec![],
        conflict_legal_representatives: vec![],
        active: true,
    }
}

fn ev(id: &str, code: &str, date: &str, body: EventBody) -> CreditEvent {
    CreditEvent {
        event_id: id.into(),
        credit_code: CreditCode::parse(code).unwrap(),
        effective_date: d(date),
        source_department: "samr-chengdu".into(),
        body,
    }
}

const X: &str = "91510100054946627W";
const Y: &str = "91510132720386386A";

#[tokio::test]
async fn snapshots_honour_the_cut_and_the_as_of_date() {
    let (app, stopper) = crate::app::test_app().await;
    app.upsert_enterprises(vec![ent(X, "510104")])
        .await
        .unwrap();
    app.upsert_inspectors(vec![insp("a", "samr"), insp("b", "samr")], "test")
        .await
        .unwrap();
    let code = CreditCode::parse(X).unwrap();
    app.append_events(vec![
        ev(
            "lic",
            X,
            "2026-01-01",
            EventBody::LicenceGranted {
                kind: "food".into(),
            },
        ),
        ev(
            "ins",
            X,
            "2026-03-01",
            EventBody::Inspection {
                item_id: "food".into(),
                inspector_ids: vec!["a".into(), "b".into()],
                result_codes: BTreeSet::from([ResultCode::NoProblem]),
                draw_id: Some("d0".into()),
            },
        ),
        ev(
            "rev",
            X,
            "2026-10-01",
            EventBody::LicenceRevoked {
                kind: "food".into(),
            },
        ),
    ])
    .await
    .unwrap();
    let c = app.classifier().clone();
    let first = tokio::task::spawn_blocking(move || {
        c.classify_one_blocking(code, d("2026-06-01"), None, true)
    })
    .await
    .unwrap()
    .unwrap();
    let t1 = crate::classify::record::tier_of(first.record.tier).unwrap();
    let cut1 = app.classifier().cut().unwrap();

    // After cut1: a serious listing and a D classification as of October, a new enterprise,
    // a moved enterprise and a changed inspector.
    app.append_events(vec![ev(
        "serious",
        X,
        "2026-09-20",
        EventBody::SeriousListEntry {
            reason: "fraud".into(),
        },
    )])
    .await
    .unwrap();
    let c = app.classifier().clone();
    let second = tokio::task::spawn_blocking(move || {
        c.classify_one_blocking(code, d("2026-10-01"), None, true)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(second.record.tier, 3, "serious listing is D");
    app.upsert_enterprises(vec![ent(Y, "510104"), ent(X, "510107")])
        .await
        .unwrap();
    let mut moved = insp("a", "samr");
    moved.active = false;
    app.upsert_inspectors(vec![moved], "test").await.unwrap();
    let cut2 = app.classifier().cut().unwrap();
    let records = app.records().clone();

    // As of September at cut2: the June classification, the licence still held, the inspection.
    let s = candidates(&records, cut2, d("2026-09-01"), 2026).unwrap();
    assert_eq!(s.candidates.len(), 2);
    let x = &s.candidates[0];
    assert_eq!(x.credit_code, code);
    assert_eq!(x.tier, t1);
    assert_eq!(x.jurisdiction, "510107", "the version current at cut2");
    assert_eq!(x.licences, vec!["food".to_string()]);
    assert_eq!(x.last_inspections.len(), 1);
    assert_eq!(x.last_inspections[0].date, d("2026-03-01"));
    assert_eq!(x.inspections_this_year, 1);
    assert_eq!(x.last_team, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(s.candidates[1].tier, UNCLASSIFIED_TIER);
    assert_eq!(s.unclassified, 1);
    // The yearly count is per calendar year.
    let s = candidates(&records, cut2, d("2026-09-01"), 2027).unwrap();
    assert_eq!(s.candidates[0].inspections_this_year, 0);

    // As of mid-October at cut2: the October classification (D), the licence revoked.
    let s = candidates(&records, cut2, d("2026-10-15"), 2026).unwrap();
    assert_eq!(s.candidates[0].tier, Tier::D);
    assert!(s.candidates[0].licences.is_empty());

    // At cut1 nothing written later is seen: one enterprise, old jurisdiction, June tier.
    let s = candidates(&records, cut1, d("2026-10-15"), 2026).unwrap();
    assert_eq!(s.candidates.len(), 1);
    assert_eq!(s.candidates[0].jurisdiction, "510104");
    assert_eq!(s.candidates[0].tier, t1);
    assert_eq!(s.unclassified, 0);

    // Rosters likewise.
    let now = inspectors(&records, cut2).unwrap();
    let then = inspectors(&records, cut1).unwrap();
    assert!(!now[0].active);
    assert!(then[0].active);
    assert_eq!(then.len(), 2);
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
