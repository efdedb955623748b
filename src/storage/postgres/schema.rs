//! The schema, by versioned migrations applied at start.
//!
//! `creditrisk_schema` lists the versions applied (with a description and when). At start the
//! server takes a transaction-scoped advisory lock (so two servers starting together apply each
//! migration once), refuses a database whose newest version it does not know (a newer server
//! wrote it: running an older one could misread it), then applies the missing versions in
//! order, each in the same transaction as its row in `creditrisk_schema`.

use crate::error::{Error, Result};

/// One schema change: applied once, in version order, never edited after release (add a new
/// one instead).
pub struct Migration {
    /// 1, 2, 3, ...: the order of application.
    pub version: i32,
    /// What it does, for `creditrisk_schema.description`.
    pub description: &'static str,
    /// The SQL, run as one simple-query batch.
    pub sql: &'static str,
}

/// Every migration this build knows, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "the ordered key-value table of the record store",
        // `key` is compared bytewise (bytea ordering is memcmp, then length), which is the
        // engine's order. `kind` is the readable name of the key's first byte
        // (`storage::keys::kind_name`), for people reading the table.
        sql: "CREATE TABLE kv (
              key   bytea PRIMARY KEY,
              kind  text  NOT NULL,
              value bytea NOT NULL
          );
          COMMENT ON TABLE kv IS 'creditrisk record store: one row per key, see storage/keys.rs';",
    },
    Migration {
        version: 2,
        description: "the writer's fencing epoch",
        // A server takes the next epoch at start; every write transaction first calls
        // `creditrisk_fence(epoch)`, which share-locks the row and fails unless the epoch is
        // still its own. A killed server's transaction that PostgreSQL is still running either
        // commits before the next server's epoch update (which waits for the share lock) or
        // fails after it: it can never land under a newer server (`PgEngine::open`).
        sql: "CREATE TABLE creditrisk_writer (
                  one   boolean PRIMARY KEY DEFAULT true CHECK (one),
                  epoch bigint NOT NULL
              );
              INSERT INTO creditrisk_writer (epoch) VALUES (0);
              CREATE FUNCTION creditrisk_fence(mine bigint) RETURNS void
              LANGUAGE plpgsql AS $$
              DECLARE current bigint;
              BEGIN
                  SELECT epoch INTO current FROM creditrisk_writer FOR SHARE;
                  IF current <> mine THEN
                      RAISE EXCEPTION 'creditrisk: writer epoch % is stale, the store''s is %',
                          mine, current;
                  END IF;
              END $$;",
    },
];

/// A key that no other program is likely to take: the lock serialising migrations.
const MIGRATION_LOCK: i64 = 0x6372_6564_6974_7269; // "creditri"

/// Brings the database's schema up to this build's, or refuses it when it is newer.
pub async fn migrate(client: &mut tokio_postgres::Client, shown: &str) -> Result<()> {
    let err = |e: tokio_postgres::Error| {
        Error::Storage(format!("migrating `{shown}`: {}", super::describe(&e)))
    };
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS creditrisk_schema (
                 version     integer PRIMARY KEY,
                 description text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(err)?;
    let tx = client.transaction().await.map_err(err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(err)?;
    let row = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM creditrisk_schema",
            &[],
        )
        .await
        .map_err(err)?;
    let current: i32 = row.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(Error::FailedPrecondition(format!(
            "the database `{shown}` has schema version {current}, newer than this server's {known}: \
             run a newer creditrisk"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).await.map_err(err)?;
        tx.execute(
            "INSERT INTO creditrisk_schema (version, description) VALUES ($1, $2)",
            &[&m.version, &m.description],
        )
        .await
        .map_err(err)?;
        tracing::info!(
            version = m.version,
            description = m.description,
            "applied schema migration"
        );
    }
    tx.commit().await.map_err(err)
}

/// The newest schema version this build writes.
pub fn newest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}
