//! Re-classification of a whole scope, resumable.
//!
//! A run fixes its inputs when it starts: the scope, the as-of date, the rule set in force on
//! that date, and the snapshot cut (every record acknowledged before the run began; later
//! records are ignored, so the run sees one consistent snapshot even while ingest goes on).
//! Enterprises are processed in credit-code order, in chunks; each chunk's classifications and
//! the run's checkpoint (the last code done) are committed in one atomic write. A run
//! interrupted by a crash therefore resumes after its last committed chunk, with the same
//! inputs, instead of starting over. Chunks are computed on every core while earlier chunks
//! (up to two) are being stored. A whole-population run stores each chunk as a few blocks rather than keys per
//! enterprise (see [`super::blocks`]).

use super::inputs::{gather, gather_range, BatchSource, Inputs};
use super::report::TierMix;
use super::service::{decide_with, store_job, Classifier, Pending};
use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::keys::{code_in, prefix};
use crate::storage::{Key, WriteOutcome};
use serde::{Deserialize, Serialize};

/// Enterprises per committed chunk.
pub const CHUNK: usize = 4096;

/// Chunks a run may have queued for storing while it computes the next one.
const IN_FLIGHT: usize = 2;

/// The durable state of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// Run id (the seq that created it).
    pub id: u64,
    /// Scope: one jurisdiction, or every enterprise.
    pub jurisdiction: Option<String>,
    /// As-of date.
    pub as_of: Date,
    /// Snapshot cut.
    pub cut: u64,
    /// Rule-set hash.
    pub rule_set: String,
    /// Last credit code committed.
    pub cursor: Option<CreditCode>,
    /// Enterprises classified so far.
    pub done: u64,
    /// Tier changes so far.
    pub changed: u64,
    /// Tiers so far: A, B, C, D.
    pub tiers: [u64; 4],
    /// Enterprises listed in scope when the run (or its resumption) started.
    pub total: u64,
    /// True when complete.
    pub finished: bool,
    /// Start time, ms since the epoch.
    pub started_ms: i64,
}

/// Worker threads for batch work: one per core, at most 8.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}

/// The result of a scoped batch thread; a panic becomes an internal error.
pub(crate) fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> Result<T> {
    h.join()
        .map_err(|_| Error::Internal("a batch thread panicked".into()))
}

/// Runs `f` on contiguous parts of `items`, one part per core, and concatenates the results in
/// order.
pub fn parallel_parts<T: Send, F>(items: &[CreditCode], f: F) -> Result<Vec<T>>
where
    F: Fn(&[CreditCode]) -> Result<Vec<T>> + Sync,
{
    let threads = workers();
    if items.len() < 64 || threads == 1 {
        return f(items);
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| s.spawn(move || f(part)))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(joined(h)??);
        }
        Ok(out)
    })
}

/// Runs `f` over every enterprise, in chunks of at most [`CHUNK`] codes (sorted), on every
/// core, and concatenates the results in code order. Each worker lists the codes of the ranges
/// it takes itself (`over_ranges`), so even the listing runs in parallel.
pub fn parallel_whole<T: Send, F>(c: &Classifier, batch: &BatchSource, f: F) -> Result<Vec<T>>
where
    F: Fn(&[CreditCode]) -> Result<Vec<T>> + Sync,
{
    over_ranges(batch, |lo, hi| {
        let codes = codes_between(c, lo, hi)?;
        let mut out = Vec::with_capacity(codes.len());
        for chunk in codes.chunks(CHUNK) {
            out.extend(f(chunk)?);
        }
        Ok(out)
    })
}

/// Every enterprise's code after `after`, in code order, listed in parallel ranges.
pub fn codes_whole(
    c: &Classifier,
    batch: &BatchSource,
    after: Option<CreditCode>,
) -> Result<Vec<CreditCode>> {
    over_ranges(batch, |lo, hi| {
        if hi.is_some_and(|h| after.is_some_and(|a| h <= a)) {
            return Ok(Vec::new());
        }
        let mut codes = codes_between(c, lo, hi)?;
        codes.retain(|code| after.is_none_or(|a| *code > a));
        Ok(codes)
    })
}

