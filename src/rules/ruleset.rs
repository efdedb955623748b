//! Rule sets: the files, loading, static checks, the canonical hash and compilation.
//!
//! A rule set is a folder: a manifest `ruleset.toml` at the top and rule files (`*.toml`) in
//! sub-folders, one file per theme (`general/lists.toml`, `sectors/food.toml`, ...). TOML was
//! chosen because staff review rule changes in a diff: one key per line, comments allowed,
//! no indentation rules. The format is documented in `docs/rules.md`.
//!
//! Loading checks everything before a rule set can be used: TOML syntax and unknown keys,
//! every CEL expression against the feature schema (errors carry file, line, column and the
//! offending text), ids, scopes, tiers, dates, one effect per rule, band order, conditions that
//! can never or always hold, and that every tier is reachable. Any error rejects the whole set;
//! warnings are kept on the loaded set for the operator to read.
//!
//! Identity: [`RuleSet::hash`] is the SHA-256 (lower-case hex) of a canonical JSON encoding of
//! the *parsed* content, so whitespace, comments, key order, quoting style and the file a rule
//! lives in do not change it, while any change of meaning does. The canonical form is: an
//! object `{"format": "creditrisk-rules/1", "manifest": {...}, "rules": [...]}`, objects with
//! keys sorted, no insignificant whitespace, rules sorted by id, dates as `YYYY-MM-DD`, absent
//! optional values as `null`, and every CEL expression re-printed from its syntax tree fully
//! parenthesised (so `a>1&&b` and `(a > 1) && b` are the same). Titles and bases are content:
//! changing a cited basis changes the hash.
//!
//! For simplicity, error positions inside a TOML *basic* string that contains escapes point at
//! the start of the string (escapes shift columns); literal strings (`'...'`, `'''...'''`) and
//! escape-free basic strings map exactly, multi-line ones included.

use super::features::{lang_schema, slot_of, FeatureValue, SCHEMA, SECTORS};
use super::lang::{bool_range, check, compile, int_range, parse, Program, Schema, Truth, Type};
use crate::domain::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// Name of the manifest file at the top of a rule-set folder.
pub const MANIFEST: &str = "ruleset.toml";

/// A credit-risk tier; `A` is the lowest risk. Ordered from best (`A`) to worst (`D`), so the
/// worse of two tiers is the `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    /// 信用风险低: low risk.
    A,
    /// 信用风险一般: ordinary risk.
    B,
    /// 信用风险较高: higher risk.
    C,
    /// 信用风险高: high risk.
    D,
}

impl Tier {
    /// All tiers, best first.
    pub const ALL: [Tier; 4] = [Tier::A, Tier::B, Tier::C, Tier::D];

    /// Parses `A`..`D`.
    pub fn parse(s: &str) -> Result<Tier, String> {
        match s {
            "A" => Ok(Tier::A),
            "B" => Ok(Tier::B),
            "C" => Ok(Tier::C),
            "D" => Ok(Tier::D),
            _ => Err(format!(
                "`{}` is not a tier (A, B, C or D)",
                s.escape_default()
            )),
        }
    }

    /// The letter.
    pub fn as_str(self) -> &'static str {
        ["A", "B", "C", "D"][self as usize]
    }

    /// The next better tier, or `None` for `A`.
    pub fn better(self) -> Option<Tier> {
        match self {
            Tier::A => None,
            Tier::B => Some(Tier::A),
            Tier::C => Some(Tier::B),
            Tier::D => Some(Tier::C),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Minimum scores of tiers A, B and C; a lower score is D. Strictly decreasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// Lowest score of tier A.
    #[serde(rename = "A")]
    pub a: i64,
    /// Lowest score of tier B.
    #[serde(rename = "B")]
    pub b: i64,
    /// Lowest score of tier C.
    #[serde(rename = "C")]
    pub c: i64,
}

impl Bands {
    /// The tier of a score.
    #[inline]
    pub fn tier(&self, score: i64) -> Tier {
        if score >= self.a {
            Tier::A
        } else if score >= self.b {
            Tier::B
        } else if score >= self.c {
            Tier::C
        } else {
            Tier::D
        }
    }

    /// The lowest score of `t`, or `None` for `D` (no lower bound).
    pub fn min_score(&self, t: Tier) -> Option<i64> {
        match t {
            Tier::A => Some(self.a),
            Tier::B => Some(self.b),
            Tier::C => Some(self.c),
            Tier::D => None,
        }
    }
}

/// The manifest: what the rule set is and how scores become tiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Rule-set name, e.g. `default`.
    pub name: String,
    /// Human version label, e.g. `2026.04`; identity is the hash, not this label.
    pub version: String,
    /// First day the rule set may be used for a classification as of that day.
    pub effective_from: Date,
    /// Score every enterprise starts from.
    pub base_score: i64,
    /// Tier bands.
    pub bands: Bands,
    /// What changed and why, for the operator.
    pub description: String,
}

