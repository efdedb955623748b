//! The draw record: everything needed to re-run a draw, and its outcome.
//!
//! The record is immutable once made. Field order is the struct order (serde keeps it), every
//! list has a defined order, and there are no maps with unspecified iteration order, so the
//! same inputs serialize to the same bytes.

use super::assign::{assign_teams, TeamResult};
use super::candidate::{roster_digest, validate_roster, Candidate, RosterEntry};
use super::entity::{draw, ExclusionReason, GroupCount, TierCount};
use super::error::DrawError;
use super::item::InspectionItem;
use super::par::map_range;
use super::policy::{PolicyOverrides, SupervisionPolicy};
use super::tier::Tier;
use crate::domain::validate::check_ident;
use crate::domain::{CreditCode, Date, Violations};
use serde::{Deserialize, Serialize};

/// Version of the draw algorithm; bumped whenever any step or encoding changes.
pub const ALGORITHM: &str = "creditrisk-draw/1";

/// Who produced the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedSource {
    /// Supplied by the caller, normally produced in public (dice at a meeting).
    Caller,
    /// Made by the server from operating-system randomness, because none was supplied.
    Server,
}

/// What a caller asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    /// Id of the draw, chosen by the caller or the server.
    pub draw_id: String,
    /// The inspection item.
    pub item: InspectionItem,
    /// The seed string, hashed exactly as given (UTF-8).
    pub seed: String,
    /// Who produced the seed.
    pub seed_source: SeedSource,
    /// Date of the snapshot (tiers, statuses) the candidates describe.
    pub as_of: Date,
    /// Planned inspection date: certificates and intervals are checked against it.
    pub inspection_date: Date,
    /// Participating departments, the lead first; one department is an ordinary draw.
    pub departments: Vec<String>,
    /// Changes to the supervision policy for this draw.
    #[serde(default)]
    pub overrides: PolicyOverrides,
}

/// An excluded enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Its tier at the as-of date.
    pub tier: Tier,
    /// Why it was excluded.
    pub reason: ExclusionReason,
}

/// A drawn enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selected {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Its tier at the as-of date.
    pub tier: Tier,
    /// Its full consistent-sampling ticket, `0.` and 64-78 digits, as the Python package prints
    /// it without `digits=`.
    pub ticket: String,
}

/// The immutable record of one draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawRecord {
    /// Id of the draw.
    pub draw_id: String,
    /// [`ALGORITHM`] at the time of the draw.
    pub algorithm: String,
    /// The inspection item.
    pub item: InspectionItem,
    /// The seed.
    pub seed: String,
    /// Who produced the seed.
    pub seed_source: SeedSource,
    /// Snapshot date.
    pub as_of: Date,
    /// Planned inspection date.
    pub inspection_date: Date,
    /// Participating departments, the lead first.
    pub departments: Vec<String>,
    /// The policy after the overrides: a re-run needs nothing else.
    pub policy: SupervisionPolicy,
    /// Candidate digest (see `draw::candidate`).
    pub candidate_digest: String,
    /// Roster digest (see `draw::candidate`).
    pub roster_digest: String,
    /// Number of candidates in the snapshot, in or out of scope.
    pub total_candidates: u64,
    /// Candidates outside the item's scope.
    pub out_of_scope: u64,
    /// Counts per tier, A to D.
    pub tiers: Vec<TierCount>,
    /// Differentiated supervision: the counts of each group ratio of the policy valid on the
    /// inspection date (see [`GroupCount`]); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupCount>,
    /// Excluded enterprises, ascending code.
    pub exclusions: Vec<Exclusion>,
    /// Drawn enterprises in the global order: ascending ticket across tiers.
    pub selected: Vec<Selected>,
    /// One team outcome per selected enterprise, same order.
    pub teams: Vec<TeamResult>,
}

/// Checks the request's own fields, collecting every problem.
pub(super) fn validate_request(req: &DrawRequest) -> Result<(), DrawError> {
    let mut v = Violations::new();
    v.parse("draw_id", check_ident(&req.draw_id));
    req.item.validate("item", &mut v);
    if req.seed.is_empty() {
        v.add("seed", "is required");
    }
    if req.departments.is_empty() {
        v.add("departments", "at least one department is required");
    }
    for (i, d) in req.departments.iter().enumerate() {
        v.parse(&format!("departments[{i}]"), check_ident(d));
        if req.departments[..i].contains(d) {
            v.add(
                format!("departments[{i}]"),
                format!("`{d}` is listed twice"),
            );
        }
    }
    if req.inspection_date < req.as_of {
        v.add(
            "inspection_date",
            format!(
                "`{}` is before the as-of date `{}`",
                req.inspection_date, req.as_of
            ),
        );
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(DrawError::Invalid(v.into_vec()))
    }
}

/// Runs a whole draw: entity draw, then team assignment. `policy` is the policy file; the
/// request's overrides are applied and the result recorded. Pure and deterministic: the same
/// arguments give a record that serializes to the same bytes, whatever the order of
/// `candidates` and `roster`.
pub fn run_draw(
    req: &DrawRequest,
    policy: &SupervisionPolicy,
    candidates: &[Candidate],
    roster: &[RosterEntry],
) -> Result<DrawRecord, DrawError> {
    validate_request(req)?;
    validate_roster(roster)?;
    let policy = policy.with_overrides(&req.overrides)?;
    let drawn = draw(
        &req.item,
        &policy,
        req.inspection_date,
        &req.seed,
        candidates,
    )?;
    let ed = &drawn.draw;
    let order: Vec<usize> = ed.selected.iter().map(|(i, _)| *i).collect();
    let teams = assign_teams(
        &req.item,
        &policy,
        req.inspection_date,
        &req.seed,
        &req.departments,
        candidates,
        &order,
        roster,
    );
    Ok(DrawRecord {
        draw_id: req.draw_id.clone(),
        algorithm: ALGORITHM.to_string(),
        item: req.item.clone(),
        seed: req.seed.clone(),
        seed_source: req.seed_source,
        as_of: req.as_of,
        inspection_date: req.inspection_date,
        departments: req.departments.clone(),
        policy,
        candidate_digest: ed.candidate_digest.clone(),
        roster_digest: roster_digest(roster),
        total_candidates: ed.preview.total_candidates,
        out_of_scope: ed.preview.out_of_scope,
        tiers: ed.preview.tiers.clone(),
        groups: ed.preview.groups.clone(),
        // Two threads for the many strings of large draws.
        exclusions: map_range(ed.exclusions.len(), 4096, |e| {
            let (credit_code, tier) = drawn.excluded[e];
            Exclusion {
                credit_code,
                tier,
                reason: ed.exclusions[e].1,
            }
        }),
        selected: map_range(ed.selected.len(), 4096, |s| {
            let (credit_code, tier) = drawn.selected[s];
            Selected {
                credit_code,
                tier,
                ticket: ed.selected[s].1.to_string(),
            }
        }),
        teams,
    })
}

impl DrawRecord {
    /// The record as JSON, the stored and published form (field order fixed by the struct).
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and integers to a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The request that re-runs this draw with the recorded (already overridden) policy.
    pub fn request(&self) -> DrawRequest {
        DrawRequest {
            draw_id: self.draw_id.clone(),
            item: self.item.clone(),
            seed: self.seed.clone(),
            seed_source: self.seed_source,
            as_of: self.as_of,
            inspection_date: self.inspection_date,
            departments: self.departments.clone(),
            overrides: PolicyOverrides::default(),
        }
    }
}
