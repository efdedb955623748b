//! The web console against a real server: gRPC and web listeners on 127.0.0.1:0 over one store,
//! driven by a few lines of HTTP/1.1 over a TCP stream (no browser: Chromium/WebDriver and
//! axe-core runs are still to come, see docs/web.md).

mod common;

use common::web::{form, row_numbers, Browser, Servers};
use common::{issue, synthetic_enterprise, Role};
use creditrisk::app::App;
use creditrisk::server::pb;
use pb::draw_service_client::DrawServiceClient;
use std::net::SocketAddr;

const AS_OF: &str = "2026-11-01";
const INSPECTION: &str = "2026-11-10";
const SCRIPT: &str = "<script>alert(1)</script>";

fn counts(c: &Option<pb::TierCounts>) -> Vec<u64> {
    let c = c.unwrap_or_default();
    vec![c.a, c.b, c.c, c.d, c.a + c.b + c.c + c.d]
}

/// 60 enterprises in 510104 (every other one catering), the first named like a script; two
/// seriously listed; a roster of food and health inspectors; classified as of AS_OF.
async fn population(s: &Servers) -> Vec<String> {
    let mut rec =
        pb::record_service_client::RecordServiceClient::new(s.as_role(Role::Ingest).await);
    let records: Vec<_> = (0..60)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            e.industry = if n % 2 == 0 { "H6210" } else { "C1310" }.into();
            if n == 0 {
                e.name = SCRIPT.into();
            }
            e
        })
        .collect();
    let codes: Vec<String> = records.iter().map(|e| e.credit_code.clone()).collect();
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    // Two seriously listed enterprises, so tier D is not empty.
    rec.append_events(pb::AppendEventsRequest {
        records: [0u64, 2]
            .iter()
            .map(|n| pb::CreditEvent {
                event_id: format!("serious-{n}"),
                credit_code: common::synthetic_code(*n).to_string(),
                effective_date: "2026-05-01".into(),
                source_department: "samr-chengdu".into(),
                body: Some(pb::credit_event::Body::SeriousListEntry(
                    pb::SeriousListEntry {
                        reason: "fraud".into(),
                    },
                )),
                seq: 0,
            })
            .collect(),
    })
    .await
    .unwrap();
    let roster: Vec<_> = (0..6)
        .map(|i| pb::Inspector {
            inspector_id: format!("food-{i:02}"),
            name: format!("检查员{i}"),
            department: "samr-food".into(),
            jurisdictions: vec!["510104".into(), "510107".into()],
            qualifications: vec!["food".into()],
            certificate_number: format!("川执{i}"),
            certificate_expiry: "2030-12-31".into(),
            active: true,
            ..Default::default()
        })
        .collect();
    pb::record_service_client::RecordServiceClient::new(s.as_role(Role::Admin).await)
        .upsert_inspectors(pb::UpsertInspectorsRequest { records: roster })
        .await
        .unwrap();
    let mut cls = pb::classification_service_client::ClassificationServiceClient::new(
        s.as_role(Role::Admin).await,
    );
    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: None,
            as_of: AS_OF.into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    while let Some(p) = stream.message().await.unwrap() {
        if p.finished {
            assert_eq!(p.done, 60);
        }
    }
    codes
}

