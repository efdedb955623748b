//! The console's overview trend, enterprise events, rule-set diff and simulation, the
//! language switch on every page, and HTTPS on the console port (issue 13), against real
//! servers on 127.0.0.1:0 driven over HTTP/1.1 (tests/common/web.rs).

mod common;

use common::web::{form, row_numbers, Browser, Servers};
use common::{issue, synthetic_code, synthetic_enterprise, Role};
use creditrisk::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use pb::rule_service_client::RuleServiceClient;
use std::collections::HashMap;

fn complaint(code: &str, i: u32) -> pb::CreditEvent {
    pb::CreditEvent {
        event_id: format!("complaint-{i:02}"),
        credit_code: code.into(),
        effective_date: format!("2026-{:02}-{:02}", 1 + i / 28, 1 + i % 28),
        source_department: "samr-12345".into(),
        body: Some(pb::credit_event::Body::Complaint(pb::Complaint {
            verified: true,
        })),
        seq: 0,
    }
}

async fn reclassify(s: &Servers, as_of: &str) -> u64 {
    let mut cls = ClassificationServiceClient::new(s.as_role(Role::Admin).await);
    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: None,
            as_of: as_of.into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut run = 0;
    while let Some(p) = stream.message().await.unwrap() {
        run = p.run_id;
    }
    run
}

fn counts(c: &Option<pb::TierCounts>) -> Vec<u64> {
    let c = c.unwrap_or_default();
    vec![c.a, c.b, c.c, c.d, c.a + c.b + c.c + c.d]
}

/// 30 enterprises; the first with 25 verified complaints (so its tier moves); whole-population
/// runs as of October and November 2026.
async fn population(s: &Servers) -> (String, [u64; 2]) {
    let mut rec =
        pb::record_service_client::RecordServiceClient::new(s.as_role(Role::Ingest).await);
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..30).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    let code = synthetic_code(0).to_string();
    rec.append_events(pb::AppendEventsRequest {
        records: (0..25).map(|i| complaint(&code, i)).collect(),
    })
    .await
    .unwrap();
    let oct = reclassify(s, "2026-10-01").await;
    let nov = reclassify(s, "2026-11-01").await;
    (code, [oct, nov])
}

