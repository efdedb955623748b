//! Classification operations: classify one enterprise, read the history, explain, simulate,
//! and the store job shared by single and batch classification.

use super::inputs::{gather, Inputs};
use super::record::{tier_byte, tier_of, ClassificationRecord, TierChangeRecord};
use super::rulesets::RuleSets;
use crate::audit::EntryKind;
use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::rules::{
    classify, classify_tier, explain, Decision, Explanation, FeatureVector, RuleSet, Tier,
};
use crate::storage::codec::{decode, encode};
use crate::storage::keys::prefix;
use crate::storage::{log, Job, Key, Records, WriteOutcome, Writer};
use std::sync::Arc;

/// A classification with everything needed to show it.
#[derive(Clone, Debug)]
pub struct Classified {
    /// The stored (or, for candidates, unstored: seq 0) record.
    pub record: ClassificationRecord,
    /// The full decision.
    pub decision: Decision,
    /// The rule set used.
    pub rules: Arc<RuleSet>,
}

/// One computed classification waiting to be stored.
pub struct Pending {
    /// The record (seq assigned when stored).
    pub record: ClassificationRecord,
    /// The enterprise's jurisdiction, for the tier-change log.
    pub jurisdiction: String,
    /// Work for the same store job (the store hook's), run after the job's records are stored.
    pub signal: Option<SignalJob>,
}