/// Which enterprises a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every enterprise.
    All,
    /// Enterprises in a key sector (one of [`SECTORS`], by its scope name).
    Sector(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Sector(s) => f.write_str(s),
        }
    }
}

/// What a rule does when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleEffect {
    /// Adds the value of this CEL `int` expression (canonical text) to the score.
    Score(String),
    /// The tier can be no better than this.
    Cap(Tier),
    /// The tier is at least this bad, whatever the score and caps (the worst override wins).
    Override(Tier),
}

/// One rule, as parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `lists.serious`; rules are evaluated in id order.
    pub id: String,
    /// Short title.
    pub title: String,
    /// Legal or policy basis, with "(practice)" where it is local practice.
    pub basis: String,
    /// Path of the file it was read from, relative to the rule-set folder (not part of the hash).
    pub file: String,
    /// 1-based line of its `id` in that file.
    pub line: u32,
    /// First day the rule is in force (inclusive), if limited.
    pub effective_from: Option<Date>,
    /// Last day the rule is in force (inclusive), if limited.
    pub effective_until: Option<Date>,
    /// Which enterprises it applies to.
    pub scope: Scope,
    /// Condition, canonical CEL text.
    pub when: String,
    /// Effect.
    pub effect: RuleEffect,
    /// The rule is meant to hold for everyone in scope (no "always holds" warning).
    pub baseline: bool,
}

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Rejects the rule set.
    Error,
    /// Reported; the rule set stays usable.
    Warning,
}

/// A problem found while loading a rule set, located in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// Error or warning.
    pub severity: Severity,
    /// File, relative to the rule-set folder (empty for the set as a whole).
    pub file: String,
    /// 1-based line, 0 when not tied to a line.
    pub line: u32,
    /// 1-based column in characters, 0 when not tied to a column.
    pub col: u32,
    /// What is wrong, lower case, user text in backticks.
    pub message: String,
    /// The offending text, when there is one.
    pub snippet: String,
}

impl fmt::Display for RuleError {
    /// `file:line:col: message` (`warning: ` before the message for warnings).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            f.write_str(&self.file)?;
            if self.line > 0 {
                write!(f, ":{}:{}", self.line, self.col)?;
            }
            f.write_str(": ")?;
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A loaded, fully checked rule set: the parsed content, its raw files, its identity and the
/// compiled form. Only a set without errors can exist as a value of this type.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// The manifest.
    pub manifest: Manifest,
    /// Rules sorted by id.
    pub rules: Vec<Rule>,
    /// Warnings found while loading.
    pub warnings: Vec<RuleError>,
    files: BTreeMap<String, String>,
    hash: String,
    compiled: CompiledRuleSet,
}

/// A compiled rule set, ready for [`super::classify`]: programs, slots and effects, rules in id
/// order. Immutable and cheap to share between threads (wrap it in an `Arc`).
#[derive(Clone, Debug)]
pub struct CompiledRuleSet {
    /// The rule set's hash.
    pub hash: String,
    /// Manifest name.
    pub name: String,
    /// Manifest version label.
    pub version: String,
    /// Manifest effective-from date.
    pub effective_from: Date,
    /// Base score.
    pub base_score: i64,
    /// Bands.
    pub bands: Bands,
    pub(crate) rules: Vec<CompiledRule>,
    /// The data the hot loop needs, one entry per rule in the same order as `rules`, kept apart
    /// from ids, titles and bases so that evaluation touches few cache lines.
    pub(crate) hot: Vec<HotRule>,
}

