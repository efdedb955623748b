//! Tests of the whole draw: known answers, determinism, statistics, constraints, bundles.

use super::*;
use crate::domain::{CreditCode, Date, EntityKind, Status};
use crate::sampling::sample;
use candidate::LastInspection;
use std::collections::BTreeMap;

const POLICY: &str = include_str!("../../rules/supervision.toml");
const JURIS: [&str; 4] = ["510104", "510105", "510106", "510107"];

/// splitmix64: deterministic test data without a random-number crate.
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

pub(super) fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

pub(super) fn code(n: u64) -> CreditCode {
    let a = crate::domain::code::ALPHABET;
    let mut first = *b"91510100000000000";
    let mut x = n;
    for i in (8..17).rev() {
        first[i] = a[(x % 31) as usize];
        x /= 31;
    }
    CreditCode::with_check(&first).unwrap()
}

pub(super) fn candidate(n: u64, tier: Tier, jurisdiction: &str) -> Candidate {
    Candidate {
        credit_code: code(n),
        tier,
        jurisdiction: jurisdiction.into(),
        industry: "H6210".into(),
        kind: EntityKind::Enterprise,
        status: Status::Active,
        licences: vec!["food-business".into()],
        legal_representative: format!("lr:{:032x}", n % 997),
        last_inspections: vec![],
        inspections_this_year: 0,
        last_team: vec![],
    }
}

/// `n` candidates with the 2023 city distribution (A 65.4%, B 25.3%, C 7.7%, D 1.5%).
fn candidates(n: u64, rng: &mut Rng) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            let r = rng.below(1000);
            let tier = match r {
                0..=653 => Tier::A,
                654..=906 => Tier::B,
                907..=983 => Tier::C,
                _ => Tier::D,
            };
            candidate(i, tier, JURIS[rng.below(4) as usize])
        })
        .collect()
}

pub(super) fn inspector(id: &str, dept: &str, juris: &[&str]) -> RosterEntry {
    RosterEntry {
        inspector_id: id.into(),
        department: dept.into(),
        active: true,
        certificate_expiry: d("2027-12-31"),
        jurisdictions: juris.iter().map(|s| s.to_string()).collect(),
        qualifications: vec!["food".into()],
        conflict_enterprises: vec![],
        conflict_legal_representatives: vec![],
    }
}

fn roster(n: usize, dept: &str, rng: &mut Rng) -> Vec<RosterEntry> {
    (0..n)
        .map(|i| {
            let j1 = JURIS[rng.below(4) as usize];
            let j2 = JURIS[rng.below(4) as usize];
            let mut r = inspector(&format!("{dept}-{i:03}"), dept, &[j1, j2]);
            r.jurisdictions.dedup();
            r
        })
        .collect()
}

fn item(kind: ItemKind) -> InspectionItem {
    InspectionItem {
        id: "food-2025-01".into(),
        name: "catering food safety".into(),
        basis: "food safety law art. 87".into(),
        departments: vec!["amr".into()],
        kind,
        qualifications: vec!["food".into()],
        scope: Scope {
            jurisdictions: vec![],
            industries: vec!["H62".into()],
            entity_kinds: vec![],
            licence_kinds: vec!["food-business".into()],
            credit_codes: Vec::new(),
        },
    }
}

pub(super) fn request(seed: &str) -> DrawRequest {
    DrawRequest {
        draw_id: "draw-2025-001".into(),
        item: item(ItemKind::Key),
        seed: seed.into(),
        seed_source: SeedSource::Caller,
        as_of: d("2025-09-01"),
        inspection_date: d("2025-09-26"),
        departments: vec!["amr".into()],
        overrides: PolicyOverrides::default(),
    }
}

pub(super) fn policy() -> SupervisionPolicy {
    SupervisionPolicy::from_toml("rules/supervision.toml", POLICY).unwrap()
}

pub(super) fn calendar() -> Calendar {
    Calendar::from_files(&[
        ("2025.toml", include_str!("../../rules/calendar/2025.toml")),
        ("2026.toml", include_str!("../../rules/calendar/2026.toml")),
    ])
    .unwrap()
}

