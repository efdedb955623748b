//! A straightforward implementation of the whole draw, for tests only: the documented algorithm
//! (`docs/draws.md`, the module docs of `entity` and `assign`) written as plainly as possible,
//! with no attention to speed. The optimized [`super::run_draw`] must give the same record,
//! byte for byte.
//!
//! It shares with the optimized path only the rule functions that are not about speed
//! (request and roster validation, [`disposition`], the policy) and computes tickets with
//! [`SeedHash::ticket`] and [`sample`], which are checked against the Python package, instead
//! of the draw's own hashing and bounded selection; every order is a full sort.

use super::assign::{DepartmentMembers, TeamOutcome, TeamResult};
use super::candidate::{validate_roster, Candidate, RosterEntry};
use super::entity::{disposition, Disposition, GroupCount, TierCount};
use super::error::DrawError;
use super::item::ItemKind;
use super::policy::SupervisionPolicy;
use super::record::{validate_request, DrawRecord, DrawRequest, Exclusion, Selected, ALGORITHM};
use super::tier::Tier;
use crate::domain::CreditCode;
use crate::sampling::{sample, SeedHash, Ticket};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The reference of [`super::run_draw`].
pub(super) fn run_draw(
    req: &DrawRequest,
    policy: &SupervisionPolicy,
    candidates: &[Candidate],
    roster: &[RosterEntry],
) -> Result<DrawRecord, DrawError> {
    validate_request(req)?;
    validate_roster(roster)?;
    let policy = policy.with_overrides(&req.overrides)?;
    // (1) Ascending code; a duplicate names the later index.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (candidates[i].credit_code, i));
    for w in order.windows(2) {
        if candidates[w[0]].credit_code == candidates[w[1]].credit_code {
            return Err(DrawError::invalid(
                format!("candidates[{}].credit_code", w[0].max(w[1])),
                format!(
                    "`{}` appears twice in the candidate snapshot",
                    candidates[w[0]].credit_code
                ),
            ));
        }
    }
    let text: String = order
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            format!("{}{}\n", c.credit_code, c.tier.as_str())
        })
        .collect();
    let candidate_digest = hex::encode(Sha256::digest(text.as_bytes()));
    // (2, 3) Scope and exclusions; each candidate also gets its group ratio stratum.
    let day = req.inspection_date;
    let strata = 1 + policy.group_ratios.len();
    let mut out_of_scope = 0;
    let mut in_scope = vec![[0u64; 4]; strata];
    let mut exclusions = Vec::new();
    let mut eligible: Vec<[Vec<usize>; 4]> = vec![Default::default(); strata];
    for &i in &order {
        let c = &candidates[i];
        let s = policy.stratum(c, day);
        match disposition(&req.item, &policy, day, c) {
            Disposition::OutOfScope => out_of_scope += 1,
            Disposition::Excluded(reason) => {
                in_scope[s][c.tier as usize] += 1;
                exclusions.push(Exclusion {
                    credit_code: c.credit_code,
                    tier: c.tier,
                    reason,
                });
            }
            Disposition::Eligible => {
                in_scope[s][c.tier as usize] += 1;
                eligible[s][c.tier as usize].push(i);
            }
        }
    }
    // (4, 5) k per stratum and tier, the k smallest tickets, then all by ticket.
    let seed = SeedHash::new(&req.seed);
    let key = req.item.kind == ItemKind::Key;
    let mut counts = vec![Vec::new(); strata];
    let mut drawn: Vec<(Ticket, CreditCode, usize)> = Vec::new();
    for (s, (elig, ins)) in eligible.iter().zip(&in_scope).enumerate() {
        for t in Tier::ALL {
            let ids = &elig[t as usize];
            let per_mille = policy.stratum_per_mille(s, t, key);
            let k = policy.rounding.apply(per_mille, ids.len() as u64);
            counts[s].push(TierCount {
                tier: t,
                candidates: ins[t as usize],
                excluded: ins[t as usize] - ids.len() as u64,
                eligible: ids.len() as u64,
                per_mille,
                k,
            });
            let mut tickets: Vec<(Ticket, CreditCode, usize)> = ids
                .iter()
                .map(|&i| {
                    let code = candidates[i].credit_code;
                    (seed.ticket(code.as_str()), code, i)
                })
                .collect();
            tickets.sort();
            tickets.truncate(k as usize);
            drawn.extend(tickets);
        }
    }
    // The tier totals: counts summed over the strata, the ratio outside every group.
    let tiers: Vec<TierCount> = Tier::ALL
        .iter()
        .map(|&t| {
            let sum = |f: fn(&TierCount) -> u64| counts.iter().map(|c| f(&c[t as usize])).sum();
            TierCount {
                tier: t,
                candidates: sum(|c| c.candidates),
                excluded: sum(|c| c.excluded),
                eligible: sum(|c| c.eligible),
                per_mille: policy.stratum_per_mille(0, t, key),
                k: sum(|c| c.k),
            }
        })
        .collect();
    let groups: Vec<GroupCount> = policy
        .group_ratios
        .iter()
        .enumerate()
        .filter(|(_, g)| g.valid_on(day))
        .map(|(i, g)| GroupCount {
            basis: g.basis.clone(),
            district: g.district.clone(),
            industry: g.industry.clone(),
            tiers: counts[i + 1].clone(),
        })
        .collect();
    drawn.sort();
    let selected: Vec<usize> = drawn.iter().map(|d| d.2).collect();
    let teams = teams(req, &policy, candidates, &selected, roster);
    Ok(DrawRecord {
        draw_id: req.draw_id.clone(),
        algorithm: ALGORITHM.to_string(),
        item: req.item.clone(),
        seed: req.seed.clone(),
        seed_source: req.seed_source,
        as_of: req.as_of,
        inspection_date: req.inspection_date,
        departments: req.departments.clone(),
        candidate_digest,
        roster_digest: super::candidate::roster_digest(roster),
        total_candidates: candidates.len() as u64,
        out_of_scope,
        tiers,
        groups,
        exclusions,
        selected: drawn
            .iter()
            .map(|(t, code, i)| Selected {
                credit_code: *code,
                tier: candidates[*i].tier,
                ticket: t.to_string(),
            })
            .collect(),
        teams,
        policy,
    })
}

