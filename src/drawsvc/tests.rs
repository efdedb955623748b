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

/// A test app with draws enabled (embedded policy and calendar) and a demo population's
/// enterprises and roster stored (no events: every enterprise is unclassified).
async fn demo_draw_app(
    entities: usize,
) -> (crate::app::App, crate::app::Stopper, crate::demo::DemoData) {
    let (mut app, stopper) = crate::app::test_app().await;
    let (policy, calendar) = super::Draws::embedded_rules().unwrap();
    app.enable_draws_with(policy, calendar);
    let data = crate::demo::generate(entities, 11);
    app.upsert_enterprises(data.enterprises.clone())
        .await
        .unwrap();
    app.upsert_inspectors(data.inspectors.clone(), "test")
        .await
        .unwrap();
    (app, stopper, data)
}

fn key_item() -> crate::draw::InspectionItem {
    crate::draw::InspectionItem {
        id: "key-all".into(),
        name: "重点检查".into(),
        basis: "test".into(),
        departments: vec!["samr-chengdu".into()],
        kind: crate::draw::ItemKind::Key,
        qualifications: vec!["general".into()],
        scope: crate::draw::Scope::default(),
    }
}

/// Differentiated supervision: a group ratio override recorded on an alert raises the ratio in
/// its district for draws inside its validity, shows in the record (policy and `groups`), and
/// the draw still replays and verifies offline; bad overrides are refused naming the field.
#[tokio::test]
async fn group_ratio_overrides_apply_to_draws_and_show_in_their_records() {
    use crate::draw::{GroupRatio, TierValues};
    let (app, stopper, data) = demo_draw_app(3_000).await;
    let ratio = GroupRatio {
        basis: "W7".into(),
        district: Some("510104".into()),
        industry: None,
        ratio_per_mille: TierValues {
            a: 1000,
            b: 1000,
            c: 1000,
            d: 1000,
        },
        valid_from: d("2026-11-01"),
        valid_until: d("2026-11-30"),
    };
    let (view, later, errors) = app
        .draw_op(move |dr| {
            dr.upsert_items(vec![key_item()])?;
            let mut errors = Vec::new();
            // Bad inputs first: each names its field.
            let mut low = ratio.clone();
            low.basis = "W8".into();
            low.ratio_per_mille.a = 1;
            let mut long = ratio.clone();
            long.basis = "W9".into();
            long.valid_until = d("2028-01-01");
            let mut nowhere = ratio.clone();
            nowhere.basis = "W10".into();
            nowhere.district = None;
            nowhere.industry = Some("c1".into());
            for bad in [low, long, nowhere] {
                errors.push(
                    dr.record_group_ratio(bad, "planner", 1)
                        .unwrap_err()
                        .to_string(),
                );
            }
            dr.record_group_ratio(ratio.clone(), "planner", 1)?;
            errors.push(
                dr.record_group_ratio(ratio.clone(), "planner", 2)
                    .unwrap_err()
                    .to_string(),
            );
            let spec = |date: &str, id: &str| {
                DrawSpecFor {
                    id: id.into(),
                    inspection_date: d(date),
                }
                .spec()
            };
            let view = dr.create(&spec("2026-11-20", "dr-in"), "planner", 3)?;
            let later = dr.create(&spec("2026-12-01", "dr-after"), "planner", 4)?;
            let export = dr.export("dr-in", crate::domain::Lang::Zh)?;
            crate::draw::verify_bundle(&export.bundle.json)?;
            Ok((view, later, errors))
        })
        .await
        .unwrap();
    assert!(
        errors[0].contains("group_ratio.ratio_per_mille.A") && errors[0].contains("only raises"),
        "{errors:?}"
    );
    assert!(errors[1].contains("group_ratio.valid_until"), "{errors:?}");
    assert!(
        errors[2].contains("group_ratio.industry") && errors[2].contains("`c1`"),
        "{errors:?}"
    );
    assert!(
        errors[3].contains("conflict") && errors[3].contains("`W7`"),
        "{errors:?}"
    );
    // In force: the record's policy carries the override and `groups` its counts; every
    // eligible enterprise of 510104 is drawn.
    let rec = &view.record;
    assert_eq!(rec.policy.group_ratios.len(), 1);
    assert_eq!(rec.groups.len(), 1);
    let g = &rec.groups[0];
    assert_eq!(g.basis, "W7");
    let eligible: u64 = g.tiers.iter().map(|t| t.eligible).sum();
    let drawn: u64 = g.tiers.iter().map(|t| t.k).sum();
    assert!(eligible > 50 && drawn == eligible, "{g:?}");
    let in_district: BTreeSet<CreditCode> = data
        .enterprises
        .iter()
        .filter(|e| e.jurisdiction == "510104")
        .map(|e| e.credit_code)
        .collect();
    let selected_there = rec
        .selected
        .iter()
        .filter(|s| in_district.contains(&s.credit_code))
        .count() as u64;
    assert_eq!(selected_there, eligible);
    assert!(rec.to_json().contains("\"basis\": \"W7\""));
    // After its validity: the plain policy.
    assert!(later.record.policy.group_ratios.is_empty() && later.record.groups.is_empty());
    assert!((rec.selected.len() as u64) > later.record.selected.len() as u64);
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}