fn generous() -> PolicyOverrides {
    PolicyOverrides {
        max_assignments_per_inspector: Some(1000),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct VectorFile {
    cases: Vec<VectorCase>,
}
#[derive(serde::Deserialize)]
struct VectorCase {
    seed: String,
    ids: Vec<String>,
    take: usize,
    expected: Vec<VectorExpected>,
}
#[derive(serde::Deserialize)]
struct VectorExpected {
    id: String,
    ticket_30_digits: String,
}

#[test]
fn known_answer_vectors_drive_the_entity_draw() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/consistent-sampler/vectors.json"
    ))
    .expect("read vectors.json");
    let file: VectorFile = serde_json::from_str(&text).unwrap();
    assert!(!file.cases.is_empty());
    for case in &file.cases {
        let n = case.ids.len() as u64;
        let mut cands: Vec<Candidate> = case
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let mut c = candidate(i as u64, Tier::C, "510104");
                c.credit_code = CreditCode::parse(id).unwrap();
                c
            })
            .collect();
        cands.reverse();
        // A ratio that makes k equal the case's `take` under floor rounding.
        let ratio = (0..=1000u32)
            .find(|r| Rounding::Floor.apply(*r, n) == case.take as u64)
            .expect("a ratio giving take");
        let mut req = request(&case.seed);
        req.overrides.ratio_per_mille.insert(Tier::C, ratio);
        req.overrides.rounding = Some(Rounding::Floor);
        let rec = run_draw(&req, &policy(), &cands, &[]).unwrap();
        let got: Vec<&str> = rec
            .selected
            .iter()
            .map(|s| s.credit_code.as_str())
            .collect();
        let want: Vec<&str> = case.expected.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(got, want, "seed {}", case.seed);
        for (s, e) in rec.selected.iter().zip(&case.expected) {
            assert!(
                s.ticket.starts_with(&e.ticket_30_digits),
                "{} vs {}",
                s.ticket,
                e.ticket_30_digits
            );
        }
    }
}

#[test]
fn same_inputs_give_byte_identical_records_whatever_the_order() {
    let mut rng = Rng(1);
    let mut cands = candidates(3000, &mut rng);
    let mut ros = roster(60, "amr", &mut rng);
    let mut req = request("dice 3-5-1-6-2-4");
    req.overrides = generous();
    let a = run_draw(&req, &policy(), &cands, &ros).unwrap().to_json();
    let b = run_draw(&req, &policy(), &cands, &ros).unwrap().to_json();
    assert_eq!(a, b);
    for _ in 0..3 {
        rng.shuffle(&mut cands);
        rng.shuffle(&mut ros);
        let c = run_draw(&req, &policy(), &cands, &ros).unwrap().to_json();
        assert_eq!(a, c);
    }
    let mut other = req.clone();
    other.seed.push('!');
    assert_ne!(
        a,
        run_draw(&other, &policy(), &cands, &ros).unwrap().to_json()
    );
}

#[test]
fn counts_exclusions_and_preview_agree() {
    let p = policy();
    let mut cands: Vec<Candidate> = (0..50).map(|i| candidate(i, Tier::B, "510104")).collect();
    cands[0].status = Status::Revoked;
    // 364 days before the inspection date: still within a year.
    cands[1].last_inspections = vec![LastInspection {
        item_id: "food-2025-01".into(),
        date: d("2024-09-27"),
    }];
    // Exactly 365 days before: allowed again.
    cands[2].last_inspections = vec![LastInspection {
        item_id: "food-2025-01".into(),
        date: d("2024-09-26"),
    }];
    // Another item recently: irrelevant.
    cands[3].last_inspections = vec![LastInspection {
        item_id: "other".into(),
        date: d("2025-09-01"),
    }];
    cands[4].inspections_this_year = 1;
    cands[5].industry = "C1391".into();
    let req = request("s");
    let rec = run_draw(&req, &p, &cands, &[]).unwrap();
    let ex: Vec<(CreditCode, &str)> = rec
        .exclusions
        .iter()
        .map(|e| (e.credit_code, e.reason.as_str()))
        .collect();
    let mut want = vec![
        (code(0), "not-active"),
        (code(1), "recently-inspected"),
        (code(4), "yearly-cap"),
    ];
    want.sort();
    assert_eq!(ex, want);
    assert_eq!(rec.out_of_scope, 1);
    let b = &rec.tiers[1];
    assert_eq!((b.candidates, b.excluded, b.eligible), (49, 3, 46));
    assert_eq!(b.k, 5); // ceil(100 × 46 / 1000) = ceil(4.6)
    assert_eq!(rec.selected.len(), 5);
    let pv = preview(&req.item, &p, req.inspection_date, &cands).unwrap();
    assert_eq!(pv.tiers, rec.tiers);
    // General items cap the ratio: tier D at 700‰ becomes 500‰.
    let dcands: Vec<Candidate> = (0..10).map(|i| candidate(i, Tier::D, "510104")).collect();
    let pv = preview(&item(ItemKind::General), &p, req.inspection_date, &dcands).unwrap();
    assert_eq!((pv.tiers[3].per_mille, pv.tiers[3].k), (500, 5));
    let pv = preview(&item(ItemKind::Key), &p, req.inspection_date, &dcands).unwrap();
    assert_eq!((pv.tiers[3].per_mille, pv.tiers[3].k), (700, 7));
    // Duplicates are rejected, naming the field.
    let mut dup = dcands.clone();
    dup.push(dcands[3].clone());
    let e = preview(&req.item, &p, req.inspection_date, &dup)
        .unwrap_err()
        .to_string();
    assert!(e.contains("candidates[10].credit_code"), "{e}");
}

