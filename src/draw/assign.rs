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
//! Performance: the expensive part, the ticket order of each pool (one SHA-256 compression per
//! inspector and enterprise), does not depend on workload, so it is computed first for a short
//! prefix (needed + [`SLACK`] members), on two threads pulling chunks of enterprises from a
//! shared counter (`draw::par`); the sequential pass falls back to the full order only when
//! the prefix runs out. The result is the same as with the full order, since the walk over a
//! prefix of an order is the walk over the order. Neither pass builds strings or sets per
//! enterprise: the per-enterprise seeds are hashed from a prepared `SEED/` state, inspector ids
//! are padded into their SHA-256 block once ([`IdBlock`]), and teams are sets of roster indices
//! (roster ids are unique, so index sets compare exactly as id sets); strings are made only for
//! the result.

use super::candidate::{Candidate, RosterEntry};
use super::item::InspectionItem;
use super::par::{both, map_range};
use super::policy::SupervisionPolicy;
use crate::domain::{CreditCode, Date};
use crate::sampling::order::{IdBlock, PrefixHasher, Smallest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

/// Extra ticket-ordered members computed ahead per department, beyond those needed.
pub const SLACK: usize = 2;

/// Enterprises per chunk of the parallel pass.
const CHUNK: usize = 2048;

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
        seed_base: Sha256::new()
            .chain_update(seed.as_bytes())
            .chain_update(b"/"),
        pools: &pools,
        by_code: &by_code,
        by_lr: &by_lr,
        roster,
        blocks: roster
            .iter()
            .map(|r| IdBlock::new(r.inspector_id.as_bytes()))
            .collect(),
    };
    // Roster ids are unique (validated), as the selection requires; a tie needs a collision.
    let tie = |a: &u32, b: &u32| {
        roster[*a as usize]
            .inspector_id
            .cmp(&roster[*b as usize].inspector_id)
    };
    let ids: HashMap<&str, u32> = roster
        .iter()
        .enumerate()
        .map(|(i, r)| (r.inspector_id.as_str(), i as u32))
        .collect();
    // Phase 1 (parallel, pure): ticket-ordered prefixes per enterprise and department, and the
    // last teams as roster indices.
    let next = AtomicUsize::new(0);
    let prefixes = || {
        let mut sel = Smallest::new(0, tie);
        let mut done = Vec::new();
        loop {
            let c = next.fetch_add(1, AtomicOrdering::Relaxed);
            let Some(part) = c
                .checked_mul(CHUNK)
                .and_then(|start| selected.get(start..selected.len().min(start + CHUNK)))
                .filter(|p| !p.is_empty())
            else {
                break;
            };
            // First gather what the hashing needs of each enterprise: these reads are scattered
            // over the candidates (drawn enterprises come in ticket order), and in a loop of
            // their own the processor overlaps the cache misses instead of stalling on each.
            let ctx = &ctx;
            let jobs: Vec<Job> = part
                .iter()
                .flat_map(|&i| shares.iter().map(move |s| ctx.job(&candidates[i], s)))
                .collect();
            let mut p = Prefixes {
                codes: part.iter().map(|&i| candidates[i].credit_code).collect(),
                lasts: part
                    .iter()
                    .map(|&i| last_team(&candidates[i], &ids))
                    .collect(),
                ..Prefixes::default()
            };
            for job in &jobs {
                let take = job.share.needed.saturating_add(SLACK);
                let complete = ctx.order(job, take, &mut sel, &mut p.members);
                p.spans.push((p.members.len(), complete));
            }
            done.push((c, p));
        }
        done
    };
    let (mut chunks, more) = both(selected.len() >= 256, prefixes, prefixes);
    chunks.extend(more);
    chunks.sort_unstable_by_key(|(c, _)| *c);
    // Phase 2 (sequential): walk the orders under the workload cap. Each team is stored as
    // `stride` roster indices (the departments' shares in order); a failure as its reason.
    let stride: usize = shares.iter().map(|s| s.needed).sum();
    let cap = policy.max_assignments_per_inspector;
    let mut load = vec![0u32; roster.len()];
    let mut teams: Vec<u32> = Vec::with_capacity(selected.len().saturating_mul(stride));
    let mut failures: Vec<(usize, String)> = Vec::new();
    let mut sel = Smallest::new(0, tie);
    let mut team: Vec<u32> = Vec::with_capacity(stride);
    let mut longer: Vec<u32> = Vec::new();
    // One span per enterprise and department, and one last team per enterprise, in the order
    // of `selected`.
    let mut spans = chunks.iter().flat_map(|(_, p)| {
        p.spans.iter().scan(0, |from, &(to, complete)| {
            let order = &p.members[*from..to];
            *from = to;
            Some((order, complete))
        })
    });
    let mut lasts = chunks.iter().flat_map(|(_, p)| p.lasts.iter());
    let mut orders: Vec<(&[u32], bool)> = Vec::with_capacity(shares.len());
    for (e, &ci) in selected.iter().enumerate() {
        let last = lasts.next().and_then(Option::as_deref);
        // Take all of this enterprise's spans before walking any: a department that falls
        // short ends the walk early, and the next enterprise must still start at its own
        // spans (issue 11: a short lead shifted every later team onto the wrong department).
        orders.clear();
        orders.extend(spans.by_ref().take(shares.len()));
        // Always complete: phase 1 made one span per enterprise and department.
        orders.resize(shares.len(), (&[], true));
        team.clear();
        let mut failure = None;
        for (share, &(order, mut complete)) in shares.iter().zip(&orders) {
            let start = team.len();
            walk(order, share.needed, cap, &load, last, &mut team);
            // The prefix ran out (workload caps, the last-team skip): recompute a longer prefix,
            // four times longer each round, until the team is complete or the pool is.
            let mut take = order.len();
            while team.len() - start < share.needed && !complete {
                team.truncate(start);
                take = take.saturating_mul(4);
                longer.clear();
                let c = &candidates[ci];
                complete = ctx.order(&ctx.job(c, share), take, &mut sel, &mut longer);
                walk(&longer, share.needed, cap, &load, last, &mut team);
            }
            if team.len() - start < share.needed {
                let c = &candidates[ci];
                let last: BTreeSet<&str> = c.last_team.iter().map(String::as_str).collect();
                failure = Some(ctx.reason(c, share, item, inspection_date, cap, &load, &last));
                break;
            }
        }
        match failure {
            Some(reason) => {
                failures.push((e, reason));
                teams.resize(teams.len() + stride, 0);
            }
            None => {
                for m in &team {
                    load[*m as usize] += 1;
                }
                teams.extend_from_slice(&team);
            }
        }
    }
    // Phase 3 (parallel): the results, with their strings.
    let codes: Vec<CreditCode> = chunks
        .iter()
        .flat_map(|(_, p)| p.codes.iter().copied())
        .collect();
    map_range(selected.len(), 4096, |e| {
        let outcome = match failures.binary_search_by_key(&e, |(f, _)| *f) {
            Ok(f) => TeamOutcome::Unstaffed {
                reason: failures[f].1.clone(),
            },
            Err(_) => {
                let mut members = teams[e * stride..(e + 1) * stride].iter();
                TeamOutcome::Staffed {
                    departments: shares
                        .iter()
                        .map(|s| DepartmentMembers {
                            department: s.department.to_string(),
                            members: members
                                .by_ref()
                                .take(s.needed)
                                .map(|m| roster[*m as usize].inspector_id.clone())
                                .collect(),
                        })
                        .collect(),
                }
            }
        };
        TeamResult {
            credit_code: codes[e],
            outcome,
        }
    })
}

