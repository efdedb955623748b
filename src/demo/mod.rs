//! A deterministic synthetic population of Chengdu enterprises, their credit events and an
//! inspector roster, for demos, tests and benchmarks.
//!
//! Why synthetic: real registers hold personal data and cannot ship with the project. The
//! generator aims at shape, not truth: real Chengdu division codes, GB/T 4754 industries
//! weighted roughly as in a city register (wholesale and retail most common), valid credit
//! codes, legal representatives in pseudonym form with some shared across 2-3 enterprises, and
//! event histories drawn from a latent risk profile sampled from the tier mix seen in one city
//! (A 65.4%, B 25.3%, C 7.7%, D 1.5%). Each profile draws events whose effect under the
//! *default* rules (`rules/default/`) lands in that tier most of the time, plus noise that does
//! not (old events outside every window, repaired penalties, list exits, positive signals), so
//! the default rules reproduce the mix closely without the generator deciding tiers itself.
//!
//! Determinism: the only randomness is a splitmix64 generator seeded by the caller, consumed
//! in a fixed order; no clock, no hashing of addresses. Same `(entities, seed)` gives identical
//! output. Everything is dated relative to [`DEMO_AS_OF`].
//!
//! Speed: one pass, a few small allocations per record; 4,000,000 entities take seconds in a
//! release build.
//!
//! Incidents (issue 12): populations of at least [`INCIDENTS_MIN_ENTITIES`] also carry four
//! injected incidents with known ground truth ([`DemoData::incidents`]), so the early-warning
//! rules have something real to find, at every level: a spot-check failure cluster in one
//! district's bakery products (red) and a milder one in another's toys (yellow), a
//! verified-complaint surge in one district's catering against its flat baseline (red),
//! enterprises entering the serious list in the last month (red), and two district x industry
//! sections where two in three (orange) and one in four (blue) enterprises were put on the
//! abnormal list (a high C+D share). They draw from a
//! second generator, so every enterprise and event the main generator makes is unchanged; only
//! the chosen enterprises gain events.

use crate::domain::{
    AbnormalGround, CreditCode, CreditEvent, Date, Enterprise, EntityKind, EventBody, Inspector,
    RepairClass, ResultCode, Severity, Status, StoredEvent, TaxGrade,
};
use crate::rules::{compute, FeatureInput, FeatureVector, Relations, RepContribution, Tier};
use crate::warn::{fact_of, Fact, GroupTiers, Level};
use std::collections::{BTreeMap, BTreeSet};

/// The date the demo population is generated for and classified as of: `2026-11-01`.
pub const DEMO_AS_OF: &str = "2026-11-01";
const DEMO_AS_OF_DAYS: i32 = 20_758;

/// [`DEMO_AS_OF`] as a [`Date`].
pub fn demo_as_of() -> Date {
    Date::from_days(DEMO_AS_OF_DAYS)
}

/// A generated population.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoData {
    /// Enterprises, unique credit codes.
    pub enterprises: Vec<Enterprise>,
    /// Credit events grouped by enterprise (in enterprise order), each group in effective-date
    /// order; ingesting them in this order gives ascending sequence numbers per enterprise.
    pub events: Vec<CreditEvent>,
    /// The inspector roster.
    pub inspectors: Vec<Inspector>,
    /// The injected incidents, the ground truth the warning rules should find (empty below
    /// [`INCIDENTS_MIN_ENTITIES`]).
    pub incidents: Vec<Incident>,
}

/// Populations smaller than this carry no incidents (their groups are too small to hold them).
pub const INCIDENTS_MIN_ENTITIES: usize = 2_000;

/// One injected incident and the warning it should raise under the default warning rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// What was injected, in a few words.
    pub what: String,
    /// The default warning rule that should fire.
    pub rule_id: String,
    /// Its subject: `enterprise/<code>` or `group/<dim=value;...>`.
    pub subject: String,
    /// The level it should fire at.
    pub level: Level,
}

/// District, product category and the share of failures of the spot-check cluster.
const CLUSTER_DISTRICT: &str = "510104";
/// The product category of the spot-check cluster (糕点: bakery products).
pub const CLUSTER_CATEGORY: &str = "糕点";
/// Spot checks in the cluster, and how many of them fail.
const CLUSTER_CHECKS: u32 = 16;
const CLUSTER_FAILED: u32 = 10;
/// District and industry section of the complaint surge (catering, 武侯区).
const SURGE_DISTRICT: &str = "510107";
const SURGE_SECTION: &str = "H";
/// District of the serious-list entries, and how many.
const SERIOUS_DISTRICT: &str = "510106";
const SERIOUS_ENTRIES: u32 = 3;
/// District and section of the C+D concentration (wholesale and retail, 龙泉驿区: about 2% of
/// the population, so at least 30 enterprises from 2,000 up).
const CONCENTRATION_DISTRICT: &str = "510112";
const CONCENTRATION_SECTION: &str = "F";
/// A milder spot-check cluster (yellow): toys in 青羊区, 3 of 12 failed (250‰).
const TOYS_DISTRICT: &str = "510105";
/// The product category of the milder cluster (儿童玩具: toys).
pub const TOYS_CATEGORY: &str = "儿童玩具";
const TOYS_CHECKS: u32 = 12;
const TOYS_FAILED: u32 = 3;
/// A milder concentration (blue): one in four retailers and wholesalers of 新都区 on the
/// abnormal list (a C+D share of about 30%).
const MILD_DISTRICT: &str = "510114";

