//! Creating and dropping whole databases: for tests (a fresh database per server) and for
//! operators' tools. Runs on a short-lived runtime of its own in a thread of its own, so it can
//! be called from async code as well as from plain threads.

use super::url::PgUrl;
use crate::error::{Error, Result};

/// Creates database `name` on the server of `server` (which must name a database that exists,
/// such as `postgres`) and returns the URL of the new one. `name` must be a plain lower-case
/// identifier.
pub fn create_database(server: &PgUrl, name: &str) -> Result<PgUrl> {
    check_name(name)?;
    let sql = format!("CREATE DATABASE {name}");
    execute(server, sql)?;
    Ok(server.with_database(name))
}

/// Drops database `name` if it exists, closing its other sessions first.
pub fn drop_database(server: &PgUrl, name: &str) -> Result<()> {
    check_name(name)?;
    execute(
        server,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "database",
            format!("`{name}` is not a plain lower-case identifier of at most 63 characters"),
        ))
    }
}

fn execute(server: &PgUrl, sql: String) -> Result<()> {
    let config = server.config().clone();
    let shown = server.to_string();
    let work = move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let err = |e: tokio_postgres::Error| {
                Error::Storage(format!("PostgreSQL `{shown}`: {}", super::describe(&e)))
            };
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(err)?;
            let conn = tokio::spawn(conn);
            client.batch_execute(&sql).await.map_err(err)?;
            drop(client);
            let _ = conn.await;
            Ok(())
        })
    };
    std::thread::spawn(work)
        .join()
        .map_err(|_| Error::Internal("the database admin thread panicked".into()))?
}

/// The environment variable naming the PostgreSQL server that tests run against (a URL whose
/// database exists, e.g. `postgres://postgres:pw@127.0.0.1:5432/postgres`).
pub const TEST_SERVER_VAR: &str = "CREDITRISK_TEST_POSTGRES";

/// A database made for one test (or one test server), dropped when this is dropped.
pub struct TestDatabase {
    server: PgUrl,
    name: String,
    url: PgUrl,
}

impl TestDatabase {
    /// A fresh database on the server named by [`TEST_SERVER_VAR`], or `None` when the variable
    /// is unset. `tag` (lower case) goes into its name, which is unique on the server.
    ///
    /// # Panics
    /// When the variable is set but the database cannot be made: a test that was asked to run
    /// on PostgreSQL must fail, not quietly run on sled.
    pub fn from_env(tag: &str) -> Option<TestDatabase> {
        let url = std::env::var(TEST_SERVER_VAR).ok()?;
        let server = match PgUrl::parse(&url) {
            Ok(s) => s,
            Err(e) => panic!("{TEST_SERVER_VAR}: {e}"),
        };
        match TestDatabase::create(&server, tag) {
            Ok(db) => Some(db),
            Err(e) => panic!("{TEST_SERVER_VAR}: {e}"),
        }
    }

    /// A fresh database on `server`, named after `tag`, the process and a counter.
    pub fn create(server: &PgUrl, tag: &str) -> Result<TestDatabase> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(20)
            .collect();
        let name = format!("crt_{tag}_{}_{n}_{nanos}", std::process::id());
        let url = create_database(server, &name)?;
        Ok(TestDatabase {
            server: server.clone(),
            name,
            url,
        })
    }

    /// The URL of the database (password included in its settings, not in its display).
    pub fn url(&self) -> &PgUrl {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = drop_database(&self.server, &self.name) {
            eprintln!("cannot drop test database `{}`: {e}", self.name);
        }
    }
}

/// The database of a test's data folder on the server of `server`: made on first use and
/// named in `dir/test-database`, so a restarted server (or a server process launched on the
/// same folder) finds the same one. Databases of earlier tests whose folder is gone are
/// dropped here first, so a long test run does not pile them up; the last ones go with the
/// throwaway cluster.
pub fn database_for_dir(server: &PgUrl, dir: &std::path::Path) -> Result<PgUrl> {
    let file = dir.join("test-database");
    if let Ok(name) = std::fs::read_to_string(&file) {
        return Ok(server.with_database(name.trim()));
    }
    sweep(server)?;
    let db = TestDatabase::create(server, "dir")?;
    let path = dir.display().to_string().replace('\'', "''");
    execute(
        server,
        format!("COMMENT ON DATABASE {} IS '{path}'", db.name),
    )?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(&file, &db.name)?;
    let url = db.url.clone();
    // The database outlives this value: its folder's file names it.
    std::mem::forget(db);
    Ok(url)
}

/// Drops the test databases whose folder no longer exists.
fn sweep(server: &PgUrl) -> Result<()> {
    let config = server.config().clone();
    let shown = server.to_string();
    let names = std::thread::spawn(move || -> Result<Vec<String>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let err = |e: tokio_postgres::Error| {
                Error::Storage(format!("PostgreSQL `{shown}`: {}", super::describe(&e)))
            };
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(err)?;
            let conn = tokio::spawn(conn);
            let rows = client
                .query(
                    "SELECT datname::text, shobj_description(oid, 'pg_database')
                     FROM pg_database WHERE datname LIKE 'crt\\_dir\\_%'",
                    &[],
                )
                .await
                .map_err(err)?;
            drop(client);
            let _ = conn.await;
            Ok(rows
                .into_iter()
                .filter_map(|r| {
                    let dir: Option<String> = r.get(1);
                    // No comment yet: another thread is making it.
                    dir.filter(|d| !std::path::Path::new(d).exists())
                        .map(|_| r.get::<_, String>(0))
                })
                .collect())
        })
    })
    .join()
    .map_err(|_| Error::Internal("the database admin thread panicked".into()))??;
    for name in names {
        drop_database(server, &name)?;
    }
    Ok(())
}
