//! [`PgEngine`]: the record store's key-value [`Engine`] on PostgreSQL (`docs/postgres.md`).
//!
//! One table, `kv (key bytea PRIMARY KEY, kind text, value bytea)`, created by the versioned
//! migrations of [`schema`]. `bytea` compares bytewise, so the table's primary-key order is the
//! engine's order and every scan is an index range scan.
//!
//! - **apply**: one transaction. The batch is first reduced to each key's last operation (a
//!   batch may touch a key twice, which one `INSERT ... ON CONFLICT` may not), then one
//!   `INSERT ... SELECT FROM unnest($keys, $kinds, $values) ON CONFLICT DO UPDATE` and one
//!   `DELETE ... WHERE key = ANY($keys)`: two statements whatever the batch size.
//! - **durability**: every connection runs with `synchronous_commit = on` (set in its start-up
//!   options, whatever the server's default), so a batch is durable when its `COMMIT` returns
//!   and [`Engine::flush`] has nothing left to do. The writer's group commit still pays off:
//!   one commit (one WAL flush) per group of requests.
//! - **scans** are lazy and keyset-paginated: each page is one query `WHERE key > $last ORDER BY
//!   key LIMIT n`, with n growing from [`FIRST_PAGE`] to [`MAX_PAGE`] rows, so a caller that
//!   reads three keys fetches a small page and a caller that reads millions streams them with
//!   bounded memory. Pages are separate statements, so a scan may see a batch committed
//!   between two pages: the [`Engine`] contract allows it.
//!
//! **Why a runtime of its own**: [`Engine`] is synchronous and is called from the writer
//! thread, from `spawn_blocking` readers and, at start, from async code. The synchronous
//! `postgres` crate panics when called inside a tokio runtime, and `block_on` would too. So the
//! engine owns a small tokio runtime (two workers) running a `tokio-postgres` pool
//! (`deadpool-postgres`); each method spawns its query there and waits on a channel. The
//! calling thread blocks, as a sled read may block on disk, and no runtime is ever entered
//! twice. Plain TCP without TLS (`NoTls`): keep the database on loopback or a private network
//! for now.

pub mod admin;
pub mod schema;
pub mod url;

use super::engine::{Engine, KvIter, Op};
use super::keys::kind_name;
use crate::error::{Error, Result};
pub use admin::TestDatabase;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
pub use url::{Location, PgUrl, StorageUrl};

/// Rows of a scan's first page.
pub const FIRST_PAGE: i64 = 64;
/// Rows of a scan's page at most (each further page is four times the last, up to this).
pub const MAX_PAGE: i64 = 4096;
/// Connections in the pool: the writer and concurrent readers.
const POOL_SIZE: usize = 16;
/// Connection attempts at start before giving up on a database that does not answer.
pub const CONNECT_ATTEMPTS: u32 = 5;
/// The wait before the second attempt; doubled before each later one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The record store on a PostgreSQL database.
pub struct PgEngine {
    /// `Some` until drop, which shuts it down without waiting (drop may run on a tokio thread).
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    shown: String,
    /// The connection holding the writer lock (see `open`).
    _locker: tokio_postgres::Client,
    /// This engine's writer epoch: every write transaction checks it first (see `open`).
    epoch: i64,
}

/// The session advisory lock that keeps one server per database.
const WRITER_LOCK: i64 = 0x6372_5f77_7269_7465; // "cr_write"