/// Team assignment in the global order, each pool fully ordered by ticket.
fn teams(
    req: &DrawRequest,
    policy: &SupervisionPolicy,
    candidates: &[Candidate],
    selected: &[usize],
    roster: &[RosterEntry],
) -> Vec<TeamResult> {
    let n = req.departments.len();
    let min = policy.min_team_size as usize;
    let per = policy.joint_members_per_department as usize;
    let needed = |i: usize| match (n, i) {
        (1, _) => min,
        (_, 0) => per.max(min.saturating_sub(per * (n - 1))),
        _ => per,
    };
    let day = req.inspection_date;
    let cap = policy.max_assignments_per_inspector;
    let qualified = |r: &RosterEntry| {
        req.item
            .qualifications
            .iter()
            .all(|q| r.qualifications.contains(q))
    };
    let mut load: BTreeMap<&str, u32> = BTreeMap::new();
    let mut out = Vec::new();
    for &ci in selected {
        let c = &candidates[ci];
        let last: BTreeSet<&str> = c.last_team.iter().map(String::as_str).collect();
        let mut all: BTreeSet<&str> = BTreeSet::new();
        let mut team: Vec<&str> = Vec::new();
        let mut departments = Vec::new();
        let mut failure = None;
        for (di, d) in req.departments.iter().enumerate() {
            let need = needed(di);
            let base: Vec<&RosterEntry> = roster
                .iter()
                .filter(|r| {
                    &r.department == d
                        && r.active
                        && r.certified_on(day)
                        && qualified(r)
                        && r.jurisdictions.contains(&c.jurisdiction)
                })
                .collect();
            let pool: Vec<&str> = base
                .iter()
                .filter(|r| {
                    !r.conflict_enterprises.contains(&c.credit_code)
                        && !r
                            .conflict_legal_representatives
                            .contains(&c.legal_representative)
                })
                .map(|r| r.inspector_id.as_str())
                .collect();
            let seed = if n > 1 {
                format!("{}/{}/{}", req.seed, c.credit_code, d)
            } else {
                format!("{}/{}", req.seed, c.credit_code)
            };
            let ordered = sample(&pool, &seed, pool.len()).unwrap_or_default();
            let mut members = Vec::new();
            for (id, _) in ordered {
                if members.len() == need {
                    break;
                }
                if load.get(id).copied().unwrap_or(0) >= cap || all.contains(id) {
                    continue;
                }
                all.insert(id);
                if !last.is_empty() && all == last {
                    all.remove(id);
                    continue;
                }
                members.push(id);
            }
            if members.len() < need {
                let free = pool
                    .iter()
                    .filter(|id| load.get(*id).copied().unwrap_or(0) < cap)
                    .count();
                let counts = (base.len(), pool.len(), free);
                failure = Some(reason(req, roster, d, need, c, cap, counts, &last));
                break;
            }
            team.extend(&members);
            departments.push(DepartmentMembers {
                department: d.clone(),
                members: members.iter().map(|m| m.to_string()).collect(),
            });
        }
        let outcome = match failure {
            Some(reason) => TeamOutcome::Unstaffed { reason },
            None => {
                for id in team {
                    *load.entry(id).or_default() += 1;
                }
                TeamOutcome::Staffed { departments }
            }
        };
        out.push(TeamResult {
            credit_code: c.credit_code,
            outcome,
        });
    }
    out
}