/// Rule ids of the default warning rules the incidents should fire.
const RULE_SPOT_CHECK_CLUSTER: &str = "group.spot-check-failure-rate";
const RULE_COMPLAINT_SURGE: &str = "group.complaints-change";
const RULE_SERIOUS_LIST: &str = "enterprise.serious-list-entry";
const RULE_CONCENTRATION: &str = "group.high-risk-concentration";

/// Injects the incidents while the population is generated (see the module doc).
struct Injector {
    r: Rng,
    on: bool,
    /// Complaints still to add to the surge.
    surge_left: u32,
    cluster_done: u32,
    toys_done: u32,
    mild_seen: u32,
    serious: Vec<CreditCode>,
    concentration_seen: u32,
}

impl Injector {
    fn new(seed: u64, entities: usize) -> Injector {
        Injector {
            r: Rng(seed ^ 0x1C1D_E475_2026_1203),
            on: entities >= INCIDENTS_MIN_ENTITIES,
            // About four times the group's usual month, whatever the population size.
            surge_left: 12 + u32::try_from(entities / 1_000).unwrap_or(u32::MAX),
            cluster_done: 0,
            toys_done: 0,
            mild_seen: 0,
            serious: Vec::new(),
            concentration_seen: 0,
        }
    }

    /// Adds this enterprise's incident events, if it is chosen.
    fn add(&mut self, e: &Enterprise, out: &mut Vec<CreditEvent>, first_event: usize) {
        // Old enough that every injected date is after establishment.
        if !self.on || e.status != Status::Active || DEMO_AS_OF_DAYS - e.established.days() < 400 {
            return;
        }
        let n = u32::try_from(out.len() - first_event).unwrap_or(0);
        let mut ev = Ev {
            code: e.credit_code,
            out,
            n,
        };
        let r = &mut self.r;
        let section = e.industry.get(..1).unwrap_or("");
        if e.jurisdiction == CLUSTER_DISTRICT && self.cluster_done < CLUSTER_CHECKS {
            let passed = self.cluster_done >= CLUSTER_FAILED;
            let d = r.days_ago(1, 25);
            ev.push(
                d,
                "samr-chengdu-food",
                EventBody::SpotCheck {
                    passed,
                    product_category: CLUSTER_CATEGORY.into(),
                },
            );
            self.cluster_done += 1;
        } else if e.jurisdiction == SURGE_DISTRICT
            && section == SURGE_SECTION
            && self.surge_left > 0
        {
            for _ in 0..self.surge_left.min(2) {
                let d = r.days_ago(1, 25);
                ev.complaint(d, true);
                self.surge_left -= 1;
            }
        } else if e.jurisdiction == SERIOUS_DISTRICT
            && (self.serious.len() as u32) < SERIOUS_ENTRIES
        {
            let d = r.days_ago(40, 60);
            ev.penalty(r, d, Severity::Serious);
            let entry = r.days_ago(2, 20);
            ev.push(
                entry,
                "samr-chengdu",
                EventBody::SeriousListEntry {
                    reason: "serious food safety violation".into(),
                },
            );
            self.serious.push(e.credit_code);
        } else if e.jurisdiction == TOYS_DISTRICT && self.toys_done < TOYS_CHECKS {
            let passed = self.toys_done >= TOYS_FAILED;
            let d = r.days_ago(1, 60);
            ev.push(
                d,
                "samr-chengdu",
                EventBody::SpotCheck {
                    passed,
                    product_category: TOYS_CATEGORY.into(),
                },
            );
            self.toys_done += 1;
        } else if e.jurisdiction == MILD_DISTRICT && section == CONCENTRATION_SECTION {
            self.mild_seen += 1;
            if self.mild_seen.is_multiple_of(4) {
                let entry = r.days_ago(60, 300);
                ev.abnormal(entry, None, AbnormalGround::Unreachable);
            }
        } else if e.jurisdiction == CONCENTRATION_DISTRICT && section == CONCENTRATION_SECTION {
            // Two of every three enterprises of the group go on the abnormal list (tier C).
            self.concentration_seen += 1;
            if !self.concentration_seen.is_multiple_of(3) {
                let entry = r.days_ago(60, 300);
                ev.abnormal(entry, None, AbnormalGround::Unreachable);
            }
        }
    }

