//! Evaluation: enterprise signals after a classification, group signals over facts and tier
//! counts.
//!
//! Group evaluation makes one pass over the facts per group rule: facts outside the rule's
//! lookback are skipped by a date comparison first, then the filter runs, then the fact is
//! added to its group's accumulator in a `BTreeMap` keyed by interned dimension values (small
//! integers, so no string is built per fact). Each group is then decided once. Subjects are
//! built only for groups that fire. Cost: O(facts x group rules x log groups).

use super::fact::{Extras, Fact, FactKind, GroupTiers};
use super::ruleset::{Common, Dim, FactSel, GroupRule, Method, WarningRuleSet, ENT_BASE};
use super::stats::poisson_change_p_ppm;
use super::{EnterpriseInput, Evidence, Firing, Level, MAX_ENTERPRISES};
use crate::domain::{CreditCode, Date};
use crate::rules::lang::{Features, Program};
use crate::rules::{FeatureVector, Tier, SCHEMA, SECTORS};
use std::collections::BTreeMap;

/// What enterprise rules read: features, then tier transition, then extras (see
/// [`super::enterprise_schema`]).
struct EntView<'a> {
    f: &'a FeatureVector,
    tier: &'static str,
    previous: &'static str,
    drop: i64,
    extras: [i64; 5],
}

impl EntView<'_> {
    fn new<'a>(f: &'a FeatureVector, tier: Tier, prev: Option<Tier>, x: &Extras) -> EntView<'a> {
        EntView {
            f,
            tier: tier.as_str(),
            previous: prev.map_or("", Tier::as_str),
            drop: prev.map_or(0, |p| tier as i64 - p as i64),
            extras: [
                x.days_since_serious_entry,
                x.days_since_failed_spot_check,
                x.days_since_verified_complaint,
                x.failed_spot_checks_90d,
                x.verified_complaints_90d,
            ],
        }
    }

    /// The value in `slot` as evidence text: ints in decimal, bools `true`/`false`, strings as
    /// they are, lists joined by `,`.
    fn text(&self, slot: usize) -> String {
        if slot < ENT_BASE {
            return match SCHEMA[slot].ty {
                crate::rules::lang::Type::Int => self.f.int(slot).to_string(),
                crate::rules::lang::Type::Bool => self.f.bool(slot).to_string(),
                crate::rules::lang::Type::Str => self.f.str(slot).to_string(),
                crate::rules::lang::Type::StrList => self.f.list(slot).join(","),
            };
        }
        match slot - ENT_BASE {
            0 => self.tier.to_string(),
            1 => self.previous.to_string(),
            _ => self.int(slot).to_string(),
        }
    }
}

impl Features for EntView<'_> {
    #[inline]
    fn int(&self, slot: usize) -> i64 {
        if slot < ENT_BASE {
            return self.f.int(slot);
        }
        match slot - ENT_BASE {
            2 => self.drop,
            i => self.extras.get(i.wrapping_sub(3)).copied().unwrap_or(0),
        }
    }
    #[inline]
    fn bool(&self, slot: usize) -> bool {
        self.f.bool(slot)
    }
    #[inline]
    fn str(&self, slot: usize) -> &str {
        if slot < ENT_BASE {
            return self.f.str(slot);
        }
        match slot - ENT_BASE {
            0 => self.tier,
            1 => self.previous,
            _ => "",
        }
    }
    #[inline]
    fn list(&self, slot: usize) -> &[String] {
        self.f.list(slot)
    }
}

/// The level of a rule: its base level, raised to each raise that holds; also the programs
/// that held (for evidence).
fn level_of<'c, F: Features>(c: &'c Common, f: &F) -> (Level, Vec<&'c Program>) {
    let mut level = c.level;
    let mut held = vec![&c.when];
    for r in &c.raises {
        if r.when.eval_bool(f) {
            level = level.max(r.level);
            held.push(&r.when);
        }
    }
    (level, held)
}

