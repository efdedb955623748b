//! The difference between two rule sets, for people reviewing a change before it is activated:
//! the manifest fields that changed (name, version, dates, base score, bands, description),
//! the rules added and removed, and for rules present in both, the fields that differ.
//!
//! Pure: two loaded rule sets in, a [`RuleSetDiff`] out. Rules are matched by id (ids are
//! stable by convention, `docs/rules.md`); the file and line a rule was read from are not part
//! of its meaning (nor of the hash) and are not compared.

use super::{Rule, RuleEffect, RuleSet};

/// One field that differs: its name and both values as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// Field name as in the rule files (`base_score`, `bands.A`, `when`, ...).
    pub field: &'static str,
    /// The value in the first (older) set.
    pub old: String,
    /// The value in the second (newer) set.
    pub new: String,
}

/// A rule present in both sets with different fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleChange {
    /// The rule as in the first set.
    pub old: Rule,
    /// The rule as in the second set.
    pub new: Rule,
    /// The fields that differ, in file order.
    pub fields: Vec<FieldChange>,
}

/// What changed from one rule set to another. Lists are in rule-id order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSetDiff {
    /// Manifest and parameter fields that differ.
    pub manifest: Vec<FieldChange>,
    /// Rules only in the second set.
    pub added: Vec<Rule>,
    /// Rules only in the first set.
    pub removed: Vec<Rule>,
    /// Rules in both sets that differ.
    pub changed: Vec<RuleChange>,
}

impl RuleSetDiff {
    /// True when the two sets mean the same.
    pub fn is_empty(&self) -> bool {
        self.manifest.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
    }
}

/// A rule's effect as it reads in a rule file: `score = EXPR`, `cap = "C"`, `override = "D"`.
pub fn effect_text(e: &RuleEffect) -> String {
    match e {
        RuleEffect::Score(x) => format!("score = {x}"),
        RuleEffect::Cap(t) => format!("cap = \"{t}\""),
        RuleEffect::Override(t) => format!("override = \"{t}\""),
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

fn push(out: &mut Vec<FieldChange>, field: &'static str, old: String, new: String) {
    if old != new {
        out.push(FieldChange { field, old, new });
    }
}

fn rule_fields(a: &Rule, b: &Rule) -> Vec<FieldChange> {
    let mut out = Vec::new();
    push(&mut out, "title", a.title.clone(), b.title.clone());
    push(&mut out, "basis", a.basis.clone(), b.basis.clone());
    push(&mut out, "scope", a.scope.to_string(), b.scope.to_string());
    push(
        &mut out,
        "effective_from",
        opt(&a.effective_from),
        opt(&b.effective_from),
    );
    push(
        &mut out,
        "effective_until",
        opt(&a.effective_until),
        opt(&b.effective_until),
    );
    push(&mut out, "when", a.when.clone(), b.when.clone());
    push(
        &mut out,
        "effect",
        effect_text(&a.effect),
        effect_text(&b.effect),
    );
    push(
        &mut out,
        "baseline",
        a.baseline.to_string(),
        b.baseline.to_string(),
    );
    out
}

/// What changed from `old` to `new`.
pub fn diff(old: &RuleSet, new: &RuleSet) -> RuleSetDiff {
    let (a, b) = (&old.manifest, &new.manifest);
    let mut manifest = Vec::new();
    push(&mut manifest, "name", a.name.clone(), b.name.clone());
    push(
        &mut manifest,
        "version",
        a.version.clone(),
        b.version.clone(),
    );
    push(
        &mut manifest,
        "effective_from",
        a.effective_from.to_string(),
        b.effective_from.to_string(),
    );
    push(
        &mut manifest,
        "base_score",
        a.base_score.to_string(),
        b.base_score.to_string(),
    );
    push(
        &mut manifest,
        "bands.A",
        a.bands.a.to_string(),
        b.bands.a.to_string(),
    );
    push(
        &mut manifest,
        "bands.B",
        a.bands.b.to_string(),
        b.bands.b.to_string(),
    );
    push(
        &mut manifest,
        "bands.C",
        a.bands.c.to_string(),
        b.bands.c.to_string(),
    );
    push(
        &mut manifest,
        "description",
        a.description.trim().to_string(),
        b.description.trim().to_string(),
    );
    // Both lists are sorted by id (RuleSet::rules): one merge walk.
    let mut d = RuleSetDiff {
        manifest,
        ..RuleSetDiff::default()
    };
    let (mut i, mut j) = (0, 0);
    while i < old.rules.len() || j < new.rules.len() {
        match (old.rules.get(i), new.rules.get(j)) {
            (Some(x), Some(y)) if x.id == y.id => {
                let fields = rule_fields(x, y);
                if !fields.is_empty() {
                    d.changed.push(RuleChange {
                        old: x.clone(),
                        new: y.clone(),
                        fields,
                    });
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.id < y.id => {
                d.removed.push(x.clone());
                i += 1;
            }
            (Some(_), Some(y)) => {
                d.added.push(y.clone());
                j += 1;
            }
            (Some(x), None) => {
                d.removed.push(x.clone());
                i += 1;
            }
            (None, Some(y)) => {
                d.added.push(y.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn set(files: &[(&str, &str)]) -> RuleSet {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RuleSet::from_files(files).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const MANIFEST: &str = "name = \"t\"\nversion = \"1\"\neffective_from = \"2026-01-01\"\nbase_score = 100\n[bands]\nA = 90\nB = 75\nC = 60\n";

    #[test]
    fn added_removed_changed_and_manifest_fields() {
        let old = set(&[
            ("ruleset.toml", MANIFEST),
            (
                "general/r.toml",
                "[[rule]]\nid = \"a.keep\"\ntitle = \"keep\"\nbasis = \"b\"\nwhen = \"complaints_verified_1y > 0\"\nscore = \"-5 * min(complaints_verified_1y, 10)\"\n\n[[rule]]\nid = \"b.gone\"\ntitle = \"gone\"\nbasis = \"b\"\nwhen = \"complaints_verified_1y > 1\"\nscore = \"-5 * min(complaints_verified_1y, 10)\"\n",
            ),
        ]);
        let new = set(&[
            ("ruleset.toml", &MANIFEST.replace("B = 75", "B = 70")),
            (
                "general/r.toml",
                "[[rule]]\nid = \"a.keep\"\ntitle = \"keep\"\nbasis = \"b\"\nwhen = \"complaints_verified_1y > 2\"\nscore = \"-5 * min(complaints_verified_1y, 10)\"\n\n[[rule]]\nid = \"c.new\"\ntitle = \"new\"\nbasis = \"b\"\nwhen = \"complaints_verified_1y > 3\"\ncap = \"C\"\n",
            ),
        ]);
        let d = diff(&old, &new);
        assert_eq!(
            d.manifest,
            vec![FieldChange {
                field: "bands.B",
                old: "75".into(),
                new: "70".into()
            }]
        );
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].id, "c.new");
        assert_eq!(effect_text(&d.added[0].effect), "cap = \"C\"");
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].id, "b.gone");
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields.len(), 1);
        assert_eq!(d.changed[0].fields[0].field, "when");
        assert!(diff(&old, &old).is_empty());
    }
}
