//! Early warning (预警): the pure core of issue 12's loop "detect, assess, warn, dispose".
//!
//! This module only *detects*: given a warning rule set and inputs, it says which signals fire,
//! at which level, with which evidence. Storing alerts, their lifecycle (assess, warn, dispose,
//! close), routing to departments and the gRPC surface live elsewhere (`warnsvc`, `routing`).
//!
//! # The loop, as this core sees it
//! 1. **Enterprise signals**: after a classification, the caller builds an [`EnterpriseInput`]
//!    (the classification's features, the new and previous tier, and [`extras`] computed from
//!    the same event cut) and calls [`WarningRuleSet::evaluate_enterprise`]. Every
//!    `[[enterprise]]` rule whose `when` holds fires at its level, raised by each
//!    `[[enterprise.raise]]` that holds.
//! 2. **Group signals**: at ingest, each spot check, complaint and inspection becomes a [`Fact`]
//!    ([`fact_of`]) frozen with the enterprise's jurisdiction and industry of that moment, so a
//!    group's counts never change afterwards. [`WarningRuleSet::evaluate_groups`] counts the
//!    facts of a window per group (`district`, `industry_section`, `industry_division`,
//!    `product_category`, as the rule's `group_by` says) and applies one of three methods:
//!    `rate` (adverse share with a minimum sample), `poisson-change` (this period against the
//!    group's own trailing periods, exact conditional test, see [`stats`]) and `concentration`
//!    (share of tiers C and D among a group's enterprises, from [`GroupTiers`]).
//! 3. Each signal is a [`Firing`]: rule id, subject (`enterprise/<code>` or
//!    `group/dim=value;dim=value`), [`Level`] (blue < yellow < orange < red, IV to I), evidence
//!    (an ordered map of strings) and the enterprises and key sectors concerned.
//!
//! # Rule format, in short
//! A folder (default `rules/warnings/`): a manifest `warnings.toml` (`name`, `version`,
//! `effective_from`, `description`) and `*.toml` rule files in sub-folders holding
//! `[[enterprise]]` and `[[group]]` tables. Conditions are the classification rules' CEL subset
//! ([`crate::rules::lang`]) checked against warning schemas ([`enterprise_schema`],
//! [`filter_schema`], [`statistics_schema`]); loading reports problems as
//! `file:line:col: message` exactly like [`crate::rules::RuleSet`] (same loader parts). The
//! full format is in `docs/warnings.md`.
//!
//! # Determinism
//! No clock, no randomness, no I/O but reading rule files. Outputs are sorted (rule id, then
//! subject), evidence is a `BTreeMap`, groups are aggregated in `BTreeMap`s, and the p-values
//! of `poisson-change` are computed with f64 `+ - * /` only (no `ln`, `exp` or `powf`, whose
//! last bits differ between libm versions), so replaying an alert gives the same bytes on every
//! machine. The rule set's identity is the SHA-256 of its canonical JSON
//! (`creditrisk-warnings/1`), like the classification rule set's.
//!
//! # Deviations from the shared design (`WARN_API.md`)
//! - [`EnterpriseInput`] has one more field, `credit_code` (the subject needs it; the feature
//!   vector does not carry it).
//! - Additions: [`WarningRuleSet::canonical_json`], [`WarningRuleSet::warnings`],
//!   [`WarningRuleSet::version`], [`WarningRuleSet::built_in`], [`synthetic_facts`] and
//!   [`evaluate_groups_bench`] (for `creditrisk bench`), [`run_warning_cases`], the schemas,
//!   [`Method`], [`Extras::none`], [`FactKind::adverse`].
//! - Firing and Level derive serde; Fact also derives serde (besides its compact codec).

mod cases;
mod eval;
mod fact;
mod ruleset;
pub mod stats;

