//! Rule sets as stored: every rule set ever uploaded is kept by hash, forever; activations are
//! an append-only list (who, when, which hash).
//!
//! The same storage serves two kinds of rule set, each with keys and log subjects of its own
//! ([`StoredKind`]): classification rule sets ([`Classification`], the default) and warning
//! rule sets ([`Warning`], issue 12).
//!
//! Which rule set applies to a classification as of a date: among activated rule sets, the one
//! with the latest `effective_from` not after the date; between equal dates, the latest
//! activation. A rule set is checked completely when uploaded (and again whenever it is loaded
//! from storage, which also re-derives its hash), so the one in force never changes until a new
//! one has passed every check.

use crate::audit::EntryKind;
use crate::domain::{Date, FieldViolation};
use crate::error::{Error, Result};
use crate::rules::{RuleError, RuleSet};
use crate::storage::codec::{decode, encode};
use crate::storage::keys::prefix;
use crate::storage::{log, Key, Records, Writer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A stored rule set: its files exactly as uploaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredRuleSet {
    /// Relative path to content.
    pub files: BTreeMap<String, String>,
    /// Who uploaded it first.
    pub actor: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// One activation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRecord {
    /// The seq of the activation.
    pub seq: u64,
    /// Hash of the activated rule set.
    pub hash: String,
    /// Who activated it.
    pub actor: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// A kind of stored rule set: how it loads, and where it is kept.
pub trait StoredKind: Send + Sync + 'static {
    /// The loaded rule set.
    type Set: Send + Sync + 'static;
    /// Its name in messages (`rule set`).
    const NAME: &'static str;
    /// Audit-log subject prefix of uploads (`rule-set`) and activations (`activation`).
    const SUBJECTS: (&'static str, &'static str);
    /// Loads and checks files.
    fn from_files(
        files: BTreeMap<String, String>,
    ) -> std::result::Result<Self::Set, Vec<RuleError>>;
    /// The content hash.
    fn hash(set: &Self::Set) -> &str;
    /// First day it may apply.
    fn effective_from(set: &Self::Set) -> Date;
    /// The key of a stored set.
    fn set_key(hash: &str) -> Key<'_>;
    /// The key of an activation.
    fn activation_key(seq: u64) -> Key<'static>;
    /// Prefix of every stored set.
    fn sets_prefix() -> Vec<u8>;
    /// Prefix of every activation.
    fn activations_prefix() -> Vec<u8>;
}

/// Classification rule sets ([`RuleSet`]).
pub struct Classification;

impl StoredKind for Classification {
    type Set = RuleSet;
    const NAME: &'static str = "rule set";
    const SUBJECTS: (&'static str, &'static str) = ("rule-set", "activation");
    fn from_files(files: BTreeMap<String, String>) -> std::result::Result<RuleSet, Vec<RuleError>> {
        RuleSet::from_files(files)
    }
    fn hash(set: &RuleSet) -> &str {
        set.hash()
    }
    fn effective_from(set: &RuleSet) -> Date {
        set.manifest.effective_from
    }
    fn set_key(hash: &str) -> Key<'_> {
        Key::RuleSet(hash)
    }
    fn activation_key(seq: u64) -> Key<'static> {
        Key::Activation(seq)
    }
    fn sets_prefix() -> Vec<u8> {
        prefix::rule_sets()
    }
    fn activations_prefix() -> Vec<u8> {
        prefix::activations()
    }
}

/// Warning rule sets ([`crate::warn::WarningRuleSet`]).
pub struct Warning;

impl StoredKind for Warning {
    type Set = crate::warn::WarningRuleSet;
    const NAME: &'static str = "warning rule set";
    const SUBJECTS: (&'static str, &'static str) = ("warning-rule-set", "warning-activation");
    fn from_files(
        files: BTreeMap<String, String>,
    ) -> std::result::Result<Self::Set, Vec<RuleError>> {
        crate::warn::WarningRuleSet::from_files(files)
    }
    fn hash(set: &Self::Set) -> &str {
        set.hash()
    }
    fn effective_from(set: &Self::Set) -> Date {
        set.effective_from()
    }
    fn set_key(hash: &str) -> Key<'_> {
        Key::WarnRuleSet(hash)
    }
    fn activation_key(seq: u64) -> Key<'static> {
        Key::WarnActivation(seq)
    }
    fn sets_prefix() -> Vec<u8> {
        prefix::warn_rule_sets()
    }
    fn activations_prefix() -> Vec<u8> {
        prefix::warn_activations()
    }
}

/// Rule-set storage of kind `K` with a cache of loaded sets.
pub struct RuleSets<K: StoredKind = Classification> {
    records: Records,
    writer: Writer,
    cache: Arc<Mutex<BTreeMap<String, Arc<K::Set>>>>,
}

