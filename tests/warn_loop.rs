//! The early-warning loop into the draw service over gRPC (issue 12, items 4 and 5): a
//! confirmed, warned group alert disposed of by `joint-inspection` with `draw` makes a joint
//! targeted draw (teams from every routed department, the bundle verifies offline, the draw id
//! on the action and in the history); the same alert raises its group's inspection ratios (refused
//! while unassessed), and a later draw over the district shows the override in its record.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::draw_service_client::DrawServiceClient;
use pb::warning_service_client::WarningServiceClient;
use tonic::Code;

const AS_OF: &str = "2026-11-30";
/// What rules/routing.toml gives the bakery alert (product category 糕点: the food division and
/// health), market regulation first as the lead: a cross-department case.
const DEPARTMENTS: [&str; 2] = ["samr-chengdu-food", "health-chengdu"];

async fn warnings(s: &TestServer) -> WarningServiceClient<AuthChannel> {
    WarningServiceClient::new(s.channel_as(Role::Planner).await)
}

fn inspector(id: &str, dept: &str) -> pb::Inspector {
    pb::Inspector {
        inspector_id: id.into(),
        name: format!("检查员{id}"),
        department: dept.into(),
        jurisdictions: vec!["510104".into()],
        qualifications: vec!["general".into()],
        certificate_number: format!("川执{id}"),
        certificate_expiry: "2030-12-31".into(),
        active: true,
        ..Default::default()
    }
}