pub use cases::{run_warning_case_text, run_warning_cases};
pub use eval::{evaluate_groups_bench, synthetic_facts};
pub use fact::{extras, fact_of, Extras, Fact, FactKind, GroupTiers, EXTRAS};
pub use ruleset::{
    enterprise_schema, filter_schema, statistics_schema, Method, WarningRuleSet, MANIFEST,
};

use crate::domain::{CreditCode, Date};
use crate::rules::{FeatureVector, Tier};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A warning level, in the Chinese four-colour convention (四色预警): blue (IV, lowest) <
/// yellow (III) < orange (II) < red (I). Serialised as the lower-case colour name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 蓝色预警, level IV.
    Blue,
    /// 黄色预警, level III.
    Yellow,
    /// 橙色预警, level II.
    Orange,
    /// 红色预警, level I.
    Red,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 4] = [Level::Blue, Level::Yellow, Level::Orange, Level::Red];

    /// Parses `blue`, `yellow`, `orange`, `red` or the roman numerals `IV`, `III`, `II`, `I`.
    pub fn parse(s: &str) -> Result<Level, String> {
        match s {
            "blue" | "IV" => Ok(Level::Blue),
            "yellow" | "III" => Ok(Level::Yellow),
            "orange" | "II" => Ok(Level::Orange),
            "red" | "I" => Ok(Level::Red),
            _ => Err(format!(
                "`{}` is not a level (blue, yellow, orange, red or IV, III, II, I)",
                s.escape_default()
            )),
        }
    }

    /// The lower-case colour name.
    pub fn as_str(self) -> &'static str {
        ["blue", "yellow", "orange", "red"][self as usize]
    }

    /// The roman numeral: `IV` for blue .. `I` for red.
    pub fn roman(self) -> &'static str {
        ["IV", "III", "II", "I"][self as usize]
    }

    /// One step up; red stays red.
    pub fn raised(self) -> Level {
        match self {
            Level::Blue => Level::Yellow,
            Level::Yellow => Level::Orange,
            Level::Orange | Level::Red => Level::Red,
        }
    }
}

impl fmt::Display for Level {
    /// The colour name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The evidence of a firing: names to values, ordered, so its canonical JSON is deterministic.
pub type Evidence = std::collections::BTreeMap<String, String>;

/// What an enterprise rule reads: the classification's features, the tier transition and the
/// warning-only extras.
#[derive(Clone, Copy, Debug)]
pub struct EnterpriseInput<'a> {
    /// The enterprise (the subject is `enterprise/<credit code>`).
    pub credit_code: CreditCode,
    /// The as-of date of the classification (rules outside their effective dates do not fire).
    pub as_of: Date,
    /// The classification's features.
    pub features: &'a FeatureVector,
    /// The new tier.
    pub tier: Tier,
    /// The tier of the previous stored classification, if any.
    pub previous_tier: Option<Tier>,
    /// From [`extras`], over the same events and as-of date as the features.
    pub extras: Extras,
}

/// One signal that fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    /// The rule's id.
    pub rule_id: String,
    /// `enterprise/<credit code>` or `group/<dim=value;...>` (in the rule's `group_by` order).
    pub subject: String,
    /// The level after raises.
    pub level: Level,
    /// What the rule read and computed (feature values, tiers, counts, rates, statistics).
    pub evidence: Evidence,
    /// Group: the distinct enterprises behind the adverse facts of the current window (sorted,
    /// at most [`MAX_ENTERPRISES`]); enterprise: just that one.
    pub enterprises: Vec<CreditCode>,
    /// Key sectors concerned, for routing: an enterprise's own key sectors (with the rule's
    /// scope), a group rule's `sectors`.
    pub sectors: Vec<String>,
    /// Group signals: the `(dimension, value)` pairs of the group; empty for enterprises.
    pub group: Vec<(String, String)>,
}

/// At most this many enterprises are listed on a group firing.
pub const MAX_ENTERPRISES: usize = 500;

#[cfg(test)]
mod tests;