#[tokio::test]
async fn each_role_sees_its_pages_and_a_clear_refusal_otherwise() {
    let s = Servers::start().await;
    let codes = population(&s).await;
    // Without a session: the login page, and back to the page after it.
    let mut anon = Browser::new(s.web);
    let r = anon.get("/overview").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=/overview"));

    let report = pb::classification_service_client::ClassificationServiceClient::new(
        s.as_role(Role::Planner).await,
    )
    .report_tiers(pb::ReportTiersRequest { run_id: 0 })
    .await
    .unwrap()
    .into_inner();
    assert!(!report.by_jurisdiction.is_empty());
    for role in Role::ALL {
        let mut b = Browser::new(s.web);
        let r = b.login(&s.tokens[&role]).await;
        assert_eq!(r.status, 303, "{role}: {r:?}");
        let cookie = r
            .headers
            .iter()
            .find(|(k, v)| k == "set-cookie" && v.starts_with("cr_session="))
            .map(|(_, v)| v.clone())
            .unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "no TLS here: {cookie}");
        let overview = b.get("/overview").await;
        let inspector = b.get("/inspector").await;
        let enterprise = b.get(&format!("/enterprises/{}", codes[0])).await;
        match role {
            Role::Planner | Role::Auditor | Role::Admin => {
                assert_eq!(overview.status, 200, "{role}");
                assert!(overview
                    .body
                    .starts_with("<!DOCTYPE html><html lang=\"zh-CN\">"));
                // The numbers on the page are the ReportTiers answer.
                assert_eq!(
                    row_numbers(&overview.body, "overall-all"),
                    counts(&report.overall)
                );
                for row in report
                    .by_jurisdiction
                    .iter()
                    .chain(&report.by_industry_section)
                {
                    let prefix = if report.by_jurisdiction.contains(row) {
                        "d"
                    } else {
                        "s"
                    };
                    assert_eq!(
                        row_numbers(&overview.body, &format!("{prefix}-{}", row.key)),
                        counts(&row.counts),
                        "{role}: row {}",
                        row.key
                    );
                }
                assert!(overview.body.contains("锦江区"), "districts in words");
                assert_eq!(inspector.status, 403, "{role}");
                assert!(
                    inspector
                        .body
                        .contains(&format!("<code>{}</code>", role.as_str()))
                        && inspector.body.contains("ListAssignments"),
                    "the refusal names the role and the method: {}",
                    inspector.body
                );
            }
            Role::Ingest => {
                assert_eq!(overview.status, 403);
                assert!(overview.body.contains("<code>ingest</code>"));
                assert!(overview.body.contains("查看信用风险分类总览"));
                assert_eq!(inspector.status, 403);
            }
            Role::Inspector => {
                assert_eq!(
                    r.header("location"),
                    Some("/inspector"),
                    "inspectors land on their page"
                );
                assert_eq!(overview.status, 403);
                assert_eq!(inspector.status, 200);
                assert!(inspector.body.contains("width=device-width"));
                assert_eq!(enterprise.status, 403);
            }
        }
        if role != Role::Inspector {
            // Every role that reads records sees the name as text, never as markup.
            assert_eq!(enterprise.status, 200, "{role}: {}", enterprise.body);
            assert!(!enterprise.body.contains(SCRIPT), "{}", enterprise.body);
            assert!(enterprise
                .body
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
            assert_eq!(
                enterprise.body.contains("信用风险分类"),
                role != Role::Ingest,
                "{role}: the tier only for roles that may read classifications"
            );
            assert_eq!(
                enterprise.body.contains("<h2>分类理由</h2>")
                    && enterprise.body.contains("<h2>分类历史</h2>"),
                role != Role::Ingest,
                "{role}: explanation and history"
            );
        }
        // English on a switch, kept in a cookie.
        let en = b.get("/login?lang=en").await;
        assert!(en.body.contains("<html lang=\"en\">"));
        assert_eq!(b.cookies.get("cr_lang").map(String::as_str), Some("en"));
    }
    s.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_limited_and_forms_need_their_csrf_token() {
    let s = Servers::start().await;
    let mut b = Browser::new(s.web);
    // A form without its token changes nothing.
    let r = b
        .post("/login", &form(&[("token", &s.tokens[&Role::Planner])]))
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF"), "{}", r.body);
    assert!(!b.cookies.contains_key("cr_session"));
    let r = b.login(&s.tokens[&Role::Inspector]).await;
    assert_eq!(r.status, 303);
    let page = b.get("/inspector").await;
    let csrf = page.csrf();
    let r = b.post("/logout", "").await;
    assert_eq!(r.status, 403, "logout without the token");
    let r = b
        .post(
            "/inspector/results",
            &form(&[("csrf", "0000"), ("draw_id", "x")]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF"));
    let r = b.post("/logout", &form(&[("csrf", &csrf)])).await;
    assert_eq!(r.status, 303);
    assert_eq!(b.get("/inspector").await.status, 303, "logged out");

    // A revoked token ends its session at once.
    let t = issue(
        &s.store,
        Role::Planner,
        "p",
        None,
        creditrisk::clock::now_ms(),
    )
    .await;
    assert_eq!(b.login(&t).await.status, 303);
    assert_eq!(b.get("/draws").await.status, 200);
    let id = t.split('_').nth(1).unwrap();
    s.store
        .revoke(id, "test", creditrisk::clock::now_ms())
        .await
        .unwrap();
    assert_eq!(b.get("/draws").await.status, 303);
    assert!(
        !b.cookies.contains_key("cr_session"),
        "the cookie is cleared too"
    );

    // Bad tokens: refused, then limited, even for a good token.
    let limit = creditrisk::web::session::MAX_FAILURES;
    for i in 0..limit {
        let r = b.login(&format!("cr_nobody{i}_{}", "x".repeat(43))).await;
        assert_eq!(r.status, 401, "{r:?}");
        assert!(r.body.contains("令牌无效"));
    }
    let r = b.login(&s.tokens[&Role::Planner]).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("登录失败次数过多"));
    assert!(!b.cookies.contains_key("cr_session"));

    s.stop().await;
}

#[tokio::test]
async fn draws_public_page_and_the_inspector_form() {
    let s = Servers::start().await;
    population(&s).await;
    let mut draws = DrawServiceClient::new(s.as_role(Role::Planner).await);
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![pb::InspectionItem {
                id: "food-2026".into(),
                name: "餐饮食品安全".into(),
                basis: "《中华人民共和国食品安全法》第一百一十条".into(),
                departments: vec!["samr-food".into()],
                kind: pb::ItemKind::Key as i32,
                qualifications: vec!["food".into()],
                scope: Some(pb::ItemScope {
                    industries: vec!["H62".into()],
                    ..Default::default()
                }),
            }],
        })
        .await
        .unwrap();
    let d = draws
        .create_draw(pb::DrawSpec {
            draw_id: "food-2026-11".into(),
            item_id: "food-2026".into(),
            seed: "dice 3-1-4-1-5".into(),
            as_of: AS_OF.into(),
            inspection_date: INSPECTION.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = d.selected[0].clone();
    let team: Vec<String> = first
        .team
        .iter()
        .flat_map(|m| m.inspector_ids.iter().cloned())
        .collect();

    // The planner: list and detail.
    let mut planner = Browser::new(s.web);
    planner.login(&s.tokens[&Role::Planner]).await;
    let list = planner.get("/draws").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("href=\"/draws/food-2026-11\""));
    let detail = planner.get("/draws/food-2026-11").await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("dice 3-1-4-1-5") && detail.body.contains(&first.credit_code));
    assert!(!detail.body.contains(SCRIPT));
    assert_eq!(planner.get("/draws/nope").await.status, 404);

    // The public page, without login.
    let mut anon = Browser::new(s.web);
    let public = anon.get("/public/draws/food-2026-11").await;
    assert_eq!(public.status, 200, "{}", public.body);
    assert!(public.body.contains("dice 3-1-4-1-5"));
    assert!(public
        .body
        .contains("python3 tools/verify_bundle.py bundle.json"));
    assert!(public.body.contains("尚未公示"), "nothing published yet");
    let bundle = anon.get("/public/draws/food-2026-11/bundle.json").await;
    assert_eq!(bundle.status, 200);
    let json: serde_json::Value = serde_json::from_str(&bundle.body).unwrap();
    assert!(bundle.body.contains("food-2026-11"), "{json}");

    // The inspector of the first enterprise fills in the form.
    let t = issue(
        &s.store,
        Role::Inspector,
        &team[0],
        None,
        creditrisk::clock::now_ms(),
    )
    .await;
    let mut insp = Browser::new(s.web);
    insp.login(&t).await;
    let page = insp.get("/inspector").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&first.credit_code) && page.body.contains(&d.publication_deadline));
    assert!(
        page.body.contains("<label for=\"r0-0\">"),
        "result codes are labelled choices"
    );
    let csrf = page.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("draw_id", "food-2026-11"),
        ("credit_code", first.credit_code.as_str()),
        ("date", INSPECTION),
        ("result", "1"),
    ];
    for m in &team {
        fields.push(("inspector", m.as_str()));
    }
    let r = insp.post("/inspector/results", &form(&fields)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(insp
        .get(r.header("location").unwrap())
        .await
        .body
        .contains("已保存"));
    // Stored: the gRPC view of the inspector's assignments has it.
    let mine = DrawServiceClient::new(s.channel(&t).await)
        .list_assignments(pb::ListAssignmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let a = mine
        .assignments
        .iter()
        .find(|a| a.credit_code == first.credit_code)
        .unwrap();
    assert_eq!(a.result_codes, vec!["1".to_string()]);

    // Published over gRPC, then on the public page.
    draws
        .publish_results(pb::PublishResultsRequest {
            draw_id: "food-2026-11".into(),
            credit_codes: vec![first.credit_code.clone()],
            published_on: "2026-11-20".into(),
        })
        .await
        .unwrap();
    let public = anon.get("/public/draws/food-2026-11?lang=en").await;
    assert!(public.body.contains("2026-11-20") && public.body.contains(&first.credit_code));
    s.stop().await;
}

/// The binary serves the console on a second port (`--web-listen`, port 0 announced on standard
/// output) and stops both listeners on one SIGTERM, cleanly.
#[test]
fn serve_flag_starts_the_console_and_sigterm_stops_both() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(common::exe());
    cmd.current_dir(dir.path()).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--web-listen",
        "127.0.0.1:0",
        "--data-dir",
        "data",
    ]);
    for (k, _) in std::env::vars() {
        if k.starts_with("CREDITRISK_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut web = None;
    for _ in 0..20 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(url) = line
            .trim()
            .strip_prefix("creditrisk web console on http://")
        {
            web = Some(url.parse::<SocketAddr>().unwrap());
            break;
        }
    }
    let Some(web) = web else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "no web console line; log: {}",
            std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
        );
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let page = rt.block_on(Browser::new(web).get("/login"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"token\""));
    // The same listener serves Prometheus metrics, without login.
    let metrics = rt.block_on(Browser::new(web).get("/metrics"));
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(
        metrics
            .body
            .contains("creditrisk_writer_commit_duration_seconds"),
        "{}",
        metrics.body
    );
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert!(
        std::net::TcpStream::connect(web).is_err(),
        "the console stopped with the gRPC server"
    );
}

/// Under TLS the console's cookies are marked `Secure`.
#[tokio::test]
async fn cookies_are_secure_under_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (app, stopper) = App::open(dir.path(), 16).unwrap();
    let router = creditrisk::web::router(
        app,
        creditrisk::web::Options {
            secure_cookies: true,
        },
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(creditrisk::web::serve(l, router, async {
        let _ = rx.await;
    }));
    let page = Browser::new(addr).get("/login").await;
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("cr_login=") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
