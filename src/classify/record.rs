//! Stored classifications, compactly: a 4-million-enterprise jurisdiction is re-classified
//! every month, so a record keeps only what cannot be looked up again. Rules are referenced by
//! their position in the rule set (in id order) and the rule set by its 32-byte hash; titles and
//! bases come from the stored rule set when a record is read back.

use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::rules::{Decision, Effect, FeatureValue, FiredRule, RuleSet, Tier};
use serde::{Deserialize, Serialize};

/// A feature value as stored (externally tagged: the storage codec cannot read untagged enums).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredValue {
    /// bool
    Bool(bool),
    /// int
    Int(i64),
    /// string
    Str(String),
    /// list(string)
    List(Vec<String>),
}

impl From<&FeatureValue> for StoredValue {
    fn from(v: &FeatureValue) -> Self {
        match v {
            FeatureValue::Bool(b) => StoredValue::Bool(*b),
            FeatureValue::Int(i) => StoredValue::Int(*i),
            FeatureValue::Str(s) => StoredValue::Str(s.clone()),
            FeatureValue::List(l) => StoredValue::List(l.clone()),
        }
    }
}

impl From<&StoredValue> for FeatureValue {
    fn from(v: &StoredValue) -> Self {
        match v {
            StoredValue::Bool(b) => FeatureValue::Bool(*b),
            StoredValue::Int(i) => FeatureValue::Int(*i),
            StoredValue::Str(s) => FeatureValue::Str(s.clone()),
            StoredValue::List(l) => FeatureValue::List(l.clone()),
        }
    }
}

/// One fired rule, by index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFired {
    /// Position of the rule in the rule set (id order).
    pub rule: u16,
    /// Score contribution.
    pub contribution: i64,
    /// Features read: schema slot and value.
    pub reads: Vec<(u16, StoredValue)>,
}

/// A stored classification. Immutable once written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassificationRecord {
    /// Seq of this classification (its key).
    pub seq: u64,
    /// The enterprise.
    pub code: CreditCode,
    /// Final tier (0 = A .. 3 = D).
    pub tier: u8,
    /// Final score.
    pub score: i64,
    /// Tier from the score bands alone.
    pub band_tier: u8,
    /// SHA-256 of the rule set's canonical content.
    pub rule_set: [u8; 32],
    /// The date the classification is as of.
    pub as_of: Date,
    /// Ingest seq of the newest record used.
    pub data_seq: u64,
    /// The snapshot cut: records with seq above it were not read.
    pub cut: u64,
    /// The run that produced it (0: a single classification).
    pub run_id: u64,
    /// Fired rules in id order.
    pub fired: Vec<StoredFired>,
}

/// Tier as stored.
pub fn tier_byte(t: Tier) -> u8 {
    match t {
        Tier::A => 0,
        Tier::B => 1,
        Tier::C => 2,
        Tier::D => 3,
    }
}

/// Tier from its stored byte.
pub fn tier_of(b: u8) -> Result<Tier> {
    Ok(match b {
        0 => Tier::A,
        1 => Tier::B,
        2 => Tier::C,
        3 => Tier::D,
        _ => return Err(Error::Corrupt(format!("tier byte `{b}`"))),
    })
}

/// A rule-set hash as 32 bytes.
pub fn hash_bytes(hex_hash: &str) -> Result<[u8; 32]> {
    let v = hex::decode(hex_hash)
        .map_err(|_| Error::invalid("rule_set_hash", format!("`{hex_hash}` is not a hex hash")))?;
    v.try_into().map_err(|_| {
        Error::invalid(
            "rule_set_hash",
            format!("`{hex_hash}` is not a SHA-256 hash"),
        )
    })
}

impl ClassificationRecord {
    /// The compact record of `d`, made with `rules`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_decision(
        code: CreditCode,
        d: &Decision,
        rules: &RuleSet,
        as_of: Date,
        data_seq: u64,
        cut: u64,
        run_id: u64,
    ) -> Result<ClassificationRecord> {
        let c = rules.compiled();
        let mut fired = Vec::with_capacity(d.fired.len());
        for f in &d.fired {
            let idx = c.rule_index(&f.id).ok_or_else(|| {
                Error::Internal(format!("fired rule `{}` not in its rule set", f.id))
            })?;
            let reads = f
                .reads
                .iter()
                .map(|(name, v)| {
                    crate::rules::slot_of(name)
                        .map(|s| (s as u16, StoredValue::from(v)))
                        .ok_or_else(|| Error::Internal(format!("unknown feature `{name}`")))
                })
                .collect::<Result<_>>()?;
            fired.push(StoredFired {
                rule: idx as u16,
                contribution: f.contribution,
                reads,
            });
        }
        Ok(ClassificationRecord {
            seq: 0,
            code,
            tier: tier_byte(d.tier),
            score: d.score,
            band_tier: tier_byte(d.band_tier),
            rule_set: hash_bytes(rules.hash())?,
            as_of,
            data_seq,
            cut,
            run_id,
            fired,
        })
    }

    /// The hash as hex.
    pub fn rule_set_hex(&self) -> String {
        hex::encode(self.rule_set)
    }

    /// The full decision, rebuilt with the rule set the record names.
    pub fn decision(&self, rules: &RuleSet) -> Result<Decision> {
        let c = rules.compiled();
        let mut fired = Vec::with_capacity(self.fired.len());
        let mut cap: Option<Tier> = None;
        let mut over: Option<Tier> = None;
        for f in &self.fired {
            let (id, _, basis) = c.rule_info(f.rule as usize).ok_or_else(|| {
                Error::Corrupt(format!(
                    "classification {} names rule #{} which its rule set lacks",
                    self.seq, f.rule
                ))
            })?;
            let rule = rules
                .rule(id)
                .ok_or_else(|| Error::Corrupt(format!("rule `{id}` missing")))?;
            let effect = match &rule.effect {
                crate::rules::RuleEffect::Score(_) => Effect::Score(f.contribution),
                crate::rules::RuleEffect::Cap(t) => {
                    cap = Some(cap.map_or(*t, |c| c.max(*t)));
                    Effect::Cap(*t)
                }
                crate::rules::RuleEffect::Override(t) => {
                    over = Some(over.map_or(*t, |o| o.max(*t)));
                    Effect::Override(*t)
                }
            };
            let reads = f
                .reads
                .iter()
                .map(|(slot, v)| {
                    let name = crate::rules::SCHEMA
                        .get(*slot as usize)
                        .map(|d| d.name.to_string())
                        .unwrap_or_else(|| format!("slot{slot}"));
                    (name, FeatureValue::from(v))
                })
                .collect();
            fired.push(FiredRule {
                id: id.to_string(),
                effect,
                contribution: f.contribution,
                basis: basis.to_string(),
                reads,
            });
        }
        Ok(Decision {
            tier: tier_of(self.tier)?,
            score: self.score,
            band_tier: tier_of(self.band_tier)?,
            cap,
            override_tier: over,
            fired,
        })
    }
}

/// A tier change, keyed by the seq of the classification that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChangeRecord {
    /// The enterprise.
    pub code: CreditCode,
    /// Its jurisdiction at the time.
    pub jurisdiction: String,
    /// Previous tier byte.
    pub from: u8,
    /// New tier byte.
    pub to: u8,
    /// As-of date of the classification.
    pub as_of: Date,
}