impl WarningRuleSet {
    /// Enterprise signals after a classification: every enterprise rule in force on `as_of`
    /// and in scope whose `when` holds, in id order. Evidence: the value of every feature,
    /// transition input and extra read by the expressions that held, plus `tier`,
    /// `previous_tier` (`""` when none) and `tier_drop`.
    pub fn evaluate_enterprise(&self, input: &EnterpriseInput<'_>) -> Vec<Firing> {
        let view = EntView::new(
            input.features,
            input.tier,
            input.previous_tier,
            &input.extras,
        );
        let own_sectors: Vec<String> = SECTORS
            .iter()
            .filter(|s| input.features.num(s.feature) != 0)
            .map(|s| s.scope.to_string())
            .collect();
        let mut out = Vec::new();
        for r in &self.enterprise {
            if !r.c.in_force(input.as_of) {
                continue;
            }
            if let Some(slot) = r.scope_slot {
                if !input.features.bool(slot) {
                    continue;
                }
            }
            if !r.c.when.eval_bool(&view) {
                continue;
            }
            let (level, held) = level_of(&r.c, &view);
            let mut evidence = Evidence::new();
            for p in held {
                for &slot in p.features_read() {
                    let name = if slot < ENT_BASE {
                        SCHEMA[slot].name
                    } else {
                        super::ruleset::extra_slot_name(slot).unwrap_or("")
                    };
                    evidence.insert(name.to_string(), view.text(slot));
                }
            }
            evidence.insert("tier".into(), view.tier.to_string());
            evidence.insert("previous_tier".into(), view.previous.to_string());
            evidence.insert("tier_drop".into(), view.drop.to_string());
            let mut sectors = own_sectors.clone();
            sectors.extend(r.c.sectors.iter().cloned());
            sectors.sort();
            sectors.dedup();
            out.push(Firing {
                rule_id: r.c.id.clone(),
                subject: format!("enterprise/{}", input.credit_code),
                level,
                evidence,
                enterprises: vec![input.credit_code],
                sectors,
                group: Vec::new(),
            });
        }
        out
    }

    /// Group signals as of `as_of` over `facts` (any order; facts outside a rule's lookback or
    /// dated after `as_of` are ignored) and tier counts; sorted by (rule id, subject).
    pub fn evaluate_groups(&self, as_of: Date, facts: &[Fact], tiers: &GroupTiers) -> Vec<Firing> {
        let mut out = Vec::new();
        for r in &self.group {
            if !r.c.in_force(as_of) {
                continue;
            }
            match r.method {
                Method::Concentration => concentration(r, tiers, &mut out),
                Method::Rate | Method::PoissonChange => over_facts(r, as_of, facts, &mut out),
            }
        }
        out.sort_by(|a, b| (&a.rule_id, &a.subject).cmp(&(&b.rule_id, &b.subject)));
        out
    }
}

/// What a group rule's `where` reads about a fact (see [`super::filter_schema`]).
struct FactView<'a> {
    vals: [&'a str; 5],
}

impl<'a> FactView<'a> {
    fn of(jurisdiction: &'a str, industry: &'a str, category: &'a str) -> FactView<'a> {
        FactView {
            vals: [
                jurisdiction,
                industry,
                industry.get(..1).unwrap_or(""),
                industry.get(..3).unwrap_or(industry),
                category,
            ],
        }
    }

    fn dim(&self, d: Dim) -> &'a str {
        match d {
            Dim::District => self.vals[0],
            Dim::IndustrySection => self.vals[2],
            Dim::IndustryDivision => self.vals[3],
            Dim::ProductCategory => self.vals[4],
        }
    }
}

impl Features for FactView<'_> {
    fn int(&self, _: usize) -> i64 {
        0
    }
    fn bool(&self, _: usize) -> bool {
        false
    }
    #[inline]
    fn str(&self, slot: usize) -> &str {
        self.vals.get(slot).copied().unwrap_or("")
    }
    fn list(&self, _: usize) -> &[String] {
        &[]
    }
}

/// Statistics by slot of [`super::statistics_schema`].
struct Stats(Vec<i64>);