    /// The ground truth of what was injected.
    fn incidents(&self) -> Vec<Incident> {
        if !self.on {
            return Vec::new();
        }
        let mut out = vec![
            Incident {
                what: format!(
                    "{CLUSTER_FAILED} of {CLUSTER_CHECKS} bakery spot checks failed in district \
                     {CLUSTER_DISTRICT} in the last month"
                ),
                rule_id: RULE_SPOT_CHECK_CLUSTER.into(),
                subject: format!(
                    "group/district={CLUSTER_DISTRICT};product_category={CLUSTER_CATEGORY}"
                ),
                level: Level::Red,
            },
            Incident {
                what: format!(
                    "verified complaints about catering in district {SURGE_DISTRICT} surge in \
                     the last month against a flat 12-month baseline"
                ),
                rule_id: RULE_COMPLAINT_SURGE.into(),
                subject: format!(
                    "group/district={SURGE_DISTRICT};industry_section={SURGE_SECTION}"
                ),
                level: Level::Red,
            },
            Incident {
                what: format!(
                    "two in three retailers and wholesalers of district \
                     {CONCENTRATION_DISTRICT} on the abnormal list (high C+D share)"
                ),
                rule_id: RULE_CONCENTRATION.into(),
                subject: format!(
                    "group/district={CONCENTRATION_DISTRICT};industry_section={CONCENTRATION_SECTION}"
                ),
                level: Level::Orange,
            },
        ];
        out.push(Incident {
            what: format!(
                "{TOYS_FAILED} of {TOYS_CHECKS} toy spot checks failed in district {TOYS_DISTRICT} \
                 in the last two months"
            ),
            rule_id: RULE_SPOT_CHECK_CLUSTER.into(),
            subject: format!("group/district={TOYS_DISTRICT};product_category={TOYS_CATEGORY}"),
            level: Level::Yellow,
        });
        out.push(Incident {
            what: format!(
                "one in four retailers and wholesalers of district {MILD_DISTRICT} on the \
                 abnormal list (raised C+D share)"
            ),
            rule_id: RULE_CONCENTRATION.into(),
            subject: format!(
                "group/district={MILD_DISTRICT};industry_section={CONCENTRATION_SECTION}"
            ),
            level: Level::Blue,
        });
        for code in &self.serious {
            out.push(Incident {
                what: format!("`{code}` entered the serious list in the last month"),
                rule_id: RULE_SERIOUS_LIST.into(),
                subject: format!("enterprise/{code}"),
                level: Level::Red,
            });
        }
        out
    }
}

/// splitmix64: tiny, fast, good enough for synthetic data, and fully specified here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// Index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as u64) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A day strictly inside `(as_of - hi_days, as_of - lo_days]`.
    fn days_ago(&mut self, lo_days: i32, hi_days: i32) -> Date {
        let span = (hi_days - lo_days).max(1) as u64;
        Date::from_days(DEMO_AS_OF_DAYS - lo_days - self.below(span) as i32)
    }
}

/// Chengdu divisions (GB/T 2260) with names; the second code, when present, is the retired code
/// some older enterprises still carry in their credit code.
const DIVISIONS: &[(&str, &str, Option<&str>, u32)] = &[
    ("510104", "锦江区", None, 9),
    ("510105", "青羊区", None, 9),
    ("510106", "金牛区", None, 10),
    ("510107", "武侯区", None, 11),
    ("510108", "成华区", None, 9),
    ("510112", "龙泉驿区", None, 6),
    ("510113", "青白江区", None, 3),
    ("510114", "新都区", None, 6),
    ("510115", "温江区", None, 4),
    ("510116", "双流区", Some("510122"), 7),
    ("510117", "郫都区", Some("510124"), 5),
    ("510118", "新津区", Some("510132"), 2),
    ("510121", "金堂县", None, 2),
    ("510129", "大邑县", None, 2),
    ("510131", "蒲江县", None, 1),
    ("510181", "都江堰市", None, 3),
    ("510182", "彭州市", None, 2),
    ("510183", "邛崃市", None, 2),
    ("510184", "崇州市", None, 2),
    ("510185", "简阳市", None, 3),
];

/// Zones with their own registration authorities (jurisdiction ids), and their weight.
const ZONES: &[(&str, &str, u32)] = &[
    ("chengdu-hitech", "高新区", 8),
    ("tianfu-newarea", "天府新区", 4),
];

/// GB/T 4754-2017 classes with a weight (per mille, roughly a city register) and a name word.
const INDUSTRIES: &[(&str, u32, &str)] = &[
    ("F5181", 90, "贸易"),
    ("F5191", 60, "商贸"),
    ("F5211", 40, "百货"),
    ("F5212", 45, "超市"),
    ("F5123", 12, "食品"),
    ("F5221", 15, "粮油"),
    ("F5137", 35, "服饰"),
    ("F5174", 30, "电子"),
    ("F5261", 20, "汽车销售"),
    ("F5151", 6, "医药"),
    ("F5251", 8, "大药房"),
    ("L7212", 60, "企业管理"),
    ("L7251", 35, "广告"),
    ("L7281", 25, "会展"),
    ("L7121", 20, "租赁"),
    ("I6513", 45, "软件"),
    ("I6421", 25, "网络科技"),
    ("I6531", 20, "信息技术"),
    ("M7519", 40, "科技"),
    ("M7484", 20, "设计"),
    ("M7320", 15, "技术研究"),
    ("C1391", 10, "食品加工"),
    ("C1431", 8, "食品"),
    ("C1495", 6, "调味品"),
    ("C1512", 4, "酒业"),
    ("C2710", 4, "制药"),
    ("C2614", 5, "化工"),
    ("C2641", 3, "涂料"),
    ("C3411", 2, "锅炉"),
    ("C3435", 3, "电梯"),
    ("C3311", 12, "金属制品"),
    ("C3989", 15, "电子科技"),
    ("C2929", 10, "塑料制品"),
    ("C1810", 8, "服装"),
    ("H6210", 55, "餐饮"),
    ("H6291", 15, "小吃"),
    ("H6110", 10, "酒店"),
    ("E4720", 20, "建设"),
    ("E4851", 12, "工程"),
    ("E5011", 15, "装饰"),
    ("Q8411", 8, "医院"),
    ("Q8491", 7, "门诊"),
    ("G5430", 15, "物流"),
    ("G5990", 10, "仓储"),
    ("K7010", 20, "房地产"),
    ("R8610", 10, "文化传媒"),
    ("O8010", 15, "家政"),
    ("A0141", 5, "农业"),
    ("P8391", 8, "培训"),
];