/// Runs `f` on ranges `[lo, hi)` covering the whole code space (`None`: unbounded), on every
/// core, and concatenates the results in code order. The ranges are cut at event-segment
/// boundaries (about 64 of them; one range when the store has no segments).
fn over_ranges<T: Send, F>(batch: &BatchSource, f: F) -> Result<Vec<T>>
where
    F: Fn(Option<CreditCode>, Option<CreditCode>) -> Result<Vec<T>> + Sync,
{
    let mut bounds: Vec<Option<CreditCode>> = vec![None];
    if let Some(s) = &batch.segments {
        let firsts = s.firsts();
        let step = firsts.len().div_ceil(64).max(1);
        bounds.extend(firsts.iter().skip(1).step_by(step).map(|c| Some(*c)));
    }
    bounds.push(None);
    let ranges: Vec<(Option<CreditCode>, Option<CreditCode>)> =
        bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let mut out = Vec::new();
    ordered(
        &ranges,
        |(lo, hi)| f(*lo, *hi),
        |_, part| {
            out.extend(part);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Computes `compute` over `items` on every core, each worker taking the next item as soon as
/// it is free, and hands the results to `sink` strictly in order (with the item), as soon as an
/// item and every one before it are done. At most a few finished items wait for `sink`, so a
/// slow sink (the writer) holds the workers back. Runs use it over chunks of codes, range
/// replay over ranges of log indices.
pub fn ordered<I: Sync, T: Send, C, S>(items: &[I], compute: C, mut sink: S) -> Result<()>
where
    C: Fn(&I) -> Result<T> + Sync,
    S: FnMut(&I, T) -> Result<()>,
{
    let chunks = items;
    let threads = workers();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (chunks, next, compute) = (&chunks, &next, &compute);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<T>)>(threads);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let tx = tx.clone();
                s.spawn(move || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    let r = compute(chunk);
                    let failed = r.is_err();
                    // A closed channel: the sink failed and the run is stopping.
                    if tx.send((i, r)).is_err() || failed {
                        break;
                    }
                })
            })
            .collect();
        drop(tx);
        let mut waiting = std::collections::BTreeMap::new();
        let mut due = 0;
        for (i, r) in rx.iter() {
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&due) {
                sink(&chunks[due], r?)?;
                due += 1;
            }
        }
        for h in handles {
            joined(h)?;
        }
        if due < chunks.len() {
            return Err(Error::Internal(format!(
                "batch work stopped after {due} of {} parts without an error",
                chunks.len()
            )));
        }
        Ok(())
    })
}

/// Codes of the enterprises in `[lo, hi)` (`None`: unbounded), in code order.
fn codes_between(
    c: &Classifier,
    lo: Option<CreditCode>,
    hi: Option<CreditCode>,
) -> Result<Vec<CreditCode>> {
    let from = lo.map_or_else(prefix::enterprises, |l| Key::Enterprise(l).encode());
    let to = hi.map_or_else(
        || {
            let mut p = prefix::enterprises();
            p[0] += 1;
            p
        },
        |h| Key::Enterprise(h).encode(),
    );
    let mut out = Vec::new();
    for kv in c.records().engine().range(&from, &to) {
        let (k, _) = kv?;
        out.push(code_in(&k).ok_or_else(|| Error::Corrupt("enterprise key".into()))?);
    }
    Ok(out)
}

/// Reads the inputs of `codes` (sorted): range reads when `batch` is given (scope: everything,
/// so the codes are contiguous in the key space), else one lookup per code.
pub fn gather_chunk(
    c: &Classifier,
    codes: &[CreditCode],
    cut: u64,
    as_of: Date,
    batch: Option<&BatchSource>,
) -> Result<Vec<Option<Inputs>>> {
    match batch {
        Some(b) => gather_range(c.records(), codes, cut, as_of, b.view()),
        None => codes
            .iter()
            .map(|code| gather(c.records(), code, cut, as_of))
            .collect(),
    }
}

/// Maps `f` over `items` on every available core, keeping order.
pub fn parallel_map<T: Send, F>(items: &[CreditCode], f: F) -> Result<Vec<T>>
where
    F: Fn(&CreditCode) -> Result<T> + Sync,
{
    parallel_parts(items, |part| part.iter().map(&f).collect())
}

/// Codes in scope after `after`, in code order.
pub fn codes_in_scope(
    c: &Classifier,
    jurisdiction: Option<&str>,
    after: Option<CreditCode>,
) -> Result<Vec<CreditCode>> {
    let engine = c.records().engine();
    let (p, after_key) = match jurisdiction {
        Some(j) => (
            prefix::jurisdiction(j),
            after.map(|a| Key::Jurisdiction(j, a).encode()),
        ),
        None => (
            prefix::enterprises(),
            after.map(|a| Key::Enterprise(a).encode()),
        ),
    };
    let mut out = Vec::new();
    for kv in engine.scan(&p, after_key.as_deref()) {
        let (k, _) = kv?;
        out.push(code_in(&k).ok_or_else(|| Error::Corrupt("enterprise key".into()))?);
    }
    Ok(out)
}

