//! The feature schema and its computation from an enterprise's records.
//!
//! Rules never see records: they read a fixed, documented set of features computed here by one
//! pure function, [`compute`], of the enterprise version, its stored events (already cut at an
//! ingest sequence number by the caller), the caller's [`Relations`] and an `as_of` date. No
//! clock is read: the same inputs give the same vector, bit for bit.
//!
//! # Conventions
//! - **Events after `as_of`** (by `effective_date`) are ignored entirely, including repairs and
//!   list exits.
//! - **Windows**: "in the last N years" means `as_of.years_before(N) < effective_date <= as_of`
//!   (the day exactly N years back is *outside*; `as_of` itself is inside). 29 February maps to
//!   28 February in non-leap years ([`Date::years_before`]). "The year before" (`_prev_1y`)
//!   means `as_of.years_before(2) < effective_date <= as_of.years_before(1)`.
//! - **Credit repair**: a `credit-repair` event effective on or before `as_of` removes the event
//!   it names from every count, amount and list state, as if it had never happened (a repaired
//!   list entry ends the listing on the repair's effective date and does not count as an entry).
//!   The repair class (minor, general, serious) decides how long the enterprise waited before the
//!   repair was granted; it does not change the effect once granted. Repairs naming an unknown
//!   event, or an event of a kind that cannot be repaired (honour, tax grade, annual report,
//!   licence, repair), are ignored.
//! - **Lists**: entries and exits are replayed in `(effective_date, seq)` order; an entry while
//!   already listed keeps the original start date (and still counts as an entry); an exit while
//!   not listed does nothing. Removal after 3 years is an administrative act recorded as an exit
//!   event: it is not inferred here (but `abnormal_listed_years` lets a rule react to a listing
//!   older than 3 years).
//! - **Annual reports**: the report for year `Y` is due by `Y+1`-06-30 and required when the
//!   enterprise was established in or before `Y`. The *last due year* on `as_of` is
//!   `as_of.year - 1` if `as_of` is after 30 June of its year, else `as_of.year - 2`. A report is
//!   filed when an `annual-report` event for its year is effective on or before `as_of`, and
//!   late when its `filed_on` is after the due date.
//! - **Key sectors** come from GB/T 4754-2017 industry-code prefixes *or* a held licence kind;
//!   see [`SECTORS`]. The prefix lists are local practice, not national text.
//!
//! # Representation
//! [`FeatureVector`] keeps every `int` and `bool` feature in one `i64` array indexed by slot
//! (bools as 0/1), then a few strings and one list: a compiled program reads a slot with one
//! array index. The slot of a feature is its position in [`SCHEMA`], which lists `int`/`bool`
//! features first, then `string`, then `list(string)`. Adding a feature changes slots, so slots
//! are never stored: stored decisions name features.

use super::lang::{Features, Schema, Type};
use crate::domain::{
    CreditEvent, Date, Enterprise, EntityKind, EventBody, ResultCode, Severity, Status, StoredEvent,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The time window a feature is computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The state on `as_of` (lists, licences, relations).
    Now,
    /// A registration attribute (no window).
    Static,
    /// `as_of.years_before(n) < effective_date <= as_of`.
    Years(u8),
    /// The year before the last: `as_of.years_before(2) < effective_date <= as_of.years_before(1)`.
    PreviousYear,
    /// Everything up to `as_of`.
    AllTime,
    /// The last three due annual reports (see the module doc).
    DueReports,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Now => f.write_str("current"),
            Window::Static => f.write_str("-"),
            Window::Years(n) => write!(f, "{n}y"),
            Window::PreviousYear => f.write_str("year before last"),
            Window::AllTime => f.write_str("all time"),
            Window::DueReports => f.write_str("last 3 due reports"),
        }
    }
}

/// The declaration of one feature: what rules may read.
#[derive(Clone, Copy, Debug)]
pub struct FeatureDef {
    /// Name used in rule expressions.
    pub name: &'static str,
    /// Type.
    pub ty: Type,
    /// Inclusive value range of an `int` feature (0..1 for bools), used by the static analysis.
    pub range: (i64, i64),
    /// Time window.
    pub window: Window,
    /// Meaning, one sentence.
    pub meaning: &'static str,
}

const MAX_COUNT: i64 = 100_000;
const MAX_YUAN: i64 = 1_000_000_000_000_000;

