//! The single writer: serialises every change and commits them in groups.
//!
//! Why one thread: checks such as "is this event id new?" must see every earlier write, and
//! sled's batches are atomic but not isolated. A single writer makes each job's read-check-write
//! atomic without locks. It is an OS thread, not a tokio task, because sled blocks.
//!
//! Group commit: the thread takes every job waiting in its queue (up to [`MAX_GROUP`]), runs each
//! against the store plus the group's pending writes, applies all successful jobs in one atomic
//! batch, flushes once (fsync), and only then answers each caller. A job that fails (bad input,
//! conflict) is answered with its error and contributes nothing; the others still commit. So an
//! acknowledged job is durable, a failed job wrote nothing, and one fsync covers many callers.

use super::engine::{Engine, Op};
use super::event_ids::{self, EventIds, IdEntry};
use super::keys::Key;
use super::log::{LogState, Overlay};
use super::records::Records;
use crate::audit::merkle::{leaf_hash, Hash};
use crate::audit::{Entry, Signer};
use crate::domain::CreditCode;
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};

/// Most committed permanent keys the writer remembers (about 50 bytes each).
pub const MAX_REMEMBERED: usize = 10_000_000;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed by one flush.
pub const MAX_GROUP: usize = 256;
/// Jobs that may wait in the queue before submitters are made to wait (back-pressure).
pub const QUEUE_DEPTH: usize = 1024;

/// What a job reports when it commits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Records written.
    pub accepted: u32,
    /// Records identical to stored ones: nothing written.
    pub duplicates: u32,
    /// The seq of each record in input order (the stored one for a duplicate).
    pub seqs: Vec<u64>,
    /// A job-specific count (a classification job reports its tier changes here).
    pub note: u64,
}

/// A job: reads and writes through a [`Tx`]; returning an error discards its writes.
pub type Job = Box<dyn FnOnce(&mut Tx<'_>) -> Result<WriteOutcome> + Send>;

type Reply = oneshot::Sender<Result<WriteOutcome>>;

enum Msg {
    Job(Job, Reply),
    Close,
}

/// A job's view of the store: its own writes, then the group's pending writes, then the engine.
pub struct Tx<'a> {
    engine: &'a dyn Engine,
    group: &'a Overlay,
    local: Overlay,
    next_seq: u64,
    committed_keys: &'a mut HashSet<Vec<u8>>,
    log_next: u64,
    log_leaves: Vec<Hash>,
    event_ids: &'a EventIds,
    group_ids: &'a IdMap,
    local_ids: IdMap,
}

/// Event ids written by a job or group and not yet committed: id to enterprise and seq.
type IdMap = HashMap<String, (CreditCode, u64)>;

// The overlay (pending writes by key, `None`: delete) is a map, so the last write of a key
// wins, and ordered, so the commit applies keys in order (neighbouring inserts land in the same
// sled leaf).

