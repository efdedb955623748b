//! First contact: the installed binary outside the checkout (built-in rules, clear start-up
//! errors, no half-made data folder), server reflection v1alpha, the tier filter of
//! ListEnterprises and the tier report.

mod common;

use common::{exe, TestServer};
use creditrisk::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use pb::record_service_client::RecordServiceClient;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use tonic::Code;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `creditrisk ARGS` run in `cwd` with no `CREDITRISK_*` settings from the environment.
fn creditrisk(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(exe());
    c.current_dir(cwd).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("CREDITRISK_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn").env_remove("RUST_BACKTRACE");
    c
}

/// Starts `serve` and waits for its "listening" line; returns the child and its URL.
fn start_serve(cwd: &Path, args: &[&str]) -> (Child, String) {
    // Standard error goes to a file, so a chatty server never blocks on a full pipe.
    let log = cwd.join("serve.log");
    let mut child = creditrisk(cwd, &[&["serve"], args].concat())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let Some(addr) = first.trim().strip_prefix("creditrisk listening on ") else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "no listening line: {first:?}; stderr: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    };
    let addr = addr.to_string();
    // Keep reading standard output (the demo tokens follow), so the server never writes to a
    // closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, format!("http://{addr}"))
}

/// Runs `serve` expecting it to fail; returns its standard error.
fn failing_serve(cwd: &Path, args: &[&str]) -> String {
    let out = creditrisk(cwd, &[&["serve"], args].concat())
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn demo_token(data: &Path, role: &str) -> String {
    let env = std::fs::read_to_string(data.join("demo-tokens.env")).unwrap();
    let key = format!("CR_TOKEN_{}=", role.to_uppercase());
    env.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap()
        .to_string()
}

/// Every enterprise with its listed current tier, through ListEnterprises (optionally filtered).
async fn list_all(
    c: &mut RecordServiceClient<common::AuthChannel>,
    jurisdiction: &str,
    tier: &str,
) -> Vec<pb::Enterprise> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_enterprises(pb::ListEnterprisesRequest {
                page_size: 37,
                page_token: token,
                jurisdiction: jurisdiction.into(),
                tier: tier.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(r.enterprises);
        if r.next_page_token.is_empty() {
            return out;
        }
        token = r.next_page_token;
    }
}

type Counts = [u64; 4];

fn counts(c: &Option<pb::TierCounts>) -> Counts {
    let c = c.unwrap();
    [c.a, c.b, c.c, c.d]
}

fn tier_index(t: &str) -> usize {
    ["A", "B", "C", "D"].iter().position(|x| *x == t).unwrap()
}

/// The report's counts equal those of listing every enterprise with its tier.
fn assert_report_matches_listing(report: &pb::ReportTiersResponse, all: &[pb::Enterprise]) {
    let mut overall = [0u64; 4];
    let mut by_j: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_s: BTreeMap<String, Counts> = BTreeMap::new();
    for e in all {
        assert!(!e.tier.is_empty(), "{} has a tier", e.credit_code);
        let t = tier_index(&e.tier);
        overall[t] += 1;
        by_j.entry(e.jurisdiction.clone()).or_default()[t] += 1;
        by_s.entry(e.industry.get(..1).unwrap_or("").to_string())
            .or_default()[t] += 1;
    }
    assert_eq!(counts(&report.overall), overall);
    let rows = |rows: &[pb::TierMixRow]| -> BTreeMap<String, Counts> {
        rows.iter()
            .map(|r| (r.key.clone(), counts(&r.counts)))
            .collect()
    };
    assert_eq!(rows(&report.by_jurisdiction), by_j);
    assert_eq!(rows(&report.by_industry_section), by_s);
}

/// `cargo install`ed binary behaviour: `serve --demo` from a folder outside the checkout works
/// on the built-in rules; a second server on the same address or data folder fails at once
/// naming it; the tier filter and the tier report agree with a full listing before and after a
/// re-classification; a first start that fails leaves no data folder.
#[tokio::test(flavor = "multi_thread")]
async fn serve_demo_outside_the_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (mut child, url) = start_serve(
        cwd,
        &["--demo", "--demo-entities", "200", "--listen", &listen],
    );
    let data = cwd.join("data");

    // Serving: health, with no token.
    let ch = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(ch.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "creditrisk.v1.ClassificationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, 1, "SERVING");

    // The same address again: refused at once, naming it, without touching its data folder.
    let err = failing_serve(cwd, &["--listen", &listen, "--data-dir", "other"]);
    assert!(
        err.contains(&format!("cannot listen on `{listen}`: address in use")),
        "{err}"
    );
    assert!(!cwd.join("other").exists(), "no data folder made");
    // Another address, the same data folder: refused, naming the folder.
    let other = format!("127.0.0.1:{}", free_port());
    let err = failing_serve(cwd, &["--listen", &other]);
    assert!(
        err.contains("data folder `./data` is in use by another creditrisk process"),
        "{err}"
    );

    // The demo's run is the latest whole-population run: the report is its mix, and equals
    // the counts of listing every enterprise with its current tier.
    let planner = demo_token(&data, "planner");
    let admin = demo_token(&data, "admin");
    let mut records = RecordServiceClient::new(common::channel(&url, &planner).await);
    let mut cls = ClassificationServiceClient::new(common::channel(&url, &planner).await);
    let report = cls
        .report_tiers(pb::ReportTiersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_ne!(report.run_id, 0, "{report:?}");
    assert!(report.finished && report.jurisdiction.is_empty());
    let all = list_all(&mut records, "", "").await;
    assert_eq!(all.len(), 200);
    assert_report_matches_listing(&report, &all);
    let demo_run = report.run_id;

    // A re-classification at a later date: a new run, its report matches the listing again.
    let last = common::reclassify_all_with(&url, &admin, "2026-12-01").await;
    let report = cls
        .report_tiers(pb::ReportTiersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.run_id, last.run_id);
    assert_eq!(report.as_of, "2026-12-01");
    assert_eq!(counts(&report.overall).to_vec(), last.tiers);
    let all = list_all(&mut records, "", "").await;
    assert_report_matches_listing(&report, &all);
    // An older run is still reported as it was.
    let old = cls
        .report_tiers(pb::ReportTiersRequest { run_id: demo_run })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(old.run_id, demo_run);
    let err = cls
        .report_tiers(pb::ReportTiersRequest { run_id: 999_999 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // "All D-tier enterprises in district X" is one listing.
    let (district, _) = report
        .by_jurisdiction
        .iter()
        .map(|r| (r.key.clone(), counts(&r.counts)))
        .max_by_key(|(_, c)| c[3])
        .unwrap();
    for tier in ["A", "B", "C", "D"] {
        let want: Vec<String> = all
            .iter()
            .filter(|e| e.jurisdiction == district && e.tier == tier)
            .map(|e| e.credit_code.clone())
            .collect();
        let got: Vec<String> = list_all(&mut records, &district, &tier.to_lowercase())
            .await
            .into_iter()
            .map(|e| {
                assert_eq!(e.tier, tier);
                e.credit_code
            })
            .collect();
        assert_eq!(got, want, "tier {tier} in {district}");
    }
    let err = records
        .list_enterprises(pb::ListEnterprisesRequest {
            tier: "E".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        common::violations(&err),
        vec![(
            "tier".to_string(),
            "`E` is not a tier: use A, B, C or D".to_string()
        )]
    );

    // Stop it (SIGTERM: a clean shutdown).
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // A first start that fails after creating its data folder removes it again: here the demo
    // items file (from an exported, then broken, rules folder) does not parse.
    let out = creditrisk(cwd, &["rules", "export", "myrules"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::write(cwd.join("myrules/items.toml"), "[[item]]\nnot = valid\n").unwrap();
    let mut c = creditrisk(
        cwd,
        &[
            "serve",
            "--demo",
            "--demo-entities",
            "20",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "fresh",
        ],
    );
    c.env("CREDITRISK_SUPERVISION_DIR", cwd.join("myrules"));
    let out = c.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("items.toml"), "{err}");
    assert!(
        !cwd.join("fresh").exists(),
        "the failed first start left `fresh`"
    );
}

/// `rules export` writes the built-in files (the same rule set as the checkout's folder) and
/// refuses to overwrite them without --force.
#[test]
fn rules_export_writes_the_built_in_files_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let out = creditrisk(cwd, &["rules", "export", "r"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let again = creditrisk(cwd, &["rules", "export", "r"]).output().unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists: nothing written"),
        "{again:?}"
    );
    let forced = creditrisk(cwd, &["rules", "export", "r", "--force"])
        .output()
        .unwrap();
    assert!(forced.status.success(), "{forced:?}");
    let check = |dir: &Path| {
        let out = creditrisk(cwd, &["rules", "check", dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().last().unwrap().to_string()
    };
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    assert_eq!(check(&cwd.join("r/default")), check(&checkout));
}

/// Server reflection v1alpha (grpcio-reflection, older grpcurl, Postman, evans) lists the
/// services without a token, like v1.
#[tokio::test]
async fn reflection_v1alpha_lists_services_without_a_token() {
    use tonic_reflection::pb::v1alpha::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let s = TestServer::start().await;
    let mut refl = ServerReflectionClient::new(s.raw_channel().await);
    let mut resp = refl
        .server_reflection_info(futures::stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner();
    let msg = resp.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("{msg:?}")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "creditrisk.v1.RecordService",
        "creditrisk.v1.ClassificationService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    s.stop().await;
}
