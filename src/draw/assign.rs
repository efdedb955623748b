//! Inspector assignment: who goes to each drawn enterprise.
//!
//! Enterprises are staffed one after another in the global order of the draw (ascending ticket
//! across all tiers), because the workload cap makes the result depend on who was assigned
//! before. For one enterprise and one department, the eligible inspectors are those of the
//! department who are active, hold a certificate valid on the inspection date
//! ([`RosterEntry::certified_on`]), hold every qualification the item needs, cover the
//! enterprise's jurisdiction, declared no conflict with the enterprise's code or its legal
//! representative's pseudonym, and are below `max_assignments_per_inspector` in this draw.
//! They are ordered by consistent-sampling ticket of their inspector id under the seed
//! `SEED + "/" + CREDIT_CODE` (ordinary draw) or `SEED + "/" + CREDIT_CODE + "/" + DEPARTMENT`
//! (joint draw), and taken in that order, skipping a member whose addition would make the team
//! exactly the set of inspectors that last inspected the enterprise ("avoid reusing the same
//! pair"). The skip is strict: if only the last team is available, the enterprise is reported
//! unstaffed rather than sent the same team again.
//!
//! **Team sizes.** Ordinary draw (one department): `min_team_size` members of that department.
//! Joint draw (several departments, the first is the lead): every non-lead department sends
//! `joint_members_per_department`; the lead sends `max(joint_members_per_department,
//! min_team_size - joint_members_per_department × (departments - 1))`, so the team always
//! reaches `min_team_size` and the lead is never outnumbered by a single partner. If any
//! department cannot send its members, the enterprise is unstaffed (one visit, one team) and
//! nobody's workload is charged.
//!
//! **Unstaffed enterprises** are reported with the constraint that emptied the pool, never
//! dropped.
//!
//! Performance: the expensive part, the ticket order of each pool, does not depend on workload,
//! so it is computed first on two threads for a short prefix (needed + [`SLACK`] members); the
//! sequential pass falls back to the full order only when the prefix runs out. The result is
//! the same as with the full order, since the walk over a prefix of an order is the walk over
//! the order.

use super::candidate::{Candidate, RosterEntry};
use super::item::InspectionItem;
use super::policy::SupervisionPolicy;
use crate::domain::{CreditCode, Date};
use crate::sampling::smallest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Extra ticket-ordered members computed ahead per department, beyond those needed.
pub const SLACK: usize = 2;

/// Members sent by one department.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentMembers {
    /// Department id.
    pub department: String,
    /// Inspector ids in the order they were taken (ticket order).
    pub members: Vec<String>,
}

/// The team of one drawn enterprise, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TeamOutcome {
    /// A full team; departments in the draw's department order, the lead first.
    Staffed {
        /// Members per department.
        departments: Vec<DepartmentMembers>,
    },
    /// No team could be formed.
    Unstaffed {
        /// Which constraint emptied the pool.
        reason: String,
    },
}

/// The team outcome for one enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamResult {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Its team or the reason it has none.
    pub outcome: TeamOutcome,
}

impl TeamResult {
    /// All member ids, lead department first; empty when unstaffed.
    pub fn members(&self) -> Vec<&str> {
        match &self.outcome {
            TeamOutcome::Staffed { departments } => departments
                .iter()
                .flat_map(|d| d.members.iter().map(String::as_str))
                .collect(),
            TeamOutcome::Unstaffed { .. } => Vec::new(),
        }
    }
}

/// One department's share of every team.
struct Share<'a> {
    department: &'a str,
    needed: usize,
    joint: bool,
}

fn shares<'a>(departments: &'a [String], policy: &SupervisionPolicy) -> Vec<Share<'a>> {
    let n = departments.len();
    let min = policy.min_team_size as usize;
    let per = policy.joint_members_per_department as usize;
    departments
        .iter()
        .enumerate()
        .map(|(i, d)| Share {
            department: d,
            needed: match (n, i) {
                (1, _) => min,
                (_, 0) => per.max(min.saturating_sub(per * (n - 1))),
                _ => per,
            },
            joint: n > 1,
        })
        .collect()
}