impl PgEngine {
    /// Connects (retrying a database that does not answer, with backoff, [`CONNECT_ATTEMPTS`]
    /// times; a refused password or a missing database fails at once), then applies the
    /// schema's migrations. Errors name the host, database and user, never the password.
    pub fn open(url: &PgUrl) -> Result<PgEngine> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()?;
        let mut config = url.config().clone();
        // Durable on commit whatever the server's default (see the module doc).
        let options = match config.get_options() {
            Some(o) => format!("{o} -c synchronous_commit=on"),
            None => "-c synchronous_commit=on".to_string(),
        };
        config.options(&options);
        config.application_name("creditrisk");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        let shown = url.to_string();
        let what = format!(
            "the PostgreSQL database `{}` on `{}`{}",
            url.database(),
            url.host(),
            url.config()
                .get_user()
                .map(|u| format!(" (user `{u}`)"))
                .unwrap_or_default()
        );
        let config_for_lock = config.clone();
        let opened = run_on(&rt, {
            let shown = shown.clone();
            async move {
                let manager = Manager::from_config(
                    config,
                    tokio_postgres::NoTls,
                    ManagerConfig {
                        recycling_method: RecyclingMethod::Fast,
                    },
                );
                let pool = Pool::builder(manager)
                    .max_size(POOL_SIZE)
                    .runtime(Runtime::Tokio1)
                    .build()
                    .map_err(|e| Error::Storage(format!("cannot build the pool: {e}")))?;
                let mut client = connect(&pool, &what).await?;
                schema::migrate(&mut client, &shown).await?;
                // INVARIANT (one writer): the store has one writer, as sled's file lock makes
                // sure on disk. A session advisory lock on a connection of its own, held for
                // the engine's life (released when the runtime and so the connection end, also
                // when the process is killed), refuses a second server on the database.
                let (locker, conn) = config_for_lock
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| pg_error(e, &shown))?;
                tokio::spawn(conn);
                let row = locker
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK])
                    .await
                    .map_err(|e| pg_error(e, &shown))?;
                if !row.get::<_, bool>(0) {
                    return Err(Error::Unavailable(format!(
                        "could not acquire lock: another server is using `{shown}`"
                    )));
                }
                // INVARIANT (fenced writes): the lock alone does not stop a killed server's
                // transaction that PostgreSQL is still executing on another connection (its
                // backend finishes what was sent before it notices the client is gone). The
                // epoch update waits for every transaction that passed the fence and makes
                // every later one of an older epoch fail (migration 2, `apply`).
                let row = locker
                    .query_one(
                        "UPDATE creditrisk_writer SET epoch = epoch + 1 RETURNING epoch",
                        &[],
                    )
                    .await
                    .map_err(|e| pg_error(e, &shown))?;
                let epoch: i64 = row.get(0);
                Ok((pool, locker, epoch))
            }
        });
        let (pool, locker, epoch) = match opened {
            Ok(p) => p,
            Err(e) => {
                // Dropping a runtime panics on a tokio thread; this does not wait.
                rt.shutdown_background();
                return Err(e);
            }
        };
        tracing::info!(database = %shown, "opened PostgreSQL store");
        Ok(PgEngine {
            rt: Some(rt),
            pool,
            shown,
            _locker: locker,
            epoch,
        })
    }

    /// Runs `f` on the engine's runtime and waits for it (see the module doc).
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        match &self.rt {
            Some(rt) => run_on(rt, f),
            None => Err(Error::Unavailable("the PostgreSQL store is closed".into())),
        }
    }

    /// One page of a scan.
    fn page(&self, q: &PageQuery, limit: i64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let sql = q.sql();
        let mut params: Vec<Vec<u8>> = Vec::with_capacity(2);
        if let Some((k, _)) = &q.lo {
            params.push(k.clone());
        }
        if let Some((k, _)) = &q.hi {
            params.push(k.clone());
        }
        let pool = self.pool.clone();
        let shown = self.shown.clone();
        self.run(async move {
            let client = pool.get().await.map_err(|e| pool_error(e, &shown))?;
            let stmt = client
                .prepare_cached(&sql)
                .await
                .map_err(|e| pg_error(e, &shown))?;
            let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p as _).collect();
            args.push(&limit);
            let rows = client
                .query(&stmt, &args)
                .await
                .map_err(|e| pg_error(e, &shown))?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                .collect())
        })
    }

    fn pages(&self, q: PageQuery) -> KvIter<'_> {
        Box::new(Pages {
            engine: self,
            q,
            next_limit: FIRST_PAGE,
            buf: Vec::new().into_iter(),
            done: false,
        })
    }
}

