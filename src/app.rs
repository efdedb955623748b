//! The application: the operations the service offers, in domain terms. Both the gRPC layer and
//! the command line's local tools (demo loading, benchmarks) call these; none of it knows gRPC.
//!
//! Writes: check every record's fields (collecting all violations), replace personal references
//! by pseudonyms, then submit one job to the single writer, which checks against the store and
//! commits durably before the call returns. Reads go straight to the store on tokio's blocking
//! pool, because sled calls may block on disk.

use crate::access::Tokens;
use crate::audit::Signer;
use crate::classify::Classifier;
use crate::domain::validate::Batch;
use crate::domain::{
    CreditCode, CreditEvent, Enterprise, EnterpriseVersion, Inspection, Inspector,
    InspectorVersion, Pseudonymizer, StoredEvent,
};
use crate::drawsvc::{Draws, ResultInput};
use crate::error::{Error, Result};
use crate::ingest::{self, MAX_BATCH};
use crate::storage::{
    Engine, EnterpriseFilter, InspectorFilter, Page, Pending, Records, WriteOutcome, Writer,
    WriterThread,
};
use std::path::Path;
use std::sync::Arc;

/// The service's state: cheap to clone, shared by every call.
#[derive(Clone)]
pub struct App {
    records: Records,
    writer: Writer,
    pseudo: Arc<Pseudonymizer>,
    classifier: Classifier,
    draws: Option<Draws>,
    tokens: Tokens,
    auto: Option<tokio::sync::mpsc::UnboundedSender<Vec<CreditCode>>>,
    log_public_key: [u8; 32],
    warnings: crate::warnsvc::Warnings,
}

/// Owns what must be closed in order when the service stops.
pub struct Stopper {
    writer: WriterThread,
}

impl Stopper {
    /// Lets queued writes finish, flushes and stops the writer.
    pub fn close(self) {
        self.writer.close();
    }
}

impl App {
    /// Opens the sled store and the pseudonym key in `data_dir`, creating both if missing.
    pub fn open(data_dir: &Path, cache_mb: u64) -> Result<(App, Stopper)> {
        App::open_at(data_dir, None, cache_mb)
    }

