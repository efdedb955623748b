//! Unit tests of the warning core: levels, the fact codec, the loader's errors, evaluation,
//! the default rules' case files and scale.

use super::*;
use crate::domain::{CreditEvent, EventBody, StoredEvent};
use crate::rules::RuleError;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn code(i: u32) -> CreditCode {
    cases::case_code(i)
}

// ------------------------------------------------------------------------------------------
// Levels.

#[test]
fn levels_parse_print_order_and_raise() {
    for (i, l) in Level::ALL.iter().enumerate() {
        assert_eq!(Level::parse(l.as_str()), Ok(*l));
        assert_eq!(Level::parse(l.roman()), Ok(*l));
        assert_eq!(*l as usize, i);
    }
    assert!(Level::Blue < Level::Yellow && Level::Yellow < Level::Orange);
    assert!(Level::Orange < Level::Red);
    assert_eq!(Level::Red.roman(), "I");
    assert_eq!(Level::Blue.roman(), "IV");
    assert_eq!(Level::Blue.raised(), Level::Yellow);
    assert_eq!(Level::Red.raised(), Level::Red);
    assert_eq!(
        Level::parse("purple").unwrap_err(),
        "`purple` is not a level (blue, yellow, orange, red or IV, III, II, I)"
    );
    assert_eq!(serde_json::to_string(&Level::Orange).unwrap(), "\"orange\"");
    assert_eq!(
        serde_json::from_str::<Level>("\"red\"").unwrap(),
        Level::Red
    );
}

// ------------------------------------------------------------------------------------------
// Facts.

fn sample_facts() -> Vec<Fact> {
    vec![
        Fact {
            seq: 1,
            credit_code: code(1),
            date: d("2026-10-01"),
            jurisdiction: "510104".into(),
            industry: "C1431".into(),
            kind: FactKind::SpotCheck {
                passed: false,
                product_category: "糕点 bakery".into(),
            },
        },
        Fact {
            seq: u64::MAX,
            credit_code: code(2),
            date: d("1900-01-01"),
            jurisdiction: String::new(),
            industry: "E".into(),
            kind: FactKind::Complaint { verified: true },
        },
        Fact {
            seq: 0,
            credit_code: code(3),
            date: d("2199-12-31"),
            jurisdiction: "zone-1".into(),
            industry: "F5212".into(),
            kind: FactKind::Inspection { violation: false },
        },
    ]
}

#[test]
fn fact_codec_round_trips() {
    for f in sample_facts() {
        let b = f.encode();
        assert_eq!(b[0], 1, "version byte");
        assert_eq!(Fact::decode(&b), Some(f.clone()));
    }
}

#[test]
fn fact_decoder_rejects_garbage() {
    let f = &sample_facts()[0];
    let b = f.encode();
    // Every strict prefix and one trailing byte.
    for n in 0..b.len() {
        assert_eq!(Fact::decode(&b[..n]), None, "prefix {n}");
    }
    let mut long = b.clone();
    long.push(0);
    assert_eq!(Fact::decode(&long), None);
    // Version, tag, flag, credit code, date, UTF-8.
    let mut x = b.clone();
    x[0] = 2;
    assert_eq!(Fact::decode(&x), None);
    let tag_at = 1 + 8 + 18 + 4 + 1 + 6 + 1 + 5;
    assert_eq!(b[tag_at], 1);
    let mut x = b.clone();
    x[tag_at] = 9;
    assert_eq!(Fact::decode(&x), None);
    let mut x = b.clone();
    x[tag_at + 1] = 2;
    assert_eq!(Fact::decode(&x), None);
    let mut x = b.clone();
    x[9] = b'I'; // not in the credit-code alphabet
    assert_eq!(Fact::decode(&x), None);
    let mut x = b.clone();
    x[27..31].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_eq!(Fact::decode(&x), None);
    let mut x = b.clone();
    x[32] = 0xff; // inside the jurisdiction
    assert_eq!(Fact::decode(&x), None);
    // Arbitrary bytes never panic and almost never decode.
    let mut s = 7u64;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                (s >> 56) as u8
            })
            .collect();
        let _ = Fact::decode(&bytes);
    }
}