/// The roster indices of `c`'s last team, sorted, or `None` when the last-team rule cannot
/// apply: no last team, or one with an inspector no longer on the roster (a team drawn from
/// the roster can never equal it).
fn last_team(c: &Candidate, ids: &HashMap<&str, u32>) -> Option<Vec<u32>> {
    if c.last_team.is_empty() {
        return None;
    }
    let mut last = c
        .last_team
        .iter()
        .map(|id| ids.get(id.as_str()).copied())
        .collect::<Option<Vec<u32>>>()?;
    last.sort_unstable();
    last.dedup();
    Some(last)
}

/// Takes up to `needed` members of `order` under the cap and appends them to `team` (the team
/// so far, across departments), skipping one that would make the team exactly `last`.
fn walk(
    order: &[u32],
    needed: usize,
    cap: u32,
    load: &[u32],
    last: Option<&[u32]>,
    team: &mut Vec<u32>,
) {
    let start = team.len();
    for &m in order {
        if team.len() - start == needed {
            break;
        }
        if load[m as usize] >= cap || team.contains(&m) {
            continue;
        }
        team.push(m);
        if let Some(last) = last {
            // Members are distinct, so equal sizes and inclusion mean equal sets.
            if team.len() == last.len() && team.iter().all(|x| last.binary_search(x).is_ok()) {
                team.pop();
            }
        }
    }
}