/// The evaluation-only part of a compiled rule.
#[derive(Clone, Debug)]
pub(crate) struct HotRule {
    pub(crate) from: Date,
    pub(crate) until: Date,
    /// Bool slot of the sector flag, or `usize::MAX` for all enterprises.
    pub(crate) scope: usize,
    pub(crate) when: Program,
    /// `Some((slot, lo, hi))` when `when` is `lo <= feature <= hi` on an int/bool slot.
    pub(crate) range: Option<(usize, i64, i64)>,
    pub(crate) effect: HotEffect,
}

/// An effect, with constant scores folded.
#[derive(Clone, Debug)]
pub(crate) enum HotEffect {
    ScoreK(i64),
    Score(Program),
    /// Cap or override: both only worsen the tier, so the fast path treats them alike.
    Worsen(Tier),
}

impl HotRule {
    fn of(r: &CompiledRule) -> HotRule {
        HotRule {
            from: r.from,
            until: r.until,
            scope: r.scope.unwrap_or(usize::MAX),
            when: r.when.clone(),
            range: r.when.as_range_test(),
            effect: match &r.effect {
                CEffect::Score(p) => match p.constant() {
                    Some(super::lang::Value::Int(k)) => HotEffect::ScoreK(k),
                    _ => HotEffect::Score(p.clone()),
                },
                CEffect::Cap(t) | CEffect::Override(t) => HotEffect::Worsen(*t),
            },
        }
    }
}

/// The compiled form of an effect.
#[derive(Clone, Debug)]
pub(crate) enum CEffect {
    Score(Program),
    Cap(Tier),
    Override(Tier),
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) basis: String,
    /// Bool slot of the sector flag, or `None` for all enterprises.
    pub(crate) scope: Option<usize>,
    pub(crate) from: Date,
    pub(crate) until: Date,
    pub(crate) when: Program,
    pub(crate) effect: CEffect,
    /// Sorted union of the slots the condition and the effect read.
    pub(crate) reads: Vec<usize>,
    /// Range of the score expression (0..0 for caps and overrides).
    pub(crate) score_range: (i64, i64),
}

impl CompiledRuleSet {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Id, title and basis of the rule at `index` (rules are in id order).
    pub fn rule_info(&self, index: usize) -> Option<(&str, &str, &str)> {
        self.rules
            .get(index)
            .map(|r| (r.id.as_str(), r.title.as_str(), r.basis.as_str()))
    }

    /// Position of the rule with this id.
    pub fn rule_index(&self, id: &str) -> Option<usize> {
        self.rules.binary_search_by(|r| r.id.as_str().cmp(id)).ok()
    }

    /// Ids of the rules, in evaluation order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// File formats.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    effective_from: Spanned<toml::Value>,
    base_score: i64,
    bands: Spanned<Bands>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    title: String,
    basis: String,
    #[serde(default)]
    effective_from: Option<Spanned<toml::Value>>,
    #[serde(default)]
    effective_until: Option<Spanned<toml::Value>>,
    #[serde(default)]
    scope: Option<Spanned<String>>,
    when: Spanned<String>,
    #[serde(default)]
    score: Option<Spanned<String>>,
    #[serde(default)]
    cap: Option<Spanned<String>>,
    #[serde(default)]
    tier: Option<Spanned<String>>,
    #[serde(default)]
    baseline: bool,
}

/// Maps byte offsets of one file to line/column, and collects problems. Shared with the
/// warning rule loader (`crate::warn`), so both report `file:line:col: message` alike.
pub(crate) struct FileCx<'a> {
    pub(crate) path: &'a str,
    pub(crate) text: &'a str,
}

