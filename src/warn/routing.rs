//! Routing: which departments are responsible for a warning (issue 12, "routing and joint
//! supervision").
//!
//! The routing file (`rules/routing.toml`) lists the departments, each belonging to one of the
//! eight agencies the plan names, and maps key sectors, GB/T 4754 industry prefixes and
//! spot-check product categories to departments. [`Routing::departments_for`] is a pure
//! function of a [`Firing`]: the union of every match, sorted, or the file's default (market
//! regulation) when nothing matches. An alert whose departments span more than one agency is a
//! cross-department case ([`Routing::is_cross_department`]); two divisions of market regulation
//! are not.
//!
//! What is matched: the firing's sectors (from its rule); for group signals, its
//! `industry_section` / `industry_division` values against the industry prefixes (a prefix
//! matches a value that starts with it, so `F` matches division `F52`, while `C14` does not
//! match section `C`) and its `product_category` value exactly.
//!
//! Load errors name the file, the 1-based line and the key, like the rule files.

use super::Firing;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// The agencies the plan names (section 9.3), as used in the routing file's `agency` key.
pub const AGENCIES: &[&str] = &[
    "market-regulation",
    "economy-and-information",
    "housing-and-construction",
    "commerce",
    "agriculture",
    "health",
    "emergency-management",
    "public-security",
];

/// Key sectors a `[[sector]]` table may name: the classification sectors plus key consumer
/// products.
pub const SECTORS: &[&str] = &[
    "food",
    "drugs",
    "special-equipment",
    "hazardous-chemicals",
    "construction",
    "key-consumer-products",
];

/// A department that can be notified of a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Department {
    /// Department id, as on the inspector roster.
    pub id: String,
    /// One of [`AGENCIES`].
    pub agency: String,
    /// Chinese name.
    pub zh: String,
    /// English name.
    pub en: String,
}

/// A routing file problem: `file:line: message` (line 0 when not tied to a line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingError {
    /// The file as given to [`Routing::load`] (or `routing.toml` for [`Routing::parse`]).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// What is wrong, lower case, the key and user text in backticks.
    pub message: String,
}

impl fmt::Display for RoutingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

impl std::error::Error for RoutingError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Spanned<String>,
    default: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    department: Vec<RawDepartment>,
    #[serde(default)]
    sector: Vec<RawSector>,
    #[serde(default)]
    industry: Vec<RawIndustry>,
    #[serde(default)]
    product_category: Vec<RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    id: Spanned<String>,
    agency: Spanned<String>,
    zh: Spanned<String>,
    en: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSector {
    sector: Spanned<String>,
    departments: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndustry {
    prefix: Spanned<String>,
    departments: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    category: Spanned<String>,
    departments: Vec<Spanned<String>>,
}

/// The loaded routing table. Immutable; every list is sorted and deduplicated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    version: String,
    default: Vec<String>,
    departments: BTreeMap<String, Department>,
    sectors: BTreeMap<String, Vec<String>>,
    /// (prefix, departments), ascending prefix.
    industries: Vec<(String, Vec<String>)>,
    categories: BTreeMap<String, Vec<String>>,
}

/// Line of byte offset `at` in `text`, 1-based.
fn line_of(text: &str, at: usize) -> u32 {
    let upto = text.get(..at.min(text.len())).unwrap_or(text);
    u32::try_from(upto.bytes().filter(|b| *b == b'\n').count() + 1).unwrap_or(u32::MAX)
}

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
    errs: Vec<RoutingError>,
}

