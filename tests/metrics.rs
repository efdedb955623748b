//! `/metrics`: a real server takes gRPC calls; the exposition, rendered through the router and
//! parsed by a third-party Prometheus text parser (`prometheus-parse`), shows the counters moved
//! by the right amounts for the right method and status, the writer's commits, and the store.
//! Also: docs/metrics.md lists exactly the metrics exposed, and every expression of the Grafana
//! dashboard names a documented metric.

mod common;

use common::{issue, synthetic_enterprise, synthetic_event, Role};
use creditrisk::app::App;
use creditrisk::server::{self, pb, Limits};
use prometheus_parse::{Scrape, Value};
use std::collections::BTreeSet;
use tower::ServiceExt;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A real server over a temporary store, keeping a handle on its [`App`] for the router.
struct Served {
    url: String,
    app: App,
    admin: String,
    ingest: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, stopper) = common::open_app(dir.path(), 64).unwrap();
    app.classifier()
        .rule_sets()
        .ensure_default(&std::path::Path::new(ROOT).join("rules/default"), 0)
        .await
        .unwrap();
    app.enable_draws(&std::path::Path::new(ROOT).join("rules"))
        .unwrap();
    let now = creditrisk::clock::now_ms();
    let admin = issue(app.tokens(), Role::Admin, "test", None, now).await;
    let ingest = issue(app.tokens(), Role::Ingest, "test", None, now).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    let task = tokio::spawn(async move {
        server::serve(listener, served, Limits::default(), async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        tokio::task::spawn_blocking(move || stopper.close())
            .await
            .unwrap();
    });
    Served {
        url,
        app,
        admin,
        ingest,
        shutdown,
        task,
        _dir: dir,
    }
}

/// `GET /metrics` through a router over `app`, as text, after checking status and type.
async fn scrape_text(router: &axum::Router) -> String {
    let res = router
        .clone()
        .oneshot(
            http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), http::StatusCode::OK);
    let ct = res.headers()[http::header::CONTENT_TYPE].to_str().unwrap();
    assert_eq!(ct, creditrisk::metrics::CONTENT_TYPE);
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

async fn scrape(router: &axum::Router) -> Scrape {
    let text = scrape_text(router).await;
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of the counter, gauge or untyped sample `name` whose labels include `labels`
/// (0 when absent: a counter not yet counted).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = s
        .samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("`{name}` is not a single value: {other:?}"),
        })
        .collect();
    assert!(found.len() <= 1, "`{name}` {labels:?} matches {found:?}");
    found.first().copied().unwrap_or(0.0)
}

/// The sum of the samples `name` with label `label`, whatever their other labels.
fn total(s: &Scrape, name: &str, label: (&str, &str)) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && x.labels.get(label.0) == Some(label.1))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

const UPSERT: &str = "/creditrisk.v1.RecordService/UpsertEnterprises";
const APPEND: &str = "/creditrisk.v1.RecordService/AppendEvents";
const RECLASSIFY: &str = "/creditrisk.v1.ClassificationService/Reclassify";