macro_rules! schema {
    ($( $var:ident : $ty:ident $name:literal [$lo:expr, $hi:expr] $win:expr, $doc:literal; )*) => {
        /// Every feature, by slot: `Feat::X as usize` is the slot of feature X in [`SCHEMA`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        #[repr(usize)]
        pub enum Feat {
            $( #[doc = $doc] $var, )*
        }

        /// The feature schema, by slot. `int`/`bool` first, then `string`, then `list(string)`.
        pub const SCHEMA: &[FeatureDef] = &[
            $( FeatureDef { name: $name, ty: Type::$ty, range: ($lo, $hi), window: $win, meaning: $doc }, )*
        ];
    };
}

use Window::{AllTime, DueReports, Now, PreviousYear, Static, Years};

schema! {
    Penalties1y: Int "penalties_1y" [0, MAX_COUNT] Years(1), "administrative penalties effective in the last year (repaired ones excluded)";
    Penalties2y: Int "penalties_2y" [0, MAX_COUNT] Years(2), "administrative penalties in the last 2 years";
    Penalties3y: Int "penalties_3y" [0, MAX_COUNT] Years(3), "administrative penalties in the last 3 years";
    PenaltyYuan1y: Int "penalty_yuan_1y" [0, MAX_YUAN] Years(1), "total penalty amount in yuan, last year";
    PenaltyYuan2y: Int "penalty_yuan_2y" [0, MAX_YUAN] Years(2), "total penalty amount in yuan, last 2 years";
    PenaltyYuan3y: Int "penalty_yuan_3y" [0, MAX_YUAN] Years(3), "total penalty amount in yuan, last 3 years";
    PenaltiesGeneral1y: Int "penalties_general_1y" [0, MAX_COUNT] Years(1), "penalties of severity general, last year";
    PenaltiesGeneral2y: Int "penalties_general_2y" [0, MAX_COUNT] Years(2), "penalties of severity general, last 2 years";
    PenaltiesGeneral3y: Int "penalties_general_3y" [0, MAX_COUNT] Years(3), "penalties of severity general, last 3 years";
    PenaltiesHeavier1y: Int "penalties_heavier_1y" [0, MAX_COUNT] Years(1), "penalties of severity heavier, last year";
    PenaltiesHeavier2y: Int "penalties_heavier_2y" [0, MAX_COUNT] Years(2), "penalties of severity heavier, last 2 years";
    PenaltiesHeavier3y: Int "penalties_heavier_3y" [0, MAX_COUNT] Years(3), "penalties of severity heavier, last 3 years";
    PenaltiesSerious1y: Int "penalties_serious_1y" [0, MAX_COUNT] Years(1), "penalties of severity serious, last year";
    PenaltiesSerious2y: Int "penalties_serious_2y" [0, MAX_COUNT] Years(2), "penalties of severity serious, last 2 years";
    PenaltiesSerious3y: Int "penalties_serious_3y" [0, MAX_COUNT] Years(3), "penalties of severity serious, last 3 years";
    OnAbnormalList: Bool "on_abnormal_list" [0, 1] Now, "currently on the abnormal-operations list";
    AbnormalListedYears: Int "abnormal_listed_years" [0, 300] Now, "whole years since the current abnormal listing began (0 when not listed)";
    AbnormalEntries3y: Int "abnormal_entries_3y" [0, MAX_COUNT] Years(3), "entries onto the abnormal-operations list in the last 3 years";
    OnSeriousList: Bool "on_serious_list" [0, 1] Now, "currently on the serious illegal and dishonest list";
    SeriousEntries3y: Int "serious_entries_3y" [0, MAX_COUNT] Years(3), "entries onto the serious list in the last 3 years";
    SpotCheckFailures1y: Int "spot_check_failures_1y" [0, MAX_COUNT] Years(1), "failed product-quality spot checks, last year";
    SpotCheckFailures2y: Int "spot_check_failures_2y" [0, MAX_COUNT] Years(2), "failed product-quality spot checks, last 2 years";
    SpotChecks2y: Int "spot_checks_2y" [0, MAX_COUNT] Years(2), "product-quality spot checks (passed or failed), last 2 years";
    Inspections2y: Int "inspections_2y" [0, MAX_COUNT] Years(2), "inspections of any result, last 2 years";
    InspectionsViolation2y: Int "inspections_violation_2y" [0, MAX_COUNT] Years(2), "inspections with a violation code (3, 4, 5, 8, A-E, G), last 2 years";
    InspectionsRefused3y: Int "inspections_refused_3y" [0, MAX_COUNT] Years(3), "inspections with code 8 (refused to cooperate), last 3 years";
    InspectionsUnreachable2y: Int "inspections_unreachable_2y" [0, MAX_COUNT] Years(2), "inspections with code 6 (unreachable at the registered address), last 2 years";
    InspectionsClean2y: Int "inspections_clean_2y" [0, MAX_COUNT] Years(2), "inspections with code 1 (no problem found) and no violation code, last 2 years";
    Complaints1y: Int "complaints_1y" [0, MAX_COUNT] Years(1), "complaints received, verified or not, last year";
    ComplaintsVerified1y: Int "complaints_verified_1y" [0, MAX_COUNT] Years(1), "verified complaints, last year";
    ComplaintsVerifiedPrev1y: Int "complaints_verified_prev_1y" [0, MAX_COUNT] PreviousYear, "verified complaints in the year before the last";
    ComplaintsGrowth: Int "complaints_growth" [-MAX_COUNT, MAX_COUNT] Years(2), "complaints_verified_1y minus complaints_verified_prev_1y";
    TaxGradeYear: Int "tax_grade_year" [0, 2199] AllTime, "tax year of the latest tax credit grade (0 when none)";
    AnnualReportMissing: Bool "annual_report_missing" [0, 1] DueReports, "the report for the last due year is required and not filed";
    AnnualReportsLate3y: Int "annual_reports_late_3y" [0, 3] DueReports, "of the last 3 due reports that were required, how many were filed late or not at all";
    Honours3y: Int "honours_3y" [0, MAX_COUNT] Years(3), "honours (quality awards, contract-keeping honours...) in the last 3 years";
    RepairsApplied: Int "repairs_applied" [0, MAX_COUNT] AllTime, "credit repairs in effect that removed a record";
    AgeYears: Int "age_years" [0, 300] Static, "whole years since establishment (0 before the first anniversary)";
    RegisteredCapitalYuan: Int "registered_capital_yuan" [0, MAX_YUAN] Static, "registered capital in yuan";
    SectorFood: Bool "sector_food" [0, 1] Now, "food key sector, by industry or licence";
    SectorSpecialEquipment: Bool "sector_special_equipment" [0, 1] Now, "special-equipment key sector, by industry or licence";
    SectorHazardousChemicals: Bool "sector_hazardous_chemicals" [0, 1] Now, "hazardous-chemicals key sector, by industry or licence";
    SectorDrugs: Bool "sector_drugs" [0, 1] Now, "drugs key sector, by industry or licence";
    SectorConstruction: Bool "sector_construction" [0, 1] Now, "construction key sector, by industry or licence";
    KeySector: Bool "key_sector" [0, 1] Now, "in any key sector";
    RepOtherEnterprises: Int "rep_other_enterprises" [0, MAX_COUNT] Now, "other enterprises with the same legal representative";
    RepOthersSeriousList: Int "rep_others_serious_list" [0, MAX_COUNT] Now, "of those, how many are on the serious list";
    RepOthersAbnormalList: Int "rep_others_abnormal_list" [0, MAX_COUNT] Now, "of those, how many are on the abnormal-operations list";
    RepOthersPenalised3y: Int "rep_others_penalised_3y" [0, MAX_COUNT] Years(3), "of those, how many had a penalty in the last 3 years";
    TaxGrade: Str "tax_grade" [0, 0] AllTime, "latest tax credit grade: `A`, `B`, `M`, `C`, `D`, or `` when none";
    IndustrySection: Str "industry_section" [0, 0] Static, "GB/T 4754 section letter, e.g. `C`";
    Industry: Str "industry" [0, 0] Static, "GB/T 4754 code as registered, e.g. `C1391`";
    EntityKind: Str "entity_kind" [0, 0] Static, "`enterprise`, `individual-business`, `farmers-cooperative`, `branch` or `other`";
    Status: Str "status" [0, 0] Static, "`active`, `deregistered`, `revoked` or `moved-out`";
    Jurisdiction: Str "jurisdiction" [0, 0] Static, "supervising jurisdiction: division code or zone id";
    Licences: StrList "licences" [0, 0] Now, "licence kinds held (granted and not revoked), sorted";
}

/// Number of `int`/`bool` slots.
pub const N_NUM: usize = Feat::TaxGrade as usize;
/// First `string` slot.
const STR_BASE: usize = N_NUM;
/// Number of `string` slots.
pub const N_STR: usize = Feat::Licences as usize - STR_BASE;
/// First `list(string)` slot.
const LIST_BASE: usize = Feat::Licences as usize;
/// Number of `list(string)` slots.
pub const N_LIST: usize = 1;

/// A key sector: how it is recognised.
#[derive(Clone, Copy, Debug)]
pub struct SectorDef {
    /// Scope name used in rule files (`scope = "food"`).
    pub scope: &'static str,
    /// The bool feature that says an enterprise is in the sector.
    pub feature: Feat,
    /// GB/T 4754-2017 code prefixes of the sector.
    pub industries: &'static [&'static str],
    /// Licence kinds that put an enterprise in the sector whatever its industry.
    pub licences: &'static [&'static str],
}