/// Each enterprise of a tier is drawn with the tier's ratio: a chi-square goodness-of-fit over
/// 200 fixed seeds, so the test is deterministic.
#[test]
fn chi_square_selection_frequency_matches_the_ratio() {
    let mut cands: Vec<Candidate> = (0..50).map(|i| candidate(i, Tier::B, "510104")).collect();
    cands.extend((50..70).map(|i| candidate(i, Tier::D, "510105")));
    let p = policy();
    let mut hits: BTreeMap<CreditCode, u64> = BTreeMap::new();
    let seeds = 200;
    for s in 0..seeds {
        let rec = run_draw(&request(&format!("chi-{s}")), &p, &cands, &[]).unwrap();
        assert_eq!(rec.tiers[1].k, 5); // 100‰ of 50
        assert_eq!(rec.tiers[3].k, 14); // 700‰ of 20
        for x in &rec.selected {
            *hits.entry(x.credit_code).or_default() += 1;
        }
    }
    // Per tier: statistic over drawn and not-drawn counts, df = N - 1. Critical values at
    // p = 0.001: chi2(49) = 85.35, chi2(19) = 43.82.
    for (range, k, n, critical) in [(0..50u64, 5.0, 50.0, 85.35), (50..70, 14.0, 20.0, 43.82)] {
        let e_in = seeds as f64 * k / n;
        let e_out = seeds as f64 - e_in;
        let chi: f64 = range
            .map(|i| {
                let o = *hits.get(&code(i)).unwrap_or(&0) as f64;
                (o - e_in).powi(2) / e_in + (seeds as f64 - o - e_out).powi(2) / e_out
            })
            .sum();
        println!("chi-square {chi:.2} (critical {critical})");
        assert!(chi < critical, "chi-square {chi} above {critical}");
    }
}

#[test]
fn teams_respect_conflicts_sizes_and_workload_over_generated_rosters() {
    for round in 0..25u64 {
        let mut rng = Rng(100 + round);
        let cands = candidates(400, &mut rng);
        let mut ros = roster(12 + rng.below(20) as usize, "amr", &mut rng);
        for r in ros.iter_mut() {
            for _ in 0..rng.below(40) {
                r.conflict_enterprises.push(code(rng.below(400)));
            }
            r.conflict_legal_representatives
                .push(format!("lr:{:032x}", rng.below(997)));
            if rng.below(10) == 0 {
                r.active = false;
            }
            if rng.below(10) == 0 {
                r.certificate_expiry = d("2025-09-25"); // expires the day before
            }
        }
        let mut req = request(&format!("round-{round}"));
        let cap = 1 + rng.below(8) as u32;
        req.overrides.max_assignments_per_inspector = Some(cap);
        req.overrides.min_team_size = Some(2 + rng.below(2) as u32);
        let rec = run_draw(&req, &policy(), &cands, &ros).unwrap();
        let by_code: BTreeMap<CreditCode, &Candidate> =
            cands.iter().map(|c| (c.credit_code, c)).collect();
        let by_id: BTreeMap<&str, &RosterEntry> =
            ros.iter().map(|r| (r.inspector_id.as_str(), r)).collect();
        let mut load: BTreeMap<&str, u32> = BTreeMap::new();
        assert_eq!(rec.teams.len(), rec.selected.len());
        let mut unstaffed = 0;
        for (s, t) in rec.selected.iter().zip(&rec.teams) {
            assert_eq!(s.credit_code, t.credit_code);
            let c = by_code[&t.credit_code];
            let members = t.members();
            if members.is_empty() {
                unstaffed += 1;
                continue;
            }
            assert!(members.len() >= rec.policy.min_team_size as usize);
            for m in members {
                let r = by_id[m];
                assert!(
                    !r.conflict_enterprises.contains(&c.credit_code),
                    "{m} conflict"
                );
                assert!(!r
                    .conflict_legal_representatives
                    .contains(&c.legal_representative));
                assert!(r.active && r.certified_on(req.inspection_date));
                assert!(r.jurisdictions.contains(&c.jurisdiction));
                *load.entry(m).or_default() += 1;
            }
        }
        assert!(
            load.values().all(|&l| l <= cap),
            "workload cap {cap} broken"
        );
        assert!(
            rec.selected.len() > unstaffed,
            "round {round}: nobody staffed"
        );
    }
}