impl Drop for PgEngine {
    fn drop(&mut self) {
        // Every acknowledged batch is committed already; shutting down without waiting is safe
        // and, unlike dropping a runtime, allowed on a tokio thread.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Spawns `f` on `rt` and blocks the calling thread until it ends.
fn run_on<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    f: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    // The sender is dropped unsent only if the task panicked or the runtime shut down.
    rx.recv()
        .map_err(|_| Error::Internal("a PostgreSQL task ended without an answer".into()))?
}

/// The first connection, retried with backoff while the database does not answer.
async fn connect(pool: &Pool, what: &str) -> Result<deadpool_postgres::Object> {
    let mut wait = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match pool.get().await {
            Ok(c) => return Ok(c),
            Err(e) => {
                // A refused login or a missing database will not change by waiting.
                let definitive = matches!(&e, PoolError::Backend(b) if b.as_db_error().is_some());
                if definitive || attempt >= CONNECT_ATTEMPTS {
                    let tries = if definitive {
                        String::new()
                    } else {
                        format!(" after {attempt} attempts")
                    };
                    return Err(Error::Unavailable(format!(
                        "cannot open {what}{tries}: {}",
                        describe_pool(&e)
                    )));
                }
                tracing::warn!(attempt, error = %describe_pool(&e), "PostgreSQL not reachable yet; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
        }
    }
}

/// A PostgreSQL error as one line: the server's message when it sent one.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(c) = src {
                let text = c.to_string();
                if !s.contains(&text) {
                    s.push_str(": ");
                    s.push_str(&text);
                }
                src = c.source();
            }
            s
        }
    }
}

fn describe_pool(e: &PoolError) -> String {
    match e {
        PoolError::Backend(b) => describe(b),
        other => other.to_string(),
    }
}

/// A query's error: the server's refusal is a storage error; a lost connection means the
/// database is unavailable (the caller may retry).
fn pg_error(e: tokio_postgres::Error, shown: &str) -> Error {
    if e.as_db_error().is_some() {
        Error::Storage(format!("PostgreSQL `{shown}`: {}", describe(&e)))
    } else {
        Error::Unavailable(format!("PostgreSQL `{shown}`: {}", describe(&e)))
    }
}

fn pool_error(e: PoolError, shown: &str) -> Error {
    match e {
        PoolError::Backend(b) => pg_error(b, shown),
        other => Error::Unavailable(format!("PostgreSQL `{shown}`: {other}")),
    }
}

/// The smallest byte string greater than every string starting with `prefix`, if any.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// The bounds of a scan still to read; `bool` = inclusive.
struct PageQuery {
    lo: Option<(Vec<u8>, bool)>,
    hi: Option<(Vec<u8>, bool)>,
    rev: bool,
}

impl PageQuery {
    fn sql(&self) -> String {
        let mut sql = String::from("SELECT key, value FROM kv WHERE true");
        let mut n = 0;
        if let Some((_, inclusive)) = &self.lo {
            n += 1;
            sql.push_str(&format!(
                " AND key {} ${n}",
                if *inclusive { ">=" } else { ">" }
            ));
        }
        if let Some((_, inclusive)) = &self.hi {
            n += 1;
            sql.push_str(&format!(
                " AND key {} ${n}",
                if *inclusive { "<=" } else { "<" }
            ));
        }
        sql.push_str(&format!(
            " ORDER BY key{} LIMIT ${}",
            if self.rev { " DESC" } else { "" },
            n + 1
        ));
        sql
    }
}

/// A lazy scan: fetches the next page when the last one is used up.
struct Pages<'a> {
    engine: &'a PgEngine,
    q: PageQuery,
    next_limit: i64,
    buf: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    done: bool,
}

impl Iterator for Pages<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(kv) = self.buf.next() {
            return Some(Ok(kv));
        }
        if self.done {
            return None;
        }
        let limit = self.next_limit;
        let page = match self.engine.page(&self.q, limit) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        // INVARIANT (keyset): the next page starts strictly past the last key of this one.
        if (page.len() as i64) < limit {
            self.done = true;
        } else if let Some((last, _)) = page.last() {
            let bound = Some((last.clone(), false));
            if self.q.rev {
                self.q.hi = bound;
            } else {
                self.q.lo = bound;
            }
        }
        self.next_limit = (limit * 4).min(MAX_PAGE);
        self.buf = page.into_iter();
        self.buf.next().map(Ok)
    }
}

const UPSERT: &str = "INSERT INTO kv (key, kind, value)
     SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[])
     ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE key = ANY($1::bytea[])";