fn stored(i: u64, date: &str, body: EventBody) -> StoredEvent {
    StoredEvent {
        seq: i,
        event: CreditEvent {
            event_id: format!("e{i}"),
            credit_code: code(1),
            effective_date: d(date),
            source_department: "samr".into(),
            body,
        },
    }
}

fn enterprise() -> crate::domain::Enterprise {
    let text = format!(
        r#"{{"credit_code":"{}","name":"x","kind":"enterprise","registering_authority":"510104","jurisdiction":"510104","industry":"C1431","established":"2010-01-01","registered_capital_yuan":1000000,"status":"active","legal_representative":"p","address":"a"}}"#,
        code(1)
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn fact_of_and_extras() {
    let e = enterprise();
    let events = vec![
        stored(
            1,
            "2026-10-01",
            EventBody::SpotCheck {
                passed: false,
                product_category: "bakery".into(),
            },
        ),
        stored(2, "2026-10-20", EventBody::Complaint { verified: true }),
        stored(3, "2026-06-01", EventBody::Complaint { verified: true }),
        stored(4, "2026-10-25", EventBody::Complaint { verified: false }),
        stored(
            5,
            "2026-10-30",
            EventBody::Honour {
                kind: "quality-award".into(),
            },
        ),
        stored(6, "2026-11-05", EventBody::Complaint { verified: true }),
    ];
    let f = fact_of(&e, &events[0]).unwrap();
    assert_eq!(f.jurisdiction, "510104");
    assert_eq!(f.industry, "C1431");
    assert!(f.kind.adverse());
    assert_eq!(f.kind.product_category(), "bakery");
    assert_eq!(fact_of(&e, &events[4]), None);
    assert!(!fact_of(&e, &events[3]).unwrap().kind.adverse());
    let x = extras(&events, d("2026-11-01"));
    assert_eq!(x.days_since_failed_spot_check, 31);
    assert_eq!(x.failed_spot_checks_90d, 1);
    assert_eq!(
        x.days_since_verified_complaint, 12,
        "the one after as_of is ignored"
    );
    assert_eq!(
        x.verified_complaints_90d, 1,
        "2026-06-01 is outside 90 days"
    );
    assert_eq!(x.days_since_serious_entry, 100_000);
    assert_eq!(extras(&[], d("2026-11-01")), Extras::none());
    assert_eq!(Extras::default(), Extras::none());
    let partial: Extras = serde_json::from_str(r#"{"verified_complaints_90d": 2}"#).unwrap();
    assert_eq!(partial.days_since_serious_entry, 100_000);
    assert_eq!(partial.verified_complaints_90d, 2);
}

// ------------------------------------------------------------------------------------------
// Loading.

const MANIFEST_TEXT: &str = "name = \"t\"\nversion = \"1\"\neffective_from = \"2026-01-01\"\n";

fn load(rules: &str) -> Result<WarningRuleSet, Vec<RuleError>> {
    let mut files = BTreeMap::new();
    files.insert(MANIFEST.to_string(), MANIFEST_TEXT.to_string());
    files.insert("x/rules.toml".to_string(), rules.to_string());
    WarningRuleSet::from_files(files)
}

fn errors(rules: &str) -> Vec<String> {
    match load(rules) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

const ENT: &str = "[[enterprise]]\nid = \"e.a\"\ntitle = \"t\"\nbasis = \"b\"\n";
const GRP: &str = "[[group]]\nid = \"g.a\"\ntitle = \"t\"\nbasis = \"b\"\n";

#[test]
fn default_warning_rules_load_without_errors_or_warnings() {
    let rs = match WarningRuleSet::load(&root().join("rules/warnings")) {
        Ok(r) => r,
        Err(e) => panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert!(rs.warnings().is_empty(), "{:?}", rs.warnings());
    assert_eq!(rs.hash().len(), 64);
    assert_eq!(rs.name(), "default-warnings");
    assert!(rs.has_group_rules());
    assert_eq!(
        rs.window_days(),
        390,
        "30 days x (12 + 1) for the complaints change"
    );
    assert_eq!(
        rs.rule_ids(),
        [
            "enterprise.key-sector-spot-check-failed",
            "enterprise.repeated-complaints",
            "enterprise.serious-list-entry",
            "enterprise.tier-fall",
            "group.complaints-change",
            "group.high-risk-concentration",
            "group.spot-check-failure-rate",
        ]
    );
    assert!(rs.rule_sectors("group.spot-check-failure-rate").is_empty());
    assert!(rs.rule_title("enterprise.tier-fall").is_some());
    assert_eq!(rs.rule_title("nope"), None);
    assert!(rs.canonical_json().starts_with("{\"enterprise\":["));
    assert!(rs
        .canonical_json()
        .contains("\"format\":\"creditrisk-warnings/1\""));
}

#[test]
fn enterprise_rule_errors_are_located() {
    let e = errors(&format!("{ENT}when = \"tier_drp > 0\"\nlevel = \"red\"\n"));
    assert_eq!(
        e,
        ["x/rules.toml:5:9: unknown feature `tier_drp` (did you mean `tier_drop`?) in `tier_drp > 0`"]
    );
    let e = errors(&format!(
        "{ENT}when = \"tier_drop > 0\"\nlevel = \"purple\"\n"
    ));
    assert_eq!(
        e,
        ["x/rules.toml:6:9: `purple` is not a level (blue, yellow, orange, red or IV, III, II, I)"]
    );
    let e = errors(&format!("{ENT}when = \"tier_drop > 5\"\nlevel = \"red\"\n"));
    assert_eq!(
        e,
        ["x/rules.toml:5:9: condition of rule `e.a` can never hold: `tier_drop > 5`"]
    );
    let e = errors(&format!("{ENT}when = \"tier_drop\"\nlevel = \"red\"\n"));
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("x/rules.toml:5:9: "), "{e:?}");
    let e = errors(&format!(
        "{ENT}when = \"tier_drop > 0\"\nlevel = \"red\"\ncolour = 1\n"
    ));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("x/rules.toml:7:1: unknown field `colour`"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{ENT}when = \"tier_drop > 0\"\nlevel = \"red\"\neffective_from = \"2026-02-30\"\n"
    ));
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("x/rules.toml:7:18: "), "{e:?}");
    let e = errors(&format!(
        "{ENT}when = \"tier_drop > 0\"\nlevel = \"red\"\nscope = \"fod\"\n"
    ));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("x/rules.toml:7:9: unknown scope `fod`"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{ENT}when = \"tier_drop > 0\"\nlevel = \"yellow\"\n[[enterprise.raise]]\nlevel = \"blue\"\nwhen = \"tier_drop > 1\"\n"
    ));
    assert_eq!(
        e,
        ["x/rules.toml:8:9: raise of rule `e.a` to `blue` is not above its level `yellow`"]
    );
    let bad_id = "[[enterprise]]\nid = \"E A\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"tier_drop > 0\"\nlevel = \"red\"\n";
    assert_eq!(
        errors(bad_id),
        ["x/rules.toml:2:6: `E A` is not a rule id (1-64 of a-z, 0-9 and ._-)"]
    );
}

#[test]
fn duplicate_ids_name_the_first_definition() {
    let one = format!("{ENT}when = \"tier_drop > 0\"\nlevel = \"red\"\n");
    let dup = format!(
        "{one}\n[[group]]\nid = \"e.a\"\ntitle = \"t\"\nbasis = \"b\"\ngroup_by = [\"district\"]\nmethod = \"concentration\"\nmin_enterprises = 3\nwhen = \"cd > 0\"\nlevel = \"red\"\n"
    );
    assert_eq!(
        errors(&dup),
        ["x/rules.toml:9:6: duplicate rule id `e.a`, first defined at x/rules.toml:2"]
    );
}

#[test]
fn group_rule_errors_are_located() {
    let rate = |extra: &str| {
        format!(
            "{GRP}group_by = [\"district\", \"product_category\"]\nmethod = \"rate\"\nfacts = \"spot-check\"\nmin_sample = 10\nwhen = \"rate_permille >= 200\"\nlevel = \"yellow\"\n{extra}"
        )
    };
    assert_eq!(errors(&rate("")), Vec::<String>::new());
    let e = errors(&rate("").replace("rate_permille >= 200", "rate_permile >= 200"));
    assert_eq!(
        e,
        ["x/rules.toml:9:9: unknown statistic `rate_permile` (did you mean `rate_permille`?) in `rate_permile >= 200`"]
    );
    let e = errors(&rate("").replace("rate_permille >= 200", "rate_permille > 1000"));
    assert_eq!(
        e,
        ["x/rules.toml:9:9: condition of rule `g.a` can never hold: `rate_permille > 1000`"]
    );
    let e = errors(&rate("").replace("\"rate\"", "\"rates\""));
    assert_eq!(
        e,
        ["x/rules.toml:6:10: unknown method `rates` (did you mean `rate`?) (known: rate, poisson-change, concentration)"]
    );
    let e = errors(&rate("").replace("\"district\",", "\"distrct\","));
    assert_eq!(
        e,
        ["x/rules.toml:5:13: unknown dimension `distrct` (did you mean `district`?) (known: district, industry_section, industry_division, product_category)"]
    );
    let e = errors(&rate("").replace("\"spot-check\"", "\"complaint\""));
    assert_eq!(
        e,
        ["x/rules.toml:5:25: dimension `product_category` applies to spot checks only"]
    );
    let e = errors(&rate("where = 'industry_sektion == \"C\"'\n"));
    assert_eq!(
        e,
        ["x/rules.toml:11:10: unknown fact field `industry_sektion` (did you mean `industry_section`?) in `industry_sektion == \"C\"`"]
    );
    let e = errors(&rate("alpha_ppm = 5\n"));
    assert_eq!(
        e,
        ["x/rules.toml:11:13: `alpha_ppm` does not apply to method `rate`"]
    );
    let e = errors(&rate("").replace("min_sample = 10\n", ""));
    assert_eq!(
        e,
        ["x/rules.toml:2:6: rule `g.a` with method `rate` needs `min_sample`"]
    );
    let e = errors(&rate("sectors = [\"fod\"]\n"));
    assert_eq!(
        e,
        ["x/rules.toml:11:12: unknown sector `fod` (did you mean `food`?) (known: food, special-equipment, hazardous-chemicals, drugs, construction, key-consumer-products)"]
    );
    let poisson = format!(
        "{GRP}group_by = [\"district\"]\nmethod = \"poisson-change\"\nfacts = \"complaint\"\nalpha_ppm = 0\nwhen = \"count >= 3\"\nlevel = \"yellow\"\n"
    );
    assert_eq!(
        errors(&poisson),
        ["x/rules.toml:8:13: `alpha_ppm` must be between 1 and 1000000, found 0"]
    );
    let conc = format!(
        "{GRP}group_by = [\"district\", \"industry_division\"]\nmethod = \"concentration\"\nmin_enterprises = 30\nwhen = \"cd_permille >= 250\"\nlevel = \"blue\"\nwhere = 'product_category == \"x\"'\n"
    );
    let e = errors(&conc);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("x/rules.toml:5:25: dimension `industry_division` does not apply to method `concentration`"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("x/rules.toml:10:9: the filter of a `concentration` rule may read only"),
        "{e:?}"
    );
}

#[test]
fn missing_manifest_unexpected_files_and_toml_errors() {
    let mut files = BTreeMap::new();
    files.insert("top.toml".to_string(), String::new());
    let e: Vec<String> = WarningRuleSet::from_files(files)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        e,
        [
            "top.toml:1:1: unexpected file `top.toml`; rule files are `*.toml` files in sub-folders",
            "warnings.toml: missing `warnings.toml`",
        ]
    );
    let e = errors("[[enterprise]\nid = 1\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("x/rules.toml:1:"), "{e:?}");
}

#[test]
fn hash_ignores_layout_but_not_meaning() {
    let a = load(&format!(
        "{ENT}when = \"tier_drop>0&&tier=='D'\"\nlevel = \"red\"\n"
    ))
    .unwrap();
    let b = load(&format!(
        "# comment\n{ENT}level = 'red'\nwhen = '(tier_drop > 0) && (tier == \"D\")'\n"
    ))
    .unwrap();
    assert_eq!(a.hash(), b.hash());
    let c = load(&format!(
        "{ENT}when = \"tier_drop>0&&tier=='D'\"\nlevel = \"orange\"\n"
    ))
    .unwrap();
    assert_ne!(a.hash(), c.hash());
}

// ------------------------------------------------------------------------------------------
// Evaluation.

fn default_rules() -> WarningRuleSet {
    WarningRuleSet::built_in().unwrap()
}

#[test]
fn enterprise_evidence_names_what_was_read() {
    let rs = default_rules();
    let mut f = crate::rules::FeatureVector::neutral();
    f.set("sector_food", crate::rules::FeatureValue::Bool(true))
        .unwrap();
    f.set("key_sector", crate::rules::FeatureValue::Bool(true))
        .unwrap();
    f.set("spot_check_failures_1y", crate::rules::FeatureValue::Int(2))
        .unwrap();
    let mut extras = Extras::none();
    extras.days_since_failed_spot_check = 3;
    let out = rs.evaluate_enterprise(&EnterpriseInput {
        credit_code: code(0),
        as_of: d("2026-11-01"),
        features: &f,
        tier: crate::rules::Tier::B,
        previous_tier: Some(crate::rules::Tier::A),
        extras,
    });
    assert_eq!(out.len(), 1, "{out:?}");
    let x = &out[0];
    assert_eq!(x.rule_id, "enterprise.key-sector-spot-check-failed");
    assert_eq!(x.subject, format!("enterprise/{}", code(0)));
    assert_eq!(x.level, Level::Orange);
    assert_eq!(x.enterprises, [code(0)]);
    assert!(x.sectors.contains(&"food".to_string()));
    let ev: Vec<(&str, &str)> = x
        .evidence
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        ev,
        [
            ("days_since_failed_spot_check", "3"),
            ("key_sector", "true"),
            ("previous_tier", "A"),
            ("spot_check_failures_1y", "2"),
            ("tier", "B"),
            ("tier_drop", "1"),
        ]
    );
}