impl Tx<'_> {
    /// The value of `key` as this job sees it.
    pub fn get(&self, key: &Key<'_>) -> Result<Option<Vec<u8>>> {
        let k = key.encode();
        if let Some(v) = self.local.get(&k).or_else(|| self.group.get(&k)) {
            return Ok(v.clone());
        }
        self.engine.get(&k)
    }

    /// Sets `key`.
    pub fn put(&mut self, key: &Key<'_>, value: Vec<u8>) {
        self.local.insert(key.encode(), Some(value));
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: &Key<'_>) {
        self.delete_raw(&key.encode());
    }

    /// Removes the key with encoding `key` (as read back from [`Tx::range`]).
    pub fn delete_raw(&mut self, key: &[u8]) {
        self.local.insert(key.to_vec(), None);
    }

    /// True when `key` has a value that is never removed once written (such as an enterprise).
    /// Keys found committed in the engine are remembered by the writer, so repeated checks (an
    /// enterprise's events arriving in many batches) cost no read. Only committed keys are
    /// remembered: a key pending in a group that might still fail is looked up again.
    pub fn contains_permanent(&mut self, key: &Key<'_>) -> Result<bool> {
        let k = key.encode();
        if self.committed_keys.contains(&k) {
            return Ok(true);
        }
        if let Some(v) = self.local.get(&k).or_else(|| self.group.get(&k)) {
            return Ok(v.is_some());
        }
        let found = self.engine.get(&k)?.is_some();
        if found && self.committed_keys.len() < MAX_REMEMBERED {
            self.committed_keys.insert(k);
        }
        Ok(found)
    }

    /// The keys in `[from, to)` with their values as this job sees them (its own writes, then
    /// the group's, then the engine), in key order. For short ranges: the result is collected.
    pub fn range(&self, from: &[u8], to: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        use std::ops::Bound::{Excluded, Included};
        let mut seen: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = Default::default();
        for kv in self.engine.range(from, to) {
            let (k, v) = kv?;
            seen.insert(k, v);
        }
        for overlay in [self.group, &self.local] {
            for (k, v) in overlay.range::<[u8], _>((Included(from), Excluded(to))) {
                match v {
                    Some(v) => seen.insert(k.clone(), v.clone()),
                    None => seen.remove(k),
                };
            }
        }
        Ok(seen.into_iter().collect())
    }

    /// The last key in `[from, to)` with its value, as this job sees it.
    pub fn last_in(&self, from: &[u8], to: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        use std::ops::Bound::{Excluded, Included};
        // Usually the engine's last key, when nothing is pending at or after it; else a
        // pending one after it; only when the job or group deleted that key is the whole range
        // read.
        let stored = self.engine.last_in(from, to)?;
        let start = stored.as_ref().map_or(from, |(k, _)| k.as_slice());
        let pending = [self.group, &self.local].iter().any(|o| {
            o.range::<[u8], _>((Included(start), Excluded(to)))
                .next()
                .is_some()
        });
        if !pending {
            return Ok(stored);
        }
        if let Some(kv) = self.range(start, to)?.pop() {
            return Ok(Some(kv));
        }
        Ok(self.range(from, to)?.pop())
    }

    /// True when `key` has a value, without copying it.
    pub fn contains(&self, key: &Key<'_>) -> Result<bool> {
        let k = key.encode();
        if let Some(v) = self.local.get(&k).or_else(|| self.group.get(&k)) {
            return Ok(v.is_some());
        }
        Ok(self.engine.get(&k)?.is_some())
    }

    /// Appends consecutive entries to the audit log as one [`Key::LogBlock`], committed with
    /// the job's other writes or not at all; returns the index of the first. Nothing indexes
    /// them by subject: the caller does.
    pub fn log_block(&mut self, entries: &[Entry]) -> Result<u64> {
        let bytes = entries
            .iter()
            .map(encode_entry)
            .collect::<Result<Vec<_>>>()?;
        let first = self.log_next;
        for e in &bytes {
            self.log_leaves.push(leaf_hash(e));
        }
        self.log_next += bytes.len() as u64;
        self.put(&Key::LogBlock(first), super::log::encode_block(&bytes)?);
        Ok(first)
    }

    /// Where event `id` is stored as this job sees it: among its own events, the group's, or
    /// the committed ones.
    pub fn event_location(&self, id: &str) -> Result<Option<(CreditCode, u64)>> {
        if let Some(l) = self.local_ids.get(id).or_else(|| self.group_ids.get(id)) {
            return Ok(Some(*l));
        }
        self.event_ids.locate(self.engine, id)
    }

    /// Indexes event `id` as stored at `code`, `seq`: committed with the job's other writes (as
    /// a [`Key::EventIdBlock`], see [`super::event_ids`]) or not at all.
    pub fn put_event_id(&mut self, id: &str, code: CreditCode, seq: u64) {
        self.local_ids.insert(id.to_string(), (code, seq));
    }

    /// Takes the next ingest sequence number. Numbers of a failed job are not reused within the
    /// group only if a later job succeeded; the counter itself is persisted with every commit.
    pub fn alloc_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Appends `entry` to the audit log as part of this job: it commits with the job's other
    /// writes or not at all. Returns its log index. `entry.subject` must be unique across the
    /// log (it is indexed); fails if the entry exceeds the encoding's limits.
    pub fn log(&mut self, entry: &Entry) -> Result<u64> {
        let index = self.log_unindexed(entry)?;
        self.put(
            &Key::LogSubject(&entry.subject),
            index.to_be_bytes().to_vec(),
        );
        Ok(index)
    }

    /// [`Tx::log`] without the subject index, for callers that index their entries themselves
    /// more cheaply (classifications: [`Key::LogSeqs`]).
    pub fn log_unindexed(&mut self, entry: &Entry) -> Result<u64> {
        let bytes = encode_entry(entry)?;
        let index = self.log_next;
        self.log_next += 1;
        self.log_leaves.push(leaf_hash(&bytes));
        self.put(&Key::LogEntry(index), bytes);
        Ok(index)
    }
}

/// The canonical bytes of `entry`; fails if it exceeds the encoding's limits.
fn encode_entry(entry: &Entry) -> Result<Vec<u8>> {
    entry
        .encode()
        .map_err(|e| Error::Internal(format!("audit entry for `{}`: {e}", entry.subject)))
}

