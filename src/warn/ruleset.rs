//! The warning rule set: files, loading, static checks, schemas and the canonical hash.
//!
//! Same loader parts as the classification rule set ([`crate::rules::RuleSet`]): TOML with
//! spans, unknown keys rejected, every CEL expression checked against a schema with errors as
//! `file:line:col: message`, ids, duplicate ids naming the first definition, dates, scopes, and
//! conditions that can never hold. What differs is the rule tables (`[[enterprise]]`,
//! `[[group]]`), the schemas and the canonical form (`creditrisk-warnings/1`).

use super::fact::{EXTRAS, NEVER};
use super::Level;
use crate::domain::Date;
use crate::rules::lang::{bool_range, compile, suggest, Checked, Program, Schema, Truth, Type};
use crate::rules::{
    date_value, duplicate_id, expr, lang_schema, missing_file, read_folder, rule_file_path_ok,
    scope_value, sorted, toml_error, valid_id, FileCx, RuleError, Scope, Severity, SCHEMA, SECTORS,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// Name of the manifest file at the top of a warning rule-set folder.
pub const MANIFEST: &str = "warnings.toml";

/// Key sectors a rule may name in `sectors`: the classification's key-sector scopes plus the
/// plan's "key consumer products", which has no feature of its own.
pub(crate) fn known_sectors() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = SECTORS.iter().map(|s| s.scope).collect();
    v.push("key-consumer-products");
    v
}

/// The names of the tier-transition inputs of enterprise rules, after the feature slots.
const TRANSITION: [&str; 3] = ["tier", "previous_tier", "tier_drop"];

/// The schema of enterprise rules: the feature schema (same slots as
/// [`crate::rules::SCHEMA`]), then `tier` and `previous_tier` (strings `"A"`..`"D"`,
/// `previous_tier` `""` when none), `tier_drop` (int, new minus previous tier, positive = worse,
/// 0 when none), then the [`super::Extras`] in [`EXTRAS`] order.
pub fn enterprise_schema() -> Schema {
    let mut s = lang_schema();
    s.add("tier", Type::Str, None);
    s.add("previous_tier", Type::Str, None);
    s.add("tier_drop", Type::Int, Some((-3, 3)));
    for (name, range, _) in EXTRAS {
        s.add(name, Type::Int, Some(*range));
    }
    s
}

/// The names of the fact-filter schema, by slot.
pub(crate) const FILTER: [&str; 5] = [
    "jurisdiction",
    "industry",
    "industry_section",
    "industry_division",
    "product_category",
];

/// The schema of a group rule's `where` (a filter on facts, or on tier-count groups for
/// `concentration`): `jurisdiction`, `industry` (GB/T 4754 code), `industry_section` (its
/// letter), `industry_division` (letter and two digits), `product_category` (spot checks; `""`
/// otherwise), all strings.
pub fn filter_schema() -> Schema {
    let mut s = Schema::new();
    for n in FILTER {
        s.add(n, Type::Str, None);
    }
    s
}

/// How a group rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// Adverse share of the facts in the window, with a minimum sample.
    Rate,
    /// This period against the group's own trailing periods (exact conditional Poisson test).
    PoissonChange,
    /// Share of tiers C and D among a group's enterprises.
    Concentration,
}

impl Method {
    /// All methods.
    pub const ALL: [Method; 3] = [Method::Rate, Method::PoissonChange, Method::Concentration];

    /// The rule-file name: `rate`, `poisson-change`, `concentration`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Rate => "rate",
            Method::PoissonChange => "poisson-change",
            Method::Concentration => "concentration",
        }
    }

    /// The statistics the method's `when` may read, by slot, with inclusive ranges.
    pub fn statistics(self) -> &'static [(&'static str, (i64, i64))] {
        const BIG: i64 = i64::MAX / 4;
        match self {
            Method::Rate => &[
                ("n", (0, BIG)),
                ("k", (0, BIG)),
                ("rate_permille", (0, 1000)),
                ("enterprises", (0, BIG)),
            ],
            Method::PoissonChange => &[
                ("count", (0, BIG)),
                ("baseline_count", (0, BIG)),
                ("expected_milli", (0, BIG)),
                ("ratio_permille", (0, BIG)),
                ("p_ppm", (0, 1_000_000)),
                ("enterprises", (0, BIG)),
            ],
            Method::Concentration => &[
                ("enterprises", (0, BIG)),
                ("c", (0, BIG)),
                ("d", (0, BIG)),
                ("cd", (0, BIG)),
                ("cd_permille", (0, 1000)),
            ],
        }
    }
}

