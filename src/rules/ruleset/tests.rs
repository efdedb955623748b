use super::*;
use std::path::PathBuf;

fn default_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/default")
}

const MANIFEST_TEXT: &str = r#"
name = "t"
version = "1"
effective_from = "2026-01-01"
base_score = 100
[bands]
A = 90
B = 75
C = 60
"#;

fn set(rules: &str) -> Result<RuleSet, Vec<RuleError>> {
    let mut files = BTreeMap::new();
    files.insert(MANIFEST.to_string(), MANIFEST_TEXT.to_string());
    files.insert("general/x.toml".to_string(), rules.to_string());
    // A rule that makes every tier reachable, so tests see only their own problems.
    files.insert(
        "general/base.toml".to_string(),
        "[[rule]]\nid = \"zz.base\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"penalties_3y > 0\"\nscore = \"-50 * min(penalties_3y, 2)\"\n"
            .to_string(),
    );
    RuleSet::from_files(files)
}

fn errors(rules: &str) -> Vec<String> {
    match set(rules) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn default_rule_set_loads_without_errors_or_warnings() {
    let rs = match RuleSet::load(&default_dir()) {
        Ok(r) => r,
        Err(e) => panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert!(rs.warnings.is_empty(), "{:?}", rs.warnings);
    assert!(rs.rules.len() >= 25);
    assert_eq!(rs.hash().len(), 64);
    let ids: Vec<&str> = rs.rules.iter().map(|r| r.id.as_str()).collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    assert_eq!(ids, sorted_ids);
    assert!(rs.files().contains_key("general/lists.toml"));
}

#[test]
fn unknown_feature_is_located_in_the_file() {
    let text = "# c\n[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"penalites_3y > 0\"\nscore = \"-1\"\n";
    let e = errors(text);
    assert_eq!(
        e,
        ["general/x.toml:6:9: unknown feature `penalites_3y` (did you mean `penalties_3y`?) in `penalites_3y > 0`"]
    );
}

#[test]
fn positions_in_literal_and_multi_line_strings() {
    let text = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = '''\npenalties_3y > 0 &&\n    bogus'''\nscore = \"-1\"\n";
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("general/x.toml:7:5: unknown feature `bogus`"),
        "{e:?}"
    );
    let text = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = 'tax_grade == 3'\nscore = \"-1\"\n";
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("general/x.toml:5:22: expected `string`, found `int` in `tax_grade == 3`")
            && !e[0].ends_with("in `tax_grade == 3` in `tax_grade == 3`"),
        "{e:?}"
    );
}

#[test]
fn score_type_and_syntax_errors() {
    let text = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"on_abnormal_list\"\nscore = \"on_abnormal_list\"\n";
    let e = errors(text);
    assert!(
        e[0].starts_with("general/x.toml:6:10: expected `int` expression"),
        "{e:?}"
    );
    let text = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"penalties_3y >\"\nscore = \"1\"\n";
    let e = errors(text);
    assert!(e[0].starts_with("general/x.toml:5:"), "{e:?}");
}

#[test]
fn structural_errors() {
    let rule = |extra: &str| {
        format!("[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"on_abnormal_list\"\n{extra}\n")
    };
    assert!(errors(&rule("score = \"1\"\ncap = \"C\""))[0].contains("rule `a` has 2 effects"));
    assert!(errors(&rule(""))[0].contains("rule `a` has 0 effects"));
    assert!(errors(&rule("cap = \"E\""))[0].contains("`E` is not a tier"));
    assert!(errors(&rule("tier = \"D\"\nscope = \"toys\""))[0].contains("unknown scope `toys`"));
    assert!(
        errors(&rule("tier = \"D\"\neffective_from = \"2026-02-30\""))[0]
            .contains("`2026-02-30` is not a calendar date")
    );
    assert!(errors(&rule(
        "tier = \"D\"\neffective_from = 2026-05-01\neffective_until = 2026-04-01"
    ))[0]
        .contains("ends (`2026-04-01`) before it starts (`2026-05-01`)"));
    assert!(errors(&rule("tier = \"D\"\nweight = 3"))[0].contains("unknown field `weight`"));
    let dup = format!("{}{}", rule("tier = \"D\""), rule("tier = \"C\""));
    let e = errors(&dup);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].contains(
            "general/x.toml:8:6: duplicate rule id `a`, first defined at general/x.toml:2"
        ),
        "{e:?}"
    );
}