#[tokio::test]
async fn the_trend_comes_from_each_runs_stored_mix_and_events_page_newest_first() {
    let s = Servers::start().await;
    let (code, runs) = population(&s).await;
    let mut cls = ClassificationServiceClient::new(s.as_role(Role::Planner).await);
    let mut b = Browser::new(s.web);
    assert_eq!(b.login(&s.tokens[&Role::Planner]).await.status, 303);
    let zh = b.get("/overview").await;
    let en = b.get("/overview?lang=en").await;
    assert_eq!(zh.status, 200);
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Monthly trend"));
    for (month, run) in ["2026-10", "2026-11"].iter().zip(runs) {
        let report = cls
            .report_tiers(pb::ReportTiersRequest { run_id: run })
            .await
            .unwrap()
            .into_inner();
        let row = format!("t-{month}");
        assert_eq!(
            row_numbers(&zh.body, &row),
            counts(&report.overall),
            "{row}"
        );
        // Numbers are written the same way in both languages.
        assert_eq!(row_numbers(&en.body, &row), row_numbers(&zh.body, &row));
    }
    let share = |body: &str, row: &str| {
        let at = body.find(&format!("id=\"{row}\"")).unwrap();
        let cell = &body[at..][body[at..].find("class=\"pct\">").unwrap() + 12..];
        cell[..cell.find('<').unwrap()].to_string()
    };
    assert_eq!(share(&zh.body, "t-2026-11"), share(&en.body, "t-2026-11"));
    assert!(share(&en.body, "t-2026-11").ends_with('%'));
    assert!(
        zh.body.contains("<svg width=\"56\""),
        "one column per month"
    );

    // Events: 25, newest first, 20 on the first page, the rest behind the link.
    // (`?lang=zh`: the overview above chose English, and the choice is kept in a cookie.)
    let page = b.get(&format!("/enterprises/{code}?lang=zh")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let seqs = |body: &str| -> Vec<u64> {
        body.split("<tr id=\"ev-")
            .skip(1)
            .map(|r| r[..r.find('"').unwrap()].parse().unwrap())
            .collect()
    };
    let first = seqs(&page.body);
    assert_eq!(first.len(), 20);
    assert!(
        first.windows(2).all(|w| w[0] > w[1]),
        "newest first: {first:?}"
    );
    assert!(page.body.contains("投诉举报（已核实）"));
    let last = *first.last().unwrap();
    let link = format!("/enterprises/{code}?before={last}#events");
    assert!(page.body.contains(&link), "a link to the earlier events");
    let older = b
        .get(&format!("/enterprises/{code}?before={last}&lang=en"))
        .await;
    let rest = seqs(&older.body);
    assert_eq!(rest.len(), 5);
    assert!(
        rest[0] < last && !older.body.contains("Earlier events"),
        "the last page"
    );
    assert!(older.body.contains("complaint (verified)"));
    // The gRPC listing has the same events, oldest first.
    let listed =
        pb::record_service_client::RecordServiceClient::new(s.as_role(Role::Planner).await)
            .list_events(pb::ListEventsRequest {
                credit_code: code.clone(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .events;
    let mut all: Vec<u64> = first.iter().chain(&rest).copied().collect();
    all.reverse();
    assert_eq!(all, listed.iter().map(|e| e.seq).collect::<Vec<_>>());
    // A bad cursor is a clear error naming the field.
    let bad = b.get(&format!("/enterprises/{code}?before=x1")).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("before") && bad.body.contains("`x1`"),
        "{}",
        bad.body
    );
    s.stop().await;
}

fn default_files() -> HashMap<String, String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    creditrisk::classify::rulesets::read_dir_files(&dir)
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn rule_sets_are_compared_and_simulated_as_a_matrix() {
    let s = Servers::start().await;
    let (_, _) = population(&s).await;
    // A candidate: band B lowered, the complaint-growth rule dropped, verified complaints
    // weigh more.
    let mut files = default_files();
    let m = files.get_mut("ruleset.toml").unwrap();
    *m = m
        .replace("B = 75", "B = 70")
        .replace("version = \"", "version = \"cand-");
    let c = files.get_mut("general/complaints.toml").unwrap();
    let growth = c.find("[[rule]]\nid = \"complaints.growth\"").unwrap();
    *c = c[..growth].replace(
        "score = \"-3 * min(complaints_verified_1y, 5)\"",
        "score = \"-6 * min(complaints_verified_1y, 5)\"",
    );
    let mut rules = RuleServiceClient::new(s.as_role(Role::Admin).await);
    let cand = rules
        .upload_rule_set(pb::RuleSetFiles {
            files: files.clone(),
            hash: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let current = rules
        .list_rule_sets(pb::ListRuleSetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rule_sets
        .into_iter()
        .find(|r| r.active)
        .unwrap();

    let mut b = Browser::new(s.web);
    assert_eq!(b.login(&s.tokens[&Role::Planner]).await.status, 303);
    let d = b
        .get(&format!(
            "/rules/diff?from={}&to={}",
            current.hash, cand.hash
        ))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let count = |id: &str| -> usize {
        let at = d.body.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        d.body[at..at + d.body[at..].find('<').unwrap()]
            .parse()
            .unwrap()
    };
    assert_eq!(
        (
            count("added-count"),
            count("removed-count"),
            count("changed-count")
        ),
        (0, 1, 1)
    );
    assert!(d.body.contains("id=\"removed-complaints.growth\""));
    assert!(
        d.body.contains("complaints_growth &gt;= 3"),
        "the removed rule's text"
    );
    assert!(d.body.contains("id=\"changed-complaints.verified\""));
    assert!(
        d.body
            .contains("<code>bands.B</code></th><td>75</td><td>70</td>"),
        "{}",
        d.body
    );
    // The switch keeps the compared sets.
    assert!(d.body.contains(&format!(
        "?from={}&amp;to={}&amp;lang=en",
        current.hash, cand.hash
    )));
    let bad = b.get("/rules/diff?from=nothex&to=00").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("from") && bad.body.contains("`nothex`"),
        "{}",
        bad.body
    );
    let unknown = b
        .get(&format!("/rules/diff?from={}&to=00", current.hash))
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // The simulation: the same matrix as the Simulate RPC.
    let want = ClassificationServiceClient::new(s.as_role(Role::Planner).await)
        .simulate(pb::SimulateRequest {
            candidate: Some(pb::RuleSetFiles {
                files,
                hash: String::new(),
            }),
            scope: None,
            as_of: "2026-11-01".into(),
            max_changes: 20,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(want.changed > 0, "the candidate moves someone");
    let page = b.get("/rules/simulate").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let no_csrf = b
        .post("/rules/simulate", &form(&[("candidate", &cand.hash)]))
        .await;
    assert_eq!(no_csrf.status, 403);
    let r = b
        .post(
            "/rules/simulate",
            &form(&[
                ("csrf", &csrf),
                ("candidate", &cand.hash),
                ("jurisdiction", ""),
                ("as_of", "2026-11-01"),
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (i, t) in ["A", "B", "C", "D"].iter().enumerate() {
        let row = row_numbers(&r.body, &format!("m-{t}"));
        assert_eq!(row[..4], want.matrix[i * 4..i * 4 + 4], "row {t}");
        assert_eq!(row[4], want.matrix[i * 4..i * 4 + 4].iter().sum::<u64>());
    }
    assert!(r
        .body
        .contains(&format!("<span id=\"sim-changed\">{}</span>", want.changed)));
    let bad = b
        .post(
            "/rules/simulate",
            &form(&[
                ("csrf", &csrf),
                ("candidate", &cand.hash),
                ("as_of", "2026-13-01"),
            ]),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("as_of"), "{}", bad.body);
    // Ingest systems may not simulate; the refusal names the method.
    let mut ingest = Browser::new(s.web);
    ingest.login(&s.tokens[&Role::Ingest]).await;
    let refused = ingest.get("/rules/simulate").await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Simulate"));
    s.stop().await;
}

#[tokio::test]
async fn every_page_switches_to_english_and_back() {
    let s = Servers::start().await;
    let (code, _) = population(&s).await;
    let mut b = Browser::new(s.web);
    b.login(&s.tokens[&Role::Admin]).await;
    let pages = [
        "/overview".to_string(),
        format!("/enterprises/{code}"),
        "/draws".into(),
        "/warnings".into(),
        "/audit".into(),
        "/rules".into(),
        "/rules/diff".into(),
        "/rules/simulate".into(),
    ];
    for p in &pages {
        let en = b.get(&format!("{p}?lang=en")).await;
        assert_eq!(en.status, 200, "{p}: {}", en.body);
        assert!(en.body.contains("<html lang=\"en\">"), "{p}");
        assert!(
            en.body.contains("lang=zh\" lang=\"zh\">中文</a>"),
            "{p}: a switch back"
        );
        let zh = b.get(&format!("{p}?lang=zh")).await;
        assert!(zh.body.contains("<html lang=\"zh-CN\">"), "{p}");
        assert!(
            zh.body.contains("lang=en\" lang=\"en\">English</a>"),
            "{p}: the switch"
        );
    }
    // The public page, without login.
    let mut anon = Browser::new(s.web);
    let login = anon.get("/login?lang=en").await;
    assert!(login.body.contains("lang=zh\" lang=\"zh\">中文</a>"));
    s.stop().await;
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
fn cert() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let p = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap();
    let c = p.self_signed(&key).unwrap();
    (c.pem(), key.serialize_pem())
}

#[tokio::test]
async fn the_login_over_https_sets_a_secure_cookie() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let dir = tempfile::tempdir().unwrap();
    let (pem, key) = cert();
    std::fs::write(dir.path().join("cert.pem"), &pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let config = creditrisk::web::tls::server_config(
        &dir.path().join("cert.pem"),
        &dir.path().join("key.pem"),
    )
    .unwrap();
    let (app, stopper) = creditrisk::app::App::open(&dir.path().join("data"), 16).unwrap();
    let token = issue(
        app.tokens(),
        Role::Planner,
        "test",
        None,
        creditrisk::clock::now_ms(),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = creditrisk::web::router(
        app.clone(),
        creditrisk::web::Options {
            secure_cookies: true,
        },
    );
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(creditrisk::web::serve_tls(
        listener,
        config,
        router,
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    // A client that trusts only this certificate.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
        let c: rustls::pki_types::CertificateDer = c.unwrap();
        roots.add(c).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let request = |req: String| {
        let connector = connector.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = connector.connect(name, tcp).await.unwrap();
            tls.write_all(req.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            // The server closes after the answer (Connection: close); a missing TLS
            // close_notify is not this test's business.
            let _ = tls.read_to_end(&mut raw).await;
            String::from_utf8(raw).unwrap()
        }
    };
    let page =
        request("GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into()).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let login_cookie = page
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: cr_login="))
        .unwrap();
    assert!(login_cookie.contains("; Secure"), "{login_cookie}");
    let login_cookie = login_cookie["set-cookie: ".len()..]
        .split(';')
        .next()
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let body = form(&[("csrf", csrf), ("token", &token)]);
    let answer = request(format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {login_cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let session = answer
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: cr_session=")
        })
        .unwrap_or_else(|| panic!("no session cookie: {answer}"));
    assert!(
        session.contains("; Secure")
            && session.contains("HttpOnly")
            && session.contains("SameSite=Strict"),
        "{session}"
    );
    // Plain HTTP on the HTTPS port gets no page.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw).await;
    assert!(!String::from_utf8_lossy(&raw).contains("HTTP/1.1 200"));
    tx.send(true).unwrap();
    server.await.unwrap().unwrap();
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