impl Features for Stats {
    #[inline]
    fn int(&self, slot: usize) -> i64 {
        self.0.get(slot).copied().unwrap_or(0)
    }
    fn bool(&self, _: usize) -> bool {
        false
    }
    fn str(&self, _: usize) -> &str {
        ""
    }
    fn list(&self, _: usize) -> &[String] {
        &[]
    }
}

/// Interns the strings of one dimension: equal strings get equal ids.
#[derive(Default)]
struct Interner<'a> {
    ids: BTreeMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    #[inline]
    fn id(&mut self, s: &'a str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s, i);
        self.names.push(s);
        i
    }
}

/// Per-group counts of one rule over facts.
#[derive(Default)]
struct Acc {
    /// Facts in the current window (rate) or adverse facts in it (poisson-change).
    n: u64,
    /// Adverse facts in the current window.
    k: u64,
    /// Adverse facts in the baseline periods (poisson-change).
    base: u64,
    /// Enterprises behind adverse facts of the current window (with repeats until decided).
    ents: Vec<CreditCode>,
}

fn selected(sel: Option<FactSel>, k: &FactKind) -> bool {
    matches!(
        (sel, k),
        (Some(FactSel::SpotCheck), FactKind::SpotCheck { .. })
            | (Some(FactSel::Complaint), FactKind::Complaint { .. })
            | (Some(FactSel::Inspection), FactKind::Inspection { .. })
    )
}

/// The group's `(dimension, value)` pairs and subject.
fn subject(r: &GroupRule, values: &[&str]) -> (Vec<(String, String)>, String) {
    let group: Vec<(String, String)> = r
        .group_by
        .iter()
        .zip(values)
        .map(|(d, v)| (d.name().to_string(), v.to_string()))
        .collect();
    let key: Vec<String> = group.iter().map(|(d, v)| format!("{d}={v}")).collect();
    (group, format!("group/{}", key.join(";")))
}

