//! Webhook push per department (issue 12's optional push) through a real server and a real
//! receiver on 127.0.0.1:0: the body is the alert event, signed with HMAC-SHA256 over
//! timestamp and body; a 500 is retried and the next 200 ends it; a step whose deliveries all
//! failed before a restart is delivered after it (the outbox is durable); a department without
//! a webhook gets nothing. Retry waits are 20 ms here (`Delivery::base`); the doubling itself is
//! a unit test in `warnsvc::webhook`.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use creditrisk::server::pb;
use creditrisk::warnsvc::webhook::{Delivery, Secret, Webhook};
use pb::warning_service_client::WarningServiceClient;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &[u8] = b"a test secret of 32 bytes, fine.";
const BAKERY: &str = "group/district=510104;product_category=bakery";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    delivery: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    /// Answer 500 to this many more requests.
    fail_next: AtomicU32,
    /// Answer 500 to every request.
    fail_all: AtomicBool,
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let fail = r.fail_all.load(Ordering::SeqCst)
        || r.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let status = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    r.got.lock().unwrap().push(Got {
        delivery: h("x-creditrisk-delivery"),
        signature: h("x-creditrisk-signature"),
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

/// The receiver, listening on 127.0.0.1:0; its URL.
async fn receiver() -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, url)
}

/// A server over `dir` pushing `samr-chengdu`'s alert steps to `url` (and nobody else's).
async fn server(dir: tempfile::TempDir, url: &str) -> TestServer {
    let hook = Webhook {
        department: "samr-chengdu".into(),
        authority: url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .into(),
        url: url.parse().unwrap(),
        secret: Secret::new(SECRET.to_vec()).unwrap(),
    };
    let delivery = Delivery {
        max_attempts: 20,
        base: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    };
    TestServer::start_setup(dir, Default::default(), None, move |app| {
        app.enable_webhooks(vec![hook], delivery)
    })
    .await
}

/// Checks the signature header against the body, as a receiver would.
fn verify(g: &Got) -> serde_json::Value {
    use hmac::{Hmac, Mac};
    let (t, v1) = g
        .signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap_or_else(|| panic!("bad signature header `{}`", g.signature));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&g.body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature verifies");
    let now = creditrisk::clock::now_ms();
    let t: i64 = t.parse().unwrap();
    assert!((now - t).abs() < 600_000, "timestamp {t} is now");
    serde_json::from_slice(&g.body).unwrap()
}

/// Waits (boundedly) until the receiver holds a request matching `f`.
async fn wait_for(r: &Receiver, what: &str, f: impl Fn(&Got) -> bool) -> Got {
    for _ in 0..500 {
        if let Some(g) = r.got.lock().unwrap().iter().find(|g| f(g)) {
            return g.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the receiver never got {what}: {:?}", r.got.lock().unwrap());
}

async fn spot_checks(s: &TestServer, category: &str, ns: std::ops::Range<u64>) {
    let first = ns.start;
    let records = ns
        .map(|n| pb::CreditEvent {
            event_id: format!("{category}-{n}"),
            credit_code: synthetic_code(n).to_string(),
            effective_date: format!("2026-11-{:02}", 1 + n % 28),
            source_department: "samr-chengdu".into(),
            body: Some(pb::credit_event::Body::SpotCheck(pb::SpotCheck {
                passed: n - first >= 5,
                product_category: category.into(),
            })),
            seq: 0,
        })
        .collect();
    s.client()
        .await
        .append_events(pb::AppendEventsRequest { records })
        .await
        .unwrap();
}

#[tokio::test]
async fn warned_alerts_are_pushed_signed_retried_and_kept_across_a_restart() {
    let (r, url) = receiver().await;
    let s = server(tempfile::tempdir().unwrap(), &url).await;
    // Two clusters: bakery products (to be warned to market regulation, which has a webhook)
    // and dairy (to health, which has none).
    s.client()
        .await
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: (1..=24).map(synthetic_enterprise).collect(),
        })
        .await
        .unwrap();
    spot_checks(&s, "bakery", 1..13).await;
    spot_checks(&s, "dairy", 13..25).await;
    let mut w = WarningServiceClient::new(s.channel_as(Role::Planner).await);
    w.evaluate_groups(pb::EvaluateGroupsRequest {
        as_of: "2026-11-30".into(),
        cut: 0,
    })
    .await
    .unwrap();
    let alerts = w
        .list_alerts(pb::ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let bakery = alerts
        .iter()
        .find(|a| a.subject == BAKERY)
        .unwrap()
        .id
        .clone();
    let dairy = alerts
        .iter()
        .find(|a| a.subject.contains("dairy"))
        .unwrap()
        .id
        .clone();
    for (id, d) in [(&dairy, "health-chengdu"), (&bakery, "samr-chengdu")] {
        w.assess_alert(pb::AssessAlertRequest {
            alert_id: id.clone(),
            decision: "confirmed".into(),
            reason: "real".into(),
        })
        .await
        .unwrap();
        if id == &bakery {
            // The first delivery of the warn step is refused once.
            r.fail_next.store(1, Ordering::SeqCst);
        }
        w.warn_alert(pb::WarnAlertRequest {
            alert_id: id.clone(),
            departments: vec![d.into()],
        })
        .await
        .unwrap();
    }
    let ok = wait_for(&r, "the warn step delivered", |g| g.answered == 200).await;
    let body = verify(&ok);
    assert_eq!(body["alert_id"], bakery.as_str());
    assert_eq!(body["action"], "warn");
    assert_eq!(body["state"], "warned");
    assert_eq!(body["department"], "samr-chengdu");
    assert_eq!(body["subject"], BAKERY);
    assert_eq!(body["delivery"], ok.delivery.as_str());
    // Retried: the same delivery was answered 500 first, and signed too.
    let tries: Vec<Got> = r
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|g| g.delivery == ok.delivery)
        .cloned()
        .collect();
    assert_eq!(
        tries.iter().map(|g| g.answered).collect::<Vec<_>>(),
        [500, 200]
    );
    assert_eq!(verify(&tries[0]), body);

    // Every attempt at the next step fails; the server stops in the middle of the retries.
    r.fail_all.store(true, Ordering::SeqCst);
    w.dispose_alert(pb::DisposeAlertRequest {
        alert_id: bakery.clone(),
        kind: "interview".into(),
        deadline: "2026-12-20".into(),
        note: "the cluster".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let failed = wait_for(&r, "the dispose step attempted", |g| {
        g.answered == 500 && g.delivery != ok.delivery
    })
    .await;
    let dir = s.stop().await;
    r.fail_all.store(false, Ordering::SeqCst);
    let s = server(dir, &url).await;
    let later = wait_for(&r, "the dispose step delivered after the restart", |g| {
        g.answered == 200 && g.delivery == failed.delivery
    })
    .await;
    let body = verify(&later);
    assert_eq!(body["action"], "dispose");
    assert_eq!(body["alert_id"], bakery.as_str());
    // Health has no webhook: none of the dairy alert's steps went anywhere.
    let got = r.got.lock().unwrap().clone();
    assert!(
        got.iter().all(|g| verify(g)["alert_id"] == bakery.as_str()),
        "{got:?}"
    );
    // Nothing before the warn step went out: market regulation was not yet notified.
    assert!(got.iter().all(|g| verify(g)["action"] != "raise"));
    s.stop().await;
}