    /// Opens the store at `storage` (default: sled in `data_dir`), with the pseudonym and
    /// log-signing keys of `data_dir`, creating the keys if missing.
    pub fn open_at(
        data_dir: &Path,
        storage: Option<&crate::storage::Location>,
        cache_mb: u64,
    ) -> Result<(App, Stopper)> {
        std::fs::create_dir_all(data_dir)?;
        let key = load_or_create_key(&data_dir.join("pseudonym.key"))?;
        let seed = load_or_create_key(&data_dir.join("log-signing.key"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| Error::Storage("`log-signing.key` should hold 32 bytes".into()))?;
        let default = crate::storage::Location::Sled(data_dir.to_path_buf());
        let engine = crate::storage::open_engine(
            storage.unwrap_or(&default),
            cache_mb.saturating_mul(1024 * 1024),
        )?;
        App::with_parts(engine, Pseudonymizer::new(key), Signer::from_seed(seed))
    }

    /// Runs on any engine (tests use the in-memory one), with a fresh random log-signing key.
    pub fn with_engine(engine: Arc<dyn Engine>, pseudo: Pseudonymizer) -> Result<(App, Stopper)> {
        let seed: [u8; 32] = crate::os_random(32)?
            .try_into()
            .map_err(|_| Error::Internal("short read of random bytes".into()))?;
        App::with_parts(engine, pseudo, Signer::from_seed(seed))
    }

    /// Runs on `engine`, pseudonymising with `pseudo` and signing log heads with `signer`.
    pub fn with_parts(
        engine: Arc<dyn Engine>,
        pseudo: Pseudonymizer,
        signer: Signer,
    ) -> Result<(App, Stopper)> {
        let records = Records::open(engine)?;
        index_draw_facts(&records)?;
        let public_key = signer.public_key_bytes();
        let (writer, thread) = Writer::start(records.clone(), signer)?;
        let classifier = Classifier::new(records.clone(), writer.clone());
        let tokens = Tokens::new(records.clone(), writer.clone());
        let warnings = crate::warnsvc::Warnings::new(classifier.clone());
        // Enterprise warning signals run in every single classification's store job.
        classifier.set_store_hook(Arc::new(crate::warnsvc::EnterpriseSignals::new(&warnings)));
        Ok((
            App {
                records,
                writer,
                pseudo: Arc::new(pseudo),
                classifier,
                draws: None,
                tokens,
                auto: None,
                log_public_key: public_key,
                warnings,
            },
            Stopper { writer: thread },
        ))
    }

    /// Log reads and replay over this store.
    pub fn auditor(&self) -> crate::auditsvc::Auditor {
        crate::auditsvc::Auditor::new(
            self.records.clone(),
            self.classifier.clone(),
            self.draws.clone(),
            self.log_public_key,
        )
    }

    /// Runs an audit operation on the blocking pool (sled reads, recomputation).
    pub async fn audit_op<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::auditsvc::Auditor) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let a = self.auditor();
        tokio::task::spawn_blocking(move || f(&a))
            .await
            .map_err(|e| Error::Internal(format!("audit task failed: {e}")))?
    }

    /// The Ed25519 public key that verifies the audit log's signed heads.
    pub fn log_public_key(&self) -> [u8; 32] {
        self.log_public_key
    }

    /// The classification service.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The early-warning service.
    pub fn warnings(&self) -> &crate::warnsvc::Warnings {
        &self.warnings
    }

    /// Runs an early-warning operation on the blocking pool (sled reads, waiting for the
    /// writer).
    pub async fn warn_op<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::warnsvc::Warnings) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let w = self.warnings.clone();
        tokio::task::spawn_blocking(move || f(&w))
            .await
            .map_err(|e| Error::Internal(format!("warning task failed: {e}")))?
    }

    /// Evaluates group warning signals once at start and then once a day, as of today, in a
    /// background task (must be called inside the tokio runtime); ends when streams close at
    /// shutdown. Overdue alerts are escalated at the same times. Failures are logged.
    pub fn enable_warning_schedule(&self) {
        let warnings = self.warnings.clone();
        let closing = self.classifier.closing();
        tokio::spawn(async move {
            tokio::pin!(closing);
            loop {
                let w = warnings.clone();
                let done = tokio::task::spawn_blocking(move || {
                    let today = crate::clock::today();
                    let now = crate::clock::now_ms();
                    let escalated = w.escalate_overdue(today, now)?;
                    let e = w.evaluate_groups(
                        today,
                        None,
                        crate::classify::service::SYSTEM,
                        now,
                        today,
                    )?;
                    Ok::<_, Error>((e, escalated.len()))
                })
                .await;
                match done {
                    Ok(Ok((e, escalated))) => tracing::info!(
                        as_of = %e.as_of,
                        facts = e.facts,
                        raised = e.fired.raised.len(),
                        updated = e.fired.updated.len(),
                        escalated,
                        "scheduled warning evaluation"
                    ),
                    Ok(Err(e)) => tracing::warn!(error = %e, "scheduled warning evaluation failed"),
                    Err(e) => {
                        tracing::warn!(error = %e, "scheduled warning evaluation task failed")
                    }
                }
                tokio::select! {
                    _ = &mut closing => break,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)) => {}
                }
            }
        });
    }

    /// Starts pushing alert steps to departments' webhooks from the durable outbox, one
    /// background task per webhook (must be called inside the tokio runtime); the tasks end at
    /// shutdown (`warnsvc::webhook`).
    pub fn enable_webhooks(
        &self,
        hooks: Vec<crate::warnsvc::webhook::Webhook>,
        delivery: crate::warnsvc::webhook::Delivery,
    ) {
        let classifier = self.classifier.clone();
        crate::warnsvc::webhook::spawn_all(&self.warnings, hooks, delivery, move || {
            Box::pin(classifier.closing())
        });
    }

    /// The access tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Re-classifies enterprises as of today whenever new events for them are committed, in a
    /// background task (must be called inside the tokio runtime). Failures are logged; the
    /// next event or batch run classifies again.
    pub fn enable_auto_reclassify(&mut self) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<CreditCode>>();
        let classifier = self.classifier.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut codes: std::collections::BTreeSet<CreditCode> = first.into_iter().collect();
                while let Ok(more) = rx.try_recv() {
                    codes.extend(more);
                }
                let c = classifier.clone();
                let today = crate::clock::today();
                let r = tokio::task::spawn_blocking(move || {
                    let rules = c.rule_sets().applicable_blocking(today)?;
                    for code in codes {
                        c.classify_one_blocking(code, today, Some(rules.clone()), true)?;
                    }
                    Ok::<_, Error>(())
                })
                .await;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "automatic re-classification failed"),
                    Err(e) => tracing::warn!(error = %e, "automatic re-classification task failed"),
                }
            }
        });
        self.auto = Some(tx);
    }

    /// Keeps the event segments fresh in the background (must be called inside the tokio
    /// runtime): every 30 seconds, when at least `after_events` events arrived since the oldest
    /// segment was written (or no segments exist yet and that many events are stored), runs
    /// [`crate::storage::segments::compact`]. Ends when streams close at shutdown. Failures
    /// are logged; readers never depend on the segments being fresh.
    pub fn enable_compaction(&self, after_events: u64) {
        if after_events == 0 {
            return;
        }
        let (records, writer) = (self.records.clone(), self.writer.clone());
        let closing = self.classifier.closing();
        tokio::spawn(async move {
            tokio::pin!(closing);
            loop {
                tokio::select! {
                    _ = &mut closing => break,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                }
                let (r, w) = (records.clone(), writer.clone());
                let done = tokio::task::spawn_blocking(move || {
                    if crate::storage::segments::lag(&r)? < after_events {
                        return Ok(None);
                    }
                    crate::storage::segments::compact(&r, &w).map(Some)
                })
                .await;
                match done {
                    Ok(Ok(Some(c))) => tracing::info!(
                        segments = c.segments,
                        total = c.total,
                        events = c.events,
                        watermark = c.watermark,
                        "event segments refreshed"
                    ),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "event-segment compaction failed"),
                    Err(e) => tracing::warn!(error = %e, "event-segment compaction task failed"),
                }
            }
        });
    }

    fn touched(&self, events: &[CreditEvent]) {
        self.touched_codes(events.iter().map(|e| e.credit_code).collect());
    }

    fn touched_codes(&self, mut codes: Vec<CreditCode>) {
        if let Some(tx) = &self.auto {
            codes.sort();
            codes.dedup();
            let _ = tx.send(codes);
        }
    }

    /// Serves draws with the supervision policy and calendar in `dir` (normally `rules/`).
    pub fn enable_draws(&mut self, dir: &Path) -> Result<()> {
        let (policy, calendar) = Draws::load_rules(dir)?;
        self.enable_draws_with(policy, calendar);
        Ok(())
    }

    /// Serves draws with `policy` and `calendar` (see [`Draws::load_rules`] and
    /// [`Draws::embedded_rules`]).
    pub fn enable_draws_with(
        &mut self,
        policy: crate::draw::SupervisionPolicy,
        calendar: crate::draw::Calendar,
    ) {
        self.draws = Some(Draws::new(
            self.records.clone(),
            self.writer.clone(),
            policy,
            calendar,
        ));
    }

    /// The draw service; `FailedPrecondition` unless [`App::enable_draws`] was called.
    pub fn draws(&self) -> Result<&Draws> {
        self.draws
            .as_ref()
            .ok_or_else(|| Error::FailedPrecondition("draws are not enabled on this server".into()))
    }

    /// Runs a draw-service operation on the blocking pool (sled calls may block on disk).
    pub async fn draw_op<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Draws) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let d = self.draws()?.clone();
        tokio::task::spawn_blocking(move || f(&d))
            .await
            .map_err(|e| Error::Internal(format!("draw task failed: {e}")))?
    }

    /// Records results against a draw; the enterprises are then re-classified (when automatic
    /// re-classification is on), since the results entered their credit record.
    pub async fn record_results(
        &self,
        draw_id: String,
        results: Vec<ResultInput>,
        actor: &str,
    ) -> Result<WriteOutcome> {
        let actor = actor.to_string();
        let (out, codes) = self
            .draw_op(move |d| d.record_results(&draw_id, results, &actor, crate::clock::now_ms()))
            .await?;
        self.touched_codes(codes);
        Ok(out)
    }

    /// Read access to the store.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The writer, for modules that add their own jobs.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Creates or replaces enterprises; atomic.
    pub async fn upsert_enterprises(&self, batch: Vec<Enterprise>) -> Result<WriteOutcome> {
        self.upsert_enterprise_batch(Batch::whole(batch)).await
    }

    /// [`App::upsert_enterprises`] for a converted batch: its violations are answered together
    /// with those of the field checks.
    pub async fn upsert_enterprise_batch(
        &self,
        mut batch: Batch<Enterprise>,
    ) -> Result<WriteOutcome> {
        check_size(batch.sent)?;
        batch.check(|e, at, v| {
            e.validate(at, v);
            // A code whose check character is right is not legacy, whatever the caller said.
            e.legacy_code = e.legacy_code && !e.credit_code.check_ok();
            e.legal_representative = self.pseudo.pseudonym(&e.legal_representative);
        });
        let batch = batch.finish().map_err(Error::InvalidInput)?;
        self.writer.submit(ingest::upsert_enterprises(batch)).await
    }

    /// Appends credit events; atomic.
    pub async fn append_events(&self, batch: Vec<CreditEvent>) -> Result<WriteOutcome> {
        self.append_event_batch(Batch::whole(batch)).await
    }

    /// [`App::append_events`] for a converted batch: its violations, those of the field checks
    /// and those of the store checks are answered together.
    pub async fn append_event_batch(&self, batch: Batch<CreditEvent>) -> Result<WriteOutcome> {
        let codes = self.auto.as_ref().map(|_| batch.records.clone());
        let out = self.writer.submit(events_job(batch)?).await?;
        if let Some(b) = codes {
            self.touched(&b);
        }
        Ok(out)
    }

    /// Checks the events and queues them behind everything queued before; the returned future
    /// resolves when they are durable. For pipelined bulk ingest.
    pub async fn enqueue_events(
        &self,
        batch: Vec<CreditEvent>,
    ) -> Result<impl std::future::Future<Output = Result<WriteOutcome>> + Send + 'static> {
        self.enqueue_event_batch(Batch::whole(batch)).await
    }

    /// [`App::enqueue_events`] for a converted batch (see [`App::append_event_batch`]).
    pub async fn enqueue_event_batch(
        &self,
        batch: Batch<CreditEvent>,
    ) -> Result<impl std::future::Future<Output = Result<WriteOutcome>> + Send + 'static> {
        let codes = self.auto.as_ref().map(|_| batch.records.clone());
        let pending: Pending = self.writer.enqueue(events_job(batch)?).await?;
        let app = self.clone();
        Ok(async move {
            let out = pending.await?;
            if let Some(b) = codes {
                app.touched(&b);
            }
            Ok(out)
        })
    }

    /// Records inspections as credit events; atomic.
    pub async fn record_inspections(&self, batch: Vec<Inspection>) -> Result<WriteOutcome> {
        self.record_inspection_batch(Batch::whole(batch)).await
    }

    /// [`App::record_inspections`] for a converted batch (see [`App::append_event_batch`]).
    pub async fn record_inspection_batch(&self, batch: Batch<Inspection>) -> Result<WriteOutcome> {
        let events = Batch {
            records: batch
                .records
                .into_iter()
                .map(Inspection::into_event)
                .collect(),
            positions: batch.positions,
            sent: batch.sent,
            flawed: batch.flawed,
            violations: batch.violations,
        };
        self.append_event_batch(events)
            .await
            .map_err(ingest::rename_inspection_paths)
    }

    /// Creates or replaces inspectors; atomic.
    pub async fn upsert_inspectors(
        &self,
        batch: Vec<Inspector>,
        actor: &str,
    ) -> Result<WriteOutcome> {
        self.upsert_inspector_batch(Batch::whole(batch), actor)
            .await
    }

    /// [`App::upsert_inspectors`] for a converted batch: its violations are answered together
    /// with those of the field checks.
    pub async fn upsert_inspector_batch(
        &self,
        mut batch: Batch<Inspector>,
        actor: &str,
    ) -> Result<WriteOutcome> {
        check_size(batch.sent)?;
        batch.check(|ins, at, v| {
            ins.validate(at, v);
            for r in ins.conflict_legal_representatives.iter_mut() {
                *r = self.pseudo.pseudonym(r);
            }
        });
        let batch = batch.finish().map_err(Error::InvalidInput)?;
        self.writer
            .submit(ingest::upsert_inspectors(
                batch,
                actor.to_string(),
                crate::clock::now_ms(),
            ))
            .await
    }

    /// The current version of an enterprise, or `NotFound`.
    pub async fn enterprise(&self, code: CreditCode) -> Result<EnterpriseVersion> {
        self.blocking(move |r| r.enterprise(&code))
            .await?
            .ok_or_else(|| Error::NotFound(format!("enterprise `{code}`")))
    }

    /// A page of enterprises.
    pub async fn list_enterprises(
        &self,
        filter: EnterpriseFilter,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<EnterpriseVersion, CreditCode>> {
        self.blocking(move |r| r.list_enterprises(&filter, after, limit))
            .await
    }

    /// A page of an enterprise's events; `NotFound` if the enterprise is unknown.
    pub async fn events(
        &self,
        code: CreditCode,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Page<StoredEvent, u64>> {
        self.blocking(move |r| {
            if r.enterprise(&code)?.is_none() {
                return Err(Error::NotFound(format!("enterprise `{code}`")));
            }
            r.events_of(&code, after_seq, limit)
        })
        .await
    }

    /// A page of an enterprise's events, newest first, before seq `before`; `NotFound` if the
    /// enterprise is unknown. The web console's enterprise page reads this one.
    pub async fn events_newest_first(
        &self,
        code: CreditCode,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<StoredEvent, u64>> {
        self.blocking(move |r| {
            if r.enterprise(&code)?.is_none() {
                return Err(Error::NotFound(format!("enterprise `{code}`")));
            }
            r.events_of_newest_first(&code, before, limit)
        })
        .await
    }

    /// A page of inspectors.
    pub async fn list_inspectors(
        &self,
        filter: InspectorFilter,
        after: Option<String>,
        limit: usize,
    ) -> Result<Page<InspectorVersion, String>> {
        self.blocking(move |r| r.list_inspectors(&filter, after.as_deref(), limit))
            .await
    }

    /// Runs a read on the blocking pool.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Records) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let r = self.records.clone();
        tokio::task::spawn_blocking(move || f(&r))
            .await
            .map_err(|e| Error::Internal(format!("read task failed: {e}")))?
    }
}

/// Checks the fields of every event and hands the batch, with what was found, to the store
/// checks of the writer, so one answer names every problem.
fn events_job(mut batch: Batch<CreditEvent>) -> Result<crate::storage::Job> {
    check_size(batch.sent)?;
    batch.check(|e, at, v| e.validate(at, v));
    Ok(ingest::append_checked_events(batch))
}

fn check_size(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid("records", "the batch is empty"));
    }
    if n > MAX_BATCH {
        return Err(Error::invalid(
            "records",
            format!("`{n}` records exceed the limit of {MAX_BATCH} per call; split the batch"),
        ));
    }
    Ok(())
}

