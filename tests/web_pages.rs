//! The console's warnings board, alert page and audit page (issue 13) against a real server:
//! gRPC and web listeners on 127.0.0.1:0 over one store, driven by plain HTTP/1.1. The helpers
//! are tests/common/web.rs, shared with tests/web.rs.

mod common;

use common::web::{form, red_alert, Browser, Servers};
use common::{issue, synthetic_code, synthetic_enterprise, Role};
use creditrisk::server::pb;
use pb::warning_service_client::WarningServiceClient;

fn warnings(
    ch: creditrisk::cli::client::AuthChannel,
) -> WarningServiceClient<creditrisk::cli::client::AuthChannel> {
    WarningServiceClient::new(ch)
}

async fn state_of(s: &Servers, id: &str) -> String {
    warnings(s.as_role(Role::Auditor).await)
        .get_alert(pb::GetAlertRequest {
            alert_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .state
}

#[tokio::test]
async fn a_planner_assesses_through_the_board_and_auditors_only_look() {
    let s = Servers::start().await;
    let a = red_alert(&s).await;
    assert_eq!(a.level, "red");
    assert_eq!(a.state, "raised");
    let page = format!("/warnings/{}", a.id);
    let link = format!("href=\"{page}\"");

    let mut planner = Browser::new(s.web);
    assert_eq!(planner.login(&s.tokens[&Role::Planner]).await.status, 303);
    let board = planner.get("/warnings").await;
    assert_eq!(board.status, 200, "{board:?}");
    assert!(board.body.contains(&link), "{}", board.body);
    assert!(board.body.contains("红色（I）"), "levels in words");
    assert!(
        board.body.contains("href=\"/warnings\""),
        "in the navigation"
    );
    // Filters: another level or state hides it; its own shows it.
    let blue = planner.get("/warnings?level=blue").await;
    assert!(!blue.body.contains(&link));
    let closed = planner.get("/warnings?state=closed").await;
    assert!(!closed.body.contains(&link));
    let red = planner
        .get("/warnings?level=red&state=raised&lang=en")
        .await;
    assert!(
        red.body.contains(&link) && red.body.contains("Red (I)"),
        "{}",
        red.body
    );
    let bad = planner.get("/warnings?level=purple").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("purple"), "{}", bad.body);

    let detail = planner.get(&page).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains(&format!("action=\"{page}/assess\"")));
    assert!(detail.body.contains("raise"), "the history");
    let csrf = detail.csrf();

    // Without the CSRF token: refused, nothing changed.
    let r = planner
        .post(
            &format!("{page}/assess"),
            &form(&[("decision", "confirmed"), ("reason", "checked")]),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("CSRF"));
    assert_eq!(state_of(&s, &a.id).await, "raised");
    // A bad decision names the field.
    let r = planner
        .post(
            &format!("{page}/assess"),
            &form(&[("csrf", &csrf), ("decision", "maybe"), ("reason", "x")]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("decision"), "{}", r.body);

    let r = planner
        .post(
            &format!("{page}/assess"),
            &form(&[
                ("csrf", &csrf),
                ("decision", "confirmed"),
                ("reason", "listed for fraud"),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some(page.as_str()));
    assert_eq!(state_of(&s, &a.id).await, "assessed");
    let detail = planner.get(&page).await;
    assert!(detail.body.contains("listed for fraud"));
    assert!(detail.body.contains(&format!("action=\"{page}/warn\"")));

    // The auditor sees the board and the alert, without forms; posting is refused.
    let mut auditor = Browser::new(s.web);
    assert_eq!(auditor.login(&s.tokens[&Role::Auditor]).await.status, 303);
    let board = auditor.get("/warnings").await;
    assert_eq!(board.status, 200);
    assert!(board.body.contains(&link));
    let detail = auditor.get(&page).await;
    assert_eq!(detail.status, 200);
    assert!(!detail.body.contains("/warn\""), "no forms for auditors");
    let csrf = auditor.get("/warnings").await.csrf();
    let r = auditor
        .post(
            &format!("{page}/warn"),
            &form(&[("csrf", &csrf), ("departments", "commerce-chengdu")]),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("WarnAlert"), "{}", r.body);
    assert_eq!(state_of(&s, &a.id).await, "assessed");
    // The auditor replays the alert's evidence on the audit page.
    let replay = auditor.get(&format!("/audit?alert={}", a.id)).await;
    assert_eq!(replay.status, 200, "{replay:?}");
    assert!(replay.body.contains(">MATCH</strong>"), "{}", replay.body);

    // The planner warns a department; a token of that department sees the alert, another
    // department's does not (as over gRPC).
    let csrf = planner.get(&page).await.csrf();
    let r = planner
        .post(
            &format!("{page}/warn"),
            &form(&[("csrf", &csrf), ("departments", "commerce-chengdu")]),
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(state_of(&s, &a.id).await, "warned");
    let now = creditrisk::clock::now_ms();
    let commerce = issue(&s.store, Role::Planner, "commerce-chengdu", None, now).await;
    let health = issue(&s.store, Role::Planner, "health-chengdu", None, now).await;
    let mut b = Browser::new(s.web);
    b.login(&commerce).await;
    assert!(b.get("/warnings").await.body.contains(&link));
    assert_eq!(b.get(&page).await.status, 200);
    let mut b = Browser::new(s.web);
    b.login(&health).await;
    assert!(!b.get("/warnings").await.body.contains(&link));
    assert_eq!(b.get(&page).await.status, 404);
    s.stop().await;
}

#[tokio::test]
async fn the_audit_page_shows_the_signed_head_and_checks_an_enterprise() {
    let s = Servers::start().await;
    let mut rec =
        pb::record_service_client::RecordServiceClient::new(s.as_role(Role::Ingest).await);
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (1..=5).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    let mut cls = pb::classification_service_client::ClassificationServiceClient::new(
        s.as_role(Role::Admin).await,
    );
    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: None,
            as_of: "2026-11-01".into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    while stream.message().await.unwrap().is_some() {}

    let mut auditor = Browser::new(s.web);
    assert_eq!(auditor.login(&s.tokens[&Role::Auditor]).await.status, 303);
    let grpc = pb::audit_service_client::AuditServiceClient::new(s.as_role(Role::Auditor).await);
    let head = || {
        let mut g = grpc.clone();
        async move {
            g.get_signed_head(pb::GetSignedHeadRequest { tree_size: 0 })
                .await
                .unwrap()
                .into_inner()
        }
    };
    // Background work may still append: compare when the head held still around the page.
    let mut same = false;
    for _ in 0..100 {
        let before = head().await;
        let page = auditor.get("/audit").await;
        let after = head().await;
        assert_eq!(page.status, 200, "{page:?}");
        if before.tree_size != after.tree_size {
            continue;
        }
        assert!(before.tree_size > 0);
        assert!(
            page.body
                .contains(&format!("id=\"head-size\">{}<", before.tree_size)),
            "{}",
            page.body
        );
        assert!(page
            .body
            .contains(&format!("id=\"head-root\">{}<", before.root)));
        assert!(page.body.contains("已用日志公钥验证"), "signature verified");
        same = true;
        break;
    }
    assert!(same, "the head never held still");

    let code = synthetic_code(3).to_string();
    let r = auditor.get(&format!("/audit?code={code}&lang=en")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(">MATCH</strong>"), "{}", r.body);
    assert!(
        r.body.contains(&format!("classification/{code}")),
        "{}",
        r.body
    );
    let inclusion = &r.body[r.body.find("id=\"inclusion\"").expect("an inclusion proof")..];
    assert!(
        inclusion.starts_with("id=\"inclusion\"><span class=\"ok\">"),
        "{inclusion}"
    );
    let bad = auditor.get("/audit?code=nonsense").await;
    assert_eq!(bad.status, 400);

    // Planners may not see the audit page, as over gRPC.
    let mut planner = Browser::new(s.web);
    planner.login(&s.tokens[&Role::Planner]).await;
    let r = planner.get("/audit").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("GetSignedHead"));
    s.stop().await;
}

#[tokio::test]
async fn the_rules_page_lists_rule_sets_and_activations_newest_first() {
    let s = Servers::start().await;
    let sets = pb::rule_service_client::RuleServiceClient::new(s.as_role(Role::Auditor).await)
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rule_sets;
    let active = sets.iter().find(|r| r.active).expect("an active rule set");
    let mut auditor = Browser::new(s.web);
    auditor.login(&s.tokens[&Role::Auditor]).await;
    let r = auditor.get("/rules?lang=en").await;
    assert_eq!(r.status, 200, "{r:?}");
    let cls = &r.body
        [r.body.find("id=\"classification\"").unwrap()..r.body.find("id=\"warning\"").unwrap()];
    assert!(cls.contains(&active.hash[..12]), "{cls}");
    assert!(cls.contains(&active.name), "{cls}");
    assert!(cls.contains("<strong>yes</strong>"), "{cls}");
    assert!(r.body.contains("href=\"/rules\""), "in the navigation");
    // Inspectors may not list rule sets, as over gRPC.
    let mut insp = Browser::new(s.web);
    insp.login(&s.tokens[&Role::Inspector]).await;
    let r = insp.get("/rules").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("ListRuleSets"));
    s.stop().await;
}