impl<K: StoredKind> Clone for RuleSets<K> {
    fn clone(&self) -> Self {
        RuleSets {
            records: self.records.clone(),
            writer: self.writer.clone(),
            cache: self.cache.clone(),
        }
    }
}

/// Turns load errors into field violations naming the file, line and column.
pub fn rule_errors(errors: &[RuleError]) -> Error {
    Error::InvalidInput(
        errors
            .iter()
            .map(|e| FieldViolation {
                field: if e.file.is_empty() {
                    "files".into()
                } else {
                    format!("files[{}]", e.file)
                },
                description: e.to_string(),
            })
            .collect(),
    )
}

impl RuleSets<Classification> {
    /// Checks files without storing them.
    pub fn validate(
        files: BTreeMap<String, String>,
    ) -> std::result::Result<RuleSet, Vec<RuleError>> {
        RuleSet::from_files(files)
    }
}

impl<K: StoredKind> RuleSets<K> {
    /// Over the store.
    pub fn new(records: Records, writer: Writer) -> Self {
        RuleSets {
            records,
            writer,
            cache: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Checks and stores a rule set; storing the same content again changes nothing.
    pub async fn upload(
        &self,
        files: BTreeMap<String, String>,
        actor: &str,
        at_ms: i64,
    ) -> Result<Arc<K::Set>> {
        let rs = K::from_files(files.clone()).map_err(|e| rule_errors(&e))?;
        let hash = K::hash(&rs).to_string();
        let stored = StoredRuleSet {
            files,
            actor: actor.to_string(),
            at_ms,
        };
        let value = encode(&stored)?;
        let h = hash.clone();
        let stored_actor = actor.to_string();
        self.writer
            .submit(Box::new(move |tx| {
                if tx.get(&K::set_key(&h))?.is_none() {
                    tx.log(&log::entry(
                        EntryKind::RuleSetUploaded,
                        at_ms,
                        &stored_actor,
                        format!("{}/{h}", K::SUBJECTS.0),
                        &value,
                        &[],
                    ))?;
                    tx.put(&K::set_key(&h), value);
                }
                Ok(Default::default())
            }))
            .await?;
        let rs = Arc::new(rs);
        self.cache_put(&hash, rs.clone());
        Ok(rs)
    }

    /// Activates a stored rule set; returns the activation.
    pub async fn activate(&self, hash: &str, actor: &str, at_ms: i64) -> Result<ActivationRecord> {
        self.get(hash).await?; // must exist and still pass every check
        let h = hash.to_string();
        let a = actor.to_string();
        let out = self
            .writer
            .submit(Box::new(move |tx| {
                let seq = tx.alloc_seq();
                let rec = ActivationRecord {
                    seq,
                    hash: h,
                    actor: a,
                    at_ms,
                };
                let value = encode(&rec)?;
                tx.log(&log::entry(
                    EntryKind::RuleSetActivated,
                    at_ms,
                    &rec.actor,
                    format!("{}/{seq}", K::SUBJECTS.1),
                    &value,
                    &[("rule_set", rec.hash.clone())],
                ))?;
                tx.put(&K::activation_key(seq), value);
                Ok(crate::storage::WriteOutcome {
                    accepted: 1,
                    seqs: vec![seq],
                    ..Default::default()
                })
            }))
            .await?;
        let seq = out.seqs.first().copied().unwrap_or(0);
        Ok(ActivationRecord {
            seq,
            hash: hash.to_string(),
            actor: actor.to_string(),
            at_ms,
        })
    }

    /// A stored rule set by hash, loaded (and re-checked) once and cached.
    pub async fn get(&self, hash: &str) -> Result<Arc<K::Set>> {
        if let Some(rs) = self.cache_get(hash) {
            return Ok(rs);
        }
        let records = self.records.clone();
        let h = hash.to_string();
        let rs = tokio::task::spawn_blocking(move || load::<K>(&records, &h))
            .await
            .map_err(|e| Error::Internal(format!("load task: {e}")))??;
        self.cache_put(hash, rs.clone());
        Ok(rs)
    }

    /// Blocking variant of [`RuleSets::get`].
    pub fn get_blocking(&self, hash: &str) -> Result<Arc<K::Set>> {
        if let Some(rs) = self.cache_get(hash) {
            return Ok(rs);
        }
        let rs = load::<K>(&self.records, hash)?;
        self.cache_put(hash, rs.clone());
        Ok(rs)
    }

    /// The stored files of a rule set.
    pub fn files(&self, hash: &str) -> Result<BTreeMap<String, String>> {
        let v = self
            .records
            .engine()
            .get(&K::set_key(hash).encode())?
            .ok_or_else(|| Error::NotFound(format!("{} `{hash}`", K::NAME)))?;
        Ok(decode::<StoredRuleSet>(&v, &format_args!("{} `{hash}`", K::NAME))?.files)
    }

    /// Every activation, oldest first.
    pub fn activations(&self) -> Result<Vec<ActivationRecord>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&K::activations_prefix(), None) {
            let (_, v) = kv?;
            out.push(decode(&v, &"activation")?);
        }
        Ok(out)
    }