/// Staffs every drawn enterprise. `departments` lists the participating departments, the lead
/// first (one department: an ordinary draw); `selected` holds candidate indices in the draw's
/// global order. Returns one [`TeamResult`] per selected enterprise, in the same order.
/// `roster` must have unique ids (see [`super::candidate::validate_roster`]).
#[allow(clippy::too_many_arguments)]
pub fn assign_teams(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    seed: &str,
    departments: &[String],
    candidates: &[Candidate],
    selected: &[usize],
    roster: &[RosterEntry],
) -> Vec<TeamResult> {
    let shares = shares(departments, policy);
    let qualified = |r: &RosterEntry| {
        item.qualifications
            .iter()
            .all(|q| r.qualifications.contains(q))
    };
    // Static pools: (department, jurisdiction) -> roster indices, ascending.
    let mut pools: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    for (i, r) in roster.iter().enumerate() {
        if r.active && r.certified_on(inspection_date) && qualified(r) {
            for j in &r.jurisdictions {
                pools
                    .entry((r.department.as_str(), j.as_str()))
                    .or_default()
                    .push(i as u32);
            }
        }
    }
    let mut by_code: BTreeMap<&CreditCode, Vec<u32>> = BTreeMap::new();
    let mut by_lr: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, r) in roster.iter().enumerate() {
        for c in &r.conflict_enterprises {
            by_code.entry(c).or_default().push(i as u32);
        }
        for l in &r.conflict_legal_representatives {
            by_lr.entry(l.as_str()).or_default().push(i as u32);
        }
    }
    let ctx = Ctx {
        seed,
        shares: &shares,
        pools: &pools,
        by_code: &by_code,
        by_lr: &by_lr,
        roster,
    };
    // Phase 1 (parallel, pure): ticket-ordered prefixes per enterprise and department.
    let prefixes: Vec<Vec<Order>> = if selected.len() < 256 {
        selected
            .iter()
            .map(|&i| ctx.orders(&candidates[i], SLACK))
            .collect()
    } else {
        let (left, right) = selected.split_at(selected.len() / 2);
        // Two scoped OS threads on read-only data: CPU-bound hashing, no locks needed.
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                left.iter()
                    .map(|&i| ctx.orders(&candidates[i], SLACK))
                    .collect::<Vec<_>>()
            });
            let r: Vec<Vec<Order>> = right
                .iter()
                .map(|&i| ctx.orders(&candidates[i], SLACK))
                .collect();
            // A panic in the worker is a bug; propagate it.
            let mut l = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            l.extend(r);
            l
        })
    };
    // Phase 2 (sequential): walk the orders under the workload cap.
    let cap = policy.max_assignments_per_inspector;
    let mut load = vec![0u32; roster.len()];
    let mut out = Vec::with_capacity(selected.len());
    for (&ci, orders) in selected.iter().zip(prefixes) {
        let c = &candidates[ci];
        let last: BTreeSet<&str> = c.last_team.iter().map(String::as_str).collect();
        let mut team: Vec<Vec<u32>> = Vec::with_capacity(shares.len());
        let mut all: BTreeSet<&str> = BTreeSet::new();
        let mut failure = None;
        for (share, order) in shares.iter().zip(orders) {
            let mut picked = walk(
                &order.members,
                share.needed,
                cap,
                &load,
                &last,
                &mut all,
                roster,
            );
            // The prefix ran out (workload caps, the last-team skip): recompute a longer prefix,
            // four times longer each round, until the team is complete or the pool is.
            let (mut complete, mut take) = (order.complete, order.members.len());
            while picked.len() < share.needed && !complete {
                for p in &picked {
                    all.remove(roster[*p as usize].inspector_id.as_str());
                }
                take = take.saturating_mul(4);
                let longer = ctx.order(c, share, take);
                complete = longer.complete;
                picked = walk(
                    &longer.members,
                    share.needed,
                    cap,
                    &load,
                    &last,
                    &mut all,
                    roster,
                );
            }
            if picked.len() < share.needed {
                failure = Some(ctx.reason(c, share, item, inspection_date, cap, &load, &last));
                break;
            }
            team.push(picked);
        }
        let outcome = match failure {
            Some(reason) => TeamOutcome::Unstaffed { reason },
            None => {
                for m in team.iter().flatten() {
                    load[*m as usize] += 1;
                }
                TeamOutcome::Staffed {
                    departments: shares
                        .iter()
                        .zip(team)
                        .map(|(s, ms)| DepartmentMembers {
                            department: s.department.to_string(),
                            members: ms
                                .iter()
                                .map(|m| roster[*m as usize].inspector_id.clone())
                                .collect(),
                        })
                        .collect(),
                }
            }
        };
        out.push(TeamResult {
            credit_code: c.credit_code,
            outcome,
        });
    }
    out
}

