use super::*;
use crate::domain::{Pseudonymizer, Violations};
use crate::rules::{classify_tier, RuleSet, Tier};
use std::path::PathBuf;

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = generate(2_000, 7);
    assert_eq!(a, generate(2_000, 7));
    assert_ne!(a.enterprises, generate(2_000, 8).enterprises);
    assert_eq!(a.inspectors.len(), 220);
    assert_eq!(generate(20_000, 1).inspectors.len(), 500);
}

#[test]
fn records_are_valid_and_codes_unique() {
    let d = generate(5_000, 42);
    let mut codes = BTreeSet::new();
    let mut v = Violations::new();
    for (i, e) in d.enterprises.iter().enumerate() {
        assert!(e.credit_code.check_ok(), "{}", e.credit_code);
        assert_eq!(e.credit_code.as_str().as_bytes()[0], b'9');
        assert!(codes.insert(e.credit_code), "duplicate {}", e.credit_code);
        assert!(Pseudonymizer::is_pseudonym(&e.legal_representative));
        e.validate(&format!("enterprises[{i}]"), &mut v);
    }
    let as_of = demo_as_of();
    for (i, ev) in d.events.iter().enumerate() {
        ev.validate(&format!("events[{i}]"), &mut v);
        assert!(ev.effective_date <= as_of, "{ev:?}");
        assert!(codes.contains(&ev.credit_code));
    }
    for (i, insp) in d.inspectors.iter().enumerate() {
        insp.validate(&format!("inspectors[{i}]"), &mut v);
    }
    assert!(
        v.is_empty(),
        "{:?}",
        v.into_vec().iter().take(5).collect::<Vec<_>>()
    );
    // Some legal representatives are shared, some inspectors' certificates expired.
    let reps: BTreeSet<&str> = d
        .enterprises
        .iter()
        .map(|e| e.legal_representative.as_str())
        .collect();
    assert!(reps.len() < d.enterprises.len() * 97 / 100);
    assert!(d.inspectors.iter().any(|i| !i.certified_on(as_of)));
    // Some repairs and list exits exist.
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e.body, EventBody::CreditRepair { .. })));
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e.body, EventBody::AbnormalListExit {})));
}

#[test]
fn default_rules_reproduce_the_real_tier_mix() {
    let rules = RuleSet::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/default"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let d = generate(20_000, 2026);
    let as_of = demo_as_of();
    let vectors = features(&d, as_of);
    let mut counts = [0usize; 4];
    for v in &vectors {
        counts[classify_tier(rules.compiled(), v, as_of).0 as usize] += 1;
    }
    let pct: Vec<f64> = counts
        .iter()
        .map(|c| *c as f64 * 100.0 / vectors.len() as f64)
        .collect();
    eprintln!(
        "tier mix A {:.1}% B {:.1}% C {:.1}% D {:.1}%",
        pct[0], pct[1], pct[2], pct[3]
    );
    let bounds = [(60.0, 70.0), (20.0, 30.0), (5.0, 11.0), (0.8, 2.5)];
    for (t, (lo, hi)) in Tier::ALL.iter().zip(bounds) {
        let p = pct[*t as usize];
        assert!(p >= lo && p <= hi, "tier {t}: {p:.1}% outside {lo}-{hi}%");
    }
}

#[test]
fn fast_path_agrees_with_full_classification() {
    let rules = RuleSet::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/default"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let d = generate(5_000, 3);
    let as_of = demo_as_of();
    for v in features(&d, as_of) {
        let full = crate::rules::classify(rules.compiled(), &v, as_of);
        assert_eq!(
            classify_tier(rules.compiled(), &v, as_of),
            (full.tier, full.score)
        );
    }
}

#[test]
fn inspections_name_only_rostered_inspectors() {
    for n in [100, 2000, 30_000] {
        let d = generate(n, 9);
        let roster: std::collections::BTreeSet<&str> = d
            .inspectors
            .iter()
            .map(|i| i.inspector_id.as_str())
            .collect();
        for e in &d.events {
            if let crate::domain::EventBody::Inspection { inspector_ids, .. } = &e.body {
                for id in inspector_ids {
                    assert!(
                        roster.contains(id.as_str()),
                        "{n}: `{id}` is not on the roster"
                    );
                }
            }
        }
    }
}

#[test]
fn incidents_are_injected_into_large_populations_only() {
    assert!(generate(1_999, 4).incidents.is_empty());
    let d = generate(5_000, 4);
    assert_eq!(d.incidents.len(), 5 + 3, "{:?}", d.incidents);
    // The cluster's checks are all there, in the last month.
    let since = demo_as_of().add_days(-30);
    let cluster: Vec<bool> = d
        .events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::SpotCheck {
                passed,
                product_category,
            } if product_category == CLUSTER_CATEGORY && e.effective_date > since => Some(*passed),
            _ => None,
        })
        .collect();
    assert_eq!(cluster.len(), 16);
    assert_eq!(cluster.iter().filter(|p| !**p).count(), 10);
}
