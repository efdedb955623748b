//! The PostgreSQL backend's own behaviour: clear start-up errors that never show the password,
//! and `store copy` between sled and PostgreSQL in both directions. (Every other suite runs on
//! PostgreSQL too when `CREDITRISK_TEST_POSTGRES` is set: see `tests/common`.)

mod common;

use common::*;
use creditrisk::app::App;
use creditrisk::storage::postgres::admin::TEST_SERVER_VAR;
use creditrisk::storage::postgres::TestDatabase;
use std::process::Command;

/// Runs `creditrisk serve` on a fresh folder with `--storage url`; it must fail. Returns the
/// error output.
fn serve_fails(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(exe())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--storage",
            url,
            "--data-dir",
        ])
        .arg(dir.path().join("d"))
        .env_remove("CREDITRISK_STORAGE")
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started on {url}");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn unreachable_or_malformed_storage_fails_clearly_without_the_password() {
    // Nothing listens on port 1: retried with backoff, then refused, naming host and database.
    let err = serve_fails("postgres://alice:s3cret-pw@127.0.0.1:1/regulator");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(
        err.contains("`127.0.0.1:1`") && err.contains("`regulator`"),
        "{err}"
    );
    assert!(err.contains("after 5 attempts"), "{err}");
    let err = serve_fails("postgres://alice:s3cret-pw@127.0.0.1:notaport/regulator");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(
        err.contains("--storage") && err.contains("cannot parse"),
        "{err}"
    );
    let err = serve_fails("mysql://alice:s3cret-pw@127.0.0.1/regulator");
    assert!(
        !err.contains("s3cret-pw") && err.contains("neither"),
        "{err}"
    );
}

/// The server URL of the test cluster, or `None` (with a note) when the variable is unset.
fn test_server() -> Option<String> {
    let v = std::env::var(TEST_SERVER_VAR).ok();
    if v.is_none() {
        eprintln!("{TEST_SERVER_VAR} not set: PostgreSQL part not run");
    }
    v
}

/// `url` (a server URL as written) with database `db` instead of its own.
fn with_db(url: &str, db: &str) -> String {
    let (server, _) = url.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

#[test]
fn wrong_password_and_missing_database_fail_at_once_without_the_password() {
    let Some(url) = test_server() else { return };
    let (head, tail) = url.split_once('@').unwrap();
    let (user, _) = head.rsplit_once(':').unwrap();
    let wrong = format!("{user}:not-the-password@{tail}");
    let err = serve_fails(&wrong);
    assert!(!err.contains("not-the-password"), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(err.contains("on `127.0.0.1:"), "{err}");
    let err = serve_fails(&with_db(&url, "no_such_database"));
    assert!(
        err.contains("`no_such_database`") && err.contains("does not exist"),
        "{err}"
    );
    let password = url.split_once('@').unwrap().0.rsplit_once(':').unwrap().1;
    assert!(!err.contains(password), "{err}");
}

fn store_copy(from: &str, to: &str) -> (bool, String) {
    let out = Command::new(exe())
        .args(["store", "copy", "--batch", "7", "--from", from, "--to", to])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// "audit log size N root R" from a copy's report.
fn log_of(report: &str) -> String {
    let at = report.find("audit log size").expect(report);
    report[at..].lines().next().unwrap().to_string()
}

#[tokio::test]
async fn store_copy_moves_a_store_to_postgres_and_back_with_the_same_log() {
    let Some(url) = test_server() else { return };
    // A sled store with an audit log: the default rule set activated and a few tokens.
    let src = tempfile::tempdir().unwrap();
    {
        let (app, stopper) = App::open(src.path(), 16).unwrap();
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
        app.classifier()
            .rule_sets()
            .ensure_default(&rules, 0)
            .await
            .unwrap();
        for role in Role::ALL {
            issue(app.tokens(), role, "copy", None, 1_700_000_000_000).await;
        }
        drop(app);
        tokio::task::spawn_blocking(move || stopper.close())
            .await
            .unwrap();
    }
    let server = creditrisk::storage::PgUrl::parse(&url).unwrap();
    let db = TestDatabase::create(&server, "copy").unwrap();
    let pg = with_db(&url, db.name());
    let sled = format!("sled:{}", src.path().display());

    let (ok, there) = store_copy(&sled, &pg);
    assert!(ok, "{there}");
    assert!(!there.contains(url.split_once('@').unwrap().0.rsplit_once(':').unwrap().1));
    let log = log_of(&there);
    assert!(!log.starts_with("audit log size 0 "), "{there}");

    // Back to a new sled folder, and sled to sled: the same log each time.
    let back = tempfile::tempdir().unwrap();
    let (ok, report) = store_copy(&pg, &format!("sled:{}", back.path().display()));
    assert!(ok, "{report}");
    assert_eq!(log_of(&report), log);
    let again = tempfile::tempdir().unwrap();
    let (ok, report) = store_copy(
        &format!("sled:{}", back.path().display()),
        &format!("sled:{}", again.path().display()),
    );
    assert!(ok, "{report}");
    assert_eq!(log_of(&report), log);
    // The same key count everywhere.
    let keys = |r: &str| r.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(keys(&report), keys(&there));

    // A target that holds anything is refused.
    let (ok, report) = store_copy(&sled, &pg);
    assert!(!ok && report.contains("not empty"), "{report}");
}