/// The key sectors of the Chengdu plan §9.2 and how each is recognised *(practice)*.
pub const SECTORS: &[SectorDef] = &[
    SectorDef {
        scope: "food",
        feature: Feat::SectorFood,
        // C13 agri-food processing, C14 food manufacturing, C15 beverages, H62 catering,
        // F512 food wholesale, F522 food retail.
        industries: &["C13", "C14", "C15", "H62", "F512", "F522"],
        licences: &["food", "food-production", "food-business"],
    },
    SectorDef {
        scope: "special-equipment",
        feature: Feat::SectorSpecialEquipment,
        // C341 boilers, C343 lifting and handling incl. lifts (C3435), C2461 amusement rides.
        industries: &["C341", "C343", "C2461"],
        licences: &["special-equipment"],
    },
    SectorDef {
        scope: "hazardous-chemicals",
        feature: Feat::SectorHazardousChemicals,
        // C25 petroleum and coal products, C26 chemical raw materials and products.
        industries: &["C25", "C26"],
        licences: &["hazardous-chemicals"],
    },
    SectorDef {
        scope: "drugs",
        feature: Feat::SectorDrugs,
        // C27 pharmaceuticals, F515 and F525 drug and medical-device wholesale and retail.
        industries: &["C27", "F515", "F525"],
        licences: &["drugs", "drug-production", "drug-business"],
    },
    SectorDef {
        scope: "construction",
        feature: Feat::SectorConstruction,
        industries: &["E"],
        licences: &["construction"],
    },
];