/// Takes up to `needed` members of `order` under the cap, skipping one that would complete the
/// last team; adds their ids to `all` (the team so far, across departments).
fn walk<'r>(
    order: &[u32],
    needed: usize,
    cap: u32,
    load: &[u32],
    last: &BTreeSet<&str>,
    all: &mut BTreeSet<&'r str>,
    roster: &'r [RosterEntry],
) -> Vec<u32> {
    let mut picked = Vec::with_capacity(needed);
    for &m in order {
        if picked.len() == needed {
            break;
        }
        let id = roster[m as usize].inspector_id.as_str();
        if load[m as usize] >= cap || all.contains(id) {
            continue;
        }
        all.insert(id);
        if !last.is_empty() && *all == *last {
            all.remove(id);
            continue;
        }
        picked.push(m);
    }
    picked
}

/// A ticket-ordered list of a pool; `complete` when it holds the whole pool.
struct Order {
    members: Vec<u32>,
    complete: bool,
}

struct Ctx<'a> {
    seed: &'a str,
    shares: &'a [Share<'a>],
    pools: &'a BTreeMap<(&'a str, &'a str), Vec<u32>>,
    by_code: &'a BTreeMap<&'a CreditCode, Vec<u32>>,
    by_lr: &'a BTreeMap<&'a str, Vec<u32>>,
    roster: &'a [RosterEntry],
}

impl Ctx<'_> {
    fn orders(&self, c: &Candidate, slack: usize) -> Vec<Order> {
        self.shares
            .iter()
            .map(|s| self.order(c, s, s.needed.saturating_add(slack)))
            .collect()
    }

    /// Pool of `share`'s department for `c` without conflicts, ascending roster index.
    fn pool(&self, c: &Candidate, share: &Share) -> Vec<u32> {
        let base = self
            .pools
            .get(&(share.department, c.jurisdiction.as_str()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let by_code = self
            .by_code
            .get(&c.credit_code)
            .map_or(&[][..], Vec::as_slice);
        let by_lr = self
            .by_lr
            .get(c.legal_representative.as_str())
            .map_or(&[][..], Vec::as_slice);
        base.iter()
            .copied()
            .filter(|m| !by_code.contains(m) && !by_lr.contains(m))
            .collect()
    }

    fn order(&self, c: &Candidate, share: &Share, take: usize) -> Order {
        let pool = self.pool(c, share);
        let seed = if share.joint {
            format!("{}/{}/{}", self.seed, c.credit_code, share.department)
        } else {
            format!("{}/{}", self.seed, c.credit_code)
        };
        // Roster ids are unique (validated), as `smallest` requires.
        let ids = pool
            .iter()
            .map(|&m| (m as usize, self.roster[m as usize].inspector_id.as_str()));
        let members: Vec<u32> = smallest(ids, &seed, take)
            .into_iter()
            .map(|(m, _)| m as u32)
            .collect();
        let complete = members.len() == pool.len();
        Order { members, complete }
    }

    /// Names the first constraint that left fewer than `share.needed` inspectors.
    #[allow(clippy::too_many_arguments)]
    fn reason(
        &self,
        c: &Candidate,
        share: &Share,
        item: &InspectionItem,
        day: Date,
        cap: u32,
        load: &[u32],
        last: &BTreeSet<&str>,
    ) -> String {
        let d = share.department;
        let n = share.needed;
        let quals = format!("[{}]", item.qualifications.join(", "));
        let dept: Vec<&RosterEntry> = self.roster.iter().filter(|r| r.department == d).collect();
        let live = dept
            .iter()
            .filter(|r| r.active && r.certified_on(day))
            .count();
        let qual = dept
            .iter()
            .filter(|r| {
                r.active
                    && r.certified_on(day)
                    && item
                        .qualifications
                        .iter()
                        .all(|q| r.qualifications.contains(q))
            })
            .count();
        let base = self
            .pools
            .get(&(d, c.jurisdiction.as_str()))
            .map_or(0, Vec::len);
        let pool = self.pool(c, share);
        let free = pool.iter().filter(|&&m| load[m as usize] < cap).count();
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
        } else if pool.len() < n {
            format!(
                "department `{d}`: {} of {base} eligible inspectors declared a conflict with the enterprise or its legal representative, {n} needed",
                base - pool.len()
            )
        } else if free < n {
            format!(
                "department `{d}`: {} of {} eligible inspectors reached the workload cap of {cap}, {n} needed",
                pool.len() - free,
                pool.len()
            )
        } else {
            format!(
                "department `{d}`: the remaining inspectors would repeat the last team [{}]",
                last.iter().copied().collect::<Vec<_>>().join(", ")
            )
        }
    }
}
