//! Independent checks of the p-value: exact rational arithmetic for small counts, a
//! straightforward log-space summation for moderate ones, edge cases, and a simulation of the
//! default `poisson-change` rule's false-alarm rate.

use super::*;
use crate::domain::Date;
use crate::warn::{Fact, FactKind, GroupTiers, WarningRuleSet};

/// A small deterministic PRNG (splitmix64), so the tests need no crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Poisson(lambda) by Knuth's product of uniforms (fine for lambda up to ~50).
    fn poisson(&mut self, lambda: f64) -> u64 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

/// Reference 1: exact. P(X >= k) = sum_{j >= k} C(n, j) b^(n-j) / (b+1)^n in u128 (exact for
/// (b+1)^n < 2^128, i.e. n <= 34 when b = 12).
fn exact_tail(k: u64, n: u64, b: u64) -> f64 {
    let mut num: u128 = 0;
    let mut c: u128 = 1; // C(n, j)
    for j in 0..=n {
        if j > 0 {
            c = c * (n - j + 1) as u128 / j as u128;
        }
        if j >= k {
            num += c * (b as u128).pow((n - j) as u32);
        }
    }
    let den = (b as u128 + 1).pow(n as u32);
    num as f64 / den as f64
}

/// Reference 2: log-space summation with `ln`/`exp` (allowed in a test), for moderate n.
fn ln_tail(k: u64, n: u64, b: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let q = 1.0 / (b as f64 + 1.0);
    let (lq, lr) = (q.ln(), (1.0 - q).ln());
    let mut ln_fact = vec![0.0f64; n as usize + 1];
    for i in 1..=n as usize {
        ln_fact[i] = ln_fact[i - 1] + (i as f64).ln();
    }
    let mut s = 0.0;
    for j in k..=n {
        let (j_, n_) = (j as usize, n as usize);
        let l = ln_fact[n_] - ln_fact[j_] - ln_fact[n_ - j_] + j as f64 * lq + (n - j) as f64 * lr;
        s += l.exp();
    }
    s.min(1.0)
}

#[test]
fn matches_exact_rational_arithmetic_for_small_counts() {
    let mut worst = 0.0f64;
    for b in 1..=12u64 {
        let max_n = if b <= 3 { 60 } else { 34 };
        for n in 0..=max_n {
            if (b as u128 + 1).checked_pow(n as u32).is_none() {
                continue;
            }
            for k in 0..=n + 1 {
                let want = exact_tail(k, n, b);
                let got = binomial_upper_tail(k, n, b as u32);
                worst = worst.max((want - got).abs());
                assert!(
                    (want - got).abs() <= 1e-12,
                    "k={k} n={n} b={b}: {got} vs exact {want}"
                );
                let (pw, pg) = (ppm_up(want), ppm_up(got));
                assert!(pw.abs_diff(pg) <= 1, "k={k} n={n} b={b}: {pg} vs {pw} ppm");
            }
        }
    }
    println!("largest absolute difference from exact arithmetic: {worst:e}");
}

#[test]
fn matches_log_space_summation_for_moderate_counts() {
    let mut rng = SplitMix(42);
    for _ in 0..400 {
        let n = 1 + rng.below(3000);
        let b = 1 + rng.below(24);
        // k around the interesting region: mode .. mode + 6 sd, and a few anywhere.
        let mean = n as f64 / (b as f64 + 1.0);
        let sd = (mean * (1.0 - 1.0 / (b as f64 + 1.0))).sqrt().max(1.0);
        let k = if rng.below(4) == 0 {
            rng.below(n + 2)
        } else {
            (mean + sd * (rng.below(600) as f64 / 100.0)) as u64
        };
        let want = ln_tail(k, n, b);
        let got = binomial_upper_tail(k, n, b as u32);
        assert!(
            (want - got).abs() <= 1e-6,
            "k={k} n={n} b={b}: {got} vs ln-sum {want}"
        );
        assert!(ppm_up(want).abs_diff(ppm_up(got)) <= 1);
    }
}

#[test]
fn edge_cases() {
    assert_eq!(binomial_upper_tail(0, 0, 12), 1.0);
    assert_eq!(binomial_upper_tail(1, 0, 12), 0.0);
    assert_eq!(binomial_upper_tail(0, 1_000_000_000, 12), 1.0);
    assert_eq!(poisson_change_p_ppm(0, 0, 12), 1_000_000);
    // k = n: q^n exactly for small n.
    assert!((binomial_upper_tail(3, 3, 12) - 1.0 / 2197.0).abs() < 1e-15);
    assert_eq!(poisson_change_p_ppm(3, 0, 12), 456); // 455.17 rounded up
    assert_eq!(poisson_change_p_ppm(1, 0, 12), 76_924); // 1/13 = 76923.08
                                                        // Huge counts neither underflow to nonsense nor overflow: an unchanged rate is unremarkable,
                                                        // a doubled one is certain, and k = n of a huge n is 0.
    let base = 12_000_000_000u64;
    let p_same = poisson_change_p_ppm(1_000_000_000, base, 12);
    assert!(p_same > 400_000 && p_same < 600_000, "{p_same}");
    assert_eq!(poisson_change_p_ppm(2_000_000_000, base, 12), 0);
    assert_eq!(binomial_upper_tail(1_000_000, 1_000_000, 12), 0.0);
    // Monotone in k.
    let mut last = 1.0;
    for k in 0..200 {
        let p = binomial_upper_tail(k, 1000, 12);
        assert!(p <= last, "k={k}");
        last = p;
    }
    // ppm rounding goes up and stays in range.
    assert_eq!(ppm_up(0.0), 0);
    assert_eq!(ppm_up(1e-300), 1);
    assert_eq!(ppm_up(0.001), 1000);
    assert_eq!(ppm_up(1.0), 1_000_000);
}

