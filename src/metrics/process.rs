//! The process-wide metrics: gRPC calls and writer commits, in one registry.
//!
//! One registry per process, as Prometheus clients usually keep: the gRPC layer and the writer
//! thread reach it through [`global`] without it being threaded through every constructor.
//! Several stores opened in one process (tests) therefore add to the same counters; the
//! scrape reports them once.
//!
//! Cost on the hot paths: a call looks up its method's counter and histogram (a read lock on
//! the family, an atomic add, a short write lock inside the histogram); a writer group makes
//! three histogram observations per commit, whatever its number of jobs, next to an fsync
//! that takes a thousand times longer.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Duration;

/// Labels of a finished gRPC call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The full method path (`/creditrisk.v1.RecordService/AppendEvents`), or `unknown` for a
    /// path no service offers (so a client cannot grow the label set at will).
    pub method: String,
    /// The gRPC status code name (`OK`, `INVALID_ARGUMENT`, ...).
    pub code: &'static str,
}

/// Labels of a call's latency: its method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// As in [`CallLabels::method`].
    pub method: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The process-wide metrics; see the module doc.
pub struct ProcessMetrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    call_seconds: HistogramFamily<MethodLabels>,
    group_jobs: Histogram,
    group_records: Histogram,
    commit_seconds: Histogram,
    commit_failures: Counter,
}

fn call_histogram() -> Histogram {
    // 1 ms .. 32 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl ProcessMetrics {
    fn new() -> ProcessMetrics {
        let mut registry = Registry::with_prefix("creditrisk");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "grpc_calls",
            "gRPC calls answered, by method and status code",
            calls.clone(),
        );
        let call_seconds: HistogramFamily<MethodLabels> =
            Family::new_with_constructor(call_histogram);
        registry.register(
            "grpc_call_duration_seconds",
            "gRPC call latency from request to final status, by method",
            call_seconds.clone(),
        );
        // A group holds 1 .. MAX_GROUP (256) jobs.
        let group_jobs = Histogram::new(exponential_buckets(1.0, 2.0, 9));
        registry.register(
            "writer_group_jobs",
            "Jobs in each writer group commit (successful and failed)",
            group_jobs.clone(),
        );
        // 1 .. 65,536 records.
        let group_records = Histogram::new(exponential_buckets(1.0, 4.0, 9));
        registry.register(
            "writer_group_records",
            "Records written by each writer group commit (accepted by its successful jobs)",
            group_records.clone(),
        );
        // 0.1 ms .. 3.3 s.
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "writer_commit_duration_seconds",
            "Time to apply a writer group's batch and flush it to disk",
            commit_seconds.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "writer_commit_failures",
            "Writer group commits that failed (no job of the group was acknowledged)",
            commit_failures.clone(),
        );
        ProcessMetrics {
            registry,
            calls,
            call_seconds,
            group_jobs,
            group_records,
            commit_seconds,
            commit_failures,
        }
    }

    /// The registry, for encoding.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts a finished gRPC call of `method` with status `code` that took `latency`.
    pub fn call_finished(&self, method: &str, code: &'static str, latency: Duration) {
        self.calls
            .get_or_create(&CallLabels {
                method: method.to_string(),
                code,
            })
            .inc();
        self.call_seconds
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .observe(latency.as_secs_f64());
    }

    /// Reports one writer group: `jobs` taken from the queue, `records` written by its
    /// successful jobs, and the time its batch took to apply and flush (`None` when the group
    /// wrote nothing, so nothing was applied); `ok` is false when the commit failed.
    pub fn writer_group(&self, jobs: usize, records: u64, commit: Option<Duration>, ok: bool) {
        self.group_jobs.observe(jobs as f64);
        self.group_records.observe(records as f64);
        if let Some(d) = commit {
            self.commit_seconds.observe(d.as_secs_f64());
        }
        if !ok {
            self.commit_failures.inc();
        }
    }
}

/// The process-wide metrics, made on first use.
pub fn global() -> &'static ProcessMetrics {
    static GLOBAL: OnceLock<ProcessMetrics> = OnceLock::new();
    GLOBAL.get_or_init(ProcessMetrics::new)
}