impl FileCx<'_> {
    /// 1-based line and character column of byte `at`.
    pub(crate) fn pos(&self, at: usize) -> (u32, u32) {
        let at = at.min(self.text.len());
        let before = self.text.get(..at).unwrap_or("");
        let line = before.matches('\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).unwrap_or("").chars().count() as u32 + 1;
        (line, col)
    }

    pub(crate) fn err(&self, at: usize, message: String, snippet: &str) -> RuleError {
        let (line, col) = self.pos(at);
        RuleError {
            severity: Severity::Error,
            file: self.path.to_string(),
            line,
            col,
            message,
            snippet: snippet.to_string(),
        }
    }

    pub(crate) fn warn(&self, at: usize, message: String, snippet: &str) -> RuleError {
        RuleError {
            severity: Severity::Warning,
            ..self.err(at, message, snippet)
        }
    }

    /// Byte offset in the file of the first character of a string value whose TOML span is
    /// `span`, when the raw text maps 1:1 onto the value; else the span start.
    pub(crate) fn value_start(&self, span: &std::ops::Range<usize>, value: &str) -> (usize, bool) {
        let raw = self.text.get(span.clone()).unwrap_or("");
        for delim in ["'''", "\"\"\"", "'", "\""] {
            if let Some(inner) = raw.strip_prefix(delim).and_then(|r| r.strip_suffix(delim)) {
                let mut skip = delim.len();
                let mut inner = inner;
                if delim.len() == 3 {
                    if let Some(r) = inner.strip_prefix("\r\n") {
                        inner = r;
                        skip += 2;
                    } else if let Some(r) = inner.strip_prefix('\n') {
                        inner = r;
                        skip += 1;
                    }
                }
                return (span.start + skip, inner == value);
            }
        }
        (span.start, false)
    }
}

pub(crate) fn toml_error(path: &str, text: &str, e: &toml::de::Error) -> RuleError {
    let cx = FileCx { path, text };
    let at = e.span().map_or(0, |s| s.start);
    let snippet = e.span().and_then(|s| text.get(s)).unwrap_or("").to_string();
    let mut message = e.message().trim_end_matches('.').to_string();
    if let Some(first) = message.get(..1) {
        message = first.to_lowercase() + message.get(1..).unwrap_or("");
    }
    cx.err(at, message, &snippet)
}

pub(crate) fn date_value(
    cx: &FileCx<'_>,
    v: &Spanned<toml::Value>,
    errs: &mut Vec<RuleError>,
) -> Option<Date> {
    let text = match v.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
        other => {
            errs.push(cx.err(
                v.span().start,
                format!("`{other}` is not a date (write `YYYY-MM-DD`)"),
                &other.to_string(),
            ));
            return None;
        }
    };
    match Date::parse(&text) {
        Ok(d) => Some(d),
        Err(m) => {
            errs.push(cx.err(v.span().start, m, &text));
            None
        }
    }
}

/// Parses and type-checks one CEL expression of a rule file; errors are located in the file.
/// Returns the canonical (fully parenthesised) text and the checked form.
pub(crate) fn expr(
    cx: &FileCx<'_>,
    v: &Spanned<String>,
    schema: &Schema,
    want: Type,
    errs: &mut Vec<RuleError>,
) -> Option<(String, super::lang::Checked)> {
    let src = v.get_ref();
    let (start, exact) = cx.value_start(&v.span(), src);
    let located = |e: super::lang::Error| {
        let at = if exact { start + e.span.start } else { start };
        let whole = format!("`{}`", src.trim());
        let message = if e.message.contains(&whole) {
            e.message
        } else {
            format!("{} in {whole}", e.message)
        };
        cx.err(at, message, &e.snippet)
    };
    let ast = match parse(src) {
        Ok(a) => a,
        Err(e) => {
            errs.push(located(e));
            return None;
        }
    };
    match check(&ast, schema, want) {
        Ok(c) => Some((ast.root.to_string(), c)),
        Err(e) => {
            errs.push(located(e));
            None
        }
    }
}

/// Whether `id` is a valid rule id (1-64 of `a-z 0-9 . _ -`).
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// The scope of a rule and the bool slot of its sector flag (`None` for all enterprises); an
/// unknown scope is an error (and reads as all).
pub(crate) fn scope_value(
    cx: &FileCx<'_>,
    scope: Option<&Spanned<String>>,
    errs: &mut Vec<RuleError>,
) -> (Scope, Option<usize>) {
    match scope {
        None => (Scope::All, None),
        Some(s) if s.get_ref() == "all" => (Scope::All, None),
        Some(s) => match SECTORS.iter().find(|d| d.scope == s.get_ref()) {
            Some(d) => (Scope::Sector(d.scope.to_string()), Some(d.feature as usize)),
            None => {
                let known: Vec<&str> = SECTORS.iter().map(|d| d.scope).collect();
                errs.push(cx.err(
                    s.span().start,
                    format!(
                        "unknown scope `{}` (known: all, {})",
                        s.get_ref().escape_default(),
                        known.join(", ")
                    ),
                    s.get_ref(),
                ));
                (Scope::All, None)
            }
        },
    }
}