    /// Hashes of every stored rule set, in hash order.
    pub fn hashes(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&K::sets_prefix(), None) {
            let (k, _) = kv?;
            let h = k.get(1..k.len().saturating_sub(1)).unwrap_or_default();
            out.push(String::from_utf8_lossy(h).into_owned());
        }
        Ok(out)
    }

    /// The rule set that applies to a classification as of `day`.
    pub fn applicable_blocking(&self, day: Date) -> Result<Arc<K::Set>> {
        let acts = self.activations()?;
        if acts.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "no {} has been activated",
                K::NAME
            )));
        }
        let mut best: Option<(Date, u64, Arc<K::Set>)> = None;
        for a in acts {
            let rs = self.get_blocking(&a.hash)?;
            let from = K::effective_from(&rs);
            if from > day {
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(d, s, _)| (from, a.seq) > (*d, *s))
            {
                best = Some((from, a.seq, rs));
            }
        }
        best.map(|(_, _, rs)| rs).ok_or_else(|| {
            Error::FailedPrecondition(format!("no activated {} is in force on `{day}`", K::NAME))
        })
    }

    /// Async variant of [`RuleSets::applicable_blocking`].
    pub async fn applicable(&self, day: Date) -> Result<Arc<K::Set>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.applicable_blocking(day))
            .await
            .map_err(|e| Error::Internal(format!("rule-set task: {e}")))?
    }

    /// Uploads and activates the rule set in `dir` when nothing has ever been activated.
    pub async fn ensure_default(&self, dir: &std::path::Path, at_ms: i64) -> Result<()> {
        if !self.activations()?.is_empty() {
            return Ok(());
        }
        let files = read_dir_files(dir)?;
        self.ensure_default_files(files, &dir.display().to_string(), at_ms)
            .await
    }

    /// Uploads and activates the rule set given as `files` (relative path -> content, read
    /// from `source`, which names it in logs) when nothing has ever been activated.
    pub async fn ensure_default_files(
        &self,
        files: BTreeMap<String, String>,
        source: &str,
        at_ms: i64,
    ) -> Result<()> {
        if !self.activations()?.is_empty() {
            return Ok(());
        }
        let rs = self.upload(files, "system", at_ms).await?;
        let hash = K::hash(&rs).to_string();
        self.activate(&hash, "system", at_ms).await?;
        tracing::info!(hash, source, kind = K::NAME, "default rule set activated");
        Ok(())
    }

    fn cache_get(&self, hash: &str) -> Option<Arc<K::Set>> {
        self.cache.lock().ok()?.get(hash).cloned()
    }

    fn cache_put(&self, hash: &str, rs: Arc<K::Set>) {
        if let Ok(mut c) = self.cache.lock() {
            c.insert(hash.to_string(), rs);
        }
    }
}

fn load<K: StoredKind>(records: &Records, hash: &str) -> Result<Arc<K::Set>> {
    let name = K::NAME;
    let v = records
        .engine()
        .get(&K::set_key(hash).encode())?
        .ok_or_else(|| Error::NotFound(format!("{name} `{hash}`")))?;
    let stored: StoredRuleSet = decode(&v, &format_args!("{name} `{hash}`"))?;
    let rs = K::from_files(stored.files).map_err(|e| {
        Error::Corrupt(format!(
            "stored {name} `{hash}` no longer loads: {}",
            e.first().map(|x| x.to_string()).unwrap_or_default()
        ))
    })?;
    if K::hash(&rs) != hash {
        return Err(Error::Corrupt(format!(
            "stored {name} `{hash}` now hashes to `{}`: its files were altered",
            K::hash(&rs)
        )));
    }
    Ok(Arc::new(rs))
}

/// Reads a rule-set folder into relative path -> content (every `*.toml`, recursively).
pub fn read_dir_files(dir: &std::path::Path) -> Result<BTreeMap<String, String>> {
    fn walk(
        root: &std::path::Path,
        dir: &std::path::Path,
        out: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Error::invalid("rules_dir", format!("`{}`: {e}", dir.display())))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else if p.extension().is_some_and(|x| x == "toml") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}
