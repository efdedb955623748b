//! Durable storage: an ordered key-value [`Engine`] (sled by default, or PostgreSQL), a typed key space,
//! versioned value encoding, typed reads ([`Records`]) and the single group-committing
//! [`Writer`].

pub mod codec;
pub mod copy;
pub mod engine;
pub mod event_ids;
pub mod keys;
pub mod log;
pub mod postgres;
pub mod records;
pub mod segments;
pub mod writer;

pub use engine::{Engine, MemoryEngine, SledEngine};
pub use event_ids::EventIds;
pub use keys::Key;
pub use log::LogReader;
pub use postgres::{Location, PgEngine, PgUrl, StorageUrl};
pub use records::{EnterpriseFilter, InspectorFilter, Page, Records};
pub use segments::EventSegments;
pub use writer::{Job, Pending, Tx, WriteOutcome, Writer, WriterThread};

/// Opens the engine at `location`: sled in the folder's `db` (with a page cache of
/// `cache_bytes`), or the PostgreSQL database.
pub fn open_engine(
    location: &Location,
    cache_bytes: u64,
) -> crate::error::Result<std::sync::Arc<dyn Engine>> {
    Ok(match location {
        Location::Sled(dir) => std::sync::Arc::new(SledEngine::open(&dir.join("db"), cache_bytes)?),
        Location::Postgres(url) => std::sync::Arc::new(PgEngine::open(url)?),
    })
}