/// Handle for submitting jobs; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
}

/// The answer to an enqueued job.
pub struct Pending(oneshot::Receiver<Result<WriteOutcome>>);

impl Pending {
    /// Waits for the answer from a thread outside the runtime.
    pub fn wait_blocking(self) -> Result<WriteOutcome> {
        self.0
            .blocking_recv()
            .map_err(|_| Error::Unavailable("the writer stopped before answering".into()))?
    }
}

impl std::future::Future for Pending {
    type Output = Result<WriteOutcome>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|r| {
            r.map_err(|_| Error::Unavailable("the writer stopped before answering".into()))
                .and_then(|x| x)
        })
    }
}

/// The writer thread; [`WriterThread::close`] drains, flushes and joins it.
pub struct WriterThread {
    tx: mpsc::Sender<Msg>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread over `records`; `signer` signs the audit log's tree heads.
    pub fn start(records: Records, signer: Signer) -> Result<(Writer, WriterThread)> {
        let next_seq = records.next_seq()?;
        let log = LogState::load(&records, signer)?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let engine = records.engine().clone();
        let ids = records.event_ids().clone();
        let handle = std::thread::Builder::new()
            .name("creditrisk-writer".into())
            .spawn(move || run(engine, ids, rx, next_seq, log))?;
        Ok((
            Writer { tx: tx.clone() },
            WriterThread {
                tx,
                handle: Some(handle),
            },
        ))
    }

    /// Runs `job` in the writer and waits until it is durable (or failed).
    pub async fn submit(&self, job: Job) -> Result<WriteOutcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(job, reply))
            .await
            .map_err(|_| Error::Unavailable("the store is shutting down".into()))?;
        rx.await
            .map_err(|_| Error::Unavailable("the writer stopped before answering".into()))?
    }

    /// Queues `job` in order and returns at once; the returned [`Pending`] resolves when the job is
    /// durable (or failed). Jobs enqueued one after another run in that order.
    pub async fn enqueue(&self, job: Job) -> Result<Pending> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(job, reply))
            .await
            .map_err(|_| Error::Unavailable("the store is shutting down".into()))?;
        Ok(Pending(rx))
    }

    /// Blocking variant of [`Writer::enqueue`], for threads outside the runtime.
    pub fn enqueue_blocking(&self, job: Job) -> Result<Pending> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::Job(job, reply))
            .map_err(|_| Error::Unavailable("the store is shutting down".into()))?;
        Ok(Pending(rx))
    }

    /// Blocking variant of [`Writer::submit`], for threads outside the runtime.
    pub fn submit_blocking(&self, job: Job) -> Result<WriteOutcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::Job(job, reply))
            .map_err(|_| Error::Unavailable("the store is shutting down".into()))?;
        rx.blocking_recv()
            .map_err(|_| Error::Unavailable("the writer stopped before answering".into()))?
    }
}

impl WriterThread {
    /// Finishes the jobs already queued, flushes and stops the thread. Jobs submitted afterwards
    /// fail with `Unavailable`.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.tx.blocking_send(Msg::Close);
            let _ = h.join();
        }
    }
}

impl Drop for WriterThread {
    /// Without [`WriterThread::close`], asks the thread to stop but does not wait: dropping may
    /// happen inside the async runtime, where blocking is not allowed. Nothing acknowledged is
    /// at risk: every acknowledged job was flushed before its answer.
    fn drop(&mut self) {
        if self.handle.take().is_some() {
            let _ = self.tx.try_send(Msg::Close);
        }
    }
}

/// Answers every job of a group that cannot be committed (its bookkeeping failed before the
/// batch was applied) with an internal error naming `what`.
fn refuse_group(answers: Vec<(Reply, Result<WriteOutcome>)>, what: &str, e: &Error) {
    tracing::error!(error = %e, "{what} failed; no job of the group is acknowledged");
    for (reply, _) in answers {
        let _ = reply.send(Err(Error::Internal(format!("{what}: {e}"))));
    }
}