/// The first constraint that left fewer than `n` inspectors of department `d` for `c`;
/// `counts` are the sizes of the pool before and after conflicts and of its members under the
/// workload cap.
#[allow(clippy::too_many_arguments)]
fn reason(
    req: &DrawRequest,
    roster: &[RosterEntry],
    d: &str,
    n: usize,
    c: &Candidate,
    cap: u32,
    (base, pool, free): (usize, usize, usize),
    last: &BTreeSet<&str>,
) -> String {
    let day = req.inspection_date;
    let quals = format!("[{}]", req.item.qualifications.join(", "));
    let dept: Vec<&RosterEntry> = roster.iter().filter(|r| r.department == d).collect();
    let live = dept
        .iter()
        .filter(|r| r.active && r.certified_on(day))
        .count();
    let qual = dept
        .iter()
        .filter(|r| {
            r.active
                && r.certified_on(day)
                && req
                    .item
                    .qualifications
                    .iter()
                    .all(|q| r.qualifications.contains(q))
        })
        .count();
    if dept.is_empty() {
        format!("department `{d}` has no inspector on the roster")
    } else if live < n {
        format!("department `{d}`: {live} active inspectors with a certificate valid on {day}, {n} needed")
    } else if qual < n {
        format!("department `{d}`: {qual} active certified inspectors hold qualifications {quals}, {n} needed")
    } else if base < n {
        format!(
            "department `{d}`: {base} inspectors cover jurisdiction `{}` with qualifications {quals}, {n} needed",
            c.jurisdiction
        )
    } else if pool < n {
        format!(
            "department `{d}`: {} of {base} eligible inspectors declared a conflict with the enterprise or its legal representative, {n} needed",
            base - pool
        )
    } else if free < n {
        format!(
            "department `{d}`: {} of {pool} eligible inspectors reached the workload cap of {cap}, {n} needed",
            pool - free
        )
    } else {
        format!(
            "department `{d}`: the remaining inspectors would repeat the last team [{}]",
            last.iter().copied().collect::<Vec<_>>().join(", ")
        )
    }
}