fn over_facts(r: &GroupRule, as_of: Date, facts: &[Fact], out: &mut Vec<Firing>) {
    let w = r.window_days;
    let cur_lo = as_of.add_days(-w); // exclusive
    let lo = as_of.add_days(-r.lookback_days()); // exclusive
    let poisson = r.method == Method::PoissonChange;
    let mut interners: Vec<Interner<'_>> = r.group_by.iter().map(|_| Interner::default()).collect();
    let mut groups: BTreeMap<[u32; 4], Acc> = BTreeMap::new();
    for f in facts {
        if f.date <= lo || f.date > as_of || !selected(r.facts, &f.kind) {
            continue;
        }
        let view = FactView::of(&f.jurisdiction, &f.industry, f.kind.product_category());
        if let Some((_, p)) = &r.filter {
            if !p.eval_bool(&view) {
                continue;
            }
        }
        let current = f.date > cur_lo;
        let adverse = f.kind.adverse();
        if poisson && !adverse {
            continue;
        }
        let mut key = [0u32; 4];
        for (i, d) in r.group_by.iter().enumerate() {
            key[i] = interners[i].id(view.dim(*d));
        }
        let acc = groups.entry(key).or_default();
        if current {
            acc.n += 1;
            if adverse {
                acc.k += 1;
                acc.ents.push(f.credit_code);
            }
        } else {
            acc.base += 1;
        }
    }
    let window = |e: &mut Evidence| {
        e.insert("method".into(), r.method.name().into());
        e.insert("window_from".into(), cur_lo.add_days(1).to_string());
        e.insert("window_to".into(), as_of.to_string());
        e.insert("window_days".into(), w.to_string());
    };
    for (key, mut acc) in groups {
        acc.ents.sort_unstable();
        acc.ents.dedup();
        let n_ents = acc.ents.len() as i64;
        let mut ev = Evidence::new();
        let stats = if poisson {
            let b = r.baseline_periods as u64;
            let p_ppm = poisson_change_p_ppm(acc.k, acc.base, r.baseline_periods);
            if p_ppm > r.alpha_ppm {
                continue;
            }
            let expected_milli = (acc.base as u128 * 1000 / b as u128) as i64;
            let ratio_permille = if acc.base == 0 {
                0
            } else {
                (acc.k as u128 * 1000 * b as u128 / acc.base as u128).min(i64::MAX as u128 / 4)
                    as i64
            };
            window(&mut ev);
            let base_to = cur_lo;
            let base_from = as_of.add_days(-r.lookback_days() + 1);
            ev.insert("baseline_from".into(), base_from.to_string());
            ev.insert("baseline_to".into(), base_to.to_string());
            ev.insert("baseline_periods".into(), b.to_string());
            ev.insert("count".into(), acc.k.to_string());
            ev.insert("baseline_count".into(), acc.base.to_string());
            ev.insert("expected_milli".into(), expected_milli.to_string());
            ev.insert("ratio_permille".into(), ratio_permille.to_string());
            ev.insert("p_ppm".into(), p_ppm.to_string());
            ev.insert("alpha_ppm".into(), r.alpha_ppm.to_string());
            ev.insert(
                "statistic".into(),
                "exact conditional test, X ~ Binomial(count + baseline_count, 1 / (baseline_periods + 1))".into(),
            );
            Stats(vec![
                acc.k as i64,
                acc.base as i64,
                expected_milli,
                ratio_permille,
                p_ppm,
                n_ents,
            ])
        } else {
            if (acc.n as i64) < r.min_sample {
                continue;
            }
            let rate_permille = (acc.k as u128 * 1000 / acc.n.max(1) as u128) as i64;
            window(&mut ev);
            ev.insert("n".into(), acc.n.to_string());
            ev.insert("k".into(), acc.k.to_string());
            ev.insert("rate_permille".into(), rate_permille.to_string());
            ev.insert("min_sample".into(), r.min_sample.to_string());
            Stats(vec![acc.n as i64, acc.k as i64, rate_permille, n_ents])
        };
        if !r.c.when.eval_bool(&stats) {
            continue;
        }
        let (level, _) = level_of(&r.c, &stats);
        ev.insert("enterprises".into(), n_ents.to_string());
        if let Some((text, _)) = &r.filter {
            ev.insert("where".into(), text.clone());
        }
        ev.insert("facts".into(), r.facts.map_or("", |f| f.name()).into());
        let values: Vec<&str> = (0..r.group_by.len())
            .map(|i| interners[i].names[key[i] as usize])
            .collect();
        let (group, subject) = subject(r, &values);
        acc.ents.truncate(MAX_ENTERPRISES);
        out.push(Firing {
            rule_id: r.c.id.clone(),
            subject,
            level,
            evidence: ev,
            enterprises: acc.ents,
            sectors: r.c.sectors.clone(),
            group,
        });
    }
}

fn concentration(r: &GroupRule, tiers: &GroupTiers, out: &mut Vec<Firing>) {
    let mut groups: BTreeMap<Vec<&str>, [u64; 4]> = BTreeMap::new();
    for ((jurisdiction, section), counts) in tiers {
        let view = FactView {
            vals: [jurisdiction, section, section, "", ""],
        };
        if let Some((_, p)) = &r.filter {
            if !p.eval_bool(&view) {
                continue;
            }
        }
        let key: Vec<&str> = r.group_by.iter().map(|d| view.dim(*d)).collect();
        let acc = groups.entry(key).or_default();
        for (a, c) in acc.iter_mut().zip(counts) {
            *a = a.saturating_add(*c);
        }
    }
    for (key, [a, b, c, d]) in groups {
        let total = a.saturating_add(b).saturating_add(c).saturating_add(d);
        if (total as i64) < r.min_enterprises {
            continue;
        }
        let cd = c.saturating_add(d);
        let cd_permille = (cd as u128 * 1000 / total.max(1) as u128) as i64;
        let stats = Stats(vec![
            total as i64,
            c as i64,
            d as i64,
            cd as i64,
            cd_permille,
        ]);
        if !r.c.when.eval_bool(&stats) {
            continue;
        }
        let (level, _) = level_of(&r.c, &stats);
        let mut ev = Evidence::new();
        ev.insert("method".into(), r.method.name().into());
        ev.insert("enterprises".into(), total.to_string());
        ev.insert("tiers".into(), format!("A={a};B={b};C={c};D={d}"));
        ev.insert("cd".into(), cd.to_string());
        ev.insert("cd_permille".into(), cd_permille.to_string());
        ev.insert("min_enterprises".into(), r.min_enterprises.to_string());
        if let Some((text, _)) = &r.filter {
            ev.insert("where".into(), text.clone());
        }
        let (group, subject) = subject(r, &key);
        out.push(Firing {
            rule_id: r.c.id.clone(),
            subject,
            level,
            evidence: ev,
            enterprises: Vec::new(),
            sectors: r.c.sectors.clone(),
            group,
        });
    }
}