/// Whether `path` may be a rule file of a rule-set folder: a relative `*.toml` path inside a
/// sub-folder, without empty, `.` or `..` components.
pub(crate) fn rule_file_path_ok(path: &str) -> bool {
    path.ends_with(".toml")
        && path.contains('/')
        && !path.starts_with('/')
        && !path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
}

/// The error for a duplicate rule id, naming where it was first defined; records the first
/// definition otherwise. Returns true for a duplicate.
pub(crate) fn duplicate_id(
    cx: &FileCx<'_>,
    id: &Spanned<String>,
    seen: &mut BTreeMap<String, (String, u32)>,
    errs: &mut Vec<RuleError>,
) -> bool {
    let at = id.span().start;
    let id = id.get_ref();
    if let Some((f, l)) = seen.get(id) {
        errs.push(cx.err(
            at,
            format!("duplicate rule id `{id}`, first defined at {f}:{l}"),
            id,
        ));
        return true;
    }
    seen.insert(id.clone(), (cx.path.to_string(), cx.pos(at).0));
    false
}

/// The error for a file missing from a rule set (`missing `name``), not tied to a line.
pub(crate) fn missing_file(name: &str) -> RuleError {
    RuleError {
        severity: Severity::Error,
        file: name.into(),
        line: 0,
        col: 0,
        message: format!("missing `{name}`"),
        snippet: String::new(),
    }
}

struct Loaded {
    rule: Rule,
    compiled: CompiledRule,
}

fn load_rule(
    cx: &FileCx<'_>,
    raw: RawRule,
    schema: &Schema,
    errs: &mut Vec<RuleError>,
) -> Option<Loaded> {
    let n_errs = errs.len();
    let id = raw.id.get_ref().clone();
    let id_at = raw.id.span().start;
    if !valid_id(&id) {
        errs.push(cx.err(
            id_at,
            format!(
                "`{}` is not a rule id (1-64 of a-z, 0-9 and ._-)",
                id.escape_default()
            ),
            &id,
        ));
    }
    for (what, text) in [("title", &raw.title), ("basis", &raw.basis)] {
        if text.trim().is_empty() {
            errs.push(cx.err(id_at, format!("rule `{id}` has an empty `{what}`"), &id));
        }
    }
    let from = raw
        .effective_from
        .as_ref()
        .and_then(|v| date_value(cx, v, errs));
    let until = raw
        .effective_until
        .as_ref()
        .and_then(|v| date_value(cx, v, errs));
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            errs.push(cx.err(
                id_at,
                format!("rule `{id}` ends (`{u}`) before it starts (`{f}`)"),
                &id,
            ));
        }
    }
    let (scope, scope_slot) = scope_value(cx, raw.scope.as_ref(), errs);
    let when = expr(cx, &raw.when, schema, Type::Bool, errs);
    let effects = [raw.score.is_some(), raw.cap.is_some(), raw.tier.is_some()];
    let count = effects.iter().filter(|e| **e).count();
    if count != 1 {
        errs.push(cx.err(
            id_at,
            format!(
                "rule `{id}` has {count} effects; give exactly one of `score`, `cap` or `tier`"
            ),
            &id,
        ));
    }
    let tier_of = |v: &Spanned<String>, errs: &mut Vec<RuleError>| match Tier::parse(v.get_ref()) {
        Ok(t) => Some(t),
        Err(m) => {
            errs.push(cx.err(v.span().start, m, v.get_ref()));
            None
        }
    };
    let mut effect = None;
    let mut score_range = (0, 0);
    if let Some(s) = &raw.score {
        if let Some((text, checked)) = expr(cx, s, schema, Type::Int, errs) {
            score_range = int_range(&checked, schema);
            if score_range == (0, 0) {
                errs.push(cx.warn(
                    s.span().start,
                    format!("score of rule `{id}` is always 0: `{}`", s.get_ref().trim()),
                    s.get_ref(),
                ));
            }
            effect = Some((RuleEffect::Score(text), CEffect::Score(compile(&checked))));
        }
    } else if let Some(c) = &raw.cap {
        if let Some(t) = tier_of(c, errs) {
            if t == Tier::A {
                errs.push(cx.warn(
                    c.span().start,
                    format!("rule `{id}` caps at `A`, which never changes a tier"),
                    c.get_ref(),
                ));
            }
            effect = Some((RuleEffect::Cap(t), CEffect::Cap(t)));
        }
    } else if let Some(t) = &raw.tier {
        if let Some(t) = tier_of(t, errs) {
            effect = Some((RuleEffect::Override(t), CEffect::Override(t)));
        }
    }
    if let Some((_, checked)) = &when {
        let (at, _) = cx.value_start(&raw.when.span(), raw.when.get_ref());
        let src = raw.when.get_ref().trim();
        match bool_range(checked, schema) {
            Truth::AlwaysFalse => errs.push(cx.err(
                at,
                format!("condition of rule `{id}` can never hold: `{src}`"),
                src,
            )),
            Truth::AlwaysTrue if !raw.baseline => errs.push(cx.warn(
                at,
                format!(
                    "condition of rule `{id}` always holds: `{src}`; set `baseline = true` if that is meant"
                ),
                src,
            )),
            _ => {}
        }
    }
    if errs.len() > n_errs && errs[n_errs..].iter().any(|e| e.severity == Severity::Error) {
        return None;
    }
    let (when_text, when_checked) = when?;
    let (rule_effect, c_effect) = effect?;
    let when_prog = compile(&when_checked);
    let mut reads = when_prog.features_read().to_vec();
    if let CEffect::Score(p) = &c_effect {
        reads.extend_from_slice(p.features_read());
    }
    reads.sort_unstable();
    reads.dedup();
    let (line, _) = cx.pos(id_at);
    Some(Loaded {
        rule: Rule {
            id: id.clone(),
            title: raw.title.clone(),
            basis: raw.basis.clone(),
            file: cx.path.to_string(),
            line,
            effective_from: from,
            effective_until: until,
            scope,
            when: when_text,
            effect: rule_effect,
            baseline: raw.baseline,
        },
        compiled: CompiledRule {
            id,
            title: raw.title,
            basis: raw.basis,
            scope: scope_slot,
            from: from.unwrap_or(Date::from_days(i32::MIN)),
            until: until.unwrap_or(Date::from_days(i32::MAX)),
            when: when_prog,
            effect: c_effect,
            reads,
            score_range,
        },
    })
}