#[test]
fn group_evaluation_ignores_fact_order_and_out_of_window_facts() {
    let rs = default_rules();
    let as_of = d("2026-11-01");
    let (mut facts, tiers) = synthetic_facts(20_000, as_of, 3);
    let a = rs.evaluate_groups(as_of, &facts, &tiers);
    assert!(!a.is_empty());
    facts.reverse();
    // Facts after as_of are ignored.
    facts.push(Fact {
        seq: 999_999,
        credit_code: code(5),
        date: d("2026-11-02"),
        jurisdiction: "510104".into(),
        industry: "C1431".into(),
        kind: FactKind::Complaint { verified: true },
    });
    let b = rs.evaluate_groups(as_of, &facts, &tiers);
    assert_eq!(a, b);
    let mut keys: Vec<(&str, &str)> = a
        .iter()
        .map(|f| (f.rule_id.as_str(), f.subject.as_str()))
        .collect();
    let sorted = {
        let mut k = keys.clone();
        k.sort();
        k
    };
    assert_eq!(keys, sorted);
    keys.dedup();
    assert_eq!(keys.len(), a.len());
    for f in &a {
        assert!(f.enterprises.len() <= MAX_ENTERPRISES);
        assert!(f.enterprises.windows(2).all(|w| w[0] < w[1]));
        assert!(f.subject.starts_with("group/district="));
    }
}

