//! The default rule set written by hand in Rust: the baseline the rule engine is compared with
//! (`examples/bench_rules.rs` and `benches/cel-compare`). Keep it in step with
//! `rules/default/`: both benchmarks assert that it gives the engine's tier and score for every
//! enterprise.

use creditrisk::rules::lang::Features;
use creditrisk::rules::{Feat, FeatureVector, Tier};

pub fn has(v: &FeatureVector, kinds: &[&str]) -> bool {
    v.list(Feat::Licences as usize)
        .iter()
        .any(|l| kinds.contains(&l.as_str()))
}

/// The default rules (`rules/default/`), written by hand. Rules have no effective dates, so
/// `as_of` plays no part.
pub fn hand(v: &FeatureVector) -> (Tier, i64) {
    use Feat::*;
    let n = |f: Feat| v.num(f);
    let mut s = 100i64;
    let mut worst = Tier::A;
    let food = n(SectorFood) != 0;
    let se = n(SectorSpecialEquipment) != 0;
    let hc = n(SectorHazardousChemicals) != 0;
    let drugs = n(SectorDrugs) != 0;
    // lists
    if n(OnSeriousList) != 0 {
        worst = worst.max(Tier::D);
    }
    if n(SeriousEntries3y) > 0 && n(OnSeriousList) == 0 {
        s -= 15;
    }
    if n(OnAbnormalList) != 0 {
        worst = worst.max(Tier::C);
    }
    if n(OnAbnormalList) != 0 && n(AbnormalListedYears) >= 3 {
        worst = worst.max(Tier::D);
    }
    if n(AbnormalEntries3y) > 0 {
        s -= 5 * n(AbnormalEntries3y).min(4);
    }
    // penalties
    if n(PenaltiesGeneral3y) > 0 {
        s -= 4 * n(PenaltiesGeneral3y).min(5);
    }
    if n(PenaltiesHeavier3y) > 0 {
        s -= 12 * n(PenaltiesHeavier3y).min(3);
    }
    if n(PenaltiesSerious3y) > 0 {
        s -= 25 * n(PenaltiesSerious3y).min(2);
    }
    if n(PenaltiesSerious1y) > 0 {
        worst = worst.max(Tier::C);
    }
    if n(Penalties1y) >= 2 {
        s -= 5;
    }
    if n(PenaltyYuan3y) >= 500_000 {
        s -= 10;
    }
    // quality, inspections, complaints
    if n(SpotCheckFailures2y) > 0 {
        s -= 8 * n(SpotCheckFailures2y).min(3);
    }
    if n(SpotCheckFailures1y) >= 2 {
        worst = worst.max(Tier::C);
    }
    if n(InspectionsViolation2y) > 0 {
        s -= 6 * n(InspectionsViolation2y).min(3);
    }
    if n(InspectionsRefused3y) > 0 {
        s -= 20;
    }
    if n(InspectionsUnreachable2y) > 0 {
        s -= 10;
    }
    if n(InspectionsClean2y) > 0 && n(InspectionsViolation2y) == 0 {
        s += 3;
    }
    if n(ComplaintsVerified1y) > 0 {
        s -= 3 * n(ComplaintsVerified1y).min(5);
    }
    if n(ComplaintsGrowth) >= 3 {
        s -= 5;
    }
    // tax, reports, positive, relations
    match v.str(TaxGrade as usize) {
        "A" => s += 5,
        "C" => s -= 5,
        "D" => s -= 15,
        _ => {}
    }
    if n(AnnualReportMissing) != 0 {
        s -= 8;
    }
    if n(AnnualReportsLate3y) >= 2 {
        s -= 5;
    }
    if n(Honours3y) > 0 {
        s += 3 * n(Honours3y).min(2);
    }
    if n(AgeYears) < 1 {
        s -= 5;
    }
    if n(RepOthersSeriousList) > 0 {
        s -= 15;
    }
    if n(RepOthersAbnormalList) > 0 {
        s -= 5 * n(RepOthersAbnormalList).min(2);
    }
    if n(RepOthersPenalised3y) >= 2 {
        s -= 5;
    }
    // sectors
    if food {
        if n(SpotCheckFailures2y) > 0 {
            s -= 6;
        }
        if n(InspectionsViolation2y) > 0 {
            s -= 4 * n(InspectionsViolation2y).min(3);
        }
        if n(PenaltiesHeavier3y) + n(PenaltiesSerious3y) >= 2 {
            worst = worst.max(Tier::C);
        }
        if !has(v, &["food", "food-production", "food-business"]) {
            s -= 10;
        }
        if n(ComplaintsVerified1y) >= 2 {
            s -= 4;
        }
    }
    if se {
        if n(InspectionsViolation2y) > 0 {
            s -= 6;
        }
        if n(InspectionsRefused3y) > 0 {
            worst = worst.max(Tier::C);
        }
        if !has(v, &["special-equipment"]) {
            s -= 5;
        }
    }
    if hc {
        if n(Penalties3y) > 0 {
            s -= 6;
        }
        if n(InspectionsViolation2y) >= 2 {
            worst = worst.max(Tier::C);
        }
        if !has(v, &["hazardous-chemicals"]) {
            s -= 10;
        }
    }
    if drugs {
        if n(SpotCheckFailures2y) > 0 {
            worst = worst.max(Tier::C);
        }
        if !has(v, &["drugs", "drug-production", "drug-business"]) {
            s -= 10;
        }
    }
    let band = if s >= 90 {
        Tier::A
    } else if s >= 75 {
        Tier::B
    } else if s >= 60 {
        Tier::C
    } else {
        Tier::D
    };
    (band.max(worst), s)
}
