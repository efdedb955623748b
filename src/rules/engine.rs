//! Classification and explanation: pure functions of a compiled rule set, a feature vector and
//! an `as_of` date.
//!
//! # How effects combine (deterministic)
//! 1. Rules are visited in id order. A rule *applies* when `as_of` lies within its
//!    `effective_from..=effective_until` (both inclusive, each optional) and the enterprise is in
//!    its scope; it *fires* when it applies and its condition holds.
//! 2. `score = base_score + Σ adjustments` of fired score rules (saturating `i64` arithmetic,
//!    no clamping to 0..100).
//! 3. The band tier comes from the score: `A` if `score >= bands.A`, else `B` if `>= bands.B`,
//!    else `C` if `>= bands.C`, else `D`.
//! 4. The worst fired cap applies: `tier = max(band tier, cap)` (`max` = worse).
//! 5. The worst fired override applies last: `tier = max(tier, override)`.
//!    So an override to `D` always yields `D`, an override to `B` turns an `A` into `B` but
//!    leaves a `C` as `C` (overrides only ever worsen: "tier = D" means "at least D").
//!
//! The lang engine never fails at run time (integer arithmetic saturates, `x / 0 == 0`), so
//! every rule is always evaluated and there is no error path: the fail-safe default of an
//! unevaluable rule never arises. The only defaults are that a rule out of its dates or out of
//! scope does not fire.

use super::features::{FeatureValue, FeatureVector, SCHEMA};
use super::lang::Features;
use super::ruleset::{CEffect, CompiledRule, CompiledRuleSet, HotEffect, Tier};
use crate::domain::Date;
use serde::Serialize;

/// What a fired rule did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Added this much to the score (may be negative or 0).
    Score(i64),
    /// Capped the tier: no better than this.
    Cap(Tier),
    /// Overrode the tier: at least this bad.
    Override(Tier),
}

/// One fired rule in a [`Decision`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FiredRule {
    /// Rule id.
    pub id: String,
    /// What it did.
    pub effect: Effect,
    /// Score contribution (0 for caps and overrides).
    pub contribution: i64,
    /// The rule's legal or policy basis.
    pub basis: String,
    /// Every feature the rule's condition and effect read, with its value, in schema order.
    pub reads: Vec<(String, FeatureValue)>,
}

/// The outcome of classifying one enterprise.
///
/// Fail-safe default: there is none to apply, since evaluation cannot fail (see the module
/// doc); an enterprise no rule fires on gets `base_score` and its band tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Final tier.
    pub tier: Tier,
    /// Final score.
    pub score: i64,
    /// Tier from the score bands alone.
    pub band_tier: Tier,
    /// Worst fired cap, if any.
    pub cap: Option<Tier>,
    /// Worst fired override, if any.
    pub override_tier: Option<Tier>,
    /// Fired rules in id order.
    pub fired: Vec<FiredRule>,
}

impl Tier {
    fn worse(a: Option<Tier>, b: Tier) -> Option<Tier> {
        Some(a.map_or(b, |a| a.max(b)))
    }
}

#[inline(always)]
fn applies<F: Features>(r: &CompiledRule, f: &F, as_of: Date) -> bool {
    as_of >= r.from && as_of <= r.until && r.scope.is_none_or(|s| f.bool(s)) && r.when.eval_bool(f)
}

/// Tier and score only, without allocating: for batch simulation where reasons are not kept.
/// Always equal to the `tier` and `score` of [`classify`].
pub fn classify_tier(rules: &CompiledRuleSet, f: &FeatureVector, as_of: Date) -> (Tier, i64) {
    let mut score = rules.base_score;
    let mut worst = Tier::A;
    for r in &rules.hot {
        let in_force = as_of >= r.from && as_of <= r.until;
        // `usize::MAX` (all enterprises) reads as 0 through `int`, hence the explicit test.
        let in_scope = r.scope == usize::MAX || f.int(r.scope) != 0;
        if !(in_force && in_scope) {
            continue;
        }
        let holds = match r.range {
            // Branch-free range test: `lo <= v <= hi` as one unsigned comparison.
            Some((slot, lo, hi)) => {
                (f.int(slot).wrapping_sub(lo) as u64) <= (hi.wrapping_sub(lo) as u64)
            }
            None => r.when.eval_bool(f),
        };
        if !holds {
            continue;
        }
        match &r.effect {
            HotEffect::ScoreK(k) => score = score.saturating_add(*k),
            HotEffect::Score(p) => score = score.saturating_add(p.eval_int(f)),
            HotEffect::Worsen(t) => worst = worst.max(*t),
        }
    }
    // Caps and overrides both only worsen, so their combined effect is one `max`.
    (rules.bands.tier(score).max(worst), score)
}

