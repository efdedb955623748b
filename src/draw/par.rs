//! The draw's only concurrency: two scoped OS threads (`std::thread::scope`).
//!
//! The draw is pure CPU work (SHA-256, sorting) on read-only shared data, on machines with few
//! cores, so plain scoped threads are enough: no locks, no pool, no new dependency (rayon would
//! bring work stealing over any number of cores, which two coarse tasks and a few atomically
//! counted chunks do not need). Below a size threshold callers run both tasks on the calling
//! thread, since spawning costs more than it saves. Results never depend on which thread did
//! what: every parallel step is followed by an order-independent merge.

/// Runs `a` and `b` and returns both results: `a` on a scoped thread and `b` on the calling
/// thread when `parallel`, else `a` then `b` on the calling thread. A panic in `a` is a bug and
/// is propagated as a panic.
pub(crate) fn both<A: Send, B>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B,
) -> (A, B) {
    if !parallel {
        let ra = a();
        return (ra, b());
    }
    std::thread::scope(|s| {
        let h = s.spawn(a);
        let rb = b();
        (
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            rb,
        )
    })
}

/// `(0..n).map(f).collect()`, the two halves on two threads when `n ≥ parallel_min`: for the
/// record's many small allocations (strings), which a second thread halves in wall time, and on
/// a shared machine also gets a second share of the processors.
pub(crate) fn map_range<U: Send>(
    n: usize,
    parallel_min: usize,
    f: impl Fn(usize) -> U + Sync,
) -> Vec<U> {
    let mid = n / 2;
    let (mut left, right) = both(
        n >= parallel_min,
        || (0..mid).map(&f).collect::<Vec<U>>(),
        || (mid..n).map(&f).collect::<Vec<U>>(),
    );
    left.extend(right);
    left
}