fn run(
    engine: Arc<dyn Engine>,
    event_ids: EventIds,
    mut rx: mpsc::Receiver<Msg>,
    mut next_seq: u64,
    mut log: LogState,
) {
    let mut closing = false;
    let mut committed_keys: HashSet<Vec<u8>> = HashSet::new();
    while !closing {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut msgs = vec![first];
        while msgs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut group = Overlay::new();
        let mut answers = Vec::with_capacity(msgs.len());
        let start_seq = next_seq;
        let mut leaves: Vec<Hash> = Vec::new();
        let mut group_ids = IdMap::new();
        for m in msgs {
            let (job, reply) = match m {
                Msg::Job(j, r) => (j, r),
                Msg::Close => {
                    closing = true;
                    continue;
                }
            };
            let mut tx = Tx {
                engine: engine.as_ref(),
                group: &group,
                local: Overlay::new(),
                next_seq,
                committed_keys: &mut committed_keys,
                log_next: log.size() + leaves.len() as u64,
                log_leaves: Vec::new(),
                event_ids: &event_ids,
                group_ids: &group_ids,
                local_ids: IdMap::new(),
            };
            let result = job(&mut tx);
            match result {
                Ok(outcome) => {
                    let Tx {
                        local,
                        next_seq: n,
                        log_leaves,
                        local_ids,
                        ..
                    } = tx;
                    next_seq = n;
                    group.extend(local);
                    leaves.extend(log_leaves);
                    group_ids.extend(local_ids);
                    answers.push((reply, Ok(outcome)));
                }
                Err(e) => answers.push((reply, Err(e))),
            }
        }
        if next_seq != start_seq {
            group.insert(
                Key::Meta("next_seq").encode(),
                Some(next_seq.to_be_bytes().to_vec()),
            );
        }
        let mut new_ids: Vec<IdEntry> = group_ids
            .into_iter()
            .map(|(event_id, (code, seq))| IdEntry {
                seq,
                code,
                event_id,
            })
            .collect();
        match event_ids::blocks(&mut new_ids) {
            Ok(blocks) => group.extend(blocks.into_iter().map(|(k, v)| (k, Some(v)))),
            Err(e) => {
                refuse_group(answers, "event-id index", &e);
                next_seq = start_seq;
                continue;
            }
        }
        let mut undo = None;
        if !leaves.is_empty() {
            match log.extend(&leaves, crate::clock::now_ms(), &mut group) {
                Ok(u) => undo = Some(u),
                Err(e) => {
                    // Cannot happen short of 2^64 entries; fail the whole group rather than
                    // commit changes without their log entries.
                    refuse_group(answers, "audit log", &e);
                    next_seq = start_seq;
                    continue;
                }
            }
        }
        // Metrics: one report per group, never per job (see `metrics::process`).
        let jobs = answers.len();
        let records: u64 = answers
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|o| u64::from(o.accepted))
            .sum();
        let wrote = !group.is_empty();
        let commit_start = std::time::Instant::now();
        let committed = if group.is_empty() {
            Ok(())
        } else {
            let ops = group
                .into_iter()
                .map(|(k, v)| match v {
                    Some(v) => Op::Put(k, v),
                    None => Op::Delete(k),
                })
                .collect();
            engine.apply(ops).and_then(|()| engine.flush())
        };
        crate::metrics::global().writer_group(
            jobs,
            records,
            wrote.then(|| commit_start.elapsed()),
            committed.is_ok(),
        );
        match &committed {
            Ok(()) => event_ids.add(&new_ids),
            Err(e) => {
                tracing::error!(error = %e, "group commit failed; no job of the group is acknowledged");
                next_seq = start_seq;
                if let Some(u) = undo {
                    log.undo(u);
                }
            }
        }
        for (reply, r) in answers {
            let r = match (&committed, r) {
                (Err(e), Ok(_)) => Err(Error::Storage(format!("commit failed: {e}"))),
                (_, r) => r,
            };
            let _ = reply.send(r);
        }
    }
    if let Err(e) = engine.flush() {
        tracing::error!(error = %e, "final flush failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CreditCode;
    use crate::storage::MemoryEngine;

    fn code() -> CreditCode {
        CreditCode::parse("91510100054946627W").unwrap()
    }

    #[test]
    fn permanent_keys_are_seen_only_once_committed_or_pending_in_a_live_job() {
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let (w, thread) = Writer::start(records, Signer::from_seed([1; 32])).unwrap();
        let check = |w: &Writer| {
            w.submit_blocking(Box::new(|tx| {
                let seen = tx.contains_permanent(&Key::Enterprise(code()))?;
                Ok(WriteOutcome {
                    note: seen as u64,
                    ..Default::default()
                })
            }))
            .unwrap()
            .note
        };
        assert_eq!(check(&w), 0);
        // A failed job's write is discarded and never remembered.
        let failed = w.submit_blocking(Box::new(|tx| {
            tx.put(&Key::Enterprise(code()), vec![1]);
            Err(Error::invalid("x", "rejected on purpose"))
        }));
        assert!(failed.is_err());
        assert_eq!(check(&w), 0);
        // Within one job, its own pending write counts.
        let own = w
            .submit_blocking(Box::new(|tx| {
                tx.put(&Key::Enterprise(code()), vec![1]);
                let seen = tx.contains_permanent(&Key::Enterprise(code()))?;
                Ok(WriteOutcome {
                    note: seen as u64,
                    ..Default::default()
                })
            }))
            .unwrap();
        assert_eq!(own.note, 1);
        // Committed: seen (and from then on remembered).
        assert_eq!(check(&w), 1);
        assert_eq!(check(&w), 1);
        thread.close();
    }

    /// Range and last-key reads inside a job merge its own writes and deletes, the group's
    /// pending ones and the store.
    #[test]
    fn range_reads_in_a_job_see_pending_writes_and_deletes() {
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let (w, thread) = Writer::start(records, Signer::from_seed([1; 32])).unwrap();
        let k = |s: &str| Key::Meta(s).encode();
        w.submit_blocking(Box::new(move |tx| {
            for name in ["a", "c", "e"] {
                tx.put(&Key::Meta(name), name.as_bytes().to_vec());
            }
            Ok(WriteOutcome::default())
        }))
        .unwrap();
        // Two jobs in one group: the first deletes `e` and writes `d`, the second sees both.
        let first = w
            .enqueue_blocking(Box::new(move |tx| {
                tx.delete(&Key::Meta("e"));
                tx.put(&Key::Meta("d"), b"d".to_vec());
                Ok(WriteOutcome::default())
            }))
            .unwrap();
        let second = w
            .enqueue_blocking(Box::new(move |tx| {
                let names = |tx: &Tx<'_>| -> Vec<Vec<u8>> {
                    tx.range(&k("a"), &k("z"))
                        .unwrap()
                        .into_iter()
                        .map(|(_, v)| v)
                        .collect()
                };
                let last = |tx: &Tx<'_>| tx.last_in(&k("a"), &k("z")).unwrap().map(|(_, v)| v);
                // `second` may or may not share the group with `first`; either way it sees it.
                assert_eq!(names(tx), vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
                assert_eq!(last(tx), Some(b"d".to_vec()));
                tx.delete(&Key::Meta("d"));
                assert_eq!(last(tx), Some(b"c".to_vec()));
                tx.delete(&Key::Meta("c"));
                tx.delete(&Key::Meta("a"));
                assert_eq!(last(tx), None);
                tx.put(&Key::Meta("b"), b"b".to_vec());
                assert_eq!(names(tx), vec![b"b".to_vec()]);
                assert_eq!(tx.last_in(&k("a"), &k("b")).unwrap(), None);
                Ok(WriteOutcome::default())
            }))
            .unwrap();
        first.wait_blocking().unwrap();
        second.wait_blocking().unwrap();
        thread.close();
    }

    #[test]
    fn event_ids_are_seen_by_their_job_and_after_commit_but_never_from_a_failed_job() {
        let engine = Arc::new(MemoryEngine::default());
        let records = Records::open(engine.clone()).unwrap();
        let (w, thread) = Writer::start(records, Signer::from_seed([1; 32])).unwrap();
        let find = |w: &Writer, id: &'static str| {
            w.submit_blocking(Box::new(move |tx| {
                Ok(WriteOutcome {
                    seqs: tx.event_location(id)?.map(|(_, s)| s).into_iter().collect(),
                    ..Default::default()
                })
            }))
            .unwrap()
            .seqs
        };
        let failed = w.submit_blocking(Box::new(|tx| {
            tx.put_event_id("gone", code(), 7);
            assert_eq!(tx.event_location("gone")?, Some((code(), 7)));
            Err(Error::invalid("x", "rejected on purpose"))
        }));
        assert!(failed.is_err());
        assert!(find(&w, "gone").is_empty());
        w.submit_blocking(Box::new(|tx| {
            let seq = tx.alloc_seq();
            tx.put_event_id("kept", code(), seq);
            Ok(WriteOutcome::default())
        }))
        .unwrap();
        let seq = find(&w, "kept");
        assert_eq!(seq.len(), 1);
        thread.close();
        // Durable as a block: a fresh index over the same engine finds it.
        let again = Records::open(engine).unwrap();
        assert_eq!(
            again.event_location("kept").unwrap(),
            Some((code(), seq[0]))
        );
        assert_eq!(again.event_location("gone").unwrap(), None);
    }
}