/// Classifies one enterprise (see the module doc for the combination order).
pub fn classify(rules: &CompiledRuleSet, f: &FeatureVector, as_of: Date) -> Decision {
    let mut score = rules.base_score;
    let mut cap = None;
    let mut over = None;
    let mut fired = Vec::new();
    for r in &rules.rules {
        if !applies(r, f, as_of) {
            continue;
        }
        let (effect, contribution) = match &r.effect {
            CEffect::Score(p) => {
                let v = p.eval_int(f);
                score = score.saturating_add(v);
                (Effect::Score(v), v)
            }
            CEffect::Cap(t) => {
                cap = Tier::worse(cap, *t);
                (Effect::Cap(*t), 0)
            }
            CEffect::Override(t) => {
                over = Tier::worse(over, *t);
                (Effect::Override(*t), 0)
            }
        };
        let reads = r
            .reads
            .iter()
            .filter_map(|&s| Some((SCHEMA.get(s)?.name.to_string(), f.value(s)?)))
            .collect();
        fired.push(FiredRule {
            id: r.id.clone(),
            effect,
            contribution,
            basis: r.basis.clone(),
            reads,
        });
    }
    let band_tier = rules.bands.tier(score);
    let mut tier = band_tier;
    if let Some(c) = cap {
        tier = tier.max(c);
    }
    if let Some(o) = over {
        tier = tier.max(o);
    }
    Decision {
        tier,
        score,
        band_tier,
        cap,
        override_tier: over,
        fired,
    }
}

/// What it would take to reach the next better tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NextStep {
    /// The next better tier.
    pub target: Tier,
    /// Fired overrides worse than the target: all must stop holding.
    pub blocking_overrides: Vec<String>,
    /// Fired caps worse than the target: all must stop holding.
    pub blocking_caps: Vec<String>,
    /// Points missing to the target's band (0 when the score already suffices).
    pub score_gap: i64,
    /// Fired negative adjustments, largest first, whose removal together closes the gap
    /// (empty when there is no gap, or when even removing all of them would not close it).
    pub covering_adjustments: Vec<String>,
    /// Whether removing the listed rules would reach the target (false when the score gap
    /// cannot be closed by removing fired rules alone).
    pub reachable_by_removal: bool,
}

/// A plain-words explanation of a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The tier explained.
    pub tier: Tier,
    /// The score.
    pub score: i64,
    /// Why the enterprise has this tier, one sentence per point.
    pub why: Vec<String>,
    /// The way to the next better tier; `None` for tier A.
    pub next: Option<NextStep>,
    /// The way to the next better tier in words (empty for tier A).
    pub next_words: Vec<String>,
}

fn reads_text(fr: &FiredRule) -> String {
    if fr.reads.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = fr.reads.iter().map(|(n, v)| format!("{n} = {v}")).collect();
    format!(" ({})", parts.join(", "))
}

fn title_of<'a>(rules: &'a CompiledRuleSet, id: &str) -> &'a str {
    rules
        .rules
        .iter()
        .find(|r| r.id == id)
        .map_or("", |r| r.title.as_str())
}

