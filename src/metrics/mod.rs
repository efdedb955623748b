//! Prometheus metrics (issue 13): what the service did (gRPC calls, writer commits) and what the
//! store holds (size, record counts, tier mix, run progress, draws, open alerts by level, audit
//! log size), served as `GET /metrics` by [`router`] in the OpenMetrics text format that
//! Prometheus scrapes.
//!
//! Two kinds, two places:
//! - **process metrics** ([`process`]) are counted as things happen, in one registry for the
//!   process: the gRPC layer ([`GrpcMetricsLayer`], on the tonic server) counts every call by
//!   method and status and times it; the writer thread reports each group commit (jobs,
//!   records, commit latency) with one call per group, never per job. They know nothing of the
//!   store, so the storage layer can call them without depending on anything above it.
//! - **store metrics** ([`store`]) are read from the store when scraped, cheaply: point reads,
//!   the in-memory event-id index, the open-alert index (one read per open alert), and the
//!   tier mix stored with the newest whole-population run. What needs a scan (counting
//!   enterprises and draws, the current-tier mix when no run has stored one) is refreshed in
//!   the background at most every few minutes, so a scrape at 4 million enterprises never
//!   waits for a scan (except the very first one).
//!
//! Every metric is named `creditrisk_*` and documented in `docs/metrics.md` (a test checks that
//! the document and the exposition list the same metrics).

pub mod grpc;
pub mod process;
pub mod store;

pub use grpc::GrpcMetricsLayer;
pub use process::{global, ProcessMetrics};
pub use store::{router, StoreMetrics, CONTENT_TYPE};