const BRAND: &[&str] = &[
    "蜀", "锦", "蓉", "天", "府", "川", "华", "鑫", "盛", "汇", "博", "瑞", "兴", "恒", "达", "通",
    "泰", "安", "和", "丰", "信", "诚", "宏", "源", "星", "宇", "嘉", "佳", "润", "德",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰",
];
const ROADS: &[&str] = &[
    "人民南路",
    "蜀都大道",
    "天府大道",
    "一环路",
    "二环路",
    "红星路",
    "建设路",
];
const DEPARTMENTS: &[(&str, &[&str])] = &[
    ("samr-chengdu", &["general", "special-equipment"]),
    ("samr-chengdu-food", &["general", "food"]),
    ("health-chengdu", &["general", "food"]),
    ("emergency-chengdu", &["general", "hazardous-chemicals"]),
    ("tax-chengdu", &["general"]),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    A,
    B,
    C,
    D,
}

/// Builds the events of one enterprise.
struct Ev<'a> {
    code: CreditCode,
    out: &'a mut Vec<CreditEvent>,
    n: u32,
}

impl Ev<'_> {
    fn push(&mut self, date: Date, dept: &str, body: EventBody) -> String {
        self.n += 1;
        let id = format!("{}-{:02}", self.code, self.n);
        self.out.push(CreditEvent {
            event_id: id.clone(),
            credit_code: self.code,
            effective_date: date,
            source_department: dept.to_string(),
            body,
        });
        id
    }

    fn penalty(&mut self, r: &mut Rng, date: Date, severity: Severity) -> String {
        let amount = match severity {
            Severity::General => 1_000 * (1 + r.below(20) as i64),
            Severity::Heavier => 10_000 * (5 + r.below(25) as i64),
            Severity::Serious => 100_000 * (2 + r.below(20) as i64),
        };
        let kind = if severity == Severity::Serious && r.chance(0.2) {
            "licence-revocation"
        } else {
            "fine"
        };
        self.push(
            date,
            "samr-chengdu",
            EventBody::Penalty {
                decision_number: format!("成市监处〔{}〕{}号", date.year(), 100 + r.below(9000)),
                amount_yuan: amount,
                severity,
                kind: kind.into(),
            },
        )
    }

    fn inspection(&mut self, r: &mut Rng, date: Date, codes: &[ResultCode]) {
        self.push(
            date,
            "samr-chengdu",
            EventBody::Inspection {
                item_id: format!("item-{:03}", r.below(40)),
                inspector_ids: vec![
                    format!("insp-{:05}", r.below(20)),
                    format!("insp-{:05}", 20 + r.below(20)),
                ],
                result_codes: codes.iter().copied().collect::<BTreeSet<_>>(),
                draw_id: None,
            },
        );
    }

    fn spot_check(&mut self, r: &mut Rng, date: Date, passed: bool) {
        let cat = *r.pick(&["食品", "电线电缆", "儿童用品", "化肥", "家用电器"]);
        self.push(
            date,
            "samr-chengdu",
            EventBody::SpotCheck {
                passed,
                product_category: cat.into(),
            },
        );
    }

    fn complaint(&mut self, date: Date, verified: bool) {
        self.push(date, "hotline-12345", EventBody::Complaint { verified });
    }

    fn abnormal(&mut self, entry: Date, exit: Option<Date>, ground: AbnormalGround) {
        self.push(
            entry,
            "samr-chengdu",
            EventBody::AbnormalListEntry { ground },
        );
        if let Some(x) = exit {
            self.push(x, "samr-chengdu", EventBody::AbnormalListExit {});
        }
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Date {
    // Only called with month 1-12 and day 1-28, within the supported years.
    Date::from_ymd(y, m, d).unwrap_or(Date::from_days(0))
}

fn hex32(r: &mut Rng) -> String {
    format!("{:016x}{:016x}", r.next(), r.next())
}

/// Generates `entities` enterprises with their events and an inspector roster
/// (`max(entities / 40, 220)` inspectors), deterministically from `seed`.
pub fn generate(entities: usize, seed: u64) -> DemoData {
    let mut r = Rng(seed ^ 0x5EED_C0DE_2026_1101);
    let as_of = demo_as_of();
    let div_weights: Vec<u32> = DIVISIONS
        .iter()
        .map(|d| d.3)
        .chain(ZONES.iter().map(|z| z.2))
        .collect();
    let ind_weights: Vec<u32> = INDUSTRIES.iter().map(|i| i.1).collect();
    let mut enterprises = Vec::with_capacity(entities);
    let mut events = Vec::with_capacity(entities * 4);
    let mut recent_reps: Vec<String> = Vec::with_capacity(64);
    // 31^9 organisation codes: a bijective affine map of the index keeps codes unique.
    const M: u64 = 26_439_622_160_671;
    let mul = 7_919_u64 * 31 + 1; // not a multiple of 31, so coprime with 31^9
    let add = r.below(M);
    let mut injector = Injector::new(seed, entities);
    for i in 0..entities {
        let kind = match r.below(100) {
            0..=69 => EntityKind::Enterprise,
            70..=94 => EntityKind::IndividualBusiness,
            95 => EntityKind::FarmersCooperative,
            _ => EntityKind::Branch,
        };
        let d = r.weighted(&div_weights);
        let (jurisdiction, place, authority) = if d < DIVISIONS.len() {
            let (code, name, old, _) = DIVISIONS[d];
            let auth = match old {
                Some(o) if r.chance(0.3) => o,
                _ => code,
            };
            (code, name, auth)
        } else {
            let (id, name, _) = ZONES[d - DIVISIONS.len()];
            (id, name, "510100")
        };
        let (industry, _, word) = INDUSTRIES[r.weighted(&ind_weights)];
        let mut first = [0u8; 17];
        first[0] = b'9';
        first[1] = match kind {
            EntityKind::IndividualBusiness => b'2',
            EntityKind::FarmersCooperative => b'3',
            _ => b'1',
        };
        first[2..8].copy_from_slice(authority.as_bytes());
        let mut org = ((i as u128 * mul as u128 + add as u128) % M as u128) as u64;
        for k in (8..17).rev() {
            first[k] = crate::domain::code::ALPHABET[(org % 31) as usize];
            org /= 31;
        }
        // The first 17 characters are all alphabet characters, so a check character exists.
        let Some(code) = CreditCode::with_check(&first) else {
            continue;
        };
        let brand = format!("{}{}", r.pick(BRAND), r.pick(BRAND));
        let name = match kind {
            EntityKind::IndividualBusiness => format!("{place}{brand}{word}店"),
            EntityKind::FarmersCooperative => format!("{place}{brand}种植专业合作社"),
            EntityKind::Branch => format!("成都{brand}{word}有限公司{place}分公司"),
            _ => format!("成都{brand}{word}有限公司"),
        };
        let u = (r.below(1_000_000) as f64) / 1_000_000.0;
        let age_days = (u * u * 30.0 * 365.0) as i32;
        let established = Date::from_days(DEMO_AS_OF_DAYS - age_days);
        let capital = match kind {
            EntityKind::IndividualBusiness => 10_000 * (1 + r.below(50) as i64),
            _ => 10_000 * (10f64.powf(1.0 + r.below(1000) as f64 / 250.0)) as i64,
        };
        let status = match r.below(1000) {
            0..=969 => Status::Active,
            970..=989 => Status::Deregistered,
            990..=994 => Status::Revoked,
            _ => Status::MovedOut,
        };
        let rep = if !recent_reps.is_empty() && r.chance(0.08) {
            recent_reps[r.below(recent_reps.len() as u64) as usize].clone()
        } else {
            let p = format!("lr:{}", hex32(&mut r));
            if recent_reps.len() < 64 {
                recent_reps.push(p.clone());
            } else {
                let k = r.below(64) as usize;
                recent_reps[k] = p.clone();
            }
            p
        };
        let address = format!("成都市{place}{}{}号", r.pick(ROADS), 1 + r.below(999));
        let e = Enterprise {
            credit_code: code,
            legacy_code: false,
            name,
            kind,
            registering_authority: authority.to_string(),
            jurisdiction: jurisdiction.to_string(),
            industry: industry.to_string(),
            established,
            registered_capital_yuan: capital,
            status,
            legal_representative: rep,
            address,
        };
        let start = events.len();
        history(&mut r, &e, as_of, &mut events);
        injector.add(&e, &mut events, start);
        events[start..].sort_by_key(|ev: &CreditEvent| ev.effective_date);
        enterprises.push(e);
    }
    let inspectors = inspectors(&mut r, &enterprises, entities);
    DemoData {
        enterprises,
        events,
        inspectors,
        incidents: injector.incidents(),
    }
}

fn history(r: &mut Rng, e: &Enterprise, as_of: Date, out: &mut Vec<CreditEvent>) {
    let profile = match r.below(1000) {
        0..=653 => Profile::A,
        654..=906 => Profile::B,
        907..=990 => Profile::C,
        _ => Profile::D,
    };
    let age = (as_of.days() - e.established.days()).max(1);
    let mut ev = Ev {
        code: e.credit_code,
        out,
        n: 0,
    };
    // Nothing can happen before establishment: clamp event ages to the enterprise's age.
    let ago =
        |r: &mut Rng, lo: i32, hi: i32| r.days_ago(lo.min(age - 1).max(0), hi.min(age).max(1));
    // Complaints arrive at a steady rate over the enterprise's life: one that would fall before
    // establishment is not made (instead of being squeezed into a young enterprise's few days,
    // which would make every recent month look like a surge to the complaint-change warning).
    // Draws the same one number as `ago`, so every other event stays as it was.
    let lived = |r: &mut Rng, lo: i32, hi: i32| {
        let d = r.days_ago(lo, hi);
        (d >= e.established).then_some(d)
    };
    let est_year = e.established.year();

    // Licences for key-sector industries.
    let licence = sector_licence(&e.industry);
    if let Some(kind) = licence {
        if r.chance(0.97) {
            let d = e.established.add_days(r.below(60) as i32).min(as_of);
            ev.push(
                d,
                "samr-chengdu",
                EventBody::LicenceGranted { kind: kind.into() },
            );
        }
    }

    // Annual reports for the last three due years (2023-2025 on DEMO_AS_OF).
    let report_on_time = match profile {
        Profile::A => 0.995,
        Profile::B => 0.97,
        Profile::C => 0.85,
        Profile::D => 0.7,
    };
    let mut skip_last_report = false;
    for y in (as_of.year() - 3)..(as_of.year()) {
        if y < est_year {
            continue;
        }
        let last = y == as_of.year() - 1;
        if last && skip_last_report {
            continue;
        }
        if r.chance(report_on_time) {
            let d = ymd(y + 1, 1 + r.below(6) as u32, 1 + r.below(28) as u32);
            ev.push(
                d,
                "samr-chengdu",
                EventBody::AnnualReport {
                    year: y,
                    filed_on: d,
                },
            );
        } else if !last || r.chance(0.5) {
            let d = ymd(y + 1, 7 + r.below(3) as u32, 1 + r.below(28) as u32);
            if d <= as_of {
                ev.push(
                    d,
                    "samr-chengdu",
                    EventBody::AnnualReport {
                        year: y,
                        filed_on: d,
                    },
                );
            }
        } else {
            skip_last_report = true;
        }
    }

    // Tax credit grade for the last tax year, published in April.
    if r.chance(0.6) && est_year < as_of.year() - 1 {
        let grades: [u32; 5] = match profile {
            Profile::A => [30, 52, 18, 0, 0],
            Profile::B => [5, 65, 20, 10, 0],
            Profile::C => [0, 50, 12, 35, 3],
            Profile::D => [0, 20, 5, 40, 35],
        };
        let grade = [
            TaxGrade::A,
            TaxGrade::B,
            TaxGrade::M,
            TaxGrade::C,
            TaxGrade::D,
        ][r.weighted(&grades)];
        let y = as_of.year() - 1;
        ev.push(
            ymd(y + 1, 4, 1 + r.below(28) as u32),
            "tax-chengdu",
            EventBody::TaxGrade { year: y, grade },
        );
    }

    // Noise that no window sees, or that was repaired or exited long ago.
    if r.chance(0.06) && age > 4 * 365 {
        let d = ago(r, 3 * 365 + 30, 8 * 365);
        ev.penalty(r, d, Severity::General);
    }
    if r.chance(0.02) && age > 5 * 365 {
        let entry = ago(r, 4 * 365, 8 * 365);
        ev.abnormal(
            entry,
            Some(entry.add_days(90 + r.below(300) as i32)),
            AbnormalGround::AnnualReportNotFiled,
        );
    }
    if r.chance(0.02) {
        let d = ago(r, 200, 3 * 365);
        let id = ev.penalty(r, d, Severity::General);
        let repair = d.add_days(60 + r.below(120) as i32).min(as_of);
        ev.push(
            repair,
            "samr-chengdu",
            EventBody::CreditRepair {
                repairs_event_id: id,
                class: RepairClass::Minor,
            },
        );
    }
    if r.chance(0.01) {
        let d = lived(r, 400, 2 * 365);
        let verified = r.chance(0.5);
        if let Some(d) = d {
            ev.complaint(d, verified);
        }
    }

    match profile {
        Profile::A => {
            if r.chance(0.08) {
                let d = ago(r, 0, 2 * 365);
                ev.inspection(r, d, &[ResultCode::NoProblem]);
            }
            if r.chance(0.04) {
                let d = ago(r, 0, 3 * 365);
                ev.push(
                    d,
                    "samr-chengdu",
                    EventBody::Honour {
                        kind: "contract-keeping".into(),
                    },
                );
            }
            match r.below(100) {
                0..=11 => {
                    let d = ago(r, 0, 3 * 365);
                    ev.penalty(r, d, Severity::General);
                }
                12..=21 => {
                    if let Some(d) = lived(r, 0, 365) {
                        ev.complaint(d, true);
                    }
                }
                22..=27 => {
                    let d = ago(r, 0, 2 * 365);
                    ev.inspection(r, d, &[ResultCode::Corrected]);
                }
                _ => {}
            }
        }
        Profile::B => match r.below(8) {
            0 => {
                let d = ago(r, 0, 3 * 365);
                ev.penalty(r, d, Severity::Heavier);
            }
            1 => {
                for _ in 0..2 {
                    let d = ago(r, 0, 3 * 365);
                    ev.penalty(r, d, Severity::General);
                }
                if let Some(d) = lived(r, 0, 365) {
                    ev.complaint(d, true);
                }
            }
            2 => {
                let d = ago(r, 0, 2 * 365);
                ev.spot_check(r, d, false);
                let d = ago(r, 0, 3 * 365);
                ev.penalty(r, d, Severity::General);
            }
            3 => {
                let d = ago(r, 0, 2 * 365);
                ev.inspection(r, d, &[ResultCode::Unreachable]);
                if let Some(d) = lived(r, 0, 365) {
                    ev.complaint(d, true);
                }
            }
            4 => {
                let entry = ago(r, 200, 3 * 365 - 30);
                ev.abnormal(
                    entry,
                    Some(entry.add_days(60 + r.below(120) as i32).min(as_of)),
                    AbnormalGround::Unreachable,
                );
                let d = ago(r, 0, 2 * 365);
                ev.inspection(r, d, &[ResultCode::ProblemPending]);
                if let Some(d) = lived(r, 0, 365) {
                    ev.complaint(d, true);
                }
            }
            5 => {
                for _ in 0..2 {
                    let d = ago(r, 0, 2 * 365);
                    ev.inspection(r, d, &[ResultCode::QualityViolation]);
                }
            }
            6 => {
                for _ in 0..4 {
                    if let Some(d) = lived(r, 0, 365) {
                        ev.complaint(d, true);
                    }
                }
            }
            _ => {
                let d = ago(r, 0, 3 * 365);
                ev.penalty(r, d, Severity::General);
                let d = ago(r, 0, 2 * 365);
                ev.inspection(r, d, &[ResultCode::OtherViolation]);
                if let Some(d) = lived(r, 0, 365) {
                    ev.complaint(d, true);
                }
            }
        },
        Profile::C => {
            if r.chance(0.55) {
                let ground = if r.chance(0.6) {
                    AbnormalGround::AnnualReportNotFiled
                } else {
                    AbnormalGround::Unreachable
                };
                let entry = ago(r, 30, 2 * 365);
                ev.abnormal(entry, None, ground);
                if ground == AbnormalGround::Unreachable {
                    ev.inspection(r, entry.add_days(-20), &[ResultCode::Unreachable]);
                }
            } else {
                match r.below(3) {
                    0 => {
                        let d = ago(r, 400, 3 * 365);
                        ev.penalty(r, d, Severity::Serious);
                        let d = ago(r, 0, 3 * 365);
                        ev.penalty(r, d, Severity::General);
                    }
                    1 => {
                        for _ in 0..2 {
                            let d = ago(r, 0, 3 * 365);
                            ev.penalty(r, d, Severity::Heavier);
                        }
                        for _ in 0..2 {
                            if let Some(d) = lived(r, 0, 365) {
                                ev.complaint(d, true);
                            }
                        }
                    }
                    _ => {
                        let d = ago(r, 0, 3 * 365);
                        ev.inspection(r, d, &[ResultCode::Refused]);
                        let d = ago(r, 0, 2 * 365);
                        ev.inspection(r, d, &[ResultCode::FoodDrugViolation]);
                    }
                }
            }
        }
        Profile::D => match r.below(20) {
            0..=10 => {
                let d = ago(r, 200, 3 * 365);
                ev.penalty(r, d, Severity::Serious);
                let entry = d.add_days(30 + r.below(60) as i32).min(as_of);
                ev.push(
                    entry,
                    "samr-chengdu",
                    EventBody::SeriousListEntry {
                        reason: "heavy fine for fake products".into(),
                    },
                );
            }
            11..=13 => {
                let entry = ago(r, 3 * 365 + 40, 5 * 365);
                ev.abnormal(entry, None, AbnormalGround::Unreachable);
            }
            _ => {
                for _ in 0..2 {
                    let d = ago(r, 0, 3 * 365);
                    ev.penalty(r, d, Severity::Serious);
                }
            }
        },
    }
}

/// The licence kind a key-sector industry needs, if any.
fn sector_licence(industry: &str) -> Option<&'static str> {
    for s in crate::rules::SECTORS {
        if s.industries.iter().any(|p| industry.starts_with(p)) {
            return s.licences.first().copied();
        }
    }
    None
}