/// Work added to the store job of a classification: runs inside the writer job, after the
/// job's records and their audit entries are stored, with the enterprise's previous tier byte
/// (`None` when never classified) and the record as stored (seq assigned); its writes commit
/// with the classification or not at all.
pub type SignalJob = Box<
    dyn FnOnce(&mut crate::storage::Tx<'_>, Option<u8>, &ClassificationRecord) -> Result<()> + Send,
>;

/// Prepares the signal work of classifications as of one date (one set of warning rules).
pub trait SignalPreparer: Send + Sync {
    /// The work for classification `record` (seq not yet assigned) computed from `inputs`,
    /// whose features were `features`; `None`: nothing to add. Runs outside the writer (on a
    /// run's batch workers too), so it may read and compute.
    fn prepare(
        &self,
        inputs: &Inputs,
        features: FeatureVector,
        record: &ClassificationRecord,
    ) -> Result<Option<SignalJob>>;
}

/// What a classification's store job also does (the early-warning service's enterprise
/// signals), for single classifications and for runs alike. Installed once per service with
/// [`Classifier::set_store_hook`].
pub trait StoreHook: Send + Sync {
    /// The preparer for classifications as of `as_of`, asked once per single classification
    /// and once per run (or resumption); `None`: nothing to add. May read.
    fn preparer(&self, as_of: Date) -> Option<Arc<dyn SignalPreparer>>;
    /// Called after a job with prepared work committed.
    fn committed(&self);
}

/// Classification service over the store.
#[derive(Clone)]
pub struct Classifier {
    records: Records,
    writer: Writer,
    rule_sets: RuleSets,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    hook: Arc<std::sync::OnceLock<Arc<dyn StoreHook>>>,
}

impl Classifier {
    /// Over the store.
    pub fn new(records: Records, writer: Writer) -> Self {
        let rule_sets = RuleSets::new(records.clone(), writer.clone());
        let (tx, _) = tokio::sync::watch::channel(0);
        let (closing, _) = tokio::sync::watch::channel(false);
        Classifier {
            records,
            writer,
            rule_sets,
            changes: Arc::new(tx),
            closing: Arc::new(closing),
            hook: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// Installs the hook every later classification's store job runs, single or in a run
    /// (shared by all clones); a second call is ignored.
    pub fn set_store_hook(&self, hook: Arc<dyn StoreHook>) {
        let _ = self.hook.set(hook);
    }

    /// The store hook's preparer for classifications as of `as_of`, if a hook is installed.
    pub(crate) fn preparer(&self, as_of: Date) -> Option<Arc<dyn SignalPreparer>> {
        self.hook.get().and_then(|h| h.preparer(as_of))
    }

    /// Tells the store hook that a job with prepared work committed.
    pub(crate) fn signals_committed(&self) {
        if let Some(h) = self.hook.get() {
            h.committed();
        }
    }

    /// Rule-set storage.
    pub fn rule_sets(&self) -> &RuleSets {
        &self.rule_sets
    }

    /// Read access.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Subscribes to "tier changes were committed up to this cursor".
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Resolves when the service is shutting down: endless streams (watchers) end then, so that
    /// a graceful shutdown does not wait for them forever.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Starts the shutdown of endless streams.
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Tells watchers that changes up to `cursor` are durable.
    pub fn notify(&self, cursor: u64) {
        self.changes.send_if_modified(|c| {
            if cursor > *c {
                *c = cursor;
                true
            } else {
                false
            }
        });
    }

    /// The current snapshot cut: every record acknowledged so far.
    pub fn cut(&self) -> Result<u64> {
        Ok(self.records.next_seq()?.saturating_sub(1))
    }

    /// Classifies one enterprise as of `as_of` with `rules` (or the rule set in force), reading
    /// everything acknowledged so far. Stores the result unless `store` is false.
    pub fn classify_one_blocking(
        &self,
        code: CreditCode,
        as_of: Date,
        rules: Option<Arc<RuleSet>>,
        store: bool,
    ) -> Result<Classified> {
        let rules = match rules {
            Some(r) => r,
            None => self.rule_sets.applicable_blocking(as_of)?,
        };
        let cut = self.cut()?;
        let inputs = gather(&self.records, &code, cut, as_of)?
            .ok_or_else(|| Error::NotFound(format!("enterprise `{code}`")))?;
        let features = inputs.features(as_of);
        let (mut record, decision) = decide_with(&inputs, &features, &rules, as_of, cut, 0)?;
        if store {
            let signal = match self.preparer(as_of) {
                Some(p) => p.prepare(&inputs, features, &record)?,
                None => None,
            };
            let signalled = signal.is_some();
            let job = store_job(
                vec![Pending {
                    record: record.clone(),
                    jurisdiction: inputs.version.enterprise.jurisdiction.clone(),
                    signal,
                }],
                None,
                SYSTEM.to_string(),
                crate::clock::now_ms(),
            );
            let out = self.writer.submit_blocking(job)?;
            record.seq = out.seqs.first().copied().unwrap_or(0);
            if out.note > 0 {
                self.notify(record.seq);
            }
            if signalled {
                self.signals_committed();
            }
        }
        Ok(Classified {
            record,
            decision,
            rules,
        })
    }

    /// Every stored classification of an enterprise, oldest first.
    pub fn history(&self, code: &CreditCode) -> Result<Vec<ClassificationRecord>> {
        Ok(self
            .history_stored(code)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Every stored classification of an enterprise with its stored bytes, oldest (lowest
    /// seq) first: those stored one by one, and those in the blocks of whole runs (one lookup
    /// per run).
    pub fn history_stored(
        &self,
        code: &CreditCode,
    ) -> Result<Vec<(Vec<u8>, ClassificationRecord)>> {
        let engine = self.records.engine().as_ref();
        let what = format!("classification of `{code}`");
        let mut out = Vec::new();
        for kv in engine.scan(&prefix::classifications_of(code), None) {
            let (_, v) = kv?;
            let r: ClassificationRecord = decode(&v, &what)?;
            out.push((v, r));
        }
        for run in self.runs()? {
            if run.jurisdiction.is_none() {
                if let Some(v) = super::blocks::record_in_run(engine, run.id, code)? {
                    let r = decode(&v, &what)?;
                    out.push((v, r));
                }
            }
        }
        out.sort_by_key(|(_, r)| r.seq);
        Ok(out)
    }

    /// The newest stored classification: the newer of the newest one stored one by one and
    /// the one the tier layer points to.
    pub fn latest(&self, code: &CreditCode) -> Result<ClassificationRecord> {
        let engine = self.records.engine().as_ref();
        let what = format!("classification of `{code}`");
        let single: Option<ClassificationRecord> =
            match engine.scan_rev(&prefix::classifications_of(code)).next() {
                Some(kv) => Some(decode(&kv?.1, &what)?),
                None => None,
            };
        match (single, super::blocks::layer_entry(engine, code)?) {
            (s, Some(c)) if s.as_ref().is_none_or(|s| s.seq < c.seq) => {
                let v = super::blocks::record_in_run(engine, c.run, code)?.ok_or_else(|| {
                    Error::Corrupt(format!(
                        "{what}: the tier layer names run {} but its block lacks it",
                        c.run
                    ))
                })?;
                decode(&v, &what)
            }
            (Some(s), _) => Ok(s),
            (None, _) => Err(Error::NotFound(format!(
                "classification of enterprise `{code}`"
            ))),
        }
    }

    /// A stored record with its decision rebuilt from its rule set.
    pub fn expand(&self, record: ClassificationRecord) -> Result<Classified> {
        let rules = self.rule_sets.get_blocking(&record.rule_set_hex())?;
        let decision = record.decision(&rules)?;
        Ok(Classified {
            record,
            decision,
            rules,
        })
    }

    /// Explains the newest stored classification.
    pub fn explain_latest(&self, code: &CreditCode) -> Result<(Classified, Explanation)> {
        let c = self.expand(self.latest(code)?)?;
        let inputs = gather(&self.records, code, c.record.cut, c.record.as_of)?
            .ok_or_else(|| Error::NotFound(format!("enterprise `{code}`")))?;
        let features = inputs.features(c.record.as_of);
        let e = explain(c.rules.compiled(), &features, &c.decision);
        Ok((c, e))
    }

    /// Tier changes after `cursor`, at most `limit`, oldest first.
    pub fn changes_after(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, TierChangeRecord)>> {
        let after = Key::TierChange(cursor).encode();
        let mut out = Vec::new();
        for kv in self
            .records
            .engine()
            .scan(&prefix::tier_changes(), Some(&after))
        {
            let (k, v) = kv?;
            let seq = crate::storage::keys::trailing_seq(&k).unwrap_or(0);
            out.push((seq, decode(&v, &"tier change")?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

/// Classifies from gathered inputs: the unstored record and the decision.
pub fn decide(
    inputs: &Inputs,
    rules: &RuleSet,
    as_of: Date,
    cut: u64,
    run_id: u64,
) -> Result<(ClassificationRecord, Decision)> {
    decide_with(inputs, &inputs.features(as_of), rules, as_of, cut, run_id)
}

/// [`decide`] over features already computed from `inputs` as of `as_of`.
pub fn decide_with(
    inputs: &Inputs,
    features: &FeatureVector,
    rules: &RuleSet,
    as_of: Date,
    cut: u64,
    run_id: u64,
) -> Result<(ClassificationRecord, Decision)> {
    let decision = classify(rules.compiled(), features, as_of);
    let record = ClassificationRecord::from_decision(
        inputs.version.enterprise.credit_code,
        &decision,
        rules,
        as_of,
        inputs.data_seq,
        cut,
        run_id,
    )?;
    Ok((record, decision))
}

/// Tier only, for simulation.
pub fn tier_only(inputs: &Inputs, rules: &RuleSet, as_of: Date) -> Tier {
    classify_tier(rules.compiled(), &inputs.features(as_of), as_of).0
}

/// The actor of changes the service makes on its own (runs, automatic re-classification).
pub const SYSTEM: &str = "system";

/// The job that stores classifications: each gets the next seq; when the tier differs from the
/// enterprise's current one, a tier change is logged under the same seq. An optional extra
/// `(key, value)` (a run checkpoint) is written in the same atomic commit. Each record is
/// logged in the audit log (actor `actor`, time `at_ms`) in that same commit. Each record's
/// [`Pending::signal`] runs after every record and its entry is stored (so the records' log
/// indices stay consecutive), with the tier the enterprise had before.
/// `WriteOutcome::note` counts the tier changes.
pub fn store_job(
    items: Vec<Pending>,
    extra: Option<(Key<'static>, Vec<u8>)>,
    actor: String,
    at_ms: i64,
) -> Job {
    Box::new(move |tx| {
        let mut out = WriteOutcome::default();
        // (first seq, first log index, count) of this job's classifications: one index key for
        // the whole job instead of one per entry.
        let mut span: Option<(u64, u64, u32)> = None;
        let mut signals = Vec::new();
        for mut p in items {
            let code = p.record.code;
            let seq = tx.alloc_seq();
            p.record.seq = seq;
            let prev = super::blocks::current_in(tx, &code)?.map(|(t, _)| t);
            if prev != Some(p.record.tier) {
                tx.put(
                    &Key::CurrentTier(code),
                    super::blocks::individual_value(p.record.tier, seq),
                );
                if let Some(from) = prev {
                    log_tier_change(tx, &p.record, p.jurisdiction, from)?;
                    out.note += 1;
                }
            }
            let value = encode(&p.record)?;
            let index =
                tx.log_unindexed(&classification_entry(&p.record, &value, &actor, at_ms))?;
            span = match span {
                None => Some((seq, index, 1)),
                // INVARIANT (lockstep): this loop takes exactly one seq and one log index per
                // record (signals, which may log, run after it), so both advance together;
                // `LogReader::index_of` relies on it.
                Some((s0, i0, n)) if seq - s0 == u64::from(n) && index - i0 == u64::from(n) => {
                    Some((s0, i0, n + 1))
                }
                Some(_) => {
                    return Err(Error::Internal(
                        "classification seqs and log indices out of step".into(),
                    ))
                }
            };
            tx.put(&Key::Classification(code, seq), value);
            out.accepted += 1;
            out.seqs.push(seq);
            if let Some(f) = p.signal {
                signals.push((f, prev, p.record));
            }
        }
        if let Some((first_seq, first_index, count)) = span {
            let span = log::SeqSpan {
                first_seq,
                first_index,
                count,
                block: None,
            };
            tx.put(&Key::LogSeqs(first_seq), span.encode());
        }
        if let Some((k, v)) = extra {
            tx.put(&k, v);
        }
        run_signals(tx, signals)?;
        Ok(out)
    })
}

/// Runs the signal work of stored records, each with the tier its enterprise had before.
pub(crate) fn run_signals(
    tx: &mut crate::storage::Tx<'_>,
    signals: Vec<(SignalJob, Option<u8>, ClassificationRecord)>,
) -> Result<()> {
    for (f, prev, record) in signals {
        f(tx, prev, &record)?;
    }
    Ok(())
}

/// Logs the tier change stored classification `record` (its seq assigned) makes from tier
/// `from`, under its seq.
pub fn log_tier_change(
    tx: &mut crate::storage::Tx<'_>,
    record: &ClassificationRecord,
    jurisdiction: String,
    from: u8,
) -> Result<()> {
    let change = TierChangeRecord {
        code: record.code,
        jurisdiction,
        from,
        to: record.tier,
        as_of: record.as_of,
    };
    tx.put(&Key::TierChange(record.seq), encode(&change)?);
    Ok(())
}

/// The audit-log entry of stored classification `record` (its seq assigned) whose stored bytes
/// are `value`.
pub fn classification_entry(
    record: &ClassificationRecord,
    value: &[u8],
    actor: &str,
    at_ms: i64,
) -> crate::audit::Entry {
    log::entry(
        EntryKind::Classification,
        at_ms,
        actor,
        log::classification_subject(&record.code, record.seq),
        value,
        &[("tier", tier_letter(record.tier).to_string())],
    )
}

/// Result of a simulation.
#[derive(Clone, Debug, Default)]
pub struct Simulation {
    /// `matrix[from][to]`: from the rule set in force to the candidate.
    pub matrix: [[u64; 4]; 4],
    /// Enterprises classified.
    pub enterprises: u64,
    /// Enterprises whose tier would change.
    pub changed: u64,
    /// The first changes, in code order: (code, from, to).
    pub changes: Vec<(CreditCode, Tier, Tier)>,
}

impl Classifier {
    /// Runs `candidate` and the rule set in force over `codes` (sorted; `None`: every
    /// enterprise, read in parallel ranges through the batch sources) as of `as_of`, storing
    /// nothing.
    pub fn simulate_blocking(
        &self,
        codes: Option<&[CreditCode]>,
        candidate: &RuleSet,
        as_of: Date,
        max_changes: usize,
    ) -> Result<(Simulation, Arc<RuleSet>)> {
        let current = self.rule_sets.applicable_blocking(as_of)?;
        let cut = self.cut()?;
        let both = |inputs: Vec<Option<Inputs>>, part: &[CreditCode]| {
            let mut out = Vec::with_capacity(part.len());
            for (code, i) in part.iter().zip(inputs) {
                let Some(i) = i else { continue };
                let f = i.features(as_of);
                let from = classify_tier(current.compiled(), &f, as_of).0;
                let to = classify_tier(candidate.compiled(), &f, as_of).0;
                out.push((*code, from, to));
            }
            out
        };
        let tiers = match codes {
            None => {
                let batch = super::inputs::BatchSource::load(&self.records, cut, as_of)?;
                super::batch::parallel_whole(self, &batch, |part| {
                    let inputs =
                        super::inputs::gather_range(&self.records, part, cut, as_of, batch.view())?;
                    Ok(both(inputs, part))
                })?
            }
            Some(codes) => super::batch::parallel_parts(codes, |part| {
                let inputs = super::batch::gather_chunk(self, part, cut, as_of, None)?;
                Ok(both(inputs, part))
            })?,
        };
        let mut sim = Simulation::default();
        for (code, from, to) in tiers {
            sim.enterprises += 1;
            sim.matrix[tier_byte(from) as usize][tier_byte(to) as usize] += 1;
            if from != to {
                sim.changed += 1;
                if sim.changes.len() < max_changes {
                    sim.changes.push((code, from, to));
                }
            }
        }
        Ok((sim, current))
    }

    /// The simulation behind the Simulate RPC and the console's rules page: `candidate`
    /// against the rule set in force over one jurisdiction's enterprises, or every enterprise
    /// when `jurisdiction` is `None`; see [`Classifier::simulate_blocking`].
    pub fn simulate_scope(
        &self,
        jurisdiction: Option<&str>,
        candidate: &RuleSet,
        as_of: Date,
        max_changes: usize,
    ) -> Result<(Simulation, Arc<RuleSet>)> {
        match jurisdiction {
            Some(j) => {
                let codes = super::batch::codes_in_scope(self, Some(j), None)?;
                self.simulate_blocking(Some(&codes), candidate, as_of, max_changes)
            }
            None => self.simulate_blocking(None, candidate, as_of, max_changes),
        }
    }
}

/// The tier letter of a stored byte, for display.
pub fn tier_letter(b: u8) -> &'static str {
    tier_of(b).map(|t| t.as_str()).unwrap_or("?")
}
