//! The command line from a user's side: what it prints can be fed back (`enterprise get` into
//! `enterprise put`, `events list` into `events append`), and `watch` outlives a server
//! restart. Through the real binary and the library functions it calls.

mod common;

use common::*;
use creditrisk::cli::bench::{synthetic_enterprise, ServerProcess};
use creditrisk::cli::client::Target;
use creditrisk::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs the binary against `s` with `token`, feeding `stdin`; its standard output.
fn cli(url: &str, token: &str, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(exe())
        .args(args)
        .args(["--server", url, "--token", token])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_output_is_accepted_by_put_and_list_by_append() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.jsonl");
    creditrisk::cli::import::write_demo(20, 3, &mut std::fs::File::create(&path).unwrap()).unwrap();
    let opts = creditrisk::cli::import::Options::default();
    let admin = s.tokens[&Role::Admin].clone();
    creditrisk::cli::import::run(&s.target(Role::Ingest), Some(&admin), &path, &opts)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let event = text.lines().find(|l| l.starts_with("{\"event\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(event).unwrap();
    let code = v["event"]["credit_code"].as_str().unwrap().to_string();
    let ingest = s.tokens[&Role::Ingest].clone();
    let got = cli(&s.url, &ingest, &["enterprise", "get", &code], "");
    // The data model's spelling, as `put` reads it.
    assert!(got.contains("\"status\":\"active\""), "{got}");
    let put = cli(&s.url, &ingest, &["enterprise", "put", "-"], &got);
    let summary: serde_json::Value = serde_json::from_str(put.trim()).unwrap();
    assert_eq!(
        (summary["accepted"].as_u64(), summary["duplicates"].as_u64()),
        (Some(0), Some(1)),
        "{put}"
    );
    // `enterprise list` output too.
    let listed = cli(&s.url, &ingest, &["enterprise", "list"], "");
    let put = cli(&s.url, &ingest, &["enterprise", "put", "-"], &listed);
    assert!(put.contains("\"accepted\":0"), "{put}");

    let listed = cli(&s.url, &ingest, &["events", "list", &code], "");
    let n = listed.lines().count();
    assert!(n > 0);
    let again = cli(&s.url, &ingest, &["events", "append", "-"], &listed);
    assert!(again.contains(&format!("\"duplicates\":{n}")), "{again}");
    s.stop().await;
}

/// A server process on `addr` (`127.0.0.1:PORT`) over `dir`.
struct Server(std::process::Child);

impl Server {
    fn start(dir: &std::path::Path, addr: &str) -> Server {
        let mut child = Command::new(exe())
            .args(["serve", "--listen", addr, "--data-dir"])
            .arg(dir)
            .args(common::storage_args(dir))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("creditrisk listening on"), "{line}");
        Server(child)
    }

    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Stores enterprise `n`, classifies it, puts it on the serious list and classifies it again,
/// which logs a tier change to D.
async fn new_tier(url: &str, ingest: &str, admin: &str, n: u64) -> String {
    let e = synthetic_enterprise(n);
    let code = e.credit_code.clone();
    let mut records =
        pb::record_service_client::RecordServiceClient::new(channel(url, ingest).await);
    records
        .upsert_enterprises(pb::UpsertEnterprisesRequest { records: vec![e] })
        .await
        .unwrap();
    let mut classify = ClassificationServiceClient::new(channel(url, admin).await);
    let req = pb::ClassifyRequest {
        credit_code: code.clone(),
        ..Default::default()
    };
    classify.classify(req.clone()).await.unwrap();
    let ev: creditrisk::domain::CreditEvent = serde_json::from_str(&format!(
        r#"{{"event_id":"{code}-serious","credit_code":"{code}","effective_date":"2024-01-02","source_department":"samr-chengdu","body":{{"serious_list_entry":{{"reason":"test"}}}}}}"#
    ))
    .unwrap();
    records
        .append_events(pb::AppendEventsRequest {
            records: vec![creditrisk::server::convert::event_to(&ev, 0)],
        })
        .await
        .unwrap();
    let c = classify.classify(req).await.unwrap().into_inner();
    assert_eq!(c.tier, "D", "{c:?}");
    code
}

/// Waits (boundedly) for a message that `pred` accepts.
async fn wait_for<T: std::fmt::Debug>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    what: &str,
    pred: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) if pred(&m) => return m,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watcher ended while waiting for {what}"),
            Err(_) => panic!("no {what} within two minutes"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reconnects_with_its_cursor_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = common::start_process(dir.path(), &[]).unwrap();
    let url = first.url.clone();
    let addr = url.trim_start_matches("http://").to_string();
    let admin = ServerProcess::admin_token(dir.path()).unwrap();
    let ingest = first
        .target_as(dir.path(), "watch-ingest", Role::Ingest, "test")
        .await
        .unwrap()
        .token
        .unwrap();
    let code1 = new_tier(&url, &ingest, &admin, 1).await;

    let (changes_tx, mut changes) = tokio::sync::mpsc::unbounded_channel::<pb::TierChange>();
    let (notes_tx, mut notes) = tokio::sync::mpsc::unbounded_channel::<String>();
    let target = Target::new(&url, Some(admin.clone()));
    let watcher = tokio::spawn(async move {
        creditrisk::cli::rules::watch_with(
            &target,
            0,
            "",
            "any",
            &mut |t| {
                let _ = changes_tx.send(t.clone());
            },
            &mut |n| {
                let _ = notes_tx.send(n.to_string());
            },
        )
        .await
    });
    let c1 = wait_for(&mut changes, "the first change", |t| t.credit_code == code1).await;

    // The server goes away: the watcher says so, and keeps trying.
    first.stop().unwrap();
    let lost = wait_for(&mut notes, "a lost-connection note", |n| {
        n.starts_with("connection lost")
    })
    .await;
    assert!(
        lost.contains(&format!("reconnecting from cursor {}", c1.cursor)),
        "{lost}"
    );
    assert!(!watcher.is_finished());

    // Back on the same address and data: the watcher resumes after its cursor.
    let second = Server::start(dir.path(), &addr);
    wait_for(&mut notes, "a reconnected note", |n| {
        n.starts_with("reconnected")
    })
    .await;
    let code2 = new_tier(&url, &ingest, &admin, 2).await;
    let c2 = wait_for(&mut changes, "the change after the restart", |t| {
        t.credit_code == code2
    })
    .await;
    assert!(c2.cursor > c1.cursor);
    // Nothing was delivered twice.
    while let Ok(t) = changes.try_recv() {
        assert_ne!(t.credit_code, code1, "redelivered after the reconnect");
    }
    watcher.abort();
    second.stop();
}

/// A refused token is not retried: `watch` ends with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_with_the_reason_for_a_bad_token() {
    let s = TestServer::start().await;
    let target = Target::new(&s.url, Some("cr_nobody_secret".into()));
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        creditrisk::cli::rules::watch_with(&target, 0, "", "any", &mut |_| {}, &mut |_| {}),
    )
    .await
    .expect("watch did not end");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("Unauthenticated"), "{e}");
    s.stop().await;
}