impl Engine for PgEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let q = PageQuery {
            lo: Some((key.to_vec(), true)),
            hi: Some((key.to_vec(), true)),
            rev: false,
        };
        Ok(self.page(&q, 1)?.pop().map(|(_, v)| v))
    }

    fn scan<'a>(&'a self, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'a> {
        // Past `after` when it lies inside or after the prefix; from the prefix otherwise.
        let lo = match after {
            Some(a) if a >= prefix => (a.to_vec(), false),
            _ => (prefix.to_vec(), true),
        };
        self.pages(PageQuery {
            lo: Some(lo),
            hi: successor(prefix).map(|s| (s, false)),
            rev: false,
        })
    }

    fn scan_rev<'a>(&'a self, prefix: &[u8]) -> KvIter<'a> {
        self.pages(PageQuery {
            lo: Some((prefix.to_vec(), true)),
            hi: successor(prefix).map(|s| (s, false)),
            rev: true,
        })
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> KvIter<'a> {
        self.pages(PageQuery {
            lo: Some((from.to_vec(), true)),
            hi: Some((to.to_vec(), false)),
            rev: false,
        })
    }

    fn last_in(&self, from: &[u8], to: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let q = PageQuery {
            lo: Some((from.to_vec(), true)),
            hi: Some((to.to_vec(), false)),
            rev: true,
        };
        Ok(self.page(&q, 1)?.pop())
    }

    fn apply(&self, batch: Vec<Op>) -> Result<()> {
        // Each key's last operation wins, as if the batch were applied in order.
        let mut last: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for op in batch {
            match op {
                Op::Put(k, v) => last.insert(k, Some(v)),
                Op::Delete(k) => last.insert(k, None),
            };
        }
        let (mut keys, mut kinds, mut values, mut gone) = (vec![], vec![], vec![], vec![]);
        for (k, v) in last {
            match v {
                Some(v) => {
                    kinds.push(kind_name(&k));
                    keys.push(k);
                    values.push(v);
                }
                None => gone.push(k),
            }
        }
        let pool = self.pool.clone();
        let shown = self.shown.clone();
        let epoch = self.epoch;
        self.run(async move {
            let e = |e| pg_error(e, &shown);
            let mut client = pool.get().await.map_err(|e| pool_error(e, &shown))?;
            let tx = client.transaction().await.map_err(e)?;
            // INVARIANT (fenced writes): first, so a newer server's epoch fails this one.
            tx.execute("SELECT creditrisk_fence($1)", &[&epoch])
                .await
                .map_err(e)?;
            if !keys.is_empty() {
                let stmt = tx.prepare_cached(UPSERT).await.map_err(e)?;
                tx.execute(&stmt, &[&keys, &kinds, &values])
                    .await
                    .map_err(e)?;
            }
            if !gone.is_empty() {
                let stmt = tx.prepare_cached(DELETE).await.map_err(e)?;
                tx.execute(&stmt, &[&gone]).await.map_err(e)?;
            }
            tx.commit().await.map_err(e)
        })
    }

    fn flush(&self) -> Result<()> {
        // Durable on commit (see the module doc).
        Ok(())
    }

    fn size_on_disk(&self) -> Result<Option<u64>> {
        let pool = self.pool.clone();
        let shown = self.shown.clone();
        self.run(async move {
            let client = pool.get().await.map_err(|e| pool_error(e, &shown))?;
            let row = client
                .query_one("SELECT pg_database_size(current_database())", &[])
                .await
                .map_err(|e| pg_error(e, &shown))?;
            let n: i64 = row.get(0);
            Ok(Some(u64::try_from(n).unwrap_or(0)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_a_prefix() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(successor(&[0xff, 0xff]), None);
        assert_eq!(successor(b""), None);
    }

    #[test]
    fn page_queries_bind_in_order() {
        let q = PageQuery {
            lo: Some((vec![1], false)),
            hi: Some((vec![2], false)),
            rev: true,
        };
        assert_eq!(
            q.sql(),
            "SELECT key, value FROM kv WHERE true AND key > $1 AND key < $2 ORDER BY key DESC LIMIT $3"
        );
    }
}