fn load_manifest(cx: &FileCx<'_>, errs: &mut Vec<RuleError>) -> Option<Manifest> {
    let raw: RawManifest = match toml::from_str(cx.text) {
        Ok(m) => m,
        Err(e) => {
            errs.push(toml_error(cx.path, cx.text, &e));
            return None;
        }
    };
    let effective_from = date_value(cx, &raw.effective_from, errs);
    let b = raw.bands.get_ref();
    if !(b.a > b.b && b.b > b.c) {
        errs.push(cx.err(
            raw.bands.span().start,
            format!(
                "bands must decrease strictly from A to C, found A = {}, B = {}, C = {}",
                b.a, b.b, b.c
            ),
            "",
        ));
    }
    if raw.name.trim().is_empty() || raw.version.trim().is_empty() {
        errs.push(cx.err(0, "`name` and `version` are required".into(), ""));
    }
    Some(Manifest {
        name: raw.name,
        version: raw.version,
        effective_from: effective_from?,
        base_score: raw.base_score,
        bands: *b,
        description: raw.description,
    })
}

/// Which tiers some input can produce, given the score range and the caps and overrides.
/// Over-approximates: every rule is assumed able to fire or not independently.
fn reachable_tiers(m: &Manifest, rules: &[CompiledRule]) -> [bool; 4] {
    let mut lo = m.base_score as i128;
    let mut hi = m.base_score as i128;
    for r in rules {
        lo += r.score_range.0.min(0) as i128;
        hi += r.score_range.1.max(0) as i128;
    }
    let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let (lo, hi) = (clamp(lo), clamp(hi));
    let mut band = [false; 4];
    for t in Tier::ALL {
        let t_lo = m.bands.min_score(t).unwrap_or(i64::MIN);
        let t_hi = match t.better() {
            Some(b) => m.bands.min_score(b).unwrap_or(i64::MAX).saturating_sub(1),
            None => i64::MAX,
        };
        band[t as usize] = t_lo <= hi && lo <= t_hi;
    }
    let mut out = band;
    for r in rules {
        match r.effect {
            CEffect::Cap(c) => {
                for t in Tier::ALL {
                    if band[t as usize] {
                        out[t.max(c) as usize] = true;
                    }
                }
            }
            CEffect::Override(o) => out[o as usize] = true,
            CEffect::Score(_) => {}
        }
    }
    // An override makes every tier at least as bad as it reachable through caps too.
    out
}