/// The schema of a group rule's `when` and raises for `method` (all `int`):
/// - `rate`: `n` (facts), `k` (adverse facts), `rate_permille` (`k * 1000 / n`, floor),
///   `enterprises` (distinct enterprises behind adverse facts);
/// - `poisson-change`: `count` (adverse facts this period), `baseline_count` (in the baseline
///   periods), `expected_milli` (baseline per period, x1000), `ratio_permille` (count over
///   expected, x1000; 0 when nothing is expected), `p_ppm`, `enterprises`;
/// - `concentration`: `enterprises`, `c`, `d`, `cd`, `cd_permille`.
pub fn statistics_schema(method: Method) -> Schema {
    let mut s = Schema::new();
    for (n, r) in method.statistics() {
        s.add(n, Type::Int, Some(*r));
    }
    s
}

/// A grouping dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dim {
    District,
    IndustrySection,
    IndustryDivision,
    ProductCategory,
}

impl Dim {
    pub(crate) const ALL: [Dim; 4] = [
        Dim::District,
        Dim::IndustrySection,
        Dim::IndustryDivision,
        Dim::ProductCategory,
    ];
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dim::District => "district",
            Dim::IndustrySection => "industry_section",
            Dim::IndustryDivision => "industry_division",
            Dim::ProductCategory => "product_category",
        }
    }
}

/// Which facts a group rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FactSel {
    SpotCheck,
    Complaint,
    Inspection,
}

impl FactSel {
    pub(crate) const ALL: [FactSel; 3] =
        [FactSel::SpotCheck, FactSel::Complaint, FactSel::Inspection];
    pub(crate) fn name(self) -> &'static str {
        match self {
            FactSel::SpotCheck => "spot-check",
            FactSel::Complaint => "complaint",
            FactSel::Inspection => "inspection",
        }
    }
}

/// The manifest of a warning rule set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WManifest {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) effective_from: Date,
    pub(crate) description: String,
}

/// A raise: the level becomes at least `level` when `when` holds.
#[derive(Clone, Debug)]
pub(crate) struct Raise {
    pub(crate) level: Level,
    pub(crate) when_text: String,
    pub(crate) when: Program,
}

/// Parts common to both rule kinds.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) basis: String,
    pub(crate) from: Option<Date>,
    pub(crate) until: Option<Date>,
    pub(crate) sectors: Vec<String>,
    pub(crate) when_text: String,
    pub(crate) when: Program,
    pub(crate) level: Level,
    pub(crate) raises: Vec<Raise>,
}

impl Common {
    pub(crate) fn in_force(&self, d: Date) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }
}

/// A checked enterprise rule.
#[derive(Clone, Debug)]
pub(crate) struct EntRule {
    pub(crate) c: Common,
    pub(crate) scope: Scope,
    pub(crate) scope_slot: Option<usize>,
}

/// A checked group rule.
#[derive(Clone, Debug)]
pub(crate) struct GroupRule {
    pub(crate) c: Common,
    pub(crate) group_by: Vec<Dim>,
    pub(crate) method: Method,
    pub(crate) facts: Option<FactSel>,
    pub(crate) filter: Option<(String, Program)>,
    pub(crate) window_days: i32,
    pub(crate) baseline_periods: u32,
    pub(crate) min_sample: i64,
    pub(crate) alpha_ppm: i64,
    pub(crate) min_enterprises: i64,
}