/// Explains `decision` (made by [`classify`] with these `rules` and `features`) in plain
/// English: why this tier, and what would move it to the next better tier.
pub fn explain(
    rules: &CompiledRuleSet,
    features: &FeatureVector,
    decision: &Decision,
) -> Explanation {
    let _ = features; // The decision already carries every value the fired rules read.
    let b = &rules.bands;
    let mut why = Vec::new();
    let base = rules.base_score;
    why.push(format!(
        "The score is {} (base {} {} adjustments from {} rule(s)), which falls in band {}.",
        decision.score,
        base,
        if decision.score >= base {
            "plus"
        } else {
            "with"
        },
        decision
            .fired
            .iter()
            .filter(|f| matches!(f.effect, Effect::Score(_)))
            .count(),
        decision.band_tier
    ));
    for fr in &decision.fired {
        let title = title_of(rules, &fr.id);
        let what = match &fr.effect {
            Effect::Score(v) => format!("{v:+} points"),
            Effect::Cap(t) => format!("caps the tier at {t} at best"),
            Effect::Override(t) => format!("sets the tier to {t} at least"),
        };
        why.push(format!(
            "Rule `{}` ({}) {}{}; basis: {}.",
            fr.id,
            title,
            what,
            reads_text(fr),
            fr.basis
        ));
    }
    if let Some(c) = decision.cap {
        if c > decision.band_tier {
            why.push(format!(
                "A cap lowers the tier from {} to {}.",
                decision.band_tier,
                decision.band_tier.max(c)
            ));
        }
    }
    if let Some(o) = decision.override_tier {
        let before = decision.band_tier.max(decision.cap.unwrap_or(Tier::A));
        if o > before {
            why.push(format!("An override sets the tier from {before} to {o}."));
        }
    }
    why.push(format!("Final tier: {}.", decision.tier));

    let Some(target) = decision.tier.better() else {
        return Explanation {
            tier: decision.tier,
            score: decision.score,
            why,
            next: None,
            next_words: Vec::new(),
        };
    };
    let mut blocking_overrides = Vec::new();
    let mut blocking_caps = Vec::new();
    let mut negatives: Vec<(&str, i64)> = Vec::new();
    for fr in &decision.fired {
        match fr.effect {
            Effect::Override(t) if t > target => blocking_overrides.push(fr.id.clone()),
            Effect::Cap(t) if t > target => blocking_caps.push(fr.id.clone()),
            Effect::Score(v) if v < 0 => negatives.push((&fr.id, v)),
            _ => {}
        }
    }
    let need = b.min_score(target).unwrap_or(i64::MIN);
    let score_gap = need.saturating_sub(decision.score).max(0);
    // Largest penalties first; ties by id for determinism.
    negatives.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(y.0)));
    let mut covering = Vec::new();
    let mut covered = 0i64;
    for (id, v) in &negatives {
        if covered >= score_gap {
            break;
        }
        covered = covered.saturating_sub(*v);
        covering.push(id.to_string());
    }
    let reachable = covered >= score_gap;
    if !reachable {
        covering.clear();
    }
    let mut words = Vec::new();
    words.push(format!("To reach tier {target}:"));
    for id in &blocking_overrides {
        words.push(format!(
            "- rule `{id}` ({}) must no longer hold: it overrides the tier to worse than {target};",
            title_of(rules, id)
        ));
    }
    for id in &blocking_caps {
        words.push(format!(
            "- rule `{id}` ({}) must no longer hold: it caps the tier below {target};",
            title_of(rules, id)
        ));
    }
    if score_gap > 0 {
        if reachable {
            let parts: Vec<String> = covering
                .iter()
                .map(|id| {
                    let v = negatives.iter().find(|n| n.0 == id).map_or(0, |n| n.1);
                    format!("`{id}` ({v:+})")
                })
                .collect();
            words.push(format!(
                "- the score must rise by {score_gap} point(s) to {need}; it would if these adjustments no longer held: {};",
                parts.join(", ")
            ));
        } else {
            words.push(format!(
                "- the score must rise by {score_gap} point(s) to {need}, more than all fired negative adjustments together ({}); positive signals (honours, a good tax grade) would be needed;",
                -negatives.iter().map(|n| n.1).sum::<i64>()
            ));
        }
    } else {
        words.push(format!(
            "- the score ({}) already reaches band {target} ({need});",
            decision.score
        ));
    }
    if blocking_caps.is_empty() && blocking_overrides.is_empty() && score_gap > 0 && reachable {
        words.push(format!(
            "No cap or override stands in the way; only the score gap of {score_gap}."
        ));
    }
    Explanation {
        tier: decision.tier,
        score: decision.score,
        why,
        next: Some(NextStep {
            target,
            blocking_overrides,
            blocking_caps,
            score_gap,
            covering_adjustments: covering,
            reachable_by_removal: reachable,
        }),
        next_words: words,
    }
}

#[cfg(test)]
mod tests;
