//! Issue 12 on the demo population: every injected incident is detected at its level by the
//! default warning rules, and routed to the departments the routing file names.

use creditrisk::demo::{self, DemoData};
use creditrisk::rules::{classify_tier, RuleSet};
use creditrisk::warn::routing::Routing;
use creditrisk::warn::{extras, EnterpriseInput, Firing, WarningRuleSet};

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every firing of the default warning rules on `data` as of the demo date: group signals over
/// all facts, enterprise signals for every enterprise (no previous tier).
fn firings(data: &DemoData) -> Vec<Firing> {
    let rules = RuleSet::load(&root().join("rules/default")).unwrap_or_else(|e| panic!("{e:?}"));
    let warnings =
        WarningRuleSet::load(&root().join("rules/warnings")).unwrap_or_else(|e| panic!("{e:?}"));
    let as_of = demo::demo_as_of();
    let vectors = demo::features(data, as_of);
    let tiers: Vec<_> = vectors
        .iter()
        .map(|v| classify_tier(rules.compiled(), v, as_of).0)
        .collect();
    let mut out = warnings.evaluate_groups(
        as_of,
        &demo::warning_facts(data),
        &demo::group_tiers(data, &tiers),
    );
    let events = demo::stored_events(data);
    let none = Vec::new();
    for ((e, v), tier) in data.enterprises.iter().zip(&vectors).zip(&tiers) {
        let input = EnterpriseInput {
            credit_code: e.credit_code,
            as_of,
            features: v,
            tier: *tier,
            previous_tier: None,
            extras: extras(events.get(&e.credit_code).unwrap_or(&none), as_of),
        };
        out.extend(warnings.evaluate_enterprise(&input));
    }
    out
}

/// The sizes checked: the test population and `serve --demo`'s default.
#[test]
fn every_demo_incident_is_detected_at_its_level_and_routed() {
    for n in [5_000, 10_000] {
        check_incidents(&demo::generate(n, 20231));
    }
}

fn check_incidents(data: &DemoData) {
    assert_eq!(data.incidents.len(), 8, "{:?}", data.incidents);
    // Every level is represented.
    let levels: std::collections::BTreeSet<_> = data.incidents.iter().map(|i| i.level).collect();
    assert_eq!(levels.len(), 4);
    let fired = firings(data);
    let routing =
        Routing::load(&root().join("rules/routing.toml")).unwrap_or_else(|e| panic!("{e:?}"));
    for inc in &data.incidents {
        let f = fired
            .iter()
            .find(|f| f.rule_id == inc.rule_id && f.subject == inc.subject)
            .unwrap_or_else(|| {
                let near: Vec<_> = fired
                    .iter()
                    .filter(|f| f.rule_id == inc.rule_id)
                    .map(|f| (&f.subject, f.level))
                    .collect();
                panic!("not detected: {inc:?}\nthat rule fired for {near:?}")
            });
        assert_eq!(f.level, inc.level, "{inc:?}: {:?}", f.evidence);
        let departments = routing.departments_for(f);
        assert!(!departments.is_empty());
        eprintln!(
            "{} {} {} -> {}",
            f.level,
            f.rule_id,
            f.subject,
            departments.join(", ")
        );
    }
    // The bakery cluster goes to market regulation's food division and health (its product
    // category's routing): a cross-department case.
    let cluster = fired
        .iter()
        .find(|f| f.subject.contains("product_category=糕点"))
        .unwrap_or_else(|| panic!("no cluster"));
    assert_eq!(
        routing.departments_for(cluster),
        ["health-chengdu", "samr-chengdu-food"]
    );
    assert!(routing.is_cross_department(cluster));
}
