//! The entity draw: which enterprises are inspected.
//!
//! Steps, for one item and seed: (1) sort the candidates by credit code and reject duplicates,
//! so nothing depends on the input order; (2) drop those outside the item's scope; (3) exclude,
//! with the first reason that applies, in this order: `not-active` (status is not active),
//! `recently-inspected` (this item inspected the enterprise fewer than `min_interval_days`
//! before the inspection date), `yearly-cap` (`inspections_this_year` has reached the tier's
//! cap); (4) per tier, `k = rounding(ratio × eligible / 1000)`, the ratio capped for general
//! items; (5) per tier, the `k` eligible enterprises with the smallest consistent-sampling
//! tickets under the draw seed. The ticket of an enterprise is exactly the first ticket of the
//! Python package `consistent-sampler` 1.0.10 for id = the credit code, so
//! `sampler(codes_of_tier, seed=SEED, take=k, output='id')` returns the same list.
//!
//! Tickets are computed only for eligible enterprises; large tiers are split into two halves
//! sampled on two threads (`std::thread::scope`), whose `k` smallest are merged. This is exact:
//! the `k` smallest of a union are among the `k` smallest of each part.

use super::candidate::{digest_sorted, Candidate};
use super::error::DrawError;
use super::item::InspectionItem;
use super::policy::SupervisionPolicy;
use super::tier::Tier;
use crate::domain::{CreditCode, Date, Status};
use crate::sampling::{smallest, Ticket};
use serde::{Deserialize, Serialize};

/// Why an in-scope enterprise could not be drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExclusionReason {
    /// Registration status is not active at the as-of date.
    NotActive,
    /// The same item inspected the enterprise within the policy's minimum interval.
    RecentlyInspected,
    /// The enterprise has reached its tier's yearly inspection cap.
    YearlyCap,
}

impl ExclusionReason {
    /// The kebab-case name used in records and CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            ExclusionReason::NotActive => "not-active",
            ExclusionReason::RecentlyInspected => "recently-inspected",
            ExclusionReason::YearlyCap => "yearly-cap",
        }
    }
}

/// What the draw made of one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Outside the item's scope: not part of the draw population.
    OutOfScope,
    /// In scope but excluded.
    Excluded(ExclusionReason),
    /// In scope and eligible: has a ticket.
    Eligible,
}

impl Disposition {
    /// `out-of-scope`, the exclusion reason, or `eligible`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::OutOfScope => "out-of-scope",
            Disposition::Excluded(r) => r.as_str(),
            Disposition::Eligible => "eligible",
        }
    }
}

/// Counts for one tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierCount {
    /// The tier.
    pub tier: Tier,
    /// Candidates of the tier in the item's scope.
    pub candidates: u64,
    /// Of those, excluded.
    pub excluded: u64,
    /// Of those, eligible (`candidates - excluded`).
    pub eligible: u64,
    /// Ratio applied, per mille, after the general-item cap.
    pub per_mille: u32,
    /// Number drawn: `rounding(per_mille × eligible / 1000)`.
    pub k: u64,
}

/// A dry run: the counts a draw would use, without tickets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    /// Candidates given, in or out of scope.
    pub total_candidates: u64,
    /// Candidates outside the item's scope.
    pub out_of_scope: u64,
    /// One entry per tier, A to D.
    pub tiers: Vec<TierCount>,
}

/// The result of the entity draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityDraw {
    /// The counts.
    pub preview: Preview,
    /// Candidate digest of the whole snapshot (see [`super::candidate`]).
    pub candidate_digest: String,
    /// Excluded enterprises in ascending code order: index into the candidates, reason.
    pub exclusions: Vec<(usize, ExclusionReason)>,
    /// Drawn enterprises in the global order (ascending ticket, then code, across tiers):
    /// index into the candidates, ticket.
    pub selected: Vec<(usize, Ticket)>,
}

/// What happens to `c` in a draw of `item` for an inspection on `inspection_date`.
pub fn disposition(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    c: &Candidate,
) -> Disposition {
    if !item.in_scope(c) {
        return Disposition::OutOfScope;
    }
    if c.status != Status::Active {
        return Disposition::Excluded(ExclusionReason::NotActive);
    }
    let interval = i64::from(policy.min_interval_days);
    if c.last_inspections.iter().any(|l| {
        l.item_id == item.id
            && i64::from(inspection_date.days()) - i64::from(l.date.days()) < interval
    }) {
        return Disposition::Excluded(ExclusionReason::RecentlyInspected);
    }
    if c.inspections_this_year >= policy.yearly_cap.get(c.tier) {
        return Disposition::Excluded(ExclusionReason::YearlyCap);
    }
    Disposition::Eligible
}

/// Candidate indices in ascending code order; fails on a duplicate code.
pub(crate) fn sorted_order(candidates: &[Candidate]) -> Result<Vec<usize>, DrawError> {
    // Sort contiguous (code, index) keys rather than indices into the large candidate structs:
    // far fewer cache misses. Large inputs sort their two halves on two threads, then merge.
    let mut keys: Vec<(CreditCode, u32)> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.credit_code, i as u32))
        .collect();
    if keys.len() < PARALLEL_MIN {
        keys.sort_unstable();
    } else {
        let mid = keys.len() / 2;
        let (l, r) = keys.split_at_mut(mid);
        std::thread::scope(|s| {
            s.spawn(|| l.sort_unstable());
            r.sort_unstable();
        });
        let mut merged = Vec::with_capacity(keys.len());
        let (mut i, mut j) = (0, mid);
        while i < mid && j < keys.len() {
            if keys[i] <= keys[j] {
                merged.push(keys[i]);
                i += 1;
            } else {
                merged.push(keys[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&keys[i..mid]);
        merged.extend_from_slice(&keys[j..]);
        keys = merged;
    }
    for w in keys.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(DrawError::invalid(
                format!("candidates[{}].credit_code", w[0].1.max(w[1].1)),
                format!("`{}` appears twice in the candidate snapshot", w[0].0),
            ));
        }
    }
    Ok(keys.into_iter().map(|(_, i)| i as usize).collect())
}