/// Not timed (machines are noisy): checks that ~2 million facts evaluate and prints how long it
/// took (`--nocapture`); `creditrisk bench` is where speed is measured.
#[test]
fn group_evaluation_over_two_million_facts() {
    let rs = default_rules();
    let as_of = d("2026-11-01");
    let (facts, tiers) = synthetic_facts(2_000_000, as_of, 11);
    let t = std::time::Instant::now();
    let n = evaluate_groups_bench(&rs, &facts, &tiers, as_of);
    println!(
        "evaluate_groups: {} facts, {n} firings, {:?} (debug build)",
        facts.len(),
        t.elapsed()
    );
    assert!(n > 0);
}

// ------------------------------------------------------------------------------------------
// Case files.

#[test]
fn every_default_rule_has_passing_cases() {
    let results = run_warning_cases(
        &root().join("rules/warnings"),
        &root().join("rules/warning-cases"),
    );
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{}#{} {}: {}",
                r.file,
                r.index,
                r.description,
                r.failures.join("; ")
            )
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    // Every rule is named by at least one case that expects it to fire.
    let rs = default_rules();
    let mut text = String::new();
    for e in std::fs::read_dir(root().join("rules/warning-cases")).unwrap() {
        text.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    for id in rs.rule_ids() {
        assert!(
            text.contains(&format!("rule = \"{id}\"")),
            "no case expects `{id}` to fire"
        );
    }
    assert!(results.len() >= 14, "{}", results.len());
}

