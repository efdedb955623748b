//! Store metrics, read when scraped, and the `GET /metrics` router.
//!
//! Cheap reads, refreshed at most every [`FAST_TTL`] (so a burst of scrapes costs one read):
//! the store's size on disk (a file-size call), stored events (the in-memory event-id index),
//! the audit log's size (its newest signed head: one reverse seek), the run states (one short
//! scan: there is one per re-classification run) for the active run's progress and for the tier
//! mix stored with the newest finished whole-population run (one point read, through
//! [`Classifier::tier_report`], the code behind the ReportTiers RPC).
//!
//! Scans, refreshed at most every [`SLOW_TTL`] on the blocking pool while scrapes answer with
//! the previous values: enterprises (one key scan), draws, and, only while no run has stored a
//! tier mix, the current-tier mix that ReportTiers falls back to (a scan with two point reads
//! per enterprise). The very first scrape waits for them, so no metric is ever reported before
//! it was read once. At 4 million enterprises this is one background scan every few minutes,
//! and only while someone scrapes.

use super::process::global;
use crate::app::App;
use crate::classify::Classifier;
use crate::error::{Error, Result};
use crate::storage::keys::prefix;
use crate::storage::LogReader;
use crate::warn::Level;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{text, DescriptorEncoder};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The content type of the exposition: OpenMetrics text, which Prometheus negotiates and
/// parses (its `# EOF` line and `_total` counter suffixes are the only differences from the
/// classic `text/plain; version=0.0.4` format that matter to a parser).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Longest the cheap store reads are reused.
pub const FAST_TTL: Duration = Duration::from_secs(5);

/// Longest the scanned counts are reused before a background refresh starts.
pub const SLOW_TTL: Duration = Duration::from_secs(300);

const TIERS: [&str; 4] = ["A", "B", "C", "D"];

/// A gauge with one label and a fixed list of values, encoded in that order (a label family
/// would follow a hash map's order; the exposition should read the same way every time).
#[derive(Debug)]
struct Fixed {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    values: [&'static str; 4],
    counts: [AtomicI64; 4],
}

impl Fixed {
    fn new(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        values: [&'static str; 4],
    ) -> Arc<Fixed> {
        Arc::new(Fixed {
            name,
            help,
            label,
            values,
            counts: Default::default(),
        })
    }

    fn set(&self, counts: &[u64; 4]) {
        for (g, n) in self.counts.iter().zip(counts) {
            g.store(to_i64(*n), Ordering::Relaxed);
        }
    }
}

impl Collector for Fixed {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        let mut family =
            encoder.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        for (value, n) in self.values.iter().zip(&self.counts) {
            family
                .encode_family(&[(self.label, *value)])?
                .encode_gauge(&n.load(Ordering::Relaxed))?;
        }
        Ok(())
    }
}

/// When the store metrics were last read.
#[derive(Default)]
struct Freshness {
    fast: Option<Instant>,
    slow: Option<Instant>,
    slow_running: bool,
}

/// Store gauges for one [`App`], with their refresh times; shared by every scrape of one
/// router.
pub struct StoreMetrics {
    app: App,
    registry: Registry,
    size_bytes: Gauge,
    enterprises: Gauge,
    events: Gauge,
    by_tier: Arc<Fixed>,
    alerts_open: Arc<Fixed>,
    tiers_from_run: AtomicBool,
    run_active: Gauge,
    run_done: Gauge,
    run_scope: Gauge,
    draws: Gauge,
    audit_log_entries: Gauge,
    freshness: Mutex<Freshness>,
}

impl StoreMetrics {
    /// Gauges over `app`'s store, not yet read.
    pub fn new(app: App) -> StoreMetrics {
        let mut registry = Registry::with_prefix("creditrisk");
        let mut gauge = |name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let size_bytes = gauge(
            "store_size_bytes",
            "Size of the store on disk in bytes (sled size_on_disk; 0 for an in-memory store)",
        );
        let enterprises = gauge(
            "enterprises",
            "Enterprises stored (refreshed every few minutes)",
        );
        let events = gauge(
            "events",
            "Credit events stored (entries of the event-id index)",
        );
        let run_active = gauge(
            "run_active",
            "1 while a re-classification run is unfinished, else 0",
        );
        let run_done = gauge(
            "run_done",
            "Enterprises classified so far by the newest unfinished run (0 when none)",
        );
        let run_scope = gauge(
            "run_scope",
            "Enterprises in scope of the newest unfinished run (0 when none)",
        );
        let draws = gauge(
            "draws",
            "Inspection draws stored (refreshed every few minutes)",
        );
        let audit_log_entries = gauge(
            "audit_log_entries",
            "Entries in the audit log (size of its newest signed tree head)",
        );
        let by_tier = Fixed::new(
            "enterprises_by_tier",
            "Enterprises by credit-risk tier, as ReportTiers reports them (the newest finished \
             whole-population run's stored mix, else the current tiers)",
            "tier",
            TIERS,
        );
        registry.register_collector(Box::new(by_tier.clone()));
        let alerts_open = Fixed::new(
            "alerts_open",
            "Open early-warning alerts by level",
            "level",
            Level::ALL.map(|l| l.as_str()),
        );
        registry.register_collector(Box::new(alerts_open.clone()));
        StoreMetrics {
            app,
            registry,
            size_bytes,
            enterprises,
            events,
            by_tier,
            alerts_open,
            tiers_from_run: AtomicBool::new(false),
            run_active,
            run_done,
            run_scope,
            draws,
            audit_log_entries,
            freshness: Mutex::new(Freshness::default()),
        }
    }