struct Classified {
    preview: Preview,
    order: Vec<usize>,
    exclusions: Vec<(usize, ExclusionReason)>,
    /// Eligible indices per tier, ascending code.
    eligible: [Vec<usize>; 4],
}

fn classify(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    candidates: &[Candidate],
) -> Result<Classified, DrawError> {
    let order = sorted_order(candidates)?;
    let mut exclusions = Vec::new();
    let mut eligible: [Vec<usize>; 4] = Default::default();
    let mut in_scope = [0u64; 4];
    let mut out_of_scope = 0u64;
    for &i in &order {
        let c = &candidates[i];
        match disposition(item, policy, inspection_date, c) {
            Disposition::OutOfScope => out_of_scope += 1,
            Disposition::Excluded(r) => {
                in_scope[c.tier as usize] += 1;
                exclusions.push((i, r));
            }
            Disposition::Eligible => {
                in_scope[c.tier as usize] += 1;
                eligible[c.tier as usize].push(i);
            }
        }
    }
    let key = item.kind == super::item::ItemKind::Key;
    let tiers = Tier::ALL
        .iter()
        .map(|&t| {
            let n = eligible[t as usize].len() as u64;
            let per_mille = policy.effective_per_mille(t, key);
            TierCount {
                tier: t,
                candidates: in_scope[t as usize],
                excluded: in_scope[t as usize] - n,
                eligible: n,
                per_mille,
                k: policy.rounding.apply(per_mille, n),
            }
        })
        .collect();
    Ok(Classified {
        preview: Preview {
            total_candidates: candidates.len() as u64,
            out_of_scope,
            tiers,
        },
        order,
        exclusions,
        eligible,
    })
}

/// The counts per tier a draw of `item` would use (a dry run: no tickets are computed).
/// `policy` is the effective policy (after overrides).
pub fn preview(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    candidates: &[Candidate],
) -> Result<Preview, DrawError> {
    Ok(classify(item, policy, inspection_date, candidates)?.preview)
}

/// Draws the enterprises for `item` under `seed`; `policy` is the effective policy. The result
/// does not depend on the order of `candidates`.
pub fn draw_entities(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    seed: &str,
    candidates: &[Candidate],
) -> Result<EntityDraw, DrawError> {
    let cl = classify(item, policy, inspection_date, candidates)?;
    let candidate_digest = digest_sorted(
        cl.order
            .iter()
            .map(|&i| (&candidates[i].credit_code, candidates[i].tier)),
    );
    let mut selected: Vec<(usize, Ticket)> = Vec::new();
    for (t, tc) in Tier::ALL.iter().zip(&cl.preview.tiers) {
        let idx = &cl.eligible[*t as usize];
        selected.extend(smallest_tickets(candidates, idx, seed, tc.k as usize));
    }
    // Global order: ascending ticket, ties (impossible without a SHA-256 collision) by code.
    selected.sort_unstable_by(|a, b| by_ticket(candidates, a, b));
    Ok(EntityDraw {
        preview: cl.preview,
        candidate_digest,
        exclusions: cl.exclusions,
        selected,
    })
}

/// Ascending ticket, then code; the code (a random memory access) is read only on a tie.
fn by_ticket(
    candidates: &[Candidate],
    a: &(usize, Ticket),
    b: &(usize, Ticket),
) -> std::cmp::Ordering {
    a.1.cmp(&b.1).then_with(|| {
        candidates[a.0]
            .credit_code
            .cmp(&candidates[b.0].credit_code)
    })
}

/// Below this many ids one thread is faster than two.
const PARALLEL_MIN: usize = 50_000;

/// The `take` candidates of `idx` with the smallest tickets, in ascending (ticket, code) order.
fn smallest_tickets(
    candidates: &[Candidate],
    idx: &[usize],
    seed: &str,
    take: usize,
) -> Vec<(usize, Ticket)> {
    let ids = |part: &[usize]| {
        part.iter()
            .map(|&i| (i, candidates[i].credit_code.as_str()))
            .collect::<Vec<_>>()
    };
    if take == 0 || idx.is_empty() {
        return Vec::new();
    }
    if idx.len() < PARALLEL_MIN {
        return smallest(
            idx.iter().map(|&i| (i, candidates[i].credit_code.as_str())),
            seed,
            take,
        );
    }
    let (left, right) = idx.split_at(idx.len() / 2);
    // Two scoped threads, one per half: pure CPU work (SHA-256) on shared read-only data, so
    // plain OS threads without locks are enough.
    let (mut both, r) = std::thread::scope(|s| {
        let h = s.spawn(|| smallest(ids(left), seed, take));
        let r = smallest(ids(right), seed, take);
        // A panic in the sampling thread is a bug; propagate it as a panic.
        (h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), r)
    });
    both.extend(r);
    both.sort_unstable_by(|a, b| by_ticket(candidates, a, b));
    both.truncate(take);
    both
}
