//! Benchmark: a full draw with teams over 4,000,000 candidates and 2,000 inspectors.
//!
//! `cargo run --release --example bench_draw [candidates]`. Building the synthetic snapshot is
//! not timed; the draw (sorting, digest, exclusions, tickets, teams, record) is. The snapshot is
//! generated in code order; `SHUFFLE=1` shuffles it first (as a snapshot read from an unsorted
//! source would be), which must not change the record. The SHA-256 of the record's JSON is
//! printed so that optimizations can be checked to leave the output byte for byte unchanged.

use creditrisk::domain::code::ALPHABET;
use creditrisk::domain::{CreditCode, Date, EntityKind, Status};
use creditrisk::draw::{
    run_draw, Candidate, DrawRequest, InspectionItem, ItemKind, PolicyOverrides, RosterEntry,
    Scope, SeedSource, SupervisionPolicy, Tier,
};
use sha2::{Digest, Sha256};
use std::time::Instant;

const JURIS: [&str; 20] = [
    "510104", "510105", "510106", "510107", "510108", "510112", "510113", "510114", "510115",
    "510116", "510117", "510118", "510121", "510129", "510131", "510181", "510182", "510183",
    "510184", "510185",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(4_000_000);
    let mut rng = Rng(2025);
    let t0 = Instant::now();
    let candidates: Vec<Candidate> = (0..n)
        .map(|i| {
            let mut first = *b"91510100000000000";
            let mut x = i;
            for c in first[8..17].iter_mut().rev() {
                *c = ALPHABET[(x % 31) as usize];
                x /= 31;
            }
            let r = rng.next();
            let tier = match r % 1000 {
                0..=653 => Tier::A,
                654..=906 => Tier::B,
                907..=983 => Tier::C,
                _ => Tier::D,
            };
            Ok(Candidate {
                credit_code: CreditCode::with_check(&first).ok_or("bad code")?,
                tier,
                jurisdiction: JURIS[(r >> 20) as usize % 20].to_string(),
                industry: "H6210".to_string(),
                kind: EntityKind::Enterprise,
                status: if (r >> 40).is_multiple_of(50) {
                    Status::Deregistered
                } else {
                    Status::Active
                },
                licences: vec![],
                legal_representative: format!("lr:{:032x}", r >> 12),
                last_inspections: vec![],
                inspections_this_year: 0,
                last_team: vec![],
            })
        })
        .collect::<Result<_, &str>>()?;
    let mut candidates = candidates;
    if std::env::var("SHUFFLE").is_ok_and(|v| v == "1") {
        for i in (1..candidates.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            candidates.swap(i, j);
        }
    }
    let roster: Vec<RosterEntry> = (0..2000)
        .map(|i| RosterEntry {
            inspector_id: format!("amr-{i:04}"),
            department: "amr".into(),
            active: true,
            certificate_expiry: Date::from_ymd(2027, 12, 31).unwrap_or(Date::from_days(0)),
            jurisdictions: vec![JURIS[i % 20].to_string()],
            qualifications: vec!["food".into()],
            conflict_enterprises: vec![],
            conflict_legal_representatives: vec![],
        })
        .collect();
    println!(
        "built {n} candidates and {} inspectors in {:.2?}",
        roster.len(),
        t0.elapsed()
    );
    let policy = SupervisionPolicy::from_toml(
        "rules/supervision.toml",
        include_str!("../rules/supervision.toml"),
    )?;
    let req = DrawRequest {
        draw_id: "bench".into(),
        item: InspectionItem {
            id: "food-2025-01".into(),
            name: "catering food safety".into(),
            basis: "food safety law".into(),
            departments: vec!["amr".into()],
            kind: ItemKind::Key,
            qualifications: vec!["food".into()],
            scope: Scope::default(),
        },
        seed: "bench seed 1-2-3-4-5-6".into(),
        seed_source: SeedSource::Caller,
        as_of: Date::from_ymd(2025, 9, 1).ok_or("date")?,
        inspection_date: Date::from_ymd(2025, 9, 26).ok_or("date")?,
        departments: vec!["amr".into()],
        // ~310,000 enterprises are drawn, 620,000 team places over 2,000 inspectors: the
        // default cap of 20 would leave most unstaffed, so the benchmark raises it.
        overrides: PolicyOverrides {
            max_assignments_per_inspector: Some(
                std::env::var("CAP")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(400),
            ),
            ..Default::default()
        },
    };
    let eff = policy.with_overrides(&req.overrides)?;
    let t = Instant::now();
    let ed = creditrisk::draw::draw_entities(
        &req.item,
        &eff,
        req.inspection_date,
        &req.seed,
        &candidates,
    )?;
    println!("  entity draw alone: {:.2?}", t.elapsed());
    let order: Vec<usize> = ed.selected.iter().map(|(i, _)| *i).collect();
    let t = Instant::now();
    let _teams = creditrisk::draw::assign_teams(
        &req.item,
        &eff,
        req.inspection_date,
        &req.seed,
        &req.departments,
        &candidates,
        &order,
        &roster,
    );
    println!("  team assignment alone: {:.2?}", t.elapsed());
    let t = Instant::now();
    let rec = run_draw(&req, &policy, &candidates, &roster)?;
    let draw = t.elapsed();
    let unstaffed = rec.teams.iter().filter(|t| t.members().is_empty()).count();
    println!(
        "draw over {n} candidates: {:.2?} ({} selected, {} exclusions, {} unstaffed)",
        draw,
        rec.selected.len(),
        rec.exclusions.len(),
        unstaffed
    );
    for tc in &rec.tiers {
        println!("  tier {}: eligible {} k {}", tc.tier, tc.eligible, tc.k);
    }
    let t = Instant::now();
    let json = rec.to_json();
    println!("record json: {} bytes in {:.2?}", json.len(), t.elapsed());
    println!(
        "record sha256: {}",
        hex::encode(Sha256::digest(json.as_bytes()))
    );
    Ok(())
}
