//! Durable storage: an ordered key-value [`Engine`] (sled by default, or PostgreSQL), a typed key space,
//! versioned value encoding, typed reads ([`Records`]) and the single group-committing
//! [`Writer`].

pub mod codec;
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
pub use postgres::{Location, PgEngine, PgUrl};
pub use records::{EnterpriseFilter, InspectorFilter, Page, Records};
pub use segments::EventSegments;
pub use writer::{Job, Pending, Tx, WriteOutcome, Writer, WriterThread};