/// A record the command line cannot read is refused before anything is sent, in one line that
/// names the file line, the field and the value, without a backtrace even when RUST_BACKTRACE
/// is set in the operator's shell; and a reader that goes away early (`| head`) ends the
/// command quietly instead of a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_records_name_their_field_and_a_closed_pipe_is_quiet() {
    let s = TestServer::start().await;
    let ingest = s.tokens[&Role::Ingest].clone();
    let bad = r#"{"event_id":"x1","credit_code":"91510100054946627W","effective_date":"2025-02-30","source_department":"samr-chengdu","body":{"complaint":{"verified":true}}}"#;
    let mut child = Command::new(exe())
        .args([
            "events", "append", "-", "--server", &s.url, "--token", &ingest,
        ])
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("\n{bad}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "Error: line 2: field `effective_date`: `2025-02-30` is not a calendar date"
    );
    // Many lines into a reader that closes after the first: no panic, no error text.
    let demo = tempfile::tempdir().unwrap();
    let path = demo.path().join("d.jsonl");
    // More than a pipe's buffer (64 KiB) of listing, so the writer must meet the closed pipe.
    creditrisk::cli::import::write_demo(400, 5, &mut std::fs::File::create(&path).unwrap())
        .unwrap();
    let opts = creditrisk::cli::import::Options::default();
    let admin = s.tokens[&Role::Admin].clone();
    creditrisk::cli::import::run(&s.target(Role::Ingest), Some(&admin), &path, &opts)
        .await
        .unwrap();
    let mut child = Command::new(exe())
        .args(["enterprise", "list", "--all", "--page-size", "1"])
        .args(["--server", &s.url, "--token", &ingest])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("credit_code"), "{first}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{err}");
    s.stop().await;
}