fn canonical_json(m: &Manifest, rules: &[Rule]) -> String {
    use serde_json::{json, Value};
    let date = |d: Option<Date>| d.map_or(Value::Null, |d| Value::String(d.to_string()));
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let effect = match &r.effect {
                RuleEffect::Score(s) => json!({ "score": s }),
                RuleEffect::Cap(t) => json!({ "cap": t.as_str() }),
                RuleEffect::Override(t) => json!({ "tier": t.as_str() }),
            };
            json!({
                "id": r.id,
                "title": r.title,
                "basis": r.basis,
                "effective_from": date(r.effective_from),
                "effective_until": date(r.effective_until),
                "scope": r.scope.to_string(),
                "when": r.when,
                "effect": effect,
                "baseline": r.baseline,
            })
        })
        .collect();
    let v = json!({
        "format": "creditrisk-rules/1",
        "manifest": {
            "name": m.name,
            "version": m.version,
            "effective_from": m.effective_from.to_string(),
            "base_score": m.base_score,
            "bands": { "A": m.bands.a, "B": m.bands.b, "C": m.bands.c },
            "description": m.description,
        },
        "rules": rules,
    });
    // serde_json's map is a BTreeMap (no `preserve_order` feature): keys come out sorted.
    v.to_string()
}

/// Every file under `dir` as relative path (with `/`) to content, for `from_files` of a rule
/// set or a warning rule set; unreadable files and folders are errors.
pub(crate) fn read_folder(dir: &Path) -> Result<BTreeMap<String, String>, Vec<RuleError>> {
    let mut files = BTreeMap::new();
    let mut errs = Vec::new();
    read_dir(dir, dir, &mut files, &mut errs);
    if errs.is_empty() {
        Ok(files)
    } else {
        Err(errs)
    }
}

impl RuleSet {
    /// Loads and checks the rule set in folder `dir`: `ruleset.toml` and every `*.toml` in its
    /// sub-folders. Returns every error found (warnings too, when there are errors), sorted by
    /// file, line and column.
    pub fn load(dir: &Path) -> Result<RuleSet, Vec<RuleError>> {
        RuleSet::from_files(read_folder(dir)?)
    }

