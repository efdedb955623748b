use super::*;
use crate::rules::features::{Feat, FeatureValue};
use crate::rules::ruleset::RuleSet;
use std::collections::BTreeMap;

const MANIFEST: &str = "name = \"t\"\nversion = \"1\"\neffective_from = \"2026-01-01\"\nbase_score = 100\n[bands]\nA = 90\nB = 75\nC = 60\n";

fn rules() -> RuleSet {
    let text = r#"
[[rule]]
id = "b.pen"
title = "penalties"
basis = "basis p"
when = "penalties_3y > 0"
score = "-12 * min(penalties_3y, 5)"

[[rule]]
id = "a.cap"
title = "abnormal"
basis = "basis a"
when = "on_abnormal_list"
cap = "C"

[[rule]]
id = "c.over-b"
title = "new"
basis = "basis n"
when = "age_years < 1"
tier = "B"

[[rule]]
id = "d.serious"
title = "serious"
basis = "basis s"
when = "on_serious_list"
tier = "D"

[[rule]]
id = "e.food"
title = "food only"
basis = "basis f"
scope = "food"
when = "complaints_verified_1y > 0"
score = "-5"

[[rule]]
id = "f.dated"
title = "only in 2026"
basis = "basis d"
effective_from = "2026-01-01"
effective_until = "2026-12-31"
when = "honours_3y > 0"
score = "4"
"#;
    let mut files = BTreeMap::new();
    files.insert("ruleset.toml".to_string(), MANIFEST.to_string());
    files.insert("g/r.toml".to_string(), text.to_string());
    RuleSet::from_files(files).unwrap_or_else(|e| panic!("{e:?}"))
}

fn fv(pairs: &[(&str, FeatureValue)]) -> FeatureVector {
    let mut v = FeatureVector::neutral();
    for (n, x) in pairs {
        v.set(n, x.clone()).unwrap();
    }
    v
}

fn day(s: &str) -> Date {
    Date::parse(s).unwrap()
}

use FeatureValue::{Bool, Int};

#[test]
fn nothing_fires_on_a_clean_record() {
    let rs = rules();
    let d = classify(rs.compiled(), &FeatureVector::neutral(), day("2026-06-01"));
    assert_eq!((d.tier, d.score, d.fired.len()), (Tier::A, 100, 0));
}

#[test]
fn score_then_worst_cap_then_worst_override() {
    let rs = rules();
    let c = rs.compiled();
    let at = day("2026-06-01");
    // -24: band B.
    let d = classify(c, &fv(&[("penalties_3y", Int(2))]), at);
    assert_eq!((d.tier, d.score, d.band_tier), (Tier::B, 76, Tier::B));
    assert_eq!(d.fired[0].reads, vec![("penalties_3y".to_string(), Int(2))]);
    assert_eq!(d.fired[0].effect, Effect::Score(-24));
    // Cap C on top of B gives C; the override to B does not improve it.
    let d = classify(
        c,
        &fv(&[
            ("penalties_3y", Int(2)),
            ("on_abnormal_list", Bool(true)),
            ("age_years", Int(0)),
        ]),
        at,
    );
    assert_eq!(d.tier, Tier::C);
    assert_eq!(
        d.fired.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["a.cap", "b.pen", "c.over-b"]
    );
    // Override to B worsens an A.
    let d = classify(c, &fv(&[("age_years", Int(0))]), at);
    assert_eq!(
        (d.tier, d.band_tier, d.override_tier),
        (Tier::B, Tier::A, Some(Tier::B))
    );
    // The worst override wins; the score keeps counting.
    let d = classify(
        c,
        &fv(&[
            ("age_years", Int(0)),
            ("on_serious_list", Bool(true)),
            ("penalties_3y", Int(9)),
        ]),
        at,
    );
    assert_eq!((d.tier, d.score), (Tier::D, 40));
    // classify_tier agrees.
    for v in [
        fv(&[]),
        fv(&[("penalties_3y", Int(3))]),
        fv(&[("on_abnormal_list", Bool(true))]),
        fv(&[("age_years", Int(0))]),
    ] {
        let d = classify(c, &v, at);
        assert_eq!(classify_tier(c, &v, at), (d.tier, d.score));
    }
}

#[test]
fn scope_and_effective_dates() {
    let rs = rules();
    let c = rs.compiled();
    let v = fv(&[("complaints_verified_1y", Int(1)), ("honours_3y", Int(1))]);
    let d = classify(c, &v, day("2026-12-31"));
    assert_eq!(
        d.fired.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["f.dated"]
    );
    assert_eq!(classify(c, &v, day("2027-01-01")).fired.len(), 0);
    assert_eq!(classify(c, &v, day("2025-12-31")).fired.len(), 0);
    let mut food = v.clone();
    food.set("sector_food", Bool(true)).unwrap();
    let d = classify(c, &food, day("2026-06-01"));
    assert_eq!(
        d.fired.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["e.food", "f.dated"]
    );
    assert_eq!(d.score, 99);
    assert_eq!(food.num(Feat::SectorFood), 1);
}

#[test]
fn explain_names_blocking_rules_and_the_score_gap() {
    let rs = rules();
    let c = rs.compiled();
    let at = day("2026-06-01");
    let v = fv(&[("penalties_3y", Int(3)), ("on_abnormal_list", Bool(true))]);
    let d = classify(c, &v, at);
    assert_eq!((d.tier, d.score), (Tier::C, 64));
    let x = explain(c, &v, &d);
    let next = x.next.clone().unwrap();
    assert_eq!(next.target, Tier::B);
    assert_eq!(next.blocking_caps, ["a.cap"]);
    assert_eq!(next.score_gap, 11);
    assert_eq!(next.covering_adjustments, ["b.pen"]);
    assert!(next.reachable_by_removal);
    let words = x.next_words.join("\n");
    assert!(
        words.contains("rule `a.cap` (abnormal) must no longer hold"),
        "{words}"
    );
    assert!(
        words.contains("the score must rise by 11 point(s) to 75"),
        "{words}"
    );
    assert!(
        x.why
            .iter()
            .any(|w| w.contains("Rule `b.pen` (penalties) -36 points (penalties_3y = 3)")),
        "{:?}",
        x.why
    );
    // Tier A: nothing to improve.
    let d = classify(c, &FeatureVector::neutral(), at);
    assert!(explain(c, &FeatureVector::neutral(), &d).next.is_none());
    // An override to D blocks; no score gap to C.
    let v = fv(&[("on_serious_list", Bool(true))]);
    let d = classify(c, &v, at);
    let next = explain(c, &v, &d).next.unwrap();
    assert_eq!((next.target, next.score_gap), (Tier::C, 0));
    assert_eq!(next.blocking_overrides, ["d.serious"]);
}