#[test]
fn a_wrong_expectation_fails_its_case() {
    let rs = default_rules();
    let text = "[[case]]\ndescription = \"x\"\nas_of = \"2026-11-01\"\ntier = \"D\"\nprevious_tier = \"A\"\nfired = [{ rule = \"enterprise.tier-fall\", level = \"orange\" }]\n";
    let r = run_warning_case_text(&rs, "t.toml", text);
    assert_eq!(r.len(), 1);
    assert!(!r[0].passed());
    assert!(
        r[0].failures[0].contains("fired at `red`, expected `orange`"),
        "{:?}",
        r[0].failures
    );
}

#[test]
fn effective_dates_scope_and_filters_apply() {
    let text = r#"
[[enterprise]]
id = "e.food-d"
title = "t"
basis = "b"
scope = "food"
effective_from = "2026-06-01"
effective_until = "2026-12-31"
when = 'tier == "D"'
level = "yellow"

[[group]]
id = "g.division"
title = "t"
basis = "b"
group_by = ["industry_division"]
method = "rate"
facts = "inspection"
where = 'industry_section == "C" && jurisdiction.startsWith("5101")'
window_days = 10
min_sample = 2
when = "k >= 1"
level = "blue"
"#;
    let rs = load(text).unwrap();
    let mut f = crate::rules::FeatureVector::neutral();
    let input = |f: &crate::rules::FeatureVector, as_of: &str| {
        rs.evaluate_enterprise(&EnterpriseInput {
            credit_code: code(0),
            as_of: d(as_of),
            features: f,
            tier: crate::rules::Tier::D,
            previous_tier: None,
            extras: Extras::none(),
        })
        .len()
    };
    assert_eq!(input(&f, "2026-07-01"), 0, "not in the food sector");
    f.set("sector_food", crate::rules::FeatureValue::Bool(true))
        .unwrap();
    assert_eq!(input(&f, "2026-07-01"), 1);
    assert_eq!(input(&f, "2026-05-31"), 0, "before effective_from");
    assert_eq!(input(&f, "2027-01-01"), 0, "after effective_until");
    let fact = |i: u32, j: &str, ind: &str, date: &str, violation: bool| Fact {
        seq: i as u64,
        credit_code: code(i),
        date: d(date),
        jurisdiction: j.into(),
        industry: ind.into(),
        kind: FactKind::Inspection { violation },
    };
    let facts = vec![
        fact(1, "510104", "C1431", "2026-11-01", true),
        fact(2, "510105", "C1432", "2026-10-25", false),
        fact(3, "510104", "C2614", "2026-10-30", true), // alone in C26: below min_sample
        fact(4, "440104", "C1431", "2026-10-30", true), // filtered out: jurisdiction
        fact(5, "510104", "F5212", "2026-10-30", true), // filtered out: section
        fact(6, "510104", "C1431", "2026-10-22", true), // outside the 10-day window
    ];
    let out = rs.evaluate_groups(d("2026-11-01"), &facts, &GroupTiers::new());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].subject, "group/industry_division=C14");
    assert_eq!(
        out[0].group,
        [("industry_division".to_string(), "C14".to_string())]
    );
    assert_eq!(out[0].evidence["n"], "2");
    assert_eq!(out[0].evidence["k"], "1");
    assert_eq!(out[0].enterprises, [code(1)]);
    assert_eq!(out[0].evidence["window_from"], "2026-10-23");
}
