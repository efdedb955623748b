//! The web console's test harness: a gRPC server and the console over one store on
//! 127.0.0.1:0, and a minimal browser (a cookie jar and HTTP/1.1 over a TCP stream), shared by
//! tests/web.rs and tests/web_pages.rs.

use super::{issue, synthetic_code, synthetic_enterprise, Role};
use creditrisk::server::pb;
use creditrisk::server::{self, Limits};
use pb::draw_service_client::DrawServiceClient;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A gRPC server and the web console over the same store, with a token per role.
pub struct Servers {
    pub url: String,
    pub web: SocketAddr,
    pub tokens: BTreeMap<Role, String>,
    pub store: creditrisk::access::Tokens,
    pub _dir: tempfile::TempDir,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Servers {
    pub async fn start() -> Servers {
        let dir = tempfile::tempdir().unwrap();
        let (mut app, stopper) = super::open_app(dir.path(), 64).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        app.classifier()
            .rule_sets()
            .ensure_default(&root.join("rules/default"), 0)
            .await
            .unwrap();
        app.enable_draws(&root.join("rules")).unwrap();
        app.enable_auto_reclassify();
        let store = app.tokens().clone();
        let mut tokens = BTreeMap::new();
        for role in Role::ALL {
            let subject = if role == Role::Inspector {
                super::INSPECTOR
            } else {
                "test"
            };
            let t = issue(&store, role, subject, None, creditrisk::clock::now_ms()).await;
            tokens.insert(role, t);
        }
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", grpc.local_addr().unwrap());
        let web = web_l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let router = creditrisk::web::router(app.clone(), creditrisk::web::Options::default());
        let task = tokio::spawn(async move {
            let w = tokio::spawn(creditrisk::web::serve(web_l, router, stopped()));
            server::serve_with(grpc, app, Limits::default(), None, stopped())
                .await
                .unwrap();
            w.await.unwrap().unwrap();
            tokio::task::spawn_blocking(move || stopper.close())
                .await
                .unwrap();
        });
        Servers {
            url,
            web,
            tokens,
            store,
            _dir: dir,
            shutdown: tx,
            task,
        }
    }

    pub async fn channel(&self, token: &str) -> creditrisk::cli::client::AuthChannel {
        super::channel(&self.url, token).await
    }

    pub async fn as_role(&self, role: Role) -> creditrisk::cli::client::AuthChannel {
        self.channel(&self.tokens[&role]).await
    }

    /// Both listeners stop on one signal and the store closes.
    pub async fn stop(self) {
        self.shutdown.send(true).unwrap();
        self.task.await.unwrap();
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field: {}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// A browser: a cookie jar and HTTP/1.1 over a fresh connection per request.
pub struct Browser {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: BTreeMap::new(),
        }
    }

    pub async fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Resp {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: console\r\nConnection: close\r\n");
        if !cookie.is_empty() {
            req.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body.unwrap_or(""));
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.into(), value.into());
                }
            }
        }
        Resp {
            status,
            headers,
            body: body.to_string(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &str) -> Resp {
        self.request("POST", path, Some(body)).await
    }

    /// Logs in with `token` through the login form; the answer to the form's POST.
    pub async fn login(&mut self, token: &str) -> Resp {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{page:?}");
        let csrf = page.csrf();
        self.post("/login", &form(&[("csrf", &csrf), ("token", token)]))
            .await
    }
}

// Fixtures shared by the console's tests (tests/web.rs, tests/web_pages.rs, tests/browser.rs).

pub const AS_OF: &str = "2026-11-01";
pub const INSPECTION: &str = "2026-11-10";
pub const SCRIPT: &str = "<script>alert(1)</script>";

/// The numbers (cells of class `n`) of the table row with id `id`.
pub fn row_numbers(body: &str, id: &str) -> Vec<u64> {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row `{id}`"));
    let row = &body[at..at + body[at..].find("</tr>").unwrap()];
    row.split("<td class=\"n")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c[..c.find('<').unwrap()].parse().unwrap()
        })
        .collect()
}

pub fn counts(c: &Option<pb::TierCounts>) -> Vec<u64> {
    let c = c.unwrap_or_default();
    vec![c.a, c.b, c.c, c.d, c.a + c.b + c.c + c.d]
}

/// 60 enterprises in 510104 (every other one catering), the first named like a script; two
/// seriously listed; a roster of food and health inspectors; classified as of AS_OF.
pub async fn population(s: &Servers) -> Vec<String> {
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
                credit_code: synthetic_code(*n).to_string(),
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

/// The inspection item `food-2026` (catering, H62) and the draw `food-2026-11` over the
/// [`population`], made by the planner; the draw as created.
pub async fn food_draw(s: &Servers) -> pb::Draw {
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
    draws
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
        .into_inner()
}

/// One enterprise seriously listed three days ago: the enterprise signal raises a red alert.
pub async fn red_alert(s: &Servers) -> pb::Alert {
    let mut rec =
        pb::record_service_client::RecordServiceClient::new(s.as_role(Role::Ingest).await);
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: vec![synthetic_enterprise(100)],
    })
    .await
    .unwrap();
    let code = synthetic_code(100).to_string();
    rec.append_events(pb::AppendEventsRequest {
        records: vec![pb::CreditEvent {
            event_id: "serious-100".into(),
            credit_code: code.clone(),
            effective_date: creditrisk::clock::today().add_days(-3).to_string(),
            source_department: "samr-chengdu".into(),
            body: Some(pb::credit_event::Body::SeriousListEntry(
                pb::SeriousListEntry {
                    reason: "fraud".into(),
                },
            )),
            seq: 0,
        }],
    })
    .await
    .unwrap();
    let subject = format!("enterprise/{code}");
    let mut w =
        pb::warning_service_client::WarningServiceClient::new(s.as_role(Role::Auditor).await);
    for _ in 0..600 {
        let list = w
            .list_alerts(pb::ListAlertsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .alerts;
        if let Some(a) = list.into_iter().find(|a| a.subject == subject) {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no alert on `{subject}`");
}