/// The lang [`Schema`] of [`SCHEMA`]: slot `i` is `SCHEMA[i]`.
pub fn lang_schema() -> Schema {
    let mut s = Schema::new();
    for f in SCHEMA {
        let range = (f.ty == Type::Int || f.ty == Type::Bool).then_some(f.range);
        s.add(f.name, f.ty, range);
    }
    s
}

/// The slot of a feature name.
pub fn slot_of(name: &str) -> Option<usize> {
    SCHEMA.iter().position(|f| f.name == name)
}

/// One feature value, owned (for decisions, case files and display).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureValue {
    /// `bool`
    Bool(bool),
    /// `int`
    Int(i64),
    /// `string`
    Str(String),
    /// `list(string)`
    List(Vec<String>),
}

impl fmt::Display for FeatureValue {
    /// CEL literal syntax: `3`, `true`, `"A"`, `["food"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureValue::Bool(b) => write!(f, "{b}"),
            FeatureValue::Int(i) => write!(f, "{i}"),
            FeatureValue::Str(s) => write!(f, "{s:?}"),
            FeatureValue::List(l) => write!(f, "{l:?}"),
        }
    }
}

/// Every feature of one enterprise as of one date, by slot.
///
/// Implements [`Features`], so compiled programs read it by array index. Built by [`compute`]
/// (or [`FeatureVector::neutral`] plus [`FeatureVector::set`] in tests and case files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureVector {
    nums: [i64; N_NUM],
    strs: [String; N_STR],
    lists: [Vec<String>; N_LIST],
}

impl Default for FeatureVector {
    fn default() -> Self {
        FeatureVector {
            nums: [0; N_NUM],
            strs: Default::default(),
            lists: Default::default(),
        }
    }
}

impl Features for FeatureVector {
    #[inline(always)]
    fn int(&self, slot: usize) -> i64 {
        // Programs only read int slots with `int`, all below N_NUM; out of range reads 0.
        match self.nums.get(slot) {
            Some(v) => *v,
            None => 0,
        }
    }
    #[inline(always)]
    fn bool(&self, slot: usize) -> bool {
        self.int(slot) != 0
    }
    #[inline]
    fn str(&self, slot: usize) -> &str {
        self.strs
            .get(slot.wrapping_sub(STR_BASE))
            .map_or("", String::as_str)
    }
    #[inline]
    fn list(&self, slot: usize) -> &[String] {
        self.lists
            .get(slot.wrapping_sub(LIST_BASE))
            .map_or(&[], Vec::as_slice)
    }
}