impl Classifier {
    /// A stored run.
    pub fn run(&self, id: u64) -> Result<RunState> {
        let v = self
            .records()
            .engine()
            .get(&Key::Run(id).encode())?
            .ok_or_else(|| Error::NotFound(format!("run `{id}`")))?;
        decode(&v, &format_args!("run `{id}`"))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunState>> {
        let mut out = Vec::new();
        for kv in self.records().engine().scan(&prefix::runs(), None) {
            let (_, v) = kv?;
            out.push(decode(&v, &"run")?);
        }
        Ok(out)
    }

    /// Starts a run over `jurisdiction` (or everything) as of `as_of`.
    pub fn start_run(
        &self,
        jurisdiction: Option<String>,
        as_of: Date,
        now_ms: i64,
    ) -> Result<RunState> {
        let rules = self.rule_sets().applicable_blocking(as_of)?;
        let cut = self.cut()?;
        let mut state = RunState {
            id: 0,
            jurisdiction,
            as_of,
            cut,
            rule_set: rules.hash().to_string(),
            cursor: None,
            done: 0,
            changed: 0,
            tiers: [0; 4],
            total: 0,
            finished: false,
            started_ms: now_ms,
        };
        let template = state.clone();
        let out = self.writer().submit_blocking(Box::new(move |tx| {
            let id = tx.alloc_seq();
            let s = RunState { id, ..template };
            tx.put(&Key::Run(id), encode(&s)?);
            Ok(WriteOutcome {
                seqs: vec![id],
                ..Default::default()
            })
        }))?;
        state.id = out.seqs.first().copied().unwrap_or(0);
        Ok(state)
    }

    /// Runs (or resumes) `state` to the end, calling `progress` after each durable chunk.
    pub fn execute_run(
        &self,
        mut state: RunState,
        progress: &mut dyn FnMut(&RunState),
    ) -> Result<RunState> {
        if state.finished {
            progress(&state);
            return Ok(state);
        }
        let rules = self.rule_sets().get_blocking(&state.rule_set)?;
        let batch = match state.jurisdiction {
            None => Some(BatchSource::load(self.records(), state.cut, state.as_of)?),
            Some(_) => None,
        };
        let codes = match &batch {
            Some(b) => codes_whole(self, b, state.cursor)?,
            None => codes_in_scope(self, state.jurisdiction.as_deref(), state.cursor)?,
        };
        state.total = state.done + codes.len() as u64;
        // Chunks stored but not yet answered: computing goes on while the writer stores them.
        let mut in_flight: std::collections::VecDeque<(crate::storage::Pending, u64, bool)> =
            Default::default();
        let (as_of, cut, id) = (state.as_of, state.cut, state.id);
        // The tier mix of what is stored so far (`classify::report`): empty for a new run, the
        // committed one on resume.
        let mut mix = super::report::stored_mix(self, id)?.unwrap_or_default();
        // The store hook's work (enterprise warning signals) goes into each chunk's job.
        let preparer = self.preparer(as_of);
        let compute = |chunk: &[CreditCode]| -> Result<(Vec<Pending>, TierMix)> {
            let mut out = Vec::with_capacity(chunk.len());
            let mut chunk_mix = TierMix::default();
            for inputs in gather_chunk(self, chunk, cut, as_of, batch.as_ref())?
                .into_iter()
                .flatten()
            {
                let features = inputs.features(as_of);
                let (record, _) = decide_with(&inputs, &features, &rules, as_of, cut, id)?;
                let e = &inputs.version.enterprise;
                chunk_mix.add(record.tier, &e.jurisdiction, e.industry_section());
                let signal = match &preparer {
                    Some(p) => p.prepare(&inputs, features, &record)?,
                    None => None,
                };
                out.push(Pending {
                    record,
                    jurisdiction: inputs.version.enterprise.jurisdiction,
                    signal,
                });
            }
            Ok((out, chunk_mix))
        };
        let chunks: Vec<&[CreditCode]> = codes.chunks(CHUNK).collect();
        ordered(
            &chunks,
            |c| compute(c),
            |chunk, (items, chunk_mix)| {
                for p in &items {
                    state.tiers[p.record.tier as usize] += 1;
                }
                mix.merge(&chunk_mix);
                state.done += items.len() as u64;
                state.cursor = chunk.last().copied();
                let checkpoint = (Key::Run(state.id), encode(&state)?);
                let signalled = items.iter().any(|p| p.signal.is_some());
                let (actor, now) = (super::service::SYSTEM.to_string(), crate::clock::now_ms());
                // A whole-population run stores each chunk as blocks (`classify::blocks`); a
                // jurisdiction's run stores records one by one (readers look for blocks only in
                // whole runs).
                let job = match state.jurisdiction {
                    None => super::blocks::store_chunk_job(state.id, items, checkpoint, actor, now),
                    Some(_) => store_job(items, Some(checkpoint), actor, now),
                };
                // INVARIANT (mix matches output): the run's tier mix is rewritten in the same
                // commit as the chunk and its checkpoint.
                let (mix_key, mix_value) = super::report::mix_entry(state.id, &mix)?;
                let job: crate::storage::Job = Box::new(move |tx| {
                    tx.put(&mix_key, mix_value);
                    job(tx)
                });
                in_flight.push_back((self.writer().enqueue_blocking(job)?, state.done, signalled));
                if in_flight.len() > IN_FLIGHT {
                    if let Some((p, done, signalled)) = in_flight.pop_front() {
                        self.finish_chunk(p, done, signalled, &mut state, progress)?;
                    }
                }
                Ok(())
            },
        )?;
        while let Some((p, done, signalled)) = in_flight.pop_front() {
            self.finish_chunk(p, done, signalled, &mut state, progress)?;
        }
        state.finished = true;
        let done = state.clone();
        // Also for a run without chunks (nothing in scope), so every finished run has a mix.
        let (mix_key, mix_value) = super::report::mix_entry(state.id, &mix)?;
        self.writer().submit_blocking(Box::new(move |tx| {
            tx.put(&Key::Run(done.id), encode(&done)?);
            tx.put(&mix_key, mix_value);
            Ok(WriteOutcome::default())
        }))?;
        progress(&state);
        Ok(state)
    }

    fn finish_chunk(
        &self,
        p: crate::storage::Pending,
        done: u64,
        signalled: bool,
        state: &mut RunState,
        progress: &mut dyn FnMut(&RunState),
    ) -> Result<()> {
        let out = p.wait_blocking()?;
        if signalled {
            self.signals_committed();
        }
        state.changed += out.note;
        if out.note > 0 {
            if let Some(last) = out.seqs.last() {
                self.notify(*last);
            }
        }
        let mut shown = state.clone();
        shown.done = done;
        progress(&shown);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::bench::synthetic_code;

    /// Chunks finish out of order (later ones faster), yet the sink sees each once, in order;
    /// a failing chunk stops the run with its error after exactly the chunks before it.
    #[test]
    fn ordered_hands_results_over_in_order_and_stops_at_an_error() {
        let codes: Vec<CreditCode> = (0..(CHUNK * 7 / 2) as u64).map(synthetic_code).collect();
        let chunks: Vec<&[CreditCode]> = codes.chunks(CHUNK).collect();
        let n = chunks.len();
        let slow_first = |chunk: &&[CreditCode]| -> Result<usize> {
            let i = codes.iter().position(|c| *c == chunk[0]).unwrap() / CHUNK;
            std::thread::sleep(std::time::Duration::from_millis(10 * (n - i) as u64));
            Ok(i)
        };
        let mut seen = Vec::new();
        ordered(&chunks, slow_first, |chunk, i| {
            assert_eq!(
                *chunk,
                &codes[i * CHUNK..((i + 1) * CHUNK).min(codes.len())]
            );
            seen.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());

        let mut seen = Vec::new();
        let failing = |chunk: &&[CreditCode]| -> Result<usize> {
            let i = codes.iter().position(|c| *c == chunk[0]).unwrap() / CHUNK;
            if i == 2 {
                return Err(Error::invalid("chunk", "fails on purpose"));
            }
            Ok(i)
        };
        let err = ordered(&chunks, failing, |_, i| {
            seen.push(i);
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("fails on purpose"), "{err}");
        assert_eq!(seen, vec![0, 1]);
        // A failing sink stops it too.
        let err = ordered(
            &chunks,
            |_| Ok(()),
            |_, ()| Err(Error::Internal("sink".into())),
        )
        .unwrap_err();
        assert!(err.to_string().contains("sink"));
    }
}