impl Cx<'_> {
    fn err(&mut self, at: usize, message: String) {
        self.errs.push(RoutingError {
            file: self.file.to_string(),
            line: line_of(self.text, at),
            message,
        });
    }

    /// Checks a list of department ids against the declared ones; returns them sorted, unique.
    fn ids(
        &mut self,
        key: &str,
        list: &[Spanned<String>],
        known: &BTreeMap<String, Department>,
        at: usize,
    ) -> Vec<String> {
        if list.is_empty() {
            self.err(
                at,
                format!("`{key}` is empty: name at least one department"),
            );
        }
        let mut out = BTreeSet::new();
        for d in list {
            if known.contains_key(d.get_ref()) {
                out.insert(d.get_ref().clone());
            } else {
                self.err(
                    d.span().start,
                    format!(
                        "`{key}`: unknown department `{}` (declare it in a [[department]] table)",
                        d.get_ref()
                    ),
                );
            }
        }
        out.into_iter().collect()
    }
}

/// True for a GB/T 4754 prefix: an upper-case section letter `A`-`T`, then 0 to 4 digits.
fn is_industry_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 5
        && (b'A'..=b'T').contains(&b[0])
        && b[1..].iter().all(u8::is_ascii_digit)
}

impl Routing {
    /// Loads and checks a routing file; every problem is reported, each with its line.
    pub fn load(path: &Path) -> Result<Routing, Vec<RoutingError>> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![RoutingError {
                file: file.clone(),
                line: 0,
                message: format!("cannot read the routing file: {e}"),
            }]
        })?;
        Routing::parse(&file, &text)
    }

    /// Parses and checks the text of a routing file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Routing, Vec<RoutingError>> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let mut message = e.message().trim_end_matches('.').to_string();
            if let Some(first) = message.get(..1) {
                message = first.to_lowercase() + message.get(1..).unwrap_or("");
            }
            vec![RoutingError {
                file: file.to_string(),
                line: e.span().map_or(0, |s| line_of(text, s.start)),
                message,
            }]
        })?;
        let mut cx = Cx {
            file,
            text,
            errs: Vec::new(),
        };
        if raw.version.get_ref().trim().is_empty() || raw.version.get_ref().chars().count() > 64 {
            cx.err(
                raw.version.span().start,
                format!(
                    "`version` is `{}`: it must be 1 to 64 characters",
                    raw.version.get_ref()
                ),
            );
        }
        let mut departments = BTreeMap::new();
        for d in &raw.department {
            let id = d.id.get_ref();
            if crate::domain::validate::check_ident(id).is_err() {
                cx.err(
                    d.id.span().start,
                    format!("`id` is `{id}`: not a valid department id"),
                );
            }
            if !AGENCIES.contains(&d.agency.get_ref().as_str()) {
                cx.err(
                    d.agency.span().start,
                    format!(
                        "`agency` is `{}`: must be one of {}",
                        d.agency.get_ref(),
                        AGENCIES.join(", ")
                    ),
                );
            }
            for (key, v) in [("zh", &d.zh), ("en", &d.en)] {
                if v.get_ref().trim().is_empty() {
                    cx.err(v.span().start, format!("`{key}` of `{id}` is empty"));
                }
            }
            let dep = Department {
                id: id.clone(),
                agency: d.agency.get_ref().clone(),
                zh: d.zh.get_ref().clone(),
                en: d.en.get_ref().clone(),
            };
            if departments.insert(id.clone(), dep).is_some() {
                cx.err(
                    d.id.span().start,
                    format!("`id`: department `{id}` is declared twice"),
                );
            }
        }
        let default = cx.ids(
            "default",
            raw.default.get_ref(),
            &departments,
            raw.default.span().start,
        );
        let mut sectors = BTreeMap::new();
        for s in &raw.sector {
            let name = s.sector.get_ref();
            let at = s.sector.span().start;
            if !SECTORS.contains(&name.as_str()) {
                cx.err(
                    at,
                    format!(
                        "`sector` is `{name}`: must be one of {}",
                        SECTORS.join(", ")
                    ),
                );
            }
            let ids = cx.ids("departments", &s.departments, &departments, at);
            if sectors.insert(name.clone(), ids).is_some() {
                cx.err(at, format!("`sector`: `{name}` is routed twice"));
            }
        }
        let mut industries = BTreeMap::new();
        for i in &raw.industry {
            let p = i.prefix.get_ref();
            let at = i.prefix.span().start;
            if !is_industry_prefix(p) {
                cx.err(
                    at,
                    format!("`prefix` is `{p}`: not a GB/T 4754 prefix (a letter A-T, then up to 4 digits)"),
                );
            }
            let ids = cx.ids("departments", &i.departments, &departments, at);
            if industries.insert(p.clone(), ids).is_some() {
                cx.err(at, format!("`prefix`: `{p}` is routed twice"));
            }
        }
        let mut categories = BTreeMap::new();
        for c in &raw.product_category {
            let name = c.category.get_ref();
            let at = c.category.span().start;
            if name.trim().is_empty() {
                cx.err(at, "`category` is empty".to_string());
            }
            let ids = cx.ids("departments", &c.departments, &departments, at);
            if categories.insert(name.clone(), ids).is_some() {
                cx.err(at, format!("`category`: `{name}` is routed twice"));
            }
        }
        if !cx.errs.is_empty() {
            return Err(cx.errs);
        }
        Ok(Routing {
            version: raw.version.into_inner(),
            default,
            departments,
            sectors,
            industries: industries.into_iter().collect(),
            categories,
        })
    }

    /// The routing file built into the binary (`rules/routing.toml`).
    pub fn built_in() -> Result<Routing, Vec<RoutingError>> {
        let (name, text) = crate::rules::embedded::routing();
        Routing::parse(name, text)
    }

    /// The routing file's version label.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every declared department, ascending id.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// The department with this id, if declared (unknown ids are INVALID_ARGUMENT upstream).
    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.get(id)
    }

    /// Departments for a key sector, GB/T 4754 industry (prefix match) and product category,
    /// any of them absent; the default when nothing matches. Sorted, deduplicated.
    pub fn departments_matching<'a>(
        &self,
        sectors: impl IntoIterator<Item = &'a str>,
        industries: impl IntoIterator<Item = &'a str>,
        categories: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut out: BTreeSet<&str> = BTreeSet::new();
        for s in sectors {
            if let Some(ids) = self.sectors.get(s) {
                out.extend(ids.iter().map(String::as_str));
            }
        }
        for ind in industries {
            for (p, ids) in &self.industries {
                if ind.starts_with(p.as_str()) {
                    out.extend(ids.iter().map(String::as_str));
                }
            }
        }
        for c in categories {
            if let Some(ids) = self.categories.get(c) {
                out.extend(ids.iter().map(String::as_str));
            }
        }
        if out.is_empty() {
            return self.default.clone();
        }
        out.into_iter().map(str::to_string).collect()
    }

    /// The departments responsible for `firing`: its sectors, plus for a group signal its
    /// industry section or division and product category; sorted and deduplicated; the default
    /// (market regulation) when nothing matches.
    pub fn departments_for(&self, firing: &Firing) -> Vec<String> {
        let dim = |name: &'static str| {
            firing
                .group
                .iter()
                .filter(move |(d, _)| d == name)
                .map(|(_, v)| v.as_str())
        };
        self.departments_matching(
            firing.sectors.iter().map(String::as_str),
            dim("industry_section").chain(dim("industry_division")),
            dim("product_category"),
        )
    }

    /// True when the departments of `firing` belong to more than one agency: a cross-department
    /// case, disposed of jointly.
    pub fn is_cross_department(&self, firing: &Firing) -> bool {
        self.agencies_of(&self.departments_for(firing)).len() > 1
    }

    /// The distinct agencies of some departments (unknown ids are skipped), ascending.
    pub fn agencies_of(&self, departments: &[String]) -> Vec<&str> {
        let set: BTreeSet<&str> = departments
            .iter()
            .filter_map(|d| self.departments.get(d))
            .map(|d| d.agency.as_str())
            .collect();
        set.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warn::{Evidence, Level};

    fn routing() -> Routing {
        let r = Routing::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/routing.toml"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(Routing::built_in().unwrap(), r);
        r
    }

    fn firing(sectors: &[&str], group: &[(&str, &str)]) -> Firing {
        Firing {
            rule_id: "r".into(),
            subject: "group/x".into(),
            level: Level::Yellow,
            evidence: Evidence::new(),
            enterprises: Vec::new(),
            sectors: sectors.iter().map(|s| s.to_string()).collect(),
            group: group
                .iter()
                .map(|(d, v)| (d.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_default_file_names_the_plans_agencies_and_routes_every_sector() {
        let r = routing();
        let agencies: BTreeSet<&str> = r.departments().map(|d| d.agency.as_str()).collect();
        assert_eq!(agencies.len(), AGENCIES.len());
        for s in SECTORS {
            let ds = r.departments_matching([*s], [], []);
            assert_ne!(ds, r.default, "sector {s} is not routed");
        }
        for d in r.departments() {
            assert!(!d.zh.is_empty() && !d.en.is_empty());
        }
        assert_eq!(
            r.department("samr-chengdu").unwrap().agency,
            "market-regulation"
        );
    }

    #[test]
    fn firings_route_by_sector_industry_and_category() {
        let r = routing();
        // Nothing known: market regulation by default.
        let f = firing(&[], &[("district", "510104")]);
        assert_eq!(r.departments_for(&f), vec!["samr-chengdu"]);
        assert!(!r.is_cross_department(&f));
        // A food signal: market regulation's food division and health, two agencies.
        let f = firing(
            &["food"],
            &[("district", "510104"), ("product_category", "糕点")],
        );
        assert_eq!(
            r.departments_for(&f),
            vec!["health-chengdu", "samr-chengdu-food"]
        );
        assert!(r.is_cross_department(&f));
        // A bakery spot-check cluster without a sector: its category's food division and health.
        let f = firing(&[], &[("product_category", "糕点")]);
        assert_eq!(
            r.departments_for(&f),
            vec!["health-chengdu", "samr-chengdu-food"]
        );
        assert!(r.is_cross_department(&f));
        // A category routing does not know: market regulation alone.
        let f = firing(&[], &[("product_category", "bakery")]);
        assert_eq!(r.departments_for(&f), vec!["samr-chengdu"]);
        assert!(!r.is_cross_department(&f));
        // Prefixes match values that start with them, not the other way round.
        let f = firing(&[], &[("district", "510104"), ("industry_division", "F52")]);
        assert_eq!(r.departments_for(&f), vec!["commerce-chengdu"]);
        let f = firing(&[], &[("industry_section", "C")]);
        assert_eq!(r.departments_for(&f), vec!["samr-chengdu"]);
        // Hazardous chemicals: three agencies, sorted and deduplicated with the industry.
        let f = firing(&["hazardous-chemicals"], &[("industry_division", "C26")]);
        assert_eq!(
            r.departments_for(&f),
            vec!["econinfo-chengdu", "emergency-chengdu", "police-chengdu"]
        );
        assert!(r.is_cross_department(&f));
    }

    #[test]
    fn bad_files_are_rejected_with_line_and_key() {
        let text = "version = \"v\"\ndefault = [\"x\"]\n\
                    [[department]]\nid = \"x\"\nagency = \"tax\"\nzh = \"税\"\nen = \"tax\"\n\
                    [[sector]]\nsector = \"toys\"\ndepartments = [\"y\"]\n\
                    [[industry]]\nprefix = \"c14\"\ndepartments = [\"x\"]\n";
        let errs = Routing::parse("routing.toml", text).unwrap_err();
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("routing.toml:5: `agency` is `tax`")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("routing.toml:9: `sector` is `toys`")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("routing.toml:10: `departments`: unknown department `y`")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("routing.toml:12: `prefix` is `c14`")),
            "{shown:?}"
        );
        // Unknown keys and syntax errors carry their line too.
        let errs =
            Routing::parse("r.toml", "version = \"v\"\ndefault = []\nroute = 1\n").unwrap_err();
        assert_eq!(errs[0].line, 3, "{errs:?}");
        assert!(errs[0].message.contains("route"), "{errs:?}");
    }
}