/// The counters are the process's: no other test of this file calls the methods counted here
/// (the writer's histograms, which every test moves, are checked with lower bounds).
#[tokio::test]
async fn calls_commits_and_the_store_show_in_the_exposition() {
    let s = serve().await;
    let before_router = creditrisk::metrics::router(s.app.clone());
    let before = scrape(&before_router).await;

    let mut records = pb::record_service_client::RecordServiceClient::new(
        common::channel(&s.url, &s.ingest).await,
    );
    // Unary success: status OK in the trailers.
    records
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: (0..3).map(synthetic_enterprise).collect(),
        })
        .await
        .unwrap();
    records
        .append_events(pb::AppendEventsRequest {
            records: vec![synthetic_event("m", 0, 0), synthetic_event("m", 1, 1)],
        })
        .await
        .unwrap();
    // Unary failure: INVALID_ARGUMENT, answered trailers-only.
    let mut bad = synthetic_event("m", 2, 2);
    bad.credit_code = "not-a-code".into();
    let err = records
        .append_events(pb::AppendEventsRequest { records: vec![bad] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // Refused by the access layer: no token.
    let mut anonymous =
        pb::record_service_client::RecordServiceClient::new(common::channel(&s.url, "").await);
    let err = anonymous
        .upsert_enterprises(pb::UpsertEnterprisesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    // A path no service declares: labelled `unknown`, whatever the answer.
    let mut raw = tonic::client::Grpc::new(common::channel(&s.url, &s.ingest).await);
    raw.ready().await.unwrap();
    let answer: Result<tonic::Response<()>, tonic::Status> = raw
        .unary(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static("/nope.v1.Nothing/Here"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert!(answer.is_err());
    // A server stream to its end: its status comes in the trailers after the messages.
    common::reclassify_all_with(&s.url, &s.admin, "2026-06-01").await;

    let after = scrape(&before_router).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let calls = "creditrisk_grpc_calls_total";
    assert_eq!(delta(calls, &[("method", UPSERT), ("code", "OK")]), 1.0);
    assert_eq!(
        delta(calls, &[("method", UPSERT), ("code", "UNAUTHENTICATED")]),
        1.0
    );
    assert_eq!(delta(calls, &[("method", APPEND), ("code", "OK")]), 1.0);
    assert_eq!(
        delta(calls, &[("method", APPEND), ("code", "INVALID_ARGUMENT")]),
        1.0
    );
    assert_eq!(delta(calls, &[("method", RECLASSIFY), ("code", "OK")]), 1.0);
    assert_eq!(
        delta(calls, &[("method", RECLASSIFY), ("code", "CANCELLED")]),
        0.0
    );
    let unknown =
        total(&after, calls, ("method", "unknown")) - total(&before, calls, ("method", "unknown"));
    assert_eq!(unknown, 1.0);
    assert!(after
        .samples
        .iter()
        .all(|x| x.labels.get("method") != Some("/nope.v1.Nothing/Here")));
    // Latency: one observation per call, by method.
    let hist = "creditrisk_grpc_call_duration_seconds_count";
    assert_eq!(delta(hist, &[("method", APPEND)]), 2.0);
    assert_eq!(delta(hist, &[("method", UPSERT)]), 2.0);
    assert_eq!(delta(hist, &[("method", RECLASSIFY)]), 1.0);
    let bucketed = after
        .samples
        .iter()
        .find(|x| {
            x.metric == "creditrisk_grpc_call_duration_seconds"
                && x.labels.get("method") == Some(APPEND)
        })
        .expect("the latency histogram of AppendEvents");
    match &bucketed.value {
        Value::Histogram(b) => {
            let inf = b.iter().find(|c| c.less_than.is_infinite()).unwrap();
            assert!(inf.count >= 2.0, "{b:?}");
        }
        other => panic!("not a histogram: {other:?}"),
    }

    // The writer: the two successful ingest calls committed 3 + 2 records (the run and the
    // token checks commit more); each commit was timed.
    let commits = delta("creditrisk_writer_commit_duration_seconds_count", &[]);
    let groups = delta("creditrisk_writer_group_jobs_count", &[]);
    let jobs = delta("creditrisk_writer_group_jobs_sum", &[]);
    let written = delta("creditrisk_writer_group_records_sum", &[]);
    assert!(commits >= 2.0, "commits {commits}");
    assert!(groups >= commits, "groups {groups} commits {commits}");
    // Upsert, append, the refused append (a job that failed), and the run's jobs.
    assert!(jobs >= 3.0, "jobs {jobs}");
    assert!(written >= 5.0, "records {written}");
    assert_eq!(delta("creditrisk_writer_commit_failures_total", &[]), 0.0);

    // The store, through a fresh router (the scanned counts of the first one are cached).
    let store = scrape(&creditrisk::metrics::router(s.app.clone())).await;
    assert_eq!(value(&store, "creditrisk_enterprises", &[]), 3.0);
    assert_eq!(value(&store, "creditrisk_events", &[]), 2.0);
    let tiers: f64 = ["A", "B", "C", "D"]
        .iter()
        .map(|t| value(&store, "creditrisk_enterprises_by_tier", &[("tier", t)]))
        .sum();
    assert_eq!(tiers, 3.0, "the run classified every enterprise");
    assert_eq!(value(&store, "creditrisk_run_active", &[]), 0.0);
    assert_eq!(value(&store, "creditrisk_draws", &[]), 0.0);
    assert!(value(&store, "creditrisk_audit_log_entries", &[]) >= 3.0);
    assert!(value(&store, "creditrisk_store_size_bytes", &[]) > 0.0);
    // The tier mix equals what ReportTiers answers.
    let report = s.app.classifier().tier_report(None).unwrap();
    for (t, n) in ["A", "B", "C", "D"].iter().zip(report.mix.overall) {
        assert_eq!(
            value(&store, "creditrisk_enterprises_by_tier", &[("tier", t)]),
            n as f64
        );
    }

    let _ = s.shutdown.send(());
    s.task.await.unwrap();
}

/// The metric names in the table of docs/metrics.md (first column, in backticks).
fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(std::path::Path::new(ROOT).join("docs/metrics.md")).unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("creditrisk_"))
        .map(str::to_string)
        .collect()
}

/// The metric families exposed, named as queried: counters with `_total`, others as declared.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next().unwrap();
            match parts.next() {
                Some("counter") => format!("{name}_total"),
                _ => name.to_string(),
            }
        })
        .collect()
}