/// Ticket-ordered prefixes of a chunk of enterprises: for each enterprise and department in
/// order, the end of its members in `members` and whether they are the whole pool.
#[derive(Default)]
struct Prefixes {
    members: Vec<u32>,
    spans: Vec<(usize, bool)>,
    /// Per enterprise, its code (read here with the rest, not again for the results).
    codes: Vec<CreditCode>,
    /// Per enterprise, its last team ([`last_team`]).
    lasts: Vec<Option<Vec<u32>>>,
}

/// One enterprise and department to order: the code (the pool seed) and the pool.
struct Job<'s> {
    code: [u8; 18],
    share: &'s Share<'s>,
    /// The department's inspectors for the enterprise's jurisdiction.
    base: &'s [u32],
    /// Of those, the ones in conflict with the code or with the legal representative.
    by_code: &'s [u32],
    by_lr: &'s [u32],
}

struct Ctx<'a> {
    /// SHA-256 state after `SEED/`, the common start of every pool seed.
    seed_base: Sha256,
    pools: &'a BTreeMap<(&'a str, &'a str), Vec<u32>>,
    by_code: &'a BTreeMap<&'a CreditCode, Vec<u32>>,
    by_lr: &'a BTreeMap<&'a str, Vec<u32>>,
    roster: &'a [RosterEntry],
    /// Padded SHA-256 block of each inspector id, `None` for ids over 55 bytes.
    blocks: Vec<Option<IdBlock>>,
}

impl Ctx<'_> {
    /// The department's static pool for `c` and the inspectors in conflict with `c`.
    fn pool_parts<'s>(
        &'s self,
        c: &'s Candidate,
        share: &'s Share,
    ) -> (&'s [u32], &'s [u32], &'s [u32]) {
        let base = self
            .pools
            .get(&(share.department, c.jurisdiction.as_str()))
            .map_or(&[][..], Vec::as_slice);
        let by_code = self
            .by_code
            .get(&c.credit_code)
            .map_or(&[][..], Vec::as_slice);
        let by_lr = self
            .by_lr
            .get(c.legal_representative.as_str())
            .map_or(&[][..], Vec::as_slice);
        (base, by_code, by_lr)
    }

    /// Pool of `share`'s department for `c` without conflicts, ascending roster index.
    fn pool(&self, c: &Candidate, share: &Share) -> Vec<u32> {
        let (base, by_code, by_lr) = self.pool_parts(c, share);
        base.iter()
            .copied()
            .filter(|m| !by_code.contains(m) && !by_lr.contains(m))
            .collect()
    }

    /// What hashing the pool of `share` for `c` needs.
    fn job<'s>(&'s self, c: &'s Candidate, share: &'s Share<'s>) -> Job<'s> {
        let (base, by_code, by_lr) = self.pool_parts(c, share);
        Job {
            code: *c.credit_code.as_bytes(),
            share,
            base,
            by_code,
            by_lr,
        }
    }

    /// Appends to `out` the first `take` members of the job's pool in ticket order, under the
    /// seed `SEED/CODE` (ordinary draw) or `SEED/CODE/DEPARTMENT` (joint draw); returns true
    /// when they are the whole pool. `sel` is scratch space.
    fn order(
        &self,
        job: &Job,
        take: usize,
        sel: &mut Smallest<u32, impl Fn(&u32, &u32) -> Ordering>,
        out: &mut Vec<u32>,
    ) -> bool {
        let mut h = self.seed_base.clone();
        h.update(job.code);
        if job.share.joint {
            h.update(b"/");
            h.update(job.share.department.as_bytes());
        }
        let hasher = PrefixHasher::from_seed_digest(&h.finalize().into());
        sel.reset(take);
        let mut pool_len = 0;
        for &m in job.base {
            if job.by_code.contains(&m) || job.by_lr.contains(&m) {
                continue;
            }
            pool_len += 1;
            let words = match &self.blocks[m as usize] {
                Some(block) => hasher.digest_block(block),
                None => hasher.digest_words(self.roster[m as usize].inspector_id.as_bytes()),
            };
            sel.offer_words(&words, m);
        }
        let picked = sel.finish();
        out.extend(picked.iter().map(|e| e.item()));
        picked.len() == pool_len
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