fn inspectors(r: &mut Rng, enterprises: &[Enterprise], entities: usize) -> Vec<Inspector> {
    // Inspection events name inspectors `insp-00000` to `insp-00039`: the roster must hold them.
    // One inspector per 40 entities, at least 220: every department has inspectors in every
    // jurisdiction (departments and home jurisdictions are dealt round-robin; each inspector
    // also covers the next jurisdiction), so demo draws can staff their teams.
    let n = (entities / 40).max(220);
    let juris: Vec<&str> = DIVISIONS
        .iter()
        .map(|d| d.0)
        .chain(ZONES.iter().map(|z| z.0))
        .collect();
    (0..n)
        .map(|i| {
            let (dept, quals) = DEPARTMENTS[i % DEPARTMENTS.len()];
            let home = (i / DEPARTMENTS.len()) % juris.len();
            let js = vec![
                juris[home].to_string(),
                juris[(home + 1) % juris.len()].to_string(),
            ];
            let mut qualifications = vec!["general".to_string()];
            for q in quals.iter().skip(1) {
                if r.chance(0.9) {
                    qualifications.push(q.to_string());
                }
            }
            let expiry = if r.chance(0.1) {
                Date::from_days(DEMO_AS_OF_DAYS - 1 - r.below(400) as i32)
            } else {
                Date::from_days(DEMO_AS_OF_DAYS + 30 + r.below(4 * 365) as i32)
            };
            let mut conflict_enterprises = Vec::new();
            let mut conflict_legal_representatives = Vec::new();
            if !enterprises.is_empty() && r.chance(0.04) {
                let e = &enterprises[r.below(enterprises.len() as u64) as usize];
                conflict_enterprises.push(e.credit_code);
                if r.chance(0.5) {
                    conflict_legal_representatives.push(e.legal_representative.clone());
                }
            }
            Inspector {
                inspector_id: format!("insp-{i:05}"),
                name: format!("{}{}{}", r.pick(SURNAMES), r.pick(GIVEN), r.pick(GIVEN)),
                department: dept.to_string(),
                jurisdictions: js,
                qualifications,
                certificate_number: format!("川执{:08}", 10_000_000 + i),
                certificate_expiry: expiry,
                conflict_enterprises,
                conflict_legal_representatives,
                active: r.chance(0.97),
            }
        })
        .collect()
}