#[tokio::test]
async fn every_documented_metric_is_exposed_and_every_exposed_one_documented() {
    let s = serve().await;
    // A family with labels shows once it has a member: one call gives the gRPC ones theirs.
    // (A method the other test does not count: the counters are the process's, shared by the
    // tests of this file running at once.)
    let mut anonymous =
        pb::record_service_client::RecordServiceClient::new(common::channel(&s.url, "").await);
    let err = anonymous
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let text = scrape_text(&creditrisk::metrics::router(s.app.clone())).await;
    if std::env::var_os("METRICS_PEEK").is_some() {
        println!("{text}");
    }
    // The exposition parses, and every sample belongs to a declared family.
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(!parsed.samples.is_empty());
    let exposed = exposed(&text);
    let documented = documented();
    assert!(documented.len() >= 15, "{documented:?}");
    assert_eq!(
        exposed, documented,
        "docs/metrics.md and the exposition list different metrics"
    );
    for name in &exposed {
        assert!(name.starts_with("creditrisk_"), "{name}");
    }
    let _ = s.shutdown.send(());
    s.task.await.unwrap();
}

/// The `creditrisk_*` names in a PromQL expression.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("creditrisk_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

#[test]
fn every_dashboard_expression_names_documented_metrics() {
    let path = std::path::Path::new(ROOT).join("docs/grafana/creditrisk.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(dash["panels"].as_array().is_some_and(|p| !p.is_empty()));
    assert!(dash["title"].is_string());
    let mut all = Vec::new();
    exprs(&dash, &mut all);
    assert!(all.len() >= 9, "{all:?}");
    let documented = documented();
    for e in &all {
        let names = names_in(e);
        assert!(!names.is_empty(), "`{e}` names no creditrisk metric");
        for n in names {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .filter(|b| documented.contains(*b))
                .unwrap_or(&n);
            assert!(
                documented.contains(base),
                "`{n}` in `{e}` is not in docs/metrics.md"
            );
        }
    }
    // Each documented metric the brief asks for has a panel: calls, latency, commits, tiers,
    // store size.
    let joined = all.join("\n");
    for m in [
        "creditrisk_grpc_calls_total",
        "creditrisk_grpc_call_duration_seconds_bucket",
        "creditrisk_writer_commit_duration_seconds_bucket",
        "creditrisk_enterprises_by_tier",
        "creditrisk_store_size_bytes",
    ] {
        assert!(joined.contains(m), "no panel shows `{m}`");
    }
}

#[test]
fn the_scrape_config_targets_the_web_port() {
    let cfg =
        std::fs::read_to_string(std::path::Path::new(ROOT).join("docs/prometheus.yml")).unwrap();
    assert!(cfg.contains("metrics_path: /metrics"));
    assert!(cfg.contains("\"127.0.0.1:8080\""));
}

/// Measures what a scrape costs over a larger store (not a check: run by hand with
/// `METRICS_BENCH_N=200000 cargo test --test metrics -- --ignored --nocapture`): the first
/// scrape waits for the scans, later ones only read a few keys.
#[tokio::test]
#[ignore]
async fn scrape_cost_over_many_enterprises() {
    let n: u64 = std::env::var("METRICS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let s = serve().await;
    let mut records = pb::record_service_client::RecordServiceClient::new(
        common::channel(&s.url, &s.ingest).await,
    );
    let t = std::time::Instant::now();
    for lo in (0..n).step_by(1000) {
        records
            .upsert_enterprises(pb::UpsertEnterprisesRequest {
                records: (lo..(lo + 1000).min(n)).map(synthetic_enterprise).collect(),
            })
            .await
            .unwrap();
    }
    println!("loaded {n} enterprises in {:?}", t.elapsed());
    common::reclassify_all_with(&s.url, &s.admin, "2026-06-01").await;
    let router = creditrisk::metrics::router(s.app.clone());
    let t = std::time::Instant::now();
    let first = scrape(&router).await;
    println!("first scrape (scans): {:?}", t.elapsed());
    assert_eq!(value(&first, "creditrisk_enterprises", &[]), n as f64);
    for i in 0..3 {
        let t = std::time::Instant::now();
        scrape(&router).await;
        println!(
            "scrape {} (cached or cheap reads): {:?}",
            i + 2,
            t.elapsed()
        );
    }
    tokio::time::sleep(creditrisk::metrics::store::FAST_TTL).await;
    let t = std::time::Instant::now();
    scrape(&router).await;
    println!("scrape after the cheap reads expired: {:?}", t.elapsed());
    let _ = s.shutdown.send(());
    s.task.await.unwrap();
}

#[tokio::test]
async fn open_alerts_are_counted_by_level() {
    use creditrisk::warn::Level;
    use creditrisk::warnsvc::alert::Basis;
    use creditrisk::warnsvc::NewFiring;
    let s = serve().await;
    let firing = |subject: &str, level: Level| NewFiring {
        rule_id: "group.rate".into(),
        subject: subject.into(),
        level,
        evidence: Default::default(),
        enterprises: vec![],
        sectors: vec![],
        group: vec![("district".into(), "510104".into())],
        district: None,
        routed: vec!["samr-chengdu".into()],
        cross_department: false,
        basis: Basis {
            rule_set: "h".into(),
            as_of: creditrisk::domain::Date::parse("2026-11-30").unwrap(),
            cut: 1,
            classification_seq: None,
            previous_tier: None,
            tiers: Default::default(),
            tiers_run: None,
        },
    };
    let firings = vec![
        firing("group/district=510104", Level::Orange),
        firing("group/district=510105", Level::Red),
        firing("group/district=510106", Level::Red),
    ];
    let app = s.app.clone();
    tokio::task::spawn_blocking(move || {
        let today = creditrisk::domain::Date::parse("2026-12-01").unwrap();
        app.warnings().fire(firings, "test", 1, today).unwrap();
    })
    .await
    .unwrap();
    let scraped = scrape(&creditrisk::metrics::router(s.app.clone())).await;
    for (level, n) in [
        ("blue", 0.0),
        ("yellow", 0.0),
        ("orange", 1.0),
        ("red", 2.0),
    ] {
        assert_eq!(
            value(&scraped, "creditrisk_alerts_open", &[("level", level)]),
            n,
            "{level}"
        );
    }
    let _ = s.shutdown.send(());
    s.task.await.unwrap();
}