#[test]
fn never_and_always_holding_conditions() {
    let rule = |when: &str, extra: &str| {
        format!("[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"{when}\"\ntier = \"D\"\n{extra}")
    };
    let e = errors(&rule("penalties_3y < 0", ""));
    assert!(
        e[0].contains("condition of rule `a` can never hold: `penalties_3y < 0`"),
        "{e:?}"
    );
    let rs = set(&rule("age_years >= 0", "")).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(rs.warnings.len(), 1);
    assert!(rs.warnings[0]
        .to_string()
        .contains("warning: condition of rule `a` always holds"));
    let rs = set(&rule("age_years >= 0", "baseline = true")).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(rs.warnings.is_empty());
}

#[test]
fn bands_and_reachability() {
    let mut files = BTreeMap::new();
    files.insert(
        MANIFEST.to_string(),
        MANIFEST_TEXT.replace("B = 75", "B = 95"),
    );
    let e = RuleSet::from_files(files).unwrap_err();
    assert!(
        e[0].to_string().contains("bands must decrease strictly"),
        "{e:?}"
    );

    // Only a -20 adjustment: scores 80..100 reach A and B; C only through a cap; D never.
    let mut files = BTreeMap::new();
    files.insert(MANIFEST.to_string(), MANIFEST_TEXT.to_string());
    files.insert(
        "g/x.toml".into(),
        "[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"on_abnormal_list\"\nscore = \"-20\"\n[[rule]]\nid = \"b\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"on_abnormal_list\"\ncap = \"C\"\n".into(),
    );
    let e: Vec<String> = RuleSet::from_files(files.clone())
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(e, ["ruleset.toml: tier `D` can never be reached: no score the rules can produce falls in its band and no cap or override yields it"]);
    files.insert(
        "g/y.toml".into(),
        "[[rule]]\nid = \"c\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"on_serious_list\"\ntier = \"D\"\n".into(),
    );
    assert!(RuleSet::from_files(files).is_ok());
}

#[test]
fn unexpected_files_and_missing_manifest() {
    let mut files = BTreeMap::new();
    files.insert("notes.txt".to_string(), String::new());
    let e: Vec<String> = RuleSet::from_files(files)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(
        e.iter()
            .any(|m| m == "ruleset.toml: missing `ruleset.toml`"),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.contains("unexpected file `notes.txt`")),
        "{e:?}"
    );
}

#[test]
fn hash_ignores_layout_but_not_meaning() {
    let a = "[[rule]]\nid = \"a\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"penalties_1y>1&&on_abnormal_list\"\nscore = \"-1\"\n";
    let b = "# a comment\n[[rule]]\nbasis = 'b'\nid = \"a\"\ntitle = \"t\"\n\nwhen = '''\n(penalties_1y > 1) &&\n  on_abnormal_list   // why\n'''\nscore = \"- 1\"\n";
    let c = a.replace("-1", "-2");
    let h = |t: &str| {
        set(t)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .hash()
            .to_string()
    };
    assert_eq!(h(a), h(b));
    assert_ne!(h(a), h(&c));
    // Moving a rule to another file does not change the hash either.
    let mut files = BTreeMap::new();
    files.insert(MANIFEST.to_string(), MANIFEST_TEXT.to_string());
    files.insert("other/y.toml".to_string(), a.to_string());
    files.insert(
        "general/base.toml".to_string(),
        "[[rule]]\nid = \"zz.base\"\ntitle = \"t\"\nbasis = \"b\"\nwhen = \"penalties_3y > 0\"\nscore = \"-50 * min(penalties_3y, 2)\"\n".to_string(),
    );
    assert_eq!(RuleSet::from_files(files).unwrap().hash(), h(a));
}

#[test]
fn toml_syntax_error_is_located() {
    let e = errors("[[rule]]\nid = \"a\nwhen = 1\n");
    assert!(e[0].starts_with("general/x.toml:2:"), "{e:?}");
}