#[test]
fn unstaffable_enterprise_is_reported_with_the_constraint() {
    let cands: Vec<Candidate> = vec![
        candidate(1, Tier::D, "510104"),
        candidate(2, Tier::D, "510184"),
    ];
    let ros = vec![
        inspector("a", "amr", &["510104"]),
        inspector("b", "amr", &["510104"]),
    ];
    let mut req = request("s");
    req.overrides.ratio_per_mille.insert(Tier::D, 1000);
    let rec = run_draw(&req, &policy(), &cands, &ros).unwrap();
    assert_eq!(rec.teams.len(), 2);
    let t = rec.teams.iter().find(|t| t.credit_code == code(2)).unwrap();
    match &t.outcome {
        TeamOutcome::Unstaffed { reason } => assert_eq!(
            reason,
            "department `amr`: 0 inspectors cover jurisdiction `510184` with qualifications [food], 2 needed"
        ),
        o => panic!("staffed: {o:?}"),
    }
    // Workload: with a cap of 1, the second enterprise of 510104 cannot be staffed.
    let cands = vec![
        candidate(1, Tier::D, "510104"),
        candidate(3, Tier::D, "510104"),
    ];
    req.overrides.max_assignments_per_inspector = Some(1);
    let rec = run_draw(&req, &policy(), &cands, &ros).unwrap();
    let reasons: Vec<String> = rec
        .teams
        .iter()
        .filter_map(|t| match &t.outcome {
            TeamOutcome::Unstaffed { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        ["department `amr`: 2 of 2 eligible inspectors reached the workload cap of 1, 2 needed"]
    );
}

#[test]
fn teams_follow_the_documented_seeds_and_skip_the_last_pair() {
    let ros: Vec<RosterEntry> = (0..8)
        .map(|i| inspector(&format!("amr-{i}"), "amr", &["510104"]))
        .collect();
    let ids: Vec<&str> = ros.iter().map(|r| r.inspector_id.as_str()).collect();
    let mut c = candidate(7, Tier::D, "510104");
    let mut req = request("hand-check");
    req.overrides.ratio_per_mille.insert(Tier::D, 1000);
    let by_hand = sample(&ids, &format!("hand-check/{}", c.credit_code), 3).unwrap();
    let rec = run_draw(&req, &policy(), std::slice::from_ref(&c), &ros).unwrap();
    assert_eq!(rec.teams[0].members(), [by_hand[0].0, by_hand[1].0]);
    // Last team = the first pair (in any order): the second member is skipped.
    c.last_team = vec![by_hand[1].0.to_string(), by_hand[0].0.to_string()];
    let rec = run_draw(&req, &policy(), std::slice::from_ref(&c), &ros).unwrap();
    assert_eq!(rec.teams[0].members(), [by_hand[0].0, by_hand[2].0]);
}

#[test]
fn joint_draw_uses_per_department_seeds() {
    let mut ros: Vec<RosterEntry> = (0..6)
        .map(|i| inspector(&format!("amr-{i}"), "amr", &["510104"]))
        .collect();
    ros.extend((0..6).map(|i| inspector(&format!("hsa-{i}"), "hsa", &["510104"])));
    let c = candidate(9, Tier::D, "510104");
    let mut req = request("joint");
    req.departments = vec!["amr".into(), "hsa".into()];
    req.overrides.ratio_per_mille.insert(Tier::D, 1000);
    let rec = run_draw(&req, &policy(), std::slice::from_ref(&c), &ros).unwrap();
    let by_hand = |dept: &str| {
        let ids: Vec<&str> = ros
            .iter()
            .filter(|r| r.department == dept)
            .map(|r| r.inspector_id.as_str())
            .collect();
        sample(&ids, &format!("joint/{}/{dept}", c.credit_code), 1).unwrap()[0]
            .0
            .to_string()
    };
    match &rec.teams[0].outcome {
        TeamOutcome::Staffed { departments } => {
            assert_eq!(departments.len(), 2);
            assert_eq!(departments[0].department, "amr");
            assert_eq!(departments[0].members, [by_hand("amr")]);
            assert_eq!(departments[1].department, "hsa");
            assert_eq!(departments[1].members, [by_hand("hsa")]);
        }
        o => panic!("{o:?}"),
    }
    // A partner department with nobody qualified leaves the enterprise unstaffed.
    for r in ros.iter_mut().filter(|r| r.department == "hsa") {
        r.qualifications = vec!["drugs".into()];
    }
    let rec = run_draw(&req, &policy(), std::slice::from_ref(&c), &ros).unwrap();
    assert!(matches!(&rec.teams[0].outcome,
        TeamOutcome::Unstaffed { reason } if reason.contains("`hsa`: 0 active certified inspectors hold qualifications [food]")));
}

fn good_bundle() -> (Bundle, DrawRecord) {
    let mut rng = Rng(7);
    let cands = candidates(300, &mut rng);
    let ros = roster(30, "amr", &mut rng);
    let mut req = request("public dice 6-6-2-1");
    req.overrides = generous();
    let rec = run_draw(&req, &policy(), &cands, &ros).unwrap();
    let mut info = BTreeMap::new();
    info.insert(
        rec.selected[0].credit_code,
        EnterpriseInfo {
            name: "成都某餐饮有限公司".into(),
            address: "锦江区某路1号".into(),
        },
    );
    let b = bundle(&rec, &cands, &ros, &calendar(), &info).unwrap();
    (b, rec)
}

/// Changes one byte of the first occurrence of `needle` (at `offset` inside it) to `to`.
fn poke(json: &str, needle: &str, offset: usize, to: u8) -> String {
    let at = json
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not found"))
        + offset;
    let mut b = json.as_bytes().to_vec();
    assert_ne!(b[at], to);
    b[at] = to;
    String::from_utf8(b).unwrap()
}

#[test]
fn verify_accepts_a_good_bundle_and_rejects_single_byte_changes() {
    let (b, rec) = good_bundle();
    let report = verify_bundle(&b.json).unwrap();
    assert_eq!(report.selected, rec.selected.len());
    assert_eq!(report.candidate_digest, rec.candidate_digest);
    assert!(b.csv_selected.contains("成都某餐饮有限公司"));
    assert!(b
        .csv_selected
        .lines()
        .nth(1)
        .unwrap()
        .contains("2025-10-30"));
    assert_eq!(b.csv_excluded.lines().count(), rec.exclusions.len() + 1);

    let s0 = &rec.selected[0];
    let code = s0.credit_code.to_string();
    // The selected code's 17th character, in the record's selected list.
    let at = format!("\"credit_code\": \"{code}\",\n        \"tier\"");
    let c16 = code.as_bytes()[16];
    let cases = [
        (
            "code",
            poke(&b.json, &at, 16 + 16, if c16 == b'1' { b'2' } else { b'1' }),
        ),
        ("ticket", {
            let t = &s0.ticket;
            let d = t.as_bytes()[5];
            poke(&b.json, t, 5, if d == b'3' { b'4' } else { b'3' })
        }),
        ("tier", {
            let needle = format!("\"{code}\",\n        \"tier\": \"");
            let t = s0.tier.as_str().as_bytes()[0];
            poke(
                &b.json,
                &needle,
                needle.len(),
                if t == b'A' { b'B' } else { b'A' },
            )
        }),
        ("seed", poke(&b.json, "\"seed\": \"public dice 6", 22, b'5')),
        ("member", {
            let m = rec.teams[0].members()[0].to_string();
            let needle = format!("\"{m}\"");
            let last = m.as_bytes()[m.len() - 1];
            poke(
                &b.json,
                &needle,
                m.len(),
                if last == b'9' { b'8' } else { b'9' },
            )
        }),
    ];
    for (what, json) in cases {
        let e = verify_bundle(&json).expect_err(what).to_string();
        println!("{what}: {}", &e[..e.len().min(300)]);
        assert!(
            e.starts_with("bundle does not verify") || e.starts_with("bundle is unreadable"),
            "{what}: {e}"
        );
    }
}

#[test]
fn verify_names_the_differing_field() {
    let (b, rec) = good_bundle();
    // Swap in a different valid-looking ticket digit: the message names the path.
    let t = &rec.selected[0].ticket;
    let d = t.as_bytes()[10];
    let json = poke(&b.json, t, 10, if d == b'0' { b'1' } else { b'0' });
    let e = verify_bundle(&json).unwrap_err().to_string();
    assert!(e.contains("record.selected[0].ticket: bundle has"), "{e}");
    // A changed roster field breaks the roster digest.
    let json = b.json.replacen("\"2027-12-31\"", "\"2027-12-30\"", 1);
    let e = verify_bundle(&json).unwrap_err().to_string();
    assert!(e.contains("record.roster_digest"), "{e}");
    // An unknown field is refused.
    let json = b.json.replacen("\"format\"", "\"extra\": 1, \"format\"", 1);
    assert!(verify_bundle(&json)
        .unwrap_err()
        .to_string()
        .contains("unknown field"));
    // Whitespace is not content.
    let json = b.json.replace('\n', "\r\n");
    assert!(verify_bundle(&json).is_ok());
}

#[test]
fn xlsx_writes_a_workbook() {
    let (_, rec) = good_bundle();
    let names = BTreeMap::new();
    let info = BTreeMap::new();
    let input = ListInput {
        record: &rec,
        candidates: &[],
        info: &info,
        inspector_names: &names,
        publication_deadline: d("2025-10-30"),
        lang: crate::domain::Lang::Zh,
    };
    let bytes = xlsx(&input).unwrap();
    assert_eq!(&bytes[..2], b"PK");
    assert!(bytes.len() > 1000);
    assert_eq!(xlsx(&input).unwrap(), bytes, "same input, same bytes");
}

/// The entity draw of one tier against the real Python package, when it is installed.
#[test]
fn python_package_agrees_on_one_tier() {
    if let Err(why) = crate::sampling::python_package() {
        println!("SKIPPED python_package_agrees_on_one_tier: {why}");
        return;
    }
    let mut rng = Rng(99);
    let cands = candidates(2000, &mut rng);
    let seed = "成都 2025 第3批 42-17-5";
    let rec = run_draw(&request(seed), &policy(), &cands, &[]).unwrap();
    let tier_b: Vec<&str> = cands
        .iter()
        .filter(|c| c.tier == Tier::B)
        .map(|c| c.credit_code.as_str())
        .collect();
    let k = rec.tiers[1].k as usize;
    let script = "import sys, json\nfrom consistent_sampler import sampler\nd = json.load(sys.stdin)\njson.dump(list(sampler(d['ids'], seed=d['seed'], take=d['k'], output='id')), sys.stdout)\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let input = serde_json::json!({"ids": tier_b, "seed": seed, "k": k}).to_string();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let py: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let mine: Vec<String> = rec
        .selected
        .iter()
        .filter(|s| s.tier == Tier::B)
        .map(|s| s.credit_code.to_string())
        .collect();
    assert_eq!(py.len(), k);
    assert_eq!(py, mine);
    println!("python agrees on {k} tier-B enterprises");
}

#[test]
fn docs_python_script_runs_on_a_real_bundle() {
    let (b, _) = good_bundle();
    let dir = std::env::temp_dir().join("draw-dev-doc-check");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bundle.json"), &b.json).unwrap();
    let doc = include_str!("../../docs/draws.md");
    let script = doc
        .split("```python\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .current_dir(&dir)
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            println!("SKIPPED: consistent_sampler not importable")
        }
        Ok(o) => assert!(
            String::from_utf8_lossy(&o.stdout).contains("entity draw verified"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("SKIPPED: cannot run python3: {e}"),
    }
}

#[test]
fn draw_verify_command_accepts_the_bundle_and_rejects_a_changed_byte() {
    let (b, rec) = good_bundle();
    let dir = std::env::temp_dir().join(format!("creditrisk-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(&good, &b.json).unwrap();
    assert!(crate::cli::verify::draw(&good).unwrap());
    // Change one character of the first selected code: the draw no longer verifies.
    let code = rec.selected[0].credit_code.to_string();
    let mut forged = code.clone().into_bytes();
    forged[10] = if forged[10] == b'1' { b'2' } else { b'1' };
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        b.json
            .replacen(&code, std::str::from_utf8(&forged).unwrap(), 1),
    )
    .unwrap();
    assert!(!crate::cli::verify::draw(&bad).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The optimized draw against the plain reference implementation (`reference.rs`).

/// A varied snapshot and roster: every exclusion reason, out-of-scope candidates, declared
/// conflicts, last teams (some naming inspectors no longer on the roster), two departments.
fn varied(n: u64, rng: &mut Rng) -> (Vec<Candidate>, Vec<RosterEntry>) {
    let mut cands = candidates(n, rng);
    let mut ros = roster(40, "amr", rng);
    ros.extend(roster(15, "hsa", rng));
    for c in cands.iter_mut() {
        match rng.below(40) {
            0 => c.status = Status::Revoked,
            1 => {
                c.last_inspections = vec![LastInspection {
                    item_id: "food-2025-01".into(),
                    date: d("2025-03-01"),
                }]
            }
            2 => c.inspections_this_year = 3,
            3 => c.industry = "C1391".into(),
            4 => c.licences.clear(),
            5..=9 => {
                let a = &ros[rng.below(55) as usize].inspector_id;
                let b = &ros[rng.below(55) as usize].inspector_id;
                c.last_team = vec![a.clone(), b.clone()];
            }
            10 => c.last_team = vec!["amr-000".into(), "gone-1".into()],
            _ => {}
        }
    }
    for r in ros.iter_mut() {
        for _ in 0..rng.below(30) {
            r.conflict_enterprises.push(code(rng.below(n)));
        }
        if rng.below(3) == 0 {
            r.conflict_legal_representatives
                .push(format!("lr:{:032x}", rng.below(997)));
        }
        if rng.below(15) == 0 {
            r.active = false;
        }
    }
    (cands, ros)
}

fn assert_same_as_reference(req: &DrawRequest, cands: &[Candidate], ros: &[RosterEntry]) {
    let want = reference::run_draw(req, &policy(), cands, ros).map(|r| r.to_json());
    let got = run_draw(req, &policy(), cands, ros).map(|r| r.to_json());
    match (got, want) {
        (Ok(g), Ok(w)) => assert!(g == w, "seed {:?}: records differ", req.seed),
        (Err(g), Err(w)) => assert_eq!(g.to_string(), w.to_string()),
        (g, w) => panic!("seed {:?}: {:?} vs {:?}", req.seed, g.err(), w.err()),
    }
}

#[test]
fn optimized_draw_equals_the_reference() {
    let seeds = [
        "dice 3-5-1-6-2-4",
        "审计 seed 2026-Q1 #7",
        "s",
        "a seed long enough that seed, slash and credit code span more than one sha-256 block",
    ];
    let mut unstaffed = 0;
    let mut staffed = 0;
    for (round, seed) in seeds.iter().enumerate() {
        let mut rng = Rng(500 + round as u64);
        let (mut cands, mut ros) = varied(4000, &mut rng);
        rng.shuffle(&mut cands);
        rng.shuffle(&mut ros);
        let mut req = request(seed);
        // Low caps exhaust the precomputed prefixes and leave enterprises unstaffed.
        req.overrides.max_assignments_per_inspector = Some([4, 9, 30, 1000][round]);
        if round % 2 == 1 {
            req.departments = vec!["amr".into(), "hsa".into()];
        }
        if round == 2 {
            req.item.kind = ItemKind::General;
            req.overrides.min_team_size = Some(3);
        }
        assert_same_as_reference(&req, &cands, &ros);
        let rec = run_draw(&req, &policy(), &cands, &ros).unwrap();
        // Enough enterprises for the parallel team pass, and both outcomes exercised.
        assert!(rec.selected.len() >= 256, "{}", rec.selected.len());
        let empty = rec.teams.iter().filter(|t| t.members().is_empty()).count();
        unstaffed += empty;
        staffed += rec.teams.len() - empty;
        let pv = preview(&req.item, &rec.policy, req.inspection_date, &cands).unwrap();
        assert_eq!(pv.tiers, rec.tiers);
        // Give a third of the drawn enterprises the very team they just got as their last
        // team: the re-run must skip it, in the same way in both implementations.
        let teams: BTreeMap<CreditCode, Vec<String>> = rec
            .teams
            .iter()
            .step_by(3)
            .map(|t| {
                (
                    t.credit_code,
                    t.members().iter().map(|m| m.to_string()).collect(),
                )
            })
            .collect();
        let mut again = cands.clone();
        for c in again.iter_mut() {
            if let Some(last) = teams.get(&c.credit_code) {
                c.last_team = last.clone();
            }
        }
        assert_same_as_reference(&req, &again, &ros);
        // A duplicate code fails both in the same words.
        let mut dup = cands.clone();
        dup.push(cands[17].clone());
        assert_same_as_reference(&req, &dup, &ros);
    }
    assert!(unstaffed > 0 && staffed > 0, "{unstaffed} {staffed}");
}

/// Large enough for the two-thread entity draw (50,000 candidates and more).
#[test]
fn optimized_draw_equals_the_reference_on_the_parallel_path() {
    let mut rng = Rng(77);
    let (mut cands, ros) = varied(60_000, &mut rng);
    rng.shuffle(&mut cands);
    let mut req = request("parallel");
    req.overrides.max_assignments_per_inspector = Some(200);
    assert_same_as_reference(&req, &cands, &ros);
}

/// Issue 11: in a joint draw, an enterprise whose lead department falls short must not shift
/// the teams of the enterprises drawn after it (every member of the department it is listed
/// for, covering the enterprise's jurisdiction).
#[test]
fn joint_draw_after_a_short_lead_keeps_departments_and_jurisdictions() {
    // 510104: plenty of both departments; 510105: a single amr inspector, so with
    // `joint_members_per_department = 2` and `min_team_size = 3` the lead (2 needed) falls short.
    let mut ros: Vec<RosterEntry> = (0..8)
        .map(|i| inspector(&format!("amr-{i}"), "amr", &["510104"]))
        .collect();
    ros.push(inspector("amr-solo", "amr", &["510105"]));
    ros.extend((0..8).map(|i| inspector(&format!("hsa-{i}"), "hsa", &["510104", "510105"])));
    let cands: Vec<Candidate> = (0..40)
        .map(|n| candidate(n, Tier::D, if n % 4 == 0 { "510105" } else { "510104" }))
        .collect();
    let mut req = request("joint short lead");
    req.departments = vec!["amr".into(), "hsa".into()];
    req.overrides = generous();
    req.overrides.ratio_per_mille.insert(Tier::D, 1000);
    req.overrides.joint_members_per_department = Some(2);
    req.overrides.min_team_size = Some(3);
    let rec = run_draw(&req, &policy(), &cands, &ros).unwrap();
    let by_code: BTreeMap<CreditCode, &Candidate> =
        cands.iter().map(|c| (c.credit_code, c)).collect();
    let by_id: BTreeMap<&str, &RosterEntry> =
        ros.iter().map(|r| (r.inspector_id.as_str(), r)).collect();
    let (mut short, mut staffed_after) = (0, 0);
    for t in &rec.teams {
        let c = by_code[&t.credit_code];
        match &t.outcome {
            TeamOutcome::Unstaffed { reason } => {
                assert_eq!(c.jurisdiction, "510105", "{reason}");
                assert!(
                    reason.starts_with("department `amr`: 1 inspectors cover"),
                    "{reason}"
                );
                short += 1;
            }
            TeamOutcome::Staffed { departments } => {
                staffed_after += usize::from(short > 0);
                let sizes: Vec<usize> = departments.iter().map(|d| d.members.len()).collect();
                assert_eq!(sizes, [2, 2], "{}", t.credit_code);
                for dm in departments {
                    for m in &dm.members {
                        let r = by_id[m.as_str()];
                        assert_eq!(r.department, dm.department, "{m} of {}", t.credit_code);
                        assert!(
                            r.jurisdictions.contains(&c.jurisdiction),
                            "{m} at {}",
                            t.credit_code
                        );
                    }
                }
            }
        }
    }
    assert_eq!(short, 10);
    assert!(
        staffed_after > 0,
        "no enterprise staffed after a short lead"
    );
    assert_same_as_reference(&req, &cands, &ros);
}