impl GroupRule {
    /// How far back the rule reads facts, in days.
    pub(crate) fn lookback_days(&self) -> i32 {
        match self.method {
            Method::PoissonChange => self
                .window_days
                .saturating_mul(self.baseline_periods as i32 + 1),
            Method::Rate => self.window_days,
            Method::Concentration => 0,
        }
    }
}

/// A loaded, fully checked warning rule set (see the module doc of [`crate::warn`]). Only a set
/// without errors can exist as a value of this type.
#[derive(Clone, Debug)]
pub struct WarningRuleSet {
    pub(crate) manifest: WManifest,
    pub(crate) enterprise: Vec<EntRule>,
    pub(crate) group: Vec<GroupRule>,
    pub(crate) warnings: Vec<RuleError>,
    pub(crate) files: BTreeMap<String, String>,
    pub(crate) hash: String,
}

// ---------------------------------------------------------------------------------------------
// File formats.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    effective_from: Spanned<toml::Value>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    enterprise: Vec<RawEnterprise>,
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRaise {
    level: Spanned<String>,
    when: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnterprise {
    id: Spanned<String>,
    title: String,
    basis: String,
    #[serde(default)]
    effective_from: Option<Spanned<toml::Value>>,
    #[serde(default)]
    effective_until: Option<Spanned<toml::Value>>,
    #[serde(default)]
    scope: Option<Spanned<String>>,
    #[serde(default)]
    sectors: Vec<Spanned<String>>,
    when: Spanned<String>,
    level: Spanned<String>,
    #[serde(default)]
    raise: Vec<RawRaise>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: Spanned<String>,
    title: String,
    basis: String,
    #[serde(default)]
    effective_from: Option<Spanned<toml::Value>>,
    #[serde(default)]
    effective_until: Option<Spanned<toml::Value>>,
    #[serde(default)]
    sectors: Vec<Spanned<String>>,
    group_by: Spanned<Vec<Spanned<String>>>,
    method: Spanned<String>,
    #[serde(default)]
    facts: Option<Spanned<String>>,
    #[serde(default, rename = "where")]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    window_days: Option<Spanned<i64>>,
    #[serde(default)]
    baseline_periods: Option<Spanned<i64>>,
    #[serde(default)]
    min_sample: Option<Spanned<i64>>,
    #[serde(default)]
    alpha_ppm: Option<Spanned<i64>>,
    #[serde(default)]
    min_enterprises: Option<Spanned<i64>>,
    when: Spanned<String>,
    level: Spanned<String>,
    #[serde(default)]
    raise: Vec<RawRaise>,
}

/// Parses and checks one expression, renaming "unknown feature" to what the schema holds.
fn cel(
    cx: &FileCx<'_>,
    v: &Spanned<String>,
    schema: &Schema,
    noun: &str,
    errs: &mut Vec<RuleError>,
) -> Option<(String, Checked)> {
    let n = errs.len();
    let out = expr(cx, v, schema, Type::Bool, errs);
    if noun != "feature" {
        for e in &mut errs[n..] {
            e.message = e
                .message
                .replace("unknown feature", &format!("unknown {noun}"));
        }
    }
    out
}

/// Errors for a condition that can never hold; returns the compiled program when the
/// expression checked.
fn condition(
    cx: &FileCx<'_>,
    v: &Spanned<String>,
    schema: &Schema,
    noun: &str,
    what: &str,
    errs: &mut Vec<RuleError>,
) -> Option<(String, Program)> {
    let (text, checked) = cel(cx, v, schema, noun, errs)?;
    if bool_range(&checked, schema) == Truth::AlwaysFalse {
        let (at, _) = cx.value_start(&v.span(), v.get_ref());
        let src = v.get_ref().trim();
        errs.push(cx.err(at, format!("{what} can never hold: `{src}`"), src));
        return None;
    }
    Some((text, compile(&checked)))
}

fn level_of(cx: &FileCx<'_>, v: &Spanned<String>, errs: &mut Vec<RuleError>) -> Option<Level> {
    match Level::parse(v.get_ref()) {
        Ok(l) => Some(l),
        Err(m) => {
            errs.push(cx.err(v.span().start, m, v.get_ref()));
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn common(
    cx: &FileCx<'_>,
    id: &Spanned<String>,
    title: &str,
    basis: &str,
    from: Option<&Spanned<toml::Value>>,
    until: Option<&Spanned<toml::Value>>,
    sectors: &[Spanned<String>],
    when: &Spanned<String>,
    level: &Spanned<String>,
    raise: &[RawRaise],
    schema: &Schema,
    noun: &str,
    errs: &mut Vec<RuleError>,
) -> Option<Common> {
    let n_errs = errs.len();
    let id_at = id.span().start;
    let id = id.get_ref().clone();
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
    for (what, text) in [("title", title), ("basis", basis)] {
        if text.trim().is_empty() {
            errs.push(cx.err(id_at, format!("rule `{id}` has an empty `{what}`"), &id));
        }
    }
    let from = from.and_then(|v| date_value(cx, v, errs));
    let until = until.and_then(|v| date_value(cx, v, errs));
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            errs.push(cx.err(
                id_at,
                format!("rule `{id}` ends (`{u}`) before it starts (`{f}`)"),
                &id,
            ));
        }
    }
    let known = known_sectors();
    let mut secs = Vec::new();
    for s in sectors {
        if known.contains(&s.get_ref().as_str()) {
            secs.push(s.get_ref().clone());
        } else {
            errs.push(cx.err(
                s.span().start,
                format!(
                    "unknown sector `{}`{} (known: {})",
                    s.get_ref().escape_default(),
                    suggest(s.get_ref(), known.iter().copied()),
                    known.join(", ")
                ),
                s.get_ref(),
            ));
        }
    }
    secs.sort();
    secs.dedup();
    let what = format!("condition of rule `{id}`");
    let when = condition(cx, when, schema, noun, &what, errs);
    let level = level_of(cx, level, errs);
    let mut raises = Vec::new();
    for r in raise {
        let l = level_of(cx, &r.level, errs);
        let what = format!("raise of rule `{id}`");
        let w = condition(cx, &r.when, schema, noun, &what, errs);
        if let (Some(l), Some(base)) = (l, level) {
            if l <= base {
                errs.push(cx.err(
                    r.level.span().start,
                    format!("raise of rule `{id}` to `{l}` is not above its level `{base}`"),
                    r.level.get_ref(),
                ));
            }
        }
        if let (Some(level), Some((when_text, when))) = (l, w) {
            raises.push(Raise {
                level,
                when_text,
                when,
            });
        }
    }
    if errs[n_errs..].iter().any(|e| e.severity == Severity::Error) {
        return None;
    }
    let (when_text, when) = when?;
    Some(Common {
        id,
        title: title.to_string(),
        basis: basis.to_string(),
        from,
        until,
        sectors: secs,
        when_text,
        when,
        level: level?,
        raises,
    })
}

fn load_enterprise(
    cx: &FileCx<'_>,
    raw: &RawEnterprise,
    schema: &Schema,
    errs: &mut Vec<RuleError>,
) -> Option<EntRule> {
    let n_errs = errs.len();
    let (scope, scope_slot) = scope_value(cx, raw.scope.as_ref(), errs);
    let c = common(
        cx,
        &raw.id,
        &raw.title,
        &raw.basis,
        raw.effective_from.as_ref(),
        raw.effective_until.as_ref(),
        &raw.sectors,
        &raw.when,
        &raw.level,
        &raw.raise,
        schema,
        "feature",
        errs,
    );
    if errs[n_errs..].iter().any(|e| e.severity == Severity::Error) {
        return None;
    }
    let mut c = c?;
    if let Scope::Sector(s) = &scope {
        if !c.sectors.contains(s) {
            c.sectors.push(s.clone());
            c.sectors.sort();
        }
    }
    Some(EntRule {
        c,
        scope,
        scope_slot,
    })
}

/// A positive integer parameter within `lo..=hi`, allowed or not for the method.
#[allow(clippy::too_many_arguments)]
fn param(
    cx: &FileCx<'_>,
    v: Option<&Spanned<i64>>,
    key: &str,
    method: Method,
    allowed: bool,
    default: Option<i64>,
    (lo, hi): (i64, i64),
    errs: &mut Vec<RuleError>,
) -> i64 {
    match (v, allowed) {
        (Some(v), false) => {
            errs.push(cx.err(
                v.span().start,
                format!("`{key}` does not apply to method `{}`", method.name()),
                "",
            ));
            0
        }
        (Some(v), true) => {
            let x = *v.get_ref();
            if !(lo..=hi).contains(&x) {
                errs.push(cx.err(
                    v.span().start,
                    format!("`{key}` must be between {lo} and {hi}, found {x}"),
                    &x.to_string(),
                ));
            }
            x
        }
        (None, true) => default.unwrap_or(0),
        (None, false) => 0,
    }
}

fn load_group(cx: &FileCx<'_>, raw: &RawGroup, errs: &mut Vec<RuleError>) -> Option<GroupRule> {
    let n_errs = errs.len();
    let id = raw.id.get_ref();
    let id_at = raw.id.span().start;
    let method = Method::ALL
        .into_iter()
        .find(|m| m.name() == raw.method.get_ref());
    if method.is_none() {
        let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        errs.push(cx.err(
            raw.method.span().start,
            format!(
                "unknown method `{}`{} (known: {})",
                raw.method.get_ref().escape_default(),
                suggest(raw.method.get_ref(), names.iter().copied()),
                names.join(", ")
            ),
            raw.method.get_ref(),
        ));
    }
    let method_or = method.unwrap_or(Method::Rate);
    let stats = statistics_schema(method_or);
    let c = common(
        cx,
        &raw.id,
        &raw.title,
        &raw.basis,
        raw.effective_from.as_ref(),
        raw.effective_until.as_ref(),
        &raw.sectors,
        &raw.when,
        &raw.level,
        &raw.raise,
        &stats,
        "statistic",
        errs,
    );
    // Facts.
    let facts = match (&raw.facts, method_or) {
        (Some(f), Method::Concentration) => {
            errs.push(cx.err(
                f.span().start,
                "`facts` does not apply to method `concentration` (it counts tiers)".into(),
                f.get_ref(),
            ));
            None
        }
        (None, Method::Concentration) => None,
        (None, m) => {
            errs.push(cx.err(
                id_at,
                format!(
                    "rule `{id}` with method `{}` needs `facts` (spot-check, complaint or inspection)",
                    m.name()
                ),
                id,
            ));
            None
        }
        (Some(f), _) => {
            let found = FactSel::ALL.into_iter().find(|s| s.name() == f.get_ref());
            if found.is_none() {
                let names: Vec<&str> = FactSel::ALL.iter().map(|s| s.name()).collect();
                errs.push(cx.err(
                    f.span().start,
                    format!(
                        "unknown facts `{}`{} (known: {})",
                        f.get_ref().escape_default(),
                        suggest(f.get_ref(), names.iter().copied()),
                        names.join(", ")
                    ),
                    f.get_ref(),
                ));
            }
            found
        }
    };
    // Grouping.
    let mut group_by = Vec::new();
    if raw.group_by.get_ref().is_empty() {
        errs.push(cx.err(
            raw.group_by.span().start,
            format!("rule `{id}` has an empty `group_by`"),
            "",
        ));
    }
    let dim_names: Vec<&str> = Dim::ALL.iter().map(|d| d.name()).collect();
    for g in raw.group_by.get_ref() {
        let Some(d) = Dim::ALL.into_iter().find(|d| d.name() == g.get_ref()) else {
            errs.push(cx.err(
                g.span().start,
                format!(
                    "unknown dimension `{}`{} (known: {})",
                    g.get_ref().escape_default(),
                    suggest(g.get_ref(), dim_names.iter().copied()),
                    dim_names.join(", ")
                ),
                g.get_ref(),
            ));
            continue;
        };
        if group_by.contains(&d) {
            errs.push(cx.err(
                g.span().start,
                format!("dimension `{}` appears twice in `group_by`", d.name()),
                g.get_ref(),
            ));
            continue;
        }
        let bad = match method_or {
            Method::Concentration => !matches!(d, Dim::District | Dim::IndustrySection),
            _ => d == Dim::ProductCategory && facts.is_some_and(|f| f != FactSel::SpotCheck),
        };
        if bad {
            errs.push(cx.err(
                g.span().start,
                match method_or {
                    Method::Concentration => format!(
                        "dimension `{}` does not apply to method `concentration` (tier counts are kept by district and industry_section)",
                        d.name()
                    ),
                    _ => format!("dimension `{}` applies to spot checks only", d.name()),
                },
                g.get_ref(),
            ));
            continue;
        }
        group_by.push(d);
    }
    // Filter.
    let fschema = filter_schema();
    let filter = raw.filter.as_ref().and_then(|f| {
        let what = format!("filter of rule `{id}`");
        let (text, prog) = condition(cx, f, &fschema, "fact field", &what, errs)?;
        if method_or == Method::Concentration {
            let bad: Vec<&str> = prog
                .features_read()
                .iter()
                .filter(|s| !matches!(**s, 0 | 2))
                .map(|s| FILTER[*s])
                .collect();
            if !bad.is_empty() {
                errs.push(cx.err(
                    f.span().start,
                    format!(
                        "the filter of a `concentration` rule may read only `jurisdiction` and `industry_section`, not `{}`",
                        bad.join("`, `")
                    ),
                    f.get_ref(),
                ));
            }
        }
        Some((text, prog))
    });
    let m = method_or;
    let windowed = m != Method::Concentration;
    let window_days = param(
        cx,
        raw.window_days.as_ref(),
        "window_days",
        m,
        windowed,
        Some(30),
        (1, 3660),
        errs,
    );
    let baseline_periods = param(
        cx,
        raw.baseline_periods.as_ref(),
        "baseline_periods",
        m,
        m == Method::PoissonChange,
        Some(12),
        (1, 60),
        errs,
    );
    let min_sample = param(
        cx,
        raw.min_sample.as_ref(),
        "min_sample",
        m,
        m == Method::Rate,
        None,
        (1, i64::MAX / 4),
        errs,
    );
    let alpha_ppm = param(
        cx,
        raw.alpha_ppm.as_ref(),
        "alpha_ppm",
        m,
        m == Method::PoissonChange,
        None,
        (1, 1_000_000),
        errs,
    );
    let min_enterprises = param(
        cx,
        raw.min_enterprises.as_ref(),
        "min_enterprises",
        m,
        m == Method::Concentration,
        None,
        (1, i64::MAX / 4),
        errs,
    );
    for (key, v, needed) in [
        ("min_sample", &raw.min_sample, m == Method::Rate),
        ("alpha_ppm", &raw.alpha_ppm, m == Method::PoissonChange),
        (
            "min_enterprises",
            &raw.min_enterprises,
            m == Method::Concentration,
        ),
    ] {
        if needed && v.is_none() {
            errs.push(cx.err(
                id_at,
                format!("rule `{id}` with method `{}` needs `{key}`", m.name()),
                id,
            ));
        }
    }
    if errs[n_errs..].iter().any(|e| e.severity == Severity::Error) {
        return None;
    }
    Some(GroupRule {
        c: c?,
        group_by,
        method: method?,
        facts,
        filter,
        window_days: window_days as i32,
        baseline_periods: baseline_periods as u32,
        min_sample,
        alpha_ppm,
        min_enterprises,
    })
}

fn load_manifest(cx: &FileCx<'_>, errs: &mut Vec<RuleError>) -> Option<WManifest> {
    let raw: RawManifest = match toml::from_str(cx.text) {
        Ok(m) => m,
        Err(e) => {
            errs.push(toml_error(cx.path, cx.text, &e));
            return None;
        }
    };
    let effective_from = date_value(cx, &raw.effective_from, errs);
    if raw.name.trim().is_empty() || raw.version.trim().is_empty() {
        errs.push(cx.err(0, "`name` and `version` are required".into(), ""));
    }
    Some(WManifest {
        name: raw.name,
        version: raw.version,
        effective_from: effective_from?,
        description: raw.description,
    })
}

fn raises_json(c: &Common) -> serde_json::Value {
    serde_json::Value::Array(
        c.raises
            .iter()
            .map(|r| serde_json::json!({ "level": r.level.as_str(), "when": r.when_text }))
            .collect(),
    )
}

fn canonical_json(m: &WManifest, ent: &[EntRule], group: &[GroupRule]) -> String {
    use serde_json::{json, Value};
    let date = |d: Option<Date>| d.map_or(Value::Null, |d| Value::String(d.to_string()));
    let ent: Vec<Value> = ent
        .iter()
        .map(|r| {
            json!({
                "id": r.c.id,
                "title": r.c.title,
                "basis": r.c.basis,
                "effective_from": date(r.c.from),
                "effective_until": date(r.c.until),
                "scope": r.scope.to_string(),
                "sectors": r.c.sectors,
                "when": r.c.when_text,
                "level": r.c.level.as_str(),
                "raise": raises_json(&r.c),
            })
        })
        .collect();
    let group: Vec<Value> = group
        .iter()
        .map(|r| {
            let opt = |x: i64, used: bool| if used { json!(x) } else { Value::Null };
            let m = r.method;
            json!({
                "id": r.c.id,
                "title": r.c.title,
                "basis": r.c.basis,
                "effective_from": date(r.c.from),
                "effective_until": date(r.c.until),
                "sectors": r.c.sectors,
                "group_by": r.group_by.iter().map(|d| d.name()).collect::<Vec<_>>(),
                "method": m.name(),
                "facts": r.facts.map(|f| f.name()),
                "where": r.filter.as_ref().map(|f| f.0.clone()),
                "window_days": opt(r.window_days as i64, m != Method::Concentration),
                "baseline_periods": opt(r.baseline_periods as i64, m == Method::PoissonChange),
                "min_sample": opt(r.min_sample, m == Method::Rate),
                "alpha_ppm": opt(r.alpha_ppm, m == Method::PoissonChange),
                "min_enterprises": opt(r.min_enterprises, m == Method::Concentration),
                "when": r.c.when_text,
                "level": r.c.level.as_str(),
                "raise": raises_json(&r.c),
            })
        })
        .collect();
    json!({
        "format": "creditrisk-warnings/1",
        "manifest": {
            "name": m.name,
            "version": m.version,
            "effective_from": m.effective_from.to_string(),
            "description": m.description,
        },
        "enterprise": ent,
        "group": group,
    })
    // serde_json's map is a BTreeMap (no `preserve_order` feature): keys come out sorted.
    .to_string()
}

impl WarningRuleSet {
    /// Loads and checks the warning rule set in folder `dir`: `warnings.toml` and every `*.toml`
    /// in its sub-folders. Returns every error found (warnings too, when there are errors),
    /// sorted by file, line and column.
    pub fn load(dir: &Path) -> Result<WarningRuleSet, Vec<RuleError>> {
        WarningRuleSet::from_files(read_folder(dir)?)
    }

    /// Loads and checks a warning rule set given as files: relative path (with `/`) to content.
    /// The manifest is `warnings.toml`; rule files are the other `*.toml` paths inside a
    /// sub-folder; anything else is an error.
    pub fn from_files(files: BTreeMap<String, String>) -> Result<WarningRuleSet, Vec<RuleError>> {
        let schema = enterprise_schema();
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
        let mut ent = Vec::new();
        let mut group = Vec::new();
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
            for r in &raw.enterprise {
                if duplicate_id(&cx, &r.id, &mut seen, &mut errs) {
                    continue;
                }
                if let Some(x) = load_enterprise(&cx, r, &schema, &mut errs) {
                    ent.push(x);
                }
            }
            for r in &raw.group {
                if duplicate_id(&cx, &r.id, &mut seen, &mut errs) {
                    continue;
                }
                if let Some(x) = load_group(&cx, r, &mut errs) {
                    group.push(x);
                }
            }
        }
        let Some(manifest) = manifest else {
            return Err(sorted(errs));
        };
        if errs.iter().any(|e| e.severity == Severity::Error) {
            return Err(sorted(errs));
        }
        ent.sort_by(|a: &EntRule, b: &EntRule| a.c.id.cmp(&b.c.id));
        group.sort_by(|a: &GroupRule, b: &GroupRule| a.c.id.cmp(&b.c.id));
        let hash = hex::encode(Sha256::digest(
            canonical_json(&manifest, &ent, &group).as_bytes(),
        ));
        Ok(WarningRuleSet {
            manifest,
            enterprise: ent,
            group,
            warnings: sorted(errs),
            files,
            hash,
        })
    }

    /// The identity: SHA-256 (lower-case hex) of the canonical JSON.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The canonical JSON the hash is computed over (format `creditrisk-warnings/1`).
    pub fn canonical_json(&self) -> String {
        canonical_json(&self.manifest, &self.enterprise, &self.group)
    }

    /// The raw files exactly as loaded (relative path to text).
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// Warnings found while loading (the set is usable).
    pub fn warnings(&self) -> &[RuleError] {
        &self.warnings
    }

    /// The manifest's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The manifest's version label.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// The manifest's first effective day.
    pub fn effective_from(&self) -> Date {
        self.manifest.effective_from
    }

    /// Ids of every rule, enterprise and group, in id order.
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .enterprise
            .iter()
            .map(|r| r.c.id.as_str())
            .chain(self.group.iter().map(|r| r.c.id.as_str()))
            .collect();
        v.sort_unstable();
        v
    }

    fn common(&self, id: &str) -> Option<&Common> {
        self.enterprise
            .iter()
            .map(|r| &r.c)
            .chain(self.group.iter().map(|r| &r.c))
            .find(|c| c.id == id)
    }

    /// The title of rule `id`.
    pub fn rule_title(&self, id: &str) -> Option<&str> {
        self.common(id).map(|c| c.title.as_str())
    }

    /// The key sectors rule `id` concerns (its `sectors` and, for enterprise rules, its scope);
    /// empty for an unknown id or a rule about every sector.
    pub fn rule_sectors(&self, id: &str) -> Vec<String> {
        self.common(id)
            .map(|c| c.sectors.clone())
            .unwrap_or_default()
    }

    /// Whether the set has any group rule.
    pub fn has_group_rules(&self) -> bool {
        !self.group.is_empty()
    }

    /// How far back group rules read facts, in days (the maximum over rules; 0 without any).
    pub fn window_days(&self) -> i32 {
        self.group
            .iter()
            .map(GroupRule::lookback_days)
            .max()
            .unwrap_or(0)
    }
}

/// The index in the enterprise schema of the first slot after the features.
pub(crate) const ENT_BASE: usize = SCHEMA.len();

/// `NEVER` is the top of the `days_since_*` ranges; kept here so the schema and the extras agree.
const _: () = assert!(NEVER == 100_000);

/// The names of the enterprise schema's non-feature slots, in slot order from [`ENT_BASE`].
pub(crate) fn extra_slot_name(slot: usize) -> Option<&'static str> {
    let i = slot.checked_sub(ENT_BASE)?;
    if i < TRANSITION.len() {
        return Some(TRANSITION[i]);
    }
    EXTRAS.get(i - TRANSITION.len()).map(|e| e.0)
}

impl WarningRuleSet {
    /// The built-in default warning rule set (`rules/warnings/` as compiled into the binary).
    pub fn built_in() -> Result<WarningRuleSet, Vec<RuleError>> {
        WarningRuleSet::from_files(crate::rules::embedded::warning_rule_set_files())
    }
}