impl FeatureVector {
    /// The vector case files start from: an active enterprise of kind `enterprise`, 10 years
    /// old, capital 1,000,000 yuan, industry `F5212`, jurisdiction `510107`, nothing on record
    /// (every count 0, every flag false, no tax grade, no licence, no relations).
    pub fn neutral() -> FeatureVector {
        let mut v = FeatureVector::default();
        v.nums[Feat::AgeYears as usize] = 10;
        v.nums[Feat::RegisteredCapitalYuan as usize] = 1_000_000;
        v.put_str(Feat::IndustrySection, "F");
        v.put_str(Feat::Industry, "F5212");
        v.put_str(Feat::EntityKind, "enterprise");
        v.put_str(Feat::Status, "active");
        v.put_str(Feat::Jurisdiction, "510107");
        v
    }

    fn put_str(&mut self, f: Feat, s: &str) {
        if let Some(x) = self.strs.get_mut((f as usize).wrapping_sub(STR_BASE)) {
            s.clone_into(x);
        }
    }

    /// The `int` value of an `int` or `bool` feature (bools as 0/1; other types 0).
    #[inline]
    pub fn num(&self, f: Feat) -> i64 {
        self.int(f as usize)
    }

    /// The value in `slot` as its declared type, or `None` for an unknown slot.
    pub fn value(&self, slot: usize) -> Option<FeatureValue> {
        let def = SCHEMA.get(slot)?;
        Some(match def.ty {
            Type::Int => FeatureValue::Int(self.int(slot)),
            Type::Bool => FeatureValue::Bool(self.bool(slot)),
            Type::Str => FeatureValue::Str(self.str(slot).to_string()),
            Type::StrList => FeatureValue::List(self.list(slot).to_vec()),
        })
    }

    /// Sets feature `name`; the error says when the name is unknown or the type is wrong.
    pub fn set(&mut self, name: &str, value: FeatureValue) -> Result<(), String> {
        let slot = slot_of(name).ok_or_else(|| format!("unknown feature `{name}`"))?;
        let ty = SCHEMA[slot].ty;
        match (ty, value) {
            (Type::Int, FeatureValue::Int(i)) => self.nums[slot] = i,
            (Type::Bool, FeatureValue::Bool(b)) => self.nums[slot] = b as i64,
            (Type::Str, FeatureValue::Str(s)) => self.strs[slot - STR_BASE] = s,
            (Type::StrList, FeatureValue::List(l)) => self.lists[slot - LIST_BASE] = l,
            (ty, v) => {
                return Err(format!(
                    "feature `{name}` has type `{ty}`, the value `{v}` does not fit"
                ))
            }
        }
        Ok(())
    }

    /// Writes the relation features (see [`Relations`]).
    pub fn set_relations(&mut self, r: &Relations) {
        self.nums[Feat::RepOtherEnterprises as usize] = r.other_enterprises;
        self.nums[Feat::RepOthersSeriousList as usize] = r.others_on_serious_list;
        self.nums[Feat::RepOthersAbnormalList as usize] = r.others_on_abnormal_list;
        self.nums[Feat::RepOthersPenalised3y as usize] = r.others_penalised_3y;
    }

    /// Every `(name, value)` pair in slot order.
    pub fn named_values(&self) -> Vec<(&'static str, FeatureValue)> {
        (0..SCHEMA.len())
            .filter_map(|s| Some((SCHEMA[s].name, self.value(s)?)))
            .collect()
    }
}

/// Relation features of one enterprise: what is known about the *other* enterprises that share
/// its legal representative pseudonym.
///
/// How the caller computes them, for every enterprise E with representative R, as of the same
/// `as_of` and the same sequence cut as E's own features:
/// 1. for every enterprise X with representative R (E included, any status), compute X's
///    features with `Relations::default()` and take [`RepContribution::of`] those features;
/// 2. add the contributions of all of R's enterprises ([`RepContribution::add`]) into R's total;
/// 3. E's relations are [`Relations::from_totals`]`(total of R, contribution of E)`, i.e. the
///    total minus E's own share; then [`FeatureVector::set_relations`].
///
/// Relation features are never inputs of contributions, so there is no circularity and the
/// result does not depend on the order enterprises are visited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Relations {
    /// Other enterprises with the same legal representative.
    pub other_enterprises: i64,
    /// Of those, currently on the serious list.
    pub others_on_serious_list: i64,
    /// Of those, currently on the abnormal-operations list.
    pub others_on_abnormal_list: i64,
    /// Of those, with at least one (unrepaired) penalty in the last 3 years.
    pub others_penalised_3y: i64,
}