/// 12 bakeries in 510104, 5 of 12 spot checks failed in November: one orange group alert.
async fn group_alert(s: &TestServer) -> pb::Alert {
    let records = (1..=12).map(synthetic_enterprise).collect();
    s.client()
        .await
        .upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    let records = (1..=12u64)
        .map(|n| pb::CreditEvent {
            event_id: format!("sc-{n}"),
            credit_code: synthetic_code(n).to_string(),
            effective_date: format!("2026-11-{:02}", n + 1),
            source_department: "samr-chengdu".into(),
            body: Some(pb::credit_event::Body::SpotCheck(pb::SpotCheck {
                passed: n > 5,
                product_category: "糕点".into(),
            })),
            seq: 0,
        })
        .collect();
    s.client()
        .await
        .append_events(pb::AppendEventsRequest { records })
        .await
        .unwrap();
    let roster = DEPARTMENTS
        .iter()
        .flat_map(|d| (0..4).map(move |i| inspector(&format!("{d}-{i}"), d)))
        .collect();
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest { records: roster })
        .await
        .unwrap();
    assert_eq!(reclassify_all(s, AS_OF).await.done, 12);
    let e = warnings(s)
        .await
        .evaluate_groups(pb::EvaluateGroupsRequest {
            as_of: AS_OF.into(),
            cut: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let a = warnings(s)
        .await
        .list_alerts(pb::ListAlertsRequest {
            rule_id: "group.spot-check-failure-rate".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(a.len(), 1, "{e:?} {a:?}");
    a.into_iter().next().unwrap()
}

fn raise(id: &str) -> pb::RaiseGroupRatioRequest {
    pb::RaiseGroupRatioRequest {
        alert_id: id.into(),
        ratio_a: 300,
        ratio_b: 500,
        ratio_c: 800,
        ratio_d: 1000,
        valid_from: "2026-12-01".into(),
        valid_until: "2027-02-28".into(),
    }
}

#[tokio::test]
async fn a_disposal_makes_a_joint_draw_and_a_confirmed_group_alert_raises_the_ratio() {
    let s = TestServer::start().await;
    let a = group_alert(&s).await;
    let id = a.id.clone();
    let mut w = warnings(&s).await;

    // Differentiated supervision rests only on a confirmed alert.
    let st = w.raise_group_ratio(raise(&id)).await.unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition, "{st:?}");
    assert!(
        st.message().contains(&format!("`{id}`")) && st.message().contains("`raised`"),
        "{st:?}"
    );
    w.assess_alert(pb::AssessAlertRequest {
        alert_id: id.clone(),
        decision: "confirmed".into(),
        reason: "cluster is real".into(),
    })
    .await
    .unwrap();
    w.warn_alert(pb::WarnAlertRequest {
        alert_id: id.clone(),
        departments: vec!["samr-chengdu".into(), "health-chengdu".into()],
    })
    .await
    .unwrap();

    // A draw only for inspections, and only with an inspection date.
    let dispose = |kind: &str| pb::DisposeAlertRequest {
        alert_id: id.clone(),
        kind: kind.into(),
        deadline: "2026-12-31".into(),
        note: "joint inspection of the bakeries".into(),
        draw: true,
        inspection_date: "2026-12-01".into(),
        seed: "loop seed".into(),
        group_scope: false,
        draw_as_of: String::new(),
    };
    let st = w.dispose_alert(dispose("interview")).await.unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument, "{st:?}");
    assert!(violations(&st).iter().any(|(f, _)| f == "draw"), "{st:?}");
    let disposed = w
        .dispose_alert(dispose("joint-inspection"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(disposed.state, "disposing");
    let draw_id = disposed.actions[0].draw_id.clone();
    assert!(!draw_id.is_empty(), "{disposed:?}");
    let last = disposed.history.last().unwrap();
    assert_eq!(last.action, "dispose");
    assert!(last.reason.contains(&draw_id), "{last:?}");

    // The draw: every enterprise behind the alert, teams from both routed departments.
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let d = draws
        .get_draw(pb::GetDrawRequest {
            draw_id: draw_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.item_id, format!("alert-{id}"));
    assert_eq!(d.departments, DEPARTMENTS);
    let mut drawn: Vec<String> = d.selected.iter().map(|e| e.credit_code.clone()).collect();
    drawn.sort();
    let mut behind = a.enterprises.clone();
    behind.sort();
    assert_eq!(drawn, behind);
    for e in &d.selected {
        let depts: Vec<&str> = e.team.iter().map(|m| m.department.as_str()).collect();
        assert_eq!(depts, DEPARTMENTS, "{e:?}");
        assert!(e.team.iter().all(|m| !m.inspector_ids.is_empty()), "{e:?}");
    }
    let files = export_files(&s, &draw_id, "").await;
    let json = String::from_utf8(files["bundle.json"].clone()).unwrap();
    creditrisk::draw::verify_bundle(&json).unwrap();

    // The confirmed alert raises its district's ratios; a later draw there shows it.
    let raised = w.raise_group_ratio(raise(&id)).await.unwrap().into_inner();
    let last = raised.history.last().unwrap();
    assert_eq!(last.action, "ratio");
    assert!(last.reason.contains("510104"), "{last:?}");
    let st = w.raise_group_ratio(raise(&id)).await.unwrap_err();
    assert_eq!(
        st.code(),
        Code::AlreadyExists,
        "one override per alert: {st:?}"
    );
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![pb::InspectionItem {
                id: "district-2026-12".into(),
                name: "district 510104".into(),
                basis: "《中华人民共和国食品安全法》第一百一十条".into(),
                departments: vec!["samr-chengdu".into()],
                kind: pb::ItemKind::Key as i32,
                qualifications: vec!["general".into()],
                scope: Some(pb::ItemScope {
                    jurisdictions: vec!["510104".into()],
                    ..Default::default()
                }),
            }],
        })
        .await
        .unwrap();
    let later = draws
        .create_draw(pb::DrawSpec {
            draw_id: "district-1".into(),
            item_id: "district-2026-12".into(),
            seed: "later seed".into(),
            as_of: AS_OF.into(),
            inspection_date: "2026-12-02".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let record: serde_json::Value = serde_json::from_str(&later.record_json).unwrap();
    let text = record.to_string();
    assert!(
        text.contains(&format!("\"basis\":\"{id}\"")),
        "the override is in the record: {text}"
    );
    s.stop().await;
}

/// `serve --demo`'s loading step (the same function) leaves every injected incident of the
/// demo open as an alert at its level: blue, yellow, orange and red all present.
#[tokio::test]
async fn the_demo_starts_with_its_incidents_open_at_every_level() {
    use creditrisk::warnsvc::AlertFilter;
    let dir = tempfile::tempdir().unwrap();
    let (mut app, stopper) = common::open_app(dir.path(), 64).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    app.classifier()
        .rule_sets()
        .ensure_default(&root.join("rules/default"), 0)
        .await
        .unwrap();
    app.enable_draws(&root.join("rules")).unwrap();
    let (n, seed) = (5_000, 20231);
    creditrisk::cli::import::load_demo_if_empty(&app, n, seed, None)
        .await
        .unwrap();
    let w = app.warnings().clone();
    let alerts = tokio::task::spawn_blocking(move || w.list(&AlertFilter::default(), None, 500))
        .await
        .unwrap()
        .unwrap()
        .items;
    let found: std::collections::BTreeSet<(String, String, String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a.rule_id.clone(),
                a.subject.clone(),
                a.level.as_str().to_string(),
                a.state.as_str().to_string(),
            )
        })
        .collect();
    let data = creditrisk::demo::generate(n, seed);
    let mut levels = std::collections::BTreeSet::new();
    for i in &data.incidents {
        let want = (
            i.rule_id.clone(),
            i.subject.clone(),
            i.level.as_str().to_string(),
            "raised".to_string(),
        );
        assert!(found.contains(&want), "{i:?} not open in {found:?}");
        levels.insert(i.level);
    }
    assert_eq!(levels.len(), 4, "{levels:?}");
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}

/// Issue 12, racing disposals: several dispose-with-draw calls on one alert at once. The draw
/// is stored in one writer job with its disposal, refused with it when another disposal was
/// recorded since the call read the alert (check-and-set): every stored draw of the alert's
/// item is on exactly one action, and each losing call is FAILED_PRECONDITION naming the alert
/// and its state, with no draw stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_disposals_of_one_alert_store_one_draw_per_recorded_action() {
    let s = TestServer::start().await;
    let a = group_alert(&s).await;
    let id = a.id.clone();
    let mut w = warnings(&s).await;
    w.assess_alert(pb::AssessAlertRequest {
        alert_id: id.clone(),
        decision: "confirmed".into(),
        reason: "cluster is real".into(),
    })
    .await
    .unwrap();
    w.warn_alert(pb::WarnAlertRequest {
        alert_id: id.clone(),
        departments: vec!["samr-chengdu".into(), "health-chengdu".into()],
    })
    .await
    .unwrap();
    const CALLS: usize = 4;
    // Connected first, so that the calls start together.
    let mut clients = Vec::new();
    for _ in 0..CALLS {
        clients.push(warnings(&s).await);
    }
    let mut calls = Vec::new();
    for (i, mut w) in clients.into_iter().enumerate() {
        let req = pb::DisposeAlertRequest {
            alert_id: id.clone(),
            kind: "joint-inspection".into(),
            deadline: "2026-12-31".into(),
            note: format!("call {i}"),
            draw: true,
            inspection_date: "2026-12-01".into(),
            seed: format!("race seed {i}"),
            group_scope: false,
            draw_as_of: String::new(),
        };
        calls.push(tokio::spawn(async move { w.dispose_alert(req).await }));
    }
    let (mut won, mut lost) = (Vec::new(), 0);
    for c in calls {
        match c.await.unwrap() {
            Ok(r) => won.push(r.into_inner().actions.last().unwrap().draw_id.clone()),
            Err(st) => {
                assert_eq!(st.code(), Code::FailedPrecondition, "{st:?}");
                let m = st.message();
                assert!(
                    m.contains(&format!("alert `{id}` is `")) && m.contains("draw was not stored"),
                    "{m}"
                );
                lost += 1;
            }
        }
    }
    assert_eq!(won.len() + lost, CALLS);
    println!(
        "racing disposals: {} stored a draw, {lost} refused",
        won.len()
    );
    assert!(!won.is_empty());
    let after = w
        .get_alert(pb::GetAlertRequest {
            alert_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut on_actions: Vec<String> = after.actions.iter().map(|a| a.draw_id.clone()).collect();
    on_actions.sort();
    won.sort();
    assert_eq!(on_actions, won, "each winning call's draw is on one action");
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let mut stored: Vec<String> = draws
        .list_draws(pb::ListDrawsRequest {
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .draws
        .into_iter()
        .filter(|d| d.item_id == format!("alert-{id}"))
        .map(|d| d.draw_id)
        .collect();
    stored.sort();
    assert_eq!(
        stored, on_actions,
        "no draw without its action ({lost} calls lost)"
    );
    s.stop().await;
}