/// Builds the draw-fact index ([`crate::storage::Key::DrawFact`]) once for a store written
/// before it existed; a no-op afterwards (a meta key records that it is complete). Runs before
/// the writer starts, so nothing else writes; one atomic batch, flushed.
fn index_draw_facts(records: &Records) -> Result<()> {
    const DONE: &str = "draw_facts_indexed";
    if records.meta(DONE)?.is_some() {
        return Ok(());
    }
    use crate::storage::engine::Op;
    use crate::storage::Key;
    let mut batch = Vec::new();
    for kv in records
        .engine()
        .scan(&crate::storage::keys::prefix::events(), None)
    {
        let (_, v) = kv?;
        let ev: StoredEvent = crate::storage::codec::decode(&v, &"event")?;
        if ingest::is_draw_fact(&ev.event.body) {
            batch.push(Op::Put(
                Key::DrawFact(ev.event.credit_code, ev.seq).encode(),
                Vec::new(),
            ));
        }
    }
    batch.push(Op::Put(Key::Meta(DONE).encode(), vec![1]));
    records.engine().apply(batch)?;
    records.engine().flush()
}

/// Reads the 32-byte pseudonym key, or creates it from the operating system's randomness.
fn load_or_create_key(path: &Path) -> Result<Vec<u8>> {
    if let Ok(k) = std::fs::read(path) {
        if k.len() == 32 {
            return Ok(k);
        }
        return Err(Error::Storage(format!(
            "`{}` should hold 32 bytes, found {}",
            path.display(),
            k.len()
        )));
    }
    let key = crate::os_random(32)?;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(key)
}

/// The repository's default rule set, for tests.
#[cfg(test)]
pub(crate) fn default_rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default")
}

/// An app over an in-memory store with the default rule set active, for tests.
#[cfg(test)]
pub(crate) async fn test_app() -> (App, Stopper) {
    let (app, stopper) = App::with_engine(
        Arc::new(crate::storage::MemoryEngine::default()),
        Pseudonymizer::new(vec![7; 32]),
    )
    .unwrap();
    app.classifier()
        .rule_sets()
        .ensure_default(&default_rules_dir(), 0)
        .await
        .unwrap();
    (app, stopper)
}