/// A draw spec for the test item.
struct DrawSpecFor {
    id: String,
    inspection_date: Date,
}

impl DrawSpecFor {
    fn spec(self) -> super::DrawSpec {
        super::DrawSpec {
            draw_id: Some(self.id),
            item_id: "key-all".into(),
            seed: Some("seed-2026".into()),
            as_of: d("2026-11-01"),
            inspection_date: self.inspection_date,
            departments: Vec::new(),
            jurisdictions: Vec::new(),
            overrides: crate::draw::PolicyOverrides::default(),
        }
    }
}

/// A joint targeted draw from an alert: the alert's enterprises are the scope, the routed
/// departments make the teams (each department sending its share of every staffed team), and
/// the draw replays and verifies like any other.
#[tokio::test]
async fn joint_targeted_draw_from_an_alert_uses_the_ordinary_draw_path() {
    use crate::warn::routing::Routing;
    use crate::warn::{Evidence, Firing, Level};
    let (app, stopper, data) = demo_draw_app(3_000).await;
    let routing =
        Routing::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/routing.toml"))
            .unwrap();
    let codes: Vec<CreditCode> = data
        .enterprises
        .iter()
        .filter(|e| e.jurisdiction == "510104" && e.status == Status::Active)
        .map(|e| e.credit_code)
        .take(6)
        .collect();
    let firing = Firing {
        rule_id: "group.spot-check-failure-rate".into(),
        subject: "group/district=510104;product_category=糕点".into(),
        level: Level::Red,
        evidence: Evidence::new(),
        enterprises: codes.clone(),
        sectors: Vec::new(),
        group: vec![
            ("district".into(), "510104".into()),
            ("product_category".into(), "糕点".into()),
        ],
    };
    // The cross-department case of the plan: market regulation's food division with health,
    // both from the routing of the product category.
    let target = super::AlertTarget::from_firing("W3", "糕点抽检不合格率偏高", &firing, &routing);
    assert_eq!(target.departments, ["samr-chengdu-food", "health-chengdu"]);
    let (view, bad) = app
        .draw_op(move |dr| {
            let view = dr.joint_draw_for_alert(
                &target,
                d("2026-11-01"),
                d("2026-11-20"),
                Some("joint-seed".into()),
                "planner",
                5,
                None,
            )?;
            let export = dr.export(&view.record.draw_id, crate::domain::Lang::Zh)?;
            crate::draw::verify_bundle(&export.bundle.json)?;
            let mut empty = target.clone();
            empty.enterprises.clear();
            empty.district = None;
            let bad = dr
                .joint_draw_for_alert(&empty, d("2026-11-01"), d("2026-11-20"), None, "p", 6, None)
                .unwrap_err()
                .to_string();
            Ok((view, bad))
        })
        .await
        .unwrap();
    assert!(bad.contains("target.enterprises"), "{bad}");
    let rec = &view.record;
    assert_eq!(rec.item.id, "alert-W3");
    assert_eq!(rec.departments, ["samr-chengdu-food", "health-chengdu"]);
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(rec.item.scope.credit_codes, sorted);
    assert_eq!(rec.out_of_scope, rec.total_candidates - codes.len() as u64);
    // Every eligible listed enterprise is drawn, nothing else.
    let eligible: u64 = rec.tiers.iter().map(|t| t.eligible).sum();
    assert!(eligible > 0);
    assert_eq!(rec.selected.len() as u64, eligible);
    assert!(rec.selected.iter().all(|s| codes.contains(&s.credit_code)));
    // Joint composition: a staffed team has both departments, each with the policy's share,
    // every member from the department named.
    let roster: std::collections::BTreeMap<&str, &str> = data
        .inspectors
        .iter()
        .map(|i| (i.inspector_id.as_str(), i.department.as_str()))
        .collect();
    let per = rec.policy.joint_members_per_department as usize;
    let lead = per.max(rec.policy.min_team_size as usize - per);
    let mut staffed = 0;
    for t in &rec.teams {
        if let crate::draw::TeamOutcome::Staffed { departments } = &t.outcome {
            staffed += 1;
            let names: Vec<&str> = departments.iter().map(|m| m.department.as_str()).collect();
            assert_eq!(names, ["samr-chengdu-food", "health-chengdu"]);
            assert_eq!(departments[0].members.len(), lead);
            assert_eq!(departments[1].members.len(), per);
            for m in departments {
                for id in &m.members {
                    assert_eq!(roster[id.as_str()], m.department);
                }
            }
        }
    }
    assert!(staffed > 0, "{:?}", rec.teams);
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