/// The default `poisson-change` rule over a population without change: ~200 groups with
/// constant Poisson rates, 100 evaluated months (after 12 months of history). The measured
/// false-alarm rate must be at most alpha plus 3 standard errors of a binomial proportion at
/// alpha over the evaluations.
#[test]
fn simulated_false_alarm_rate_is_within_alpha() {
    let rules = WarningRuleSet::built_in().unwrap();
    let rule = "group.complaints-change";
    let alpha = 0.001;
    let start = Date::parse("2016-01-01").unwrap();
    let mut rng = SplitMix(20261203);
    // 20 districts x 10 sections = 200 groups, rates 0.5 .. 30 verified complaints a month.
    let sections = ["A", "C", "E", "F", "G", "H", "I", "K", "L", "M"];
    let mut groups = Vec::new();
    for di in 0..20 {
        for s in sections {
            let lambda = 0.5 + (rng.below(2950) as f64) / 100.0;
            groups.push((format!("5101{di:02}"), format!("{s}0000"), lambda));
        }
    }
    let months: usize = 112; // 12 months of history, then 100 evaluated
    let mut by_month: Vec<Vec<Fact>> = Vec::new();
    let mut seq = 0u64;
    for m in 0..months {
        let mut v = Vec::new();
        for (g, (district, industry, lambda)) in groups.iter().enumerate() {
            for _ in 0..rng.poisson(*lambda) {
                seq += 1;
                v.push(Fact {
                    seq,
                    credit_code: crate::warn::cases::case_code(
                        (g * 1000) as u32 + (seq % 1000) as u32,
                    ),
                    date: start.add_days(30 * m as i32 + 1 + rng.below(30) as i32),
                    jurisdiction: district.clone(),
                    industry: industry.clone(),
                    kind: FactKind::Complaint { verified: true },
                });
            }
        }
        by_month.push(v);
    }
    let tiers = GroupTiers::new();
    let mut alarms = 0u64;
    let mut evaluations = 0u64;
    for m in 12..months {
        let as_of = start.add_days(30 * (m as i32 + 1));
        let facts: Vec<Fact> = by_month[m - 12..=m].iter().flatten().cloned().collect();
        let fired = rules.evaluate_groups(as_of, &facts, &tiers);
        alarms += fired.iter().filter(|f| f.rule_id == rule).count() as u64;
        evaluations += groups.len() as u64;
    }
    let rate = alarms as f64 / evaluations as f64;
    let margin = 3.0 * (alpha * (1.0 - alpha) / evaluations as f64).sqrt();
    println!(
        "poisson-change false alarms: {alarms} of {evaluations} group-months = {rate:.5} (alpha {alpha}, bound with margin {:.5})",
        alpha + margin
    );
    assert_eq!(evaluations, 20_000);
    assert!(
        rate <= alpha + margin,
        "false-alarm rate {rate} above {alpha} + {margin}"
    );
}

/// The same rule does see a real change: a group whose rate triples fires.
#[test]
fn a_tripled_rate_is_detected() {
    let rules = WarningRuleSet::built_in().unwrap();
    let start = Date::parse("2020-01-01").unwrap();
    let mut facts = Vec::new();
    let mut seq = 0;
    for m in 0..13 {
        let n = if m == 12 { 15 } else { 5 };
        for i in 0..n {
            seq += 1;
            facts.push(Fact {
                seq,
                credit_code: crate::warn::cases::case_code(seq as u32),
                date: start.add_days(30 * m + 1 + i % 30),
                jurisdiction: "510104".into(),
                industry: "F5212".into(),
                kind: FactKind::Complaint { verified: true },
            });
        }
    }
    let as_of = start.add_days(30 * 13);
    let fired = rules.evaluate_groups(as_of, &facts, &GroupTiers::new());
    assert_eq!(fired.len(), 1, "{fired:?}");
    let f = &fired[0];
    assert_eq!(f.subject, "group/district=510104;industry_section=F");
    assert_eq!(f.evidence["count"], "15");
    assert_eq!(f.evidence["baseline_count"], "60");
    assert_eq!(f.evidence["expected_milli"], "5000");
    assert_eq!(f.evidence["ratio_permille"], "3000");
    let p: i64 = f.evidence["p_ppm"].parse().unwrap();
    assert_eq!(p, poisson_change_p_ppm(15, 60, 12));
    assert!(p <= 1000);
}