/// One enterprise's share in its legal representative's totals (see [`Relations`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepContribution {
    /// Enterprises counted (1 for one enterprise).
    pub enterprises: i64,
    /// On the serious list (0 or 1 for one enterprise).
    pub on_serious_list: i64,
    /// On the abnormal list.
    pub on_abnormal_list: i64,
    /// Penalised in the last 3 years.
    pub penalised_3y: i64,
}

impl RepContribution {
    /// The contribution of one enterprise, from its features.
    pub fn of(f: &FeatureVector) -> RepContribution {
        RepContribution {
            enterprises: 1,
            on_serious_list: f.num(Feat::OnSeriousList),
            on_abnormal_list: f.num(Feat::OnAbnormalList),
            penalised_3y: (f.num(Feat::Penalties3y) > 0) as i64,
        }
    }

    /// Adds another contribution into this total.
    pub fn add(&mut self, o: &RepContribution) {
        self.enterprises += o.enterprises;
        self.on_serious_list += o.on_serious_list;
        self.on_abnormal_list += o.on_abnormal_list;
        self.penalised_3y += o.penalised_3y;
    }
}

impl Relations {
    /// The relations of an enterprise: its representative's total minus its own contribution.
    pub fn from_totals(total: &RepContribution, own: &RepContribution) -> Relations {
        Relations {
            other_enterprises: (total.enterprises - own.enterprises).max(0),
            others_on_serious_list: (total.on_serious_list - own.on_serious_list).max(0),
            others_on_abnormal_list: (total.on_abnormal_list - own.on_abnormal_list).max(0),
            others_penalised_3y: (total.penalised_3y - own.penalised_3y).max(0),
        }
    }
}

/// Everything [`compute`] reads.
#[derive(Clone, Copy, Debug)]
pub struct FeatureInput<'a> {
    /// The enterprise version in force at the caller's sequence cut.
    pub enterprise: &'a Enterprise,
    /// Its stored events with `seq` at most the cut, in `seq` order.
    pub events: &'a [StoredEvent],
    /// Relation features, computed by the caller as [`Relations`] documents.
    pub relations: Relations,
}

/// Whole years from `from` to `to` (0 when `to` is before the first anniversary).
fn whole_years(from: Date, to: Date) -> i64 {
    if to < from {
        return 0;
    }
    let (fy, fm, fd) = from.ymd();
    let (ty, tm, td) = to.ymd();
    let mut n = (ty - fy) as i64;
    if (tm, td) < (fm, fd) {
        n -= 1;
    }
    n.max(0)
}

fn kind_str(k: EntityKind) -> &'static str {
    match k {
        EntityKind::Enterprise => "enterprise",
        EntityKind::IndividualBusiness => "individual-business",
        EntityKind::FarmersCooperative => "farmers-cooperative",
        EntityKind::Branch => "branch",
        EntityKind::Other => "other",
    }
}

fn status_str(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Deregistered => "deregistered",
        Status::Revoked => "revoked",
        Status::MovedOut => "moved-out",
    }
}

/// Whether an event kind can be repaired (see the module doc).
fn repairable(b: &EventBody) -> bool {
    matches!(
        b,
        EventBody::Penalty { .. }
            | EventBody::AbnormalListEntry { .. }
            | EventBody::SeriousListEntry { .. }
            | EventBody::SpotCheck { .. }
            | EventBody::Complaint { .. }
            | EventBody::Inspection { .. }
    )
}

/// Replays list entries and exits in `(date, seq)` order; returns (start of the current
/// listing if listed).
fn list_state(mut moves: Vec<(Date, u64, bool)>) -> Option<Date> {
    moves.sort_unstable();
    let mut start = None;
    for (d, _, entry) in moves {
        if entry {
            start = start.or(Some(d));
        } else {
            start = None;
        }
    }
    start
}

