//! Rule sets as stored: every rule set ever uploaded is kept by hash, forever; activations are
//! an append-only list (who, when, which hash).
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

/// Rule-set storage with a cache of loaded sets.
#[derive(Clone)]
pub struct RuleSets {
    records: Records,
    writer: Writer,
    cache: Arc<Mutex<BTreeMap<String, Arc<RuleSet>>>>,
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

impl RuleSets {
    /// Over the store.
    pub fn new(records: Records, writer: Writer) -> Self {
        RuleSets {
            records,
            writer,
            cache: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Checks files without storing them.
    pub fn validate(
        files: BTreeMap<String, String>,
    ) -> std::result::Result<RuleSet, Vec<RuleError>> {
        RuleSet::from_files(files)
    }

    /// Checks and stores a rule set; storing the same content again changes nothing.
    pub async fn upload(
        &self,
        files: BTreeMap<String, String>,
        actor: &str,
        at_ms: i64,
    ) -> Result<Arc<RuleSet>> {
        let rs = RuleSet::from_files(files.clone()).map_err(|e| rule_errors(&e))?;
        let hash = rs.hash().to_string();
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
                if tx.get(&Key::RuleSet(&h))?.is_none() {
                    tx.log(&log::entry(
                        EntryKind::RuleSetUploaded,
                        at_ms,
                        &stored_actor,
                        format!("rule-set/{h}"),
                        &value,
                        &[],
                    ))?;
                    tx.put(&Key::RuleSet(&h), value);
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
                    format!("activation/{seq}"),
                    &value,
                    &[("rule_set", rec.hash.clone())],
                ))?;
                tx.put(&Key::Activation(seq), value);
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
    pub async fn get(&self, hash: &str) -> Result<Arc<RuleSet>> {
        if let Some(rs) = self.cache_get(hash) {
            return Ok(rs);
        }
        let records = self.records.clone();
        let h = hash.to_string();
        let rs = tokio::task::spawn_blocking(move || load(&records, &h))
            .await
            .map_err(|e| Error::Internal(format!("load task: {e}")))??;
        self.cache_put(hash, rs.clone());
        Ok(rs)
    }

    /// Blocking variant of [`RuleSets::get`].
    pub fn get_blocking(&self, hash: &str) -> Result<Arc<RuleSet>> {
        if let Some(rs) = self.cache_get(hash) {
            return Ok(rs);
        }
        let rs = load(&self.records, hash)?;
        self.cache_put(hash, rs.clone());
        Ok(rs)
    }

    /// The stored files of a rule set.
    pub fn files(&self, hash: &str) -> Result<BTreeMap<String, String>> {
        let v = self
            .records
            .engine()
            .get(&Key::RuleSet(hash).encode())?
            .ok_or_else(|| Error::NotFound(format!("rule set `{hash}`")))?;
        Ok(decode::<StoredRuleSet>(&v, &format_args!("rule set `{hash}`"))?.files)
    }

    /// Every activation, oldest first.
    pub fn activations(&self) -> Result<Vec<ActivationRecord>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&prefix::activations(), None) {
            let (_, v) = kv?;
            out.push(decode(&v, &"activation")?);
        }
        Ok(out)
    }

    /// Hashes of every stored rule set, in hash order.
    pub fn hashes(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&prefix::rule_sets(), None) {
            let (k, _) = kv?;
            let h = k.get(1..k.len().saturating_sub(1)).unwrap_or_default();
            out.push(String::from_utf8_lossy(h).into_owned());
        }
        Ok(out)
    }

    /// The rule set that applies to a classification as of `day`.
    pub fn applicable_blocking(&self, day: Date) -> Result<Arc<RuleSet>> {
        let acts = self.activations()?;
        if acts.is_empty() {
            return Err(Error::FailedPrecondition(
                "no rule set has been activated".into(),
            ));
        }
        let mut best: Option<(Date, u64, Arc<RuleSet>)> = None;
        for a in acts {
            let rs = self.get_blocking(&a.hash)?;
            let from = rs.manifest.effective_from;
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
            Error::FailedPrecondition(format!("no activated rule set is in force on `{day}`"))
        })
    }

    /// Async variant of [`RuleSets::applicable_blocking`].
    pub async fn applicable(&self, day: Date) -> Result<Arc<RuleSet>> {
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
        self.activate(rs.hash(), "system", at_ms).await?;
        tracing::info!(hash = rs.hash(), source, "default rule set activated");
        Ok(())
    }

    fn cache_get(&self, hash: &str) -> Option<Arc<RuleSet>> {
        self.cache.lock().ok()?.get(hash).cloned()
    }

    fn cache_put(&self, hash: &str, rs: Arc<RuleSet>) {
        if let Ok(mut c) = self.cache.lock() {
            c.insert(hash.to_string(), rs);
        }
    }
}

fn load(records: &Records, hash: &str) -> Result<Arc<RuleSet>> {
    let v = records
        .engine()
        .get(&Key::RuleSet(hash).encode())?
        .ok_or_else(|| Error::NotFound(format!("rule set `{hash}`")))?;
    let stored: StoredRuleSet = decode(&v, &format_args!("rule set `{hash}`"))?;
    let rs = RuleSet::from_files(stored.files).map_err(|e| {
        Error::Corrupt(format!(
            "stored rule set `{hash}` no longer loads: {}",
            e.first().map(|x| x.to_string()).unwrap_or_default()
        ))
    })?;
    if rs.hash() != hash {
        return Err(Error::Corrupt(format!(
            "stored rule set `{hash}` now hashes to `{}`: its files were altered",
            rs.hash()
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
