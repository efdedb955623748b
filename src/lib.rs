//! creditrisk: credit-risk tiers and double-random inspection draws for market regulators.
//!
//! # Layout
//!
//! Dependencies point one way: `domain` knows nothing else; `rules`, `sampling`, `draw` and
//! `audit` are pure and know only `domain` (and each other); `storage` knows `domain`; `ingest`,
//! `classify`, `drawsvc`, `access` and `app` build on those; only `server` sees generated proto
//! types; `cli` and `main.rs` sit on top. `metrics` is split: its process counters know
//! nothing else (the server and the writer count into them), its store gauges read `app`.
//!
//! - [`domain`]: the records (enterprises, credit events, inspections, inspectors), their
//!   identifiers (credit codes with GB 32100 check characters, dates), field validation, and
//!   names in words for lists people read (districts, industries, result codes; `names`).
//!   Pure: no I/O, no clock, no randomness.
//! - [`storage`]: an ordered key-value [`storage::Engine`] (sled by default, or PostgreSQL:
//!   [`storage::PgEngine`], chosen by the `storage` setting, `docs/postgres.md`), the key space
//!   ([`storage::Key`], order-preserving), the versioned value codec, typed reads
//!   ([`storage::Records`]), the single group-committing [`storage::Writer`] and whole-store
//!   copies between engines ([`storage::copy`]).
//! - [`ingest`]: the checks that need the store (duplicates, conflicts, references), as writer
//!   jobs.
//! - [`classify`]: rule sets as stored (by hash, with activations), reading one consistent
//!   snapshot of an enterprise's records, single and batch (resumable) classification,
//!   simulation, tier reports (the tier mix stored with each run), and the tier-change log
//!   that watchers follow.
//! - [`access`]: access tokens in the store (issue, revoke, list, look up; only hashes are
//!   kept) and the bootstrap that writes a new deployment's admin token (and demo tokens).
//! - [`app`]: the service's operations in domain terms, shared by the gRPC layer and local tools.
//! - [`server`]: gRPC (tonic): the access layer that checks every call, conversions between
//!   proto and domain types, the one mapping from [`Error`] to `tonic::Status`, the handlers,
//!   health and reflection, optional (mutual) TLS.
//! - [`web`]: the web console on a second port (axum, server-rendered maud pages, SVG charts):
//!   a login that exchanges an access token for a session cookie (CSRF token per session,
//!   rate-limited logins), pages that each name the gRPC method whose permission they need and
//!   check it with the same policy ([`audit::access::authorize`]) before calling the same
//!   [`app`] operations, and the public result page of a draw (公示) without login; HTTPS on
//!   its port with the server's certificate when TLS is configured ([`web::tls`]).
//! - [`cli`]: what the `creditrisk` command runs: `serve`, client commands, `import`, benchmarks.
//! - [`rules`]: the pure rule engine: the CEL-subset language, the feature schema and its
//!   computation from records, rule-set loading and checking, classification and explanation,
//!   case files, what changed between two rule sets ([`rules::diff`]), and the repository's
//!   `rules/` folder built into the binary ([`rules::embedded`]). No I/O but reading rule
//!   files, no clock.
//! - [`warn`]: the pure core of early warning (issue 12): warning rule sets (`rules/warnings/`,
//!   same CEL and load-time checks as the classification rules), enterprise signals after a
//!   classification (tier falls, serious-list entries, failed key-sector spot checks, repeated
//!   complaints) and group signals over frozen facts and tier counts (rate with a minimum
//!   sample, an exact Poisson change test with a stated false-alarm rate, C+D concentration),
//!   each a level (blue..red) with evidence that replays bit for bit. No I/O but rule files, no
//!   clock; knows `domain` and `rules` only.
//! - [`sampling`]: consistent sampling, bit for bit the public Python package
//!   `consistent-sampler` 1.0.10, so anyone can re-check a draw.
//! - [`draw`]: the pure core of double-random draws: inspection items, the supervision policy,
//!   the entity draw by tier, inspector teams, the draw record and its publication bundle,
//!   offline verification, XLSX lists, working-day deadlines.
//! - [`drawsvc`]: draws over the store: candidate and roster snapshots at a cut, stored draws
//!   and assignments, results and publications, overdue lists, bundle export.
//! - [`warnsvc`]: early-warning alerts over the store: one open alert per (rule, subject), the
//!   lifecycle (raised, assessed, warned, disposing, closed) with an audit entry per step,
//!   group evaluation over the warning facts written at ingest, enterprise signals inside a
//!   classification's store job, overdue escalation, back-tests and replay; alert audit entries
//!   indexed by alert and subject, group alerts exported for the independent checker
//!   (`tools/verify_alert.py`), and push to departments' webhooks from a durable outbox.
//! - [`audit`]: the pure core of the audit trail: RFC 6962 Merkle tree and proofs, canonical
//!   log entries, signed tree heads, offline verification (not yet wired into the service),
//!   and access control: roles, the policy table, token format and authentication, which the
//!   service enforces.
//! - [`demo`]: the deterministic synthetic population.
//! - [`metrics`]: Prometheus metrics (issue 13): a process registry that the gRPC layer (calls
//!   by method and status, latency) and the writer thread (group sizes, commit latency) count
//!   into without knowing anything above them, and store gauges (size, enterprises, events,
//!   tier mix, run progress, draws, audit log size) read cheaply at scrape time from an
//!   [`app::App`]; [`metrics::router`] serves them as `GET /metrics` for the web listener.
//!   Documented one by one in `docs/metrics.md`.
//! - [`config`]: the typed configuration.
//! - [`clock`]: the wall clock, read only at the edges and passed inward as plain values.
//!
//! # One request, step by step
//!
//! `AppendEvents` with a batch of events:
//! 1. The trace layer opens a span with the method. The access layer ([`server::auth`]) reads
//!    the `authorization: Bearer cr_<id>_<secret>` header, looks the token id up in
//!    [`access::Tokens`], authenticates it ([`audit::access::authenticate`]: hash compared in
//!    constant time, then revocation and expiry) and checks the role against
//!    [`audit::access::POLICY`] (`ingest` only). A refusal is answered UNAUTHENTICATED or
//!    PERMISSION_DENIED here; otherwise the span records the caller's token id and the
//!    [`audit::Principal`] rides in the request extensions.
//! 2. tonic decodes the message (refusing one above the size limit; one that does not decode is
//!    INVALID_ARGUMENT by [`server::codec`]) and calls [`server::records::RecordApi`].
//! 3. [`server::convert`] parses each field into domain types, collecting every failure as a
//!    field violation named `records[i].field` in a [`domain::validate::Batch`].
//! 4. [`app::App::append_event_batch`] runs the domain's `validate` on each record, then submits
//!    one job ([`ingest::append_checked_events`]) to the [`storage::Writer`], violations and all.
//! 5. The writer thread runs the job against the store plus the pending writes of its group:
//!    duplicates are no-ops, conflicts and unknown references reject the whole batch, answered
//!    with every violation found since step 3. Each new event gets the next ingest sequence
//!    number.
//! 6. The group is applied as one atomic batch (a sled batch, or one PostgreSQL transaction) and
//!    flushed; only then is the caller answered.
//! 7. The handler converts the outcome (accepted, duplicates, seqs) back to proto; an error goes
//!    through [`server::status::to_status`], the only place errors become gRPC statuses.

pub mod access;
pub mod app;
pub mod audit;
pub mod auditsvc;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod draw;
pub mod drawsvc;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod rules;
pub mod sampling;
pub mod server;
pub mod storage;
pub mod warn;
pub mod warnsvc;
pub mod web;

pub use error::{Error, Result};

/// `n` bytes from the operating system's randomness (for keys and server-made seeds).
pub fn os_random(n: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}