    /// Brings the gauges up to date as the module doc describes: the cheap reads if older than
    /// [`FAST_TTL`], the scans in the background if older than [`SLOW_TTL`] (waited for only
    /// the first time). A failed read is logged and leaves the previous values.
    pub async fn refresh(self: &Arc<Self>) {
        let now = Instant::now();
        let (fast, slow_first, slow_background) = {
            // A std mutex: held for a few comparisons, never across an await.
            let mut f = self.freshness.lock().unwrap_or_else(|p| p.into_inner());
            let fast = f.fast.is_none_or(|t| now.duration_since(t) >= FAST_TTL);
            if fast {
                f.fast = Some(now);
            }
            let stale = f.slow.is_none_or(|t| now.duration_since(t) >= SLOW_TTL);
            let slow = stale && !f.slow_running;
            if slow {
                f.slow_running = true;
            }
            (fast, slow && f.slow.is_none(), slow && f.slow.is_some())
        };
        if fast {
            let me = self.clone();
            // Sled reads may block on disk: the blocking pool, like every store read.
            let r = tokio::task::spawn_blocking(move || me.read_fast()).await;
            log_failure("cheap store metrics", r);
        }
        if slow_first || slow_background {
            let me = self.clone();
            let task = tokio::task::spawn_blocking(move || {
                let r = me.read_slow();
                let mut f = me.freshness.lock().unwrap_or_else(|p| p.into_inner());
                f.slow_running = false;
                f.slow = Some(Instant::now());
                r
            });
            if slow_first {
                log_failure("scanned store metrics", task.await);
            } else {
                tokio::spawn(async move { log_failure("scanned store metrics", task.await) });
            }
        }
    }

    fn classifier(&self) -> &Classifier {
        self.app.classifier()
    }

    /// The cheap reads.
    fn read_fast(&self) -> Result<()> {
        let records = self.app.records();
        self.size_bytes
            .set(to_i64(records.engine().size_on_disk()?.unwrap_or(0)));
        self.events.set(to_i64(records.event_ids().stored()));
        let log_size = LogReader::new(records)
            .latest_head()?
            .map_or(0, |h| h.head.size);
        self.audit_log_entries.set(to_i64(log_size));
        let runs = self.classifier().runs()?;
        match runs.iter().rev().find(|r| !r.finished) {
            Some(r) => {
                self.run_active.set(1);
                self.run_done.set(to_i64(r.done));
                self.run_scope.set(to_i64(r.total));
            }
            None => {
                self.run_active.set(0);
                self.run_done.set(0);
                self.run_scope.set(0);
            }
        }
        // Open alerts: the open-alert index, then one point read per open alert for its level.
        let warnings = self.app.warnings();
        let mut by_level = [0u64; 4];
        for n in warnings.open_numbers()? {
            if let Ok(a) = warnings.get(&crate::warnsvc::store::id_of(n)) {
                if let Some(i) = Level::ALL.iter().position(|l| *l == a.level) {
                    by_level[i] += 1;
                }
            }
        }
        self.alerts_open.set(&by_level);
        // The run ReportTiers would choose, if one has a stored mix; else the slow refresh
        // reads the current tiers.
        for r in runs.iter().rev() {
            if r.jurisdiction.is_none() && r.finished {
                if let Ok(report) = self.classifier().tier_report(Some(r.id)) {
                    self.set_tiers(&report.mix.overall);
                    self.tiers_from_run.store(true, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        self.tiers_from_run.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The scans.
    fn read_slow(&self) -> Result<()> {
        let engine = self.app.records().engine();
        let mut n = 0u64;
        for kv in engine.scan(&prefix::enterprises(), None) {
            kv?;
            n += 1;
        }
        self.enterprises.set(to_i64(n));
        let mut d = 0u64;
        for kv in engine.scan(&prefix::draws(), None) {
            kv?;
            d += 1;
        }
        self.draws.set(to_i64(d));
        if !self.tiers_from_run.load(Ordering::Relaxed) {
            let report = self.classifier().tier_report(None)?;
            self.set_tiers(&report.mix.overall);
        }
        Ok(())
    }

    fn set_tiers(&self, counts: &[u64; 4]) {
        self.by_tier.set(counts);
    }

    /// Every metric, process and store, in the OpenMetrics text format.
    pub fn render(&self) -> Result<String> {
        let mut out = String::new();
        let fail = |e: std::fmt::Error| Error::Internal(format!("encoding metrics: {e}"));
        text::encode_registry(&mut out, global().registry()).map_err(fail)?;
        text::encode_registry(&mut out, &self.registry).map_err(fail)?;
        text::encode_eof(&mut out).map_err(fail)?;
        Ok(out)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn log_failure(what: &str, r: std::result::Result<Result<()>, tokio::task::JoinError>) {
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "reading {what} failed"),
        Err(e) => tracing::warn!(error = %e, "reading {what} panicked"),
    }
}

/// `GET /metrics` over `app`'s store and this process's counters, for the web listener to
/// merge; answers in [`CONTENT_TYPE`].
pub fn router(app: App) -> axum::Router {
    let state = Arc::new(StoreMetrics::new(app));
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

async fn scrape(
    axum::extract::State(state): axum::extract::State<Arc<StoreMetrics>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    state.refresh().await;
    match state.render() {
        Ok(body) => ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            (
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "metrics could not be rendered",
            )
                .into_response()
        }
    }
}