    /// Loads and checks a rule set given as files: relative path (with `/`) to content. The
    /// manifest is `ruleset.toml`; rule files are the other `*.toml` paths inside a sub-folder.
    /// Anything else is an error, so what is stored is exactly what was checked.
    pub fn from_files(files: BTreeMap<String, String>) -> Result<RuleSet, Vec<RuleError>> {
        let schema = lang_schema();
        let mut errs = Vec::new();
        let manifest = match files.get(MANIFEST) {
            Some(text) => load_manifest(
                &FileCx {
                    path: MANIFEST,
                    text,
                },
                &mut errs,
            ),
            None => {
                errs.push(missing_file(MANIFEST));
                None
            }
        };
        let mut loaded: Vec<Loaded> = Vec::new();
        let mut seen: BTreeMap<String, (String, u32)> = BTreeMap::new();
        for (path, text) in &files {
            if path == MANIFEST {
                continue;
            }
            let cx = FileCx { path, text };
            if !rule_file_path_ok(path) {
                errs.push(cx.err(
                    0,
                    format!(
                        "unexpected file `{path}`; rule files are `*.toml` files in sub-folders"
                    ),
                    "",
                ));
                continue;
            }
            let raw: RawFile = match toml::from_str(text) {
                Ok(r) => r,
                Err(e) => {
                    errs.push(toml_error(path, text, &e));
                    continue;
                }
            };
            for r in raw.rule {
                if duplicate_id(&cx, &r.id, &mut seen, &mut errs) {
                    continue;
                }
                if let Some(l) = load_rule(&cx, r, &schema, &mut errs) {
                    loaded.push(l);
                }
            }
        }
        loaded.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
        let Some(manifest) = manifest else {
            return Err(sorted(errs));
        };
        let compiled_rules: Vec<CompiledRule> = loaded.iter().map(|l| l.compiled.clone()).collect();
        if !errs.iter().any(|e| e.severity == Severity::Error) {
            let reach = reachable_tiers(&manifest, &compiled_rules);
            for t in Tier::ALL {
                if !reach[t as usize] {
                    errs.push(RuleError {
                        severity: Severity::Error,
                        file: MANIFEST.into(),
                        line: 0,
                        col: 0,
                        message: format!(
                            "tier `{t}` can never be reached: no score the rules can produce falls in its band and no cap or override yields it"
                        ),
                        snippet: String::new(),
                    });
                }
            }
        }
        if errs.iter().any(|e| e.severity == Severity::Error) {
            return Err(sorted(errs));
        }
        let rules: Vec<Rule> = loaded.into_iter().map(|l| l.rule).collect();
        let hash = hex::encode(Sha256::digest(canonical_json(&manifest, &rules).as_bytes()));
        let compiled = CompiledRuleSet {
            hash: hash.clone(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            effective_from: manifest.effective_from,
            base_score: manifest.base_score,
            bands: manifest.bands,
            hot: compiled_rules.iter().map(HotRule::of).collect(),
            rules: compiled_rules,
        };
        Ok(RuleSet {
            manifest,
            rules,
            warnings: sorted(errs),
            files,
            hash,
            compiled,
        })
    }

    /// The identity: SHA-256 (hex) of the canonical content (see the module doc).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The raw files exactly as loaded (relative path to text), for storing and serving by hash.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// The canonical JSON the hash is computed over.
    pub fn canonical_json(&self) -> String {
        canonical_json(&self.manifest, &self.rules)
    }

    /// The compiled form, ready for classification.
    pub fn compiled(&self) -> &CompiledRuleSet {
        &self.compiled
    }

    /// An owned compiled form (for an `Arc` shared by workers).
    pub fn compile(&self) -> CompiledRuleSet {
        self.compiled.clone()
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules
            .binary_search_by(|r| r.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.rules[i])
    }
}

/// Errors sorted by file, line, column, severity and message.
pub(crate) fn sorted(mut errs: Vec<RuleError>) -> Vec<RuleError> {
    errs.sort_by(|a, b| {
        (&a.file, a.line, a.col, a.severity, &a.message)
            .cmp(&(&b.file, b.line, b.col, b.severity, &b.message))
    });
    errs
}

/// Reads every file under `dir` (skipping names starting with `.`) as relative path -> text.
pub(crate) fn read_dir(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, String>,
    errs: &mut Vec<RuleError>,
) {
    let io_err = |p: &Path, e: std::io::Error| RuleError {
        severity: Severity::Error,
        file: p.display().to_string(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
        snippet: String::new(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errs.push(io_err(dir, e));
            return;
        }
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            read_dir(root, &p, files, errs);
            continue;
        }
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        match std::fs::read_to_string(&p) {
            Ok(t) => {
                files.insert(rel, t);
            }
            Err(e) => errs.push(io_err(&p, e)),
        }
    }
}

/// The value of feature `name` parsed from a TOML value, for case files.
pub(crate) fn feature_from_toml(name: &str, v: &toml::Value) -> Result<FeatureValue, String> {
    let slot = slot_of(name).ok_or_else(|| format!("unknown feature `{name}`"))?;
    let ty = SCHEMA[slot].ty;
    Ok(match (ty, v) {
        (Type::Int, toml::Value::Integer(i)) => FeatureValue::Int(*i),
        (Type::Bool, toml::Value::Boolean(b)) => FeatureValue::Bool(*b),
        (Type::Str, toml::Value::String(s)) => FeatureValue::Str(s.clone()),
        (Type::StrList, toml::Value::Array(a)) => FeatureValue::List(
            a.iter()
                .map(|x| match x {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(format!("feature `{name}` takes strings, found `{other}`")),
                })
                .collect::<Result<_, _>>()?,
        ),
        (ty, v) => return Err(format!("feature `{name}` has type `{ty}`, found `{v}`")),
    })
}

#[cfg(test)]
mod tests;