/// Computes every enterprise's features as of `as_of`, with relations computed exactly as
/// [`Relations`] documents, assigning sequence numbers in the order of `data.events`.
/// Returns vectors in `data.enterprises` order.
pub fn features(data: &DemoData, as_of: Date) -> Vec<FeatureVector> {
    // Events are grouped by enterprise in enterprise order (see `DemoData::events`), but do not
    // rely on it: group by code.
    let mut by_code: BTreeMap<CreditCode, Vec<StoredEvent>> = BTreeMap::new();
    for (i, e) in data.events.iter().enumerate() {
        by_code.entry(e.credit_code).or_default().push(StoredEvent {
            seq: i as u64 + 1,
            event: e.clone(),
        });
    }
    let empty = Vec::new();
    let mut vectors: Vec<FeatureVector> = data
        .enterprises
        .iter()
        .map(|e| {
            let input = FeatureInput {
                enterprise: e,
                events: by_code.get(&e.credit_code).unwrap_or(&empty),
                relations: Relations::default(),
            };
            compute(&input, as_of)
        })
        .collect();
    let mut totals: BTreeMap<&str, RepContribution> = BTreeMap::new();
    for (e, v) in data.enterprises.iter().zip(&vectors) {
        totals
            .entry(e.legal_representative.as_str())
            .or_default()
            .add(&RepContribution::of(v));
    }
    for (e, v) in data.enterprises.iter().zip(vectors.iter_mut()) {
        if let Some(t) = totals.get(e.legal_representative.as_str()) {
            let rel = Relations::from_totals(t, &RepContribution::of(v));
            v.set_relations(&rel);
        }
    }
    vectors
}