/// Computes every feature of one enterprise as of `as_of` (see the module doc for the exact
/// window, repair, list and annual-report semantics).
pub fn compute(input: &FeatureInput<'_>, as_of: Date) -> FeatureVector {
    let e = input.enterprise;
    let mut v = FeatureVector::default();
    let w1 = as_of.years_before(1);
    let w2 = as_of.years_before(2);
    let w3 = as_of.years_before(3);
    let visible = |ev: &&StoredEvent| ev.event.effective_date <= as_of;

    // Repairs in effect: the ids of the events they remove.
    let mut repaired: Vec<&str> = Vec::new();
    for se in input.events.iter().filter(visible) {
        if let EventBody::CreditRepair {
            repairs_event_id, ..
        } = &se.event.body
        {
            repaired.push(repairs_event_id);
        }
    }
    repaired.sort_unstable();
    repaired.dedup();
    let is_repaired = |ev: &CreditEvent| -> bool {
        !repaired.is_empty() && repaired.binary_search(&ev.event_id.as_str()).is_ok()
    };

    let n = &mut v.nums;
    let mut abnormal_moves = Vec::new();
    let mut serious_moves = Vec::new();
    let mut licence_moves: Vec<(Date, u64, bool, &str)> = Vec::new();
    let mut tax: Option<(i32, Date, u64, &'static str)> = None;
    let mut reports: Vec<(i32, Date)> = Vec::new();
    let mut repairs_applied = 0i64;

    for se in input.events.iter().filter(visible) {
        let ev = &se.event;
        let d = ev.effective_date;
        if repairable(&ev.body) && is_repaired(ev) {
            repairs_applied += 1;
            continue;
        }
        let in1 = d > w1;
        let in2 = d > w2;
        let in3 = d > w3;
        let add = |n: &mut [i64; N_NUM], f1: Feat, f2: Feat, f3: Feat, x: i64| {
            n[f1 as usize] += x * in1 as i64;
            n[f2 as usize] += x * in2 as i64;
            n[f3 as usize] += x * in3 as i64;
        };
        match &ev.body {
            EventBody::Penalty {
                amount_yuan,
                severity,
                ..
            } => {
                use Feat::*;
                add(n, Penalties1y, Penalties2y, Penalties3y, 1);
                let amt = (*amount_yuan).clamp(0, MAX_YUAN);
                for (f, w) in [
                    (PenaltyYuan1y, in1),
                    (PenaltyYuan2y, in2),
                    (PenaltyYuan3y, in3),
                ] {
                    if w {
                        n[f as usize] = (n[f as usize] + amt).min(MAX_YUAN);
                    }
                }
                match severity {
                    Severity::General => add(
                        n,
                        PenaltiesGeneral1y,
                        PenaltiesGeneral2y,
                        PenaltiesGeneral3y,
                        1,
                    ),
                    Severity::Heavier => add(
                        n,
                        PenaltiesHeavier1y,
                        PenaltiesHeavier2y,
                        PenaltiesHeavier3y,
                        1,
                    ),
                    Severity::Serious => add(
                        n,
                        PenaltiesSerious1y,
                        PenaltiesSerious2y,
                        PenaltiesSerious3y,
                        1,
                    ),
                }
            }
            EventBody::AbnormalListEntry { .. } => {
                n[Feat::AbnormalEntries3y as usize] += in3 as i64;
                abnormal_moves.push((d, se.seq, true));
            }
            EventBody::AbnormalListExit {} => abnormal_moves.push((d, se.seq, false)),
            EventBody::SeriousListEntry { .. } => {
                n[Feat::SeriousEntries3y as usize] += in3 as i64;
                serious_moves.push((d, se.seq, true));
            }
            EventBody::SeriousListExit {} => serious_moves.push((d, se.seq, false)),
            EventBody::SpotCheck { passed, .. } => {
                n[Feat::SpotChecks2y as usize] += in2 as i64;
                if !passed {
                    n[Feat::SpotCheckFailures1y as usize] += in1 as i64;
                    n[Feat::SpotCheckFailures2y as usize] += in2 as i64;
                }
            }
            EventBody::Complaint { verified } => {
                n[Feat::Complaints1y as usize] += in1 as i64;
                if *verified {
                    n[Feat::ComplaintsVerified1y as usize] += in1 as i64;
                    n[Feat::ComplaintsVerifiedPrev1y as usize] += (in2 && !in1) as i64;
                }
            }
            EventBody::Honour { .. } => n[Feat::Honours3y as usize] += in3 as i64,
            EventBody::TaxGrade { year, grade } => {
                let g = match grade {
                    crate::domain::TaxGrade::A => "A",
                    crate::domain::TaxGrade::B => "B",
                    crate::domain::TaxGrade::M => "M",
                    crate::domain::TaxGrade::C => "C",
                    crate::domain::TaxGrade::D => "D",
                };
                let key = (*year, d, se.seq, g);
                if tax.is_none_or(|t| (t.0, t.1, t.2) < (key.0, key.1, key.2)) {
                    tax = Some(key);
                }
            }
            EventBody::AnnualReport { year, filed_on } => reports.push((*year, *filed_on)),
            EventBody::LicenceGranted { kind } => licence_moves.push((d, se.seq, true, kind)),
            EventBody::LicenceRevoked { kind } => licence_moves.push((d, se.seq, false, kind)),
            EventBody::Inspection { result_codes, .. } => {
                n[Feat::Inspections2y as usize] += in2 as i64;
                let violation = result_codes.iter().any(|c| c.is_violation());
                if violation {
                    n[Feat::InspectionsViolation2y as usize] += in2 as i64;
                } else if result_codes.contains(&ResultCode::NoProblem) {
                    n[Feat::InspectionsClean2y as usize] += in2 as i64;
                }
                if result_codes.contains(&ResultCode::Refused) {
                    n[Feat::InspectionsRefused3y as usize] += in3 as i64;
                }
                if result_codes.contains(&ResultCode::Unreachable) {
                    n[Feat::InspectionsUnreachable2y as usize] += in2 as i64;
                }
            }
            EventBody::CreditRepair { .. } => {}
        }
    }
    n[Feat::ComplaintsGrowth as usize] =
        n[Feat::ComplaintsVerified1y as usize] - n[Feat::ComplaintsVerifiedPrev1y as usize];
    n[Feat::RepairsApplied as usize] = repairs_applied;

    if let Some(start) = list_state(abnormal_moves) {
        n[Feat::OnAbnormalList as usize] = 1;
        n[Feat::AbnormalListedYears as usize] = whole_years(start, as_of);
    }
    n[Feat::OnSeriousList as usize] = list_state(serious_moves).is_some() as i64;

    // Annual reports.
    let (ay, am, ad) = as_of.ymd();
    let last_due = if (am, ad) > (6, 30) { ay - 1 } else { ay - 2 };
    let est_year = e.established.year();
    let filed = |y: i32| reports.iter().filter(|r| r.0 == y).map(|r| r.1).min();
    if last_due >= est_year && filed(last_due).is_none() {
        n[Feat::AnnualReportMissing as usize] = 1;
    }
    let mut late = 0;
    for y in (last_due - 2)..=last_due {
        if y < est_year {
            continue;
        }
        let due = Date::from_ymd(y + 1, 6, 30);
        match (filed(y), due) {
            (None, _) => late += 1,
            (Some(f), Some(due)) if f > due => late += 1,
            _ => {}
        }
    }
    n[Feat::AnnualReportsLate3y as usize] = late;

    if let Some((year, _, _, g)) = tax {
        n[Feat::TaxGradeYear as usize] = year as i64;
        v.put_str(Feat::TaxGrade, g);
    }

    // Basic attributes.
    let n = &mut v.nums;
    n[Feat::AgeYears as usize] = whole_years(e.established, as_of);
    n[Feat::RegisteredCapitalYuan as usize] = e.registered_capital_yuan.clamp(0, MAX_YUAN);

    licence_moves.sort_unstable();
    let mut held: Vec<String> = Vec::new();
    for (_, _, grant, kind) in licence_moves {
        let pos = held.binary_search_by(|h| h.as_str().cmp(kind));
        match (grant, pos) {
            (true, Err(i)) => held.insert(i, kind.to_string()),
            (false, Ok(i)) => {
                held.remove(i);
            }
            _ => {}
        }
    }
    let mut any = false;
    for s in SECTORS {
        let by_industry = s.industries.iter().any(|p| e.industry.starts_with(p));
        let by_licence = held.iter().any(|h| s.licences.contains(&h.as_str()));
        if by_industry || by_licence {
            n[s.feature as usize] = 1;
            any = true;
        }
    }
    n[Feat::KeySector as usize] = any as i64;
    v.lists[0] = held;
    v.set_relations(&input.relations);
    v.put_str(Feat::IndustrySection, e.industry_section());
    v.put_str(Feat::Industry, &e.industry);
    v.put_str(Feat::EntityKind, kind_str(e.kind));
    v.put_str(Feat::Status, status_str(e.status));
    v.put_str(Feat::Jurisdiction, &e.jurisdiction);
    v
}

#[cfg(test)]
mod tests;