/// A deterministic synthetic population of `n` facts over the 400 days up to `as_of` (a
/// simple 64-bit LCG seeded by `seed`): 20 districts, 12 industries in 6 sections, 8 product
/// categories, 60% spot checks (10% failed), 30% complaints (40% verified), 10% inspections
/// (15% with a violation); and tier counts for every (district, section). For benchmarks and
/// the scale test: `evaluate_groups` is what to time.
pub fn synthetic_facts(n: usize, as_of: Date, seed: u64) -> (Vec<Fact>, GroupTiers) {
    const DISTRICTS: [&str; 20] = [
        "510104", "510105", "510106", "510107", "510108", "510112", "510113", "510114", "510115",
        "510116", "510117", "510118", "510121", "510129", "510131", "510132", "510181", "510182",
        "510183", "510184",
    ];
    const INDUSTRIES: [&str; 12] = [
        "C1391", "C1431", "C1511", "C2614", "C2710", "C3435", "E4700", "F5212", "F5225", "H6210",
        "I6510", "L7212",
    ];
    const CATEGORIES: [&str; 8] = [
        "bakery",
        "dairy",
        "meat",
        "beverage",
        "condiment",
        "toy",
        "appliance",
        "textile",
    ];
    let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        s >> 33
    };
    let codes: Vec<CreditCode> = (0..1000u32)
        .filter_map(|i| {
            let body = format!("91510100MA{i:07}");
            let b: [u8; 17] = body.as_bytes().try_into().ok()?;
            CreditCode::with_check(&b)
        })
        .collect();
    let mut facts = Vec::with_capacity(n);
    for seq in 0..n as u64 {
        let r = next();
        let district = DISTRICTS[(r % 20) as usize];
        let industry = INDUSTRIES[((r >> 5) % 12) as usize];
        let date = as_of.add_days(-(((r >> 9) % 400) as i32));
        let u = next() % 1000;
        let kind = if u < 600 {
            FactKind::SpotCheck {
                passed: next() % 10 != 0,
                product_category: CATEGORIES[(next() % 8) as usize].to_string(),
            }
        } else if u < 900 {
            FactKind::Complaint {
                verified: next() % 10 < 4,
            }
        } else {
            FactKind::Inspection {
                violation: next() % 100 < 15,
            }
        };
        let code = codes[(next() % codes.len().max(1) as u64) as usize % codes.len().max(1)];
        facts.push(Fact {
            seq: seq + 1,
            credit_code: code,
            date,
            jurisdiction: district.to_string(),
            industry: industry.to_string(),
            kind,
        });
    }
    let mut tiers = GroupTiers::new();
    for d in DISTRICTS {
        for sec in ["C", "E", "F", "H", "I", "L"] {
            let t = [next() % 200, next() % 300, next() % 60, next() % 20];
            tiers.insert((d.to_string(), sec.to_string()), t);
        }
    }
    (facts, tiers)
}

/// Evaluates the built-in warning rules' group signals over [`synthetic_facts`]`(n, as_of,
/// seed)` and returns the number of firings (for `creditrisk bench`; time the call of
/// [`WarningRuleSet::evaluate_groups`], not the generation).
pub fn evaluate_groups_bench(
    rules: &WarningRuleSet,
    facts: &[Fact],
    tiers: &GroupTiers,
    as_of: Date,
) -> usize {
    rules.evaluate_groups(as_of, facts, tiers).len()
}