/// The events of `data` as stored (sequence numbers in the order of `data.events`, from 1),
/// grouped by credit code.
pub fn stored_events(data: &DemoData) -> BTreeMap<CreditCode, Vec<StoredEvent>> {
    let mut by_code: BTreeMap<CreditCode, Vec<StoredEvent>> = BTreeMap::new();
    for (i, e) in data.events.iter().enumerate() {
        by_code.entry(e.credit_code).or_default().push(StoredEvent {
            seq: i as u64 + 1,
            event: e.clone(),
        });
    }
    by_code
}

/// The facts group warning signals count ([`fact_of`]) of every event of `data`, with the
/// sequence numbers [`stored_events`] gives, in event order.
pub fn warning_facts(data: &DemoData) -> Vec<Fact> {
    let by_code: BTreeMap<CreditCode, &Enterprise> = data
        .enterprises
        .iter()
        .map(|e| (e.credit_code, e))
        .collect();
    data.events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let ent = by_code.get(&e.credit_code)?;
            let stored = StoredEvent {
                seq: i as u64 + 1,
                event: e.clone(),
            };
            fact_of(ent, &stored)
        })
        .collect()
}

/// Tier counts per (jurisdiction, industry section) for concentration signals, given each
/// enterprise's tier in `data.enterprises` order.
pub fn group_tiers(data: &DemoData, tiers: &[Tier]) -> GroupTiers {
    let mut out = GroupTiers::new();
    for (e, t) in data.enterprises.iter().zip(tiers) {
        let section = e.industry.get(..1).unwrap_or("").to_string();
        out.entry((e.jurisdiction.clone(), section))
            .or_insert([0; 4])[*t as usize] += 1;
    }
    out
}

#[cfg(test)]
mod tests;
