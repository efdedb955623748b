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
//! Differentiated supervision: when the policy carries group ratios valid on the inspection
//! date ([`SupervisionPolicy::group_ratios`]), each tier is split into strata: the candidates
//! of each group (the first valid group ratio that matches) and the rest. Steps (4) and (5) then
//! run per stratum and tier, with the group's raised ratio in its stratum; the per-tier counts
//! sum the strata, and [`Preview::groups`] shows each group's counts. In Python: the same
//! `sampler` call per stratum and tier. Each stratum rounds on its own, so a tier's total `k`
//! may differ from one rounding over the whole tier by at most one per stratum.
//!
//! Performance (4 million candidates on two cores): the candidates are large structs, so they
//! are read once, in input order, each half on its own thread (`draw::par`), and reduced to
//! 24-byte keys (code, tier, disposition, index) that are sorted per half, comparing the code
//! as three big-endian integers. From
//! then on the draw works on the keys: one thread walks the two sorted halves merged on the fly
//! (duplicate check, exclusions, candidate digest, which is a SHA-256 chain and so sequential)
//! while the other computes tickets for the eligible keys, which needs no order, in chunks
//! pulled from a shared counter; the first thread joins the ticket work when its walk is done.
//! Each thread keeps per-tier bounded selections ([`Smallest`]), merged at the end. This is
//! exact: the `k` smallest of a union are among the `k` smallest of each part, and the order
//! (ticket, then code) is total. The cost is memory: 24 bytes per candidate for the keys.

use super::candidate::{Candidate, DigestWriter};
use super::error::DrawError;
use super::item::InspectionItem;
use super::par::{both, map_range};
use super::policy::SupervisionPolicy;
use super::tier::Tier;
use crate::domain::{CreditCode, Date, Status};
use crate::sampling::order::{PrefixHasher, Smallest};
use crate::sampling::Ticket;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

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
    /// Ratio applied, per mille, after the general-item cap (outside every group ratio).
    pub per_mille: u32,
    /// Number drawn: `rounding(per_mille × eligible / 1000)`; with group ratios, the sum of
    /// that over the strata (see the module doc).
    pub k: u64,
}

/// The counts of one group ratio (differentiated supervision) in a draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCount {
    /// The group ratio's basis (an alert id).
    pub basis: String,
    /// The group's district, if it names one.
    #[serde(default)]
    pub district: Option<String>,
    /// The group's industry prefix, if it names one.
    #[serde(default)]
    pub industry: Option<String>,
    /// One entry per tier, A to D: the group's candidates, the raised ratio and `k`.
    pub tiers: Vec<TierCount>,
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
    /// One entry per group ratio valid on the inspection date, in the policy's order; empty
    /// (and absent from JSON) without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupCount>,
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

/// Below this many candidates one thread is faster than two.
const PARALLEL_MIN: usize = 50_000;

/// Keys per chunk of ticket work: large enough that the shared counter is touched rarely,
/// small enough that the two threads finish together.
const CHUNK: usize = 1 << 14;

/// A candidate reduced to what sorting and the draw need: 24 bytes, no pointers.
#[derive(Clone, Copy, Debug)]
struct Key {
    code: CreditCode,
    tier: Tier,
    disposition: Disposition,
    /// Index into the candidates.
    idx: u32,
}

// The layout the module doc promises (and the memory estimate relies on).
const _: () = assert!(std::mem::size_of::<Key>() == 24);

impl Key {
    /// Sort order: code (its bytes read as big-endian integers, which order as the bytes do),
    /// then index, which only matters between duplicates.
    #[inline]
    fn rank(&self) -> (u64, u64, u64) {
        let b = self.code.as_bytes();
        (
            u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
            (u64::from(u16::from_be_bytes([b[16], b[17]])) << 32) | u64::from(self.idx),
        )
    }
}

/// Per-tier counts gathered while the keys are built.
#[derive(Clone, Copy, Default)]
struct Counts {
    in_scope: [u64; 4],
    eligible: [u64; 4],
    out_of_scope: u64,
}

impl Counts {
    fn add(&mut self, tier: Tier, d: Disposition) {
        match d {
            Disposition::OutOfScope => self.out_of_scope += 1,
            Disposition::Excluded(_) => self.in_scope[tier as usize] += 1,
            Disposition::Eligible => {
                self.in_scope[tier as usize] += 1;
                self.eligible[tier as usize] += 1;
            }
        }
    }

    fn plus(mut self, o: Counts) -> Counts {
        for t in 0..4 {
            self.in_scope[t] += o.in_scope[t];
            self.eligible[t] += o.eligible[t];
        }
        self.out_of_scope += o.out_of_scope;
        self
    }
}

/// The keys of all candidates in two halves, each sorted; see the module doc.
struct Halves {
    left: Vec<Key>,
    right: Vec<Key>,
    counts: Counts,
}

impl Halves {
    /// Reads every candidate once (two threads for large inputs), classifying it with
    /// `classify`.
    fn build(
        candidates: &[Candidate],
        classify: impl Fn(&Candidate) -> Disposition + Sync,
    ) -> Result<Halves, DrawError> {
        let n = candidates.len();
        if u32::try_from(n).is_err() {
            return Err(DrawError::invalid(
                "candidates",
                format!("{n} candidates, at most {} are supported", u32::MAX),
            ));
        }
        let part = |offset: usize, cs: &[Candidate]| {
            let mut counts = Counts::default();
            let mut keys: Vec<Key> = cs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let d = classify(c);
                    counts.add(c.tier, d);
                    Key {
                        code: c.credit_code,
                        tier: c.tier,
                        disposition: d,
                        // Fits: n ≤ u32::MAX was checked above.
                        idx: (offset + i) as u32,
                    }
                })
                .collect();
            keys.sort_unstable_by_key(Key::rank);
            (keys, counts)
        };
        let parallel = n >= PARALLEL_MIN;
        let mid = if parallel { n / 2 } else { n };
        let (l, r) = candidates.split_at(mid);
        let ((left, lc), (right, rc)) = both(parallel, || part(0, l), || part(mid, r));
        Ok(Halves {
            left,
            right,
            counts: lc.plus(rc),
        })
    }

    fn len(&self) -> usize {
        self.left.len() + self.right.len()
    }

    /// All keys in ascending (code, index) order.
    fn merged(&self) -> Merged<'_> {
        Merged {
            left: &self.left,
            right: &self.right,
        }
    }

    /// Chunk `c` of the keys in storage order (left half, then right half), if any.
    fn chunk(&self, c: usize) -> Option<&[Key]> {
        let nl = self.left.len().div_ceil(CHUNK);
        let (half, c) = if c < nl {
            (&self.left, c)
        } else {
            (&self.right, c - nl)
        };
        let start = c.checked_mul(CHUNK)?;
        half.get(start..half.len().min(start.saturating_add(CHUNK)))
            .filter(|s| !s.is_empty())
    }

    /// The counts per tier, with `k` from the policy; with group ratio strata (see
    /// [`strata`]), per stratum and tier.
    fn preview(
        &self,
        item: &InspectionItem,
        policy: &SupervisionPolicy,
        strata: Option<&Strata>,
    ) -> Preview {
        let key = item.kind == super::item::ItemKind::Key;
        let c = &self.counts;
        let per_stratum = strata.map(|st| st.counts(self));
        let tier_count = |t: Tier, s: usize, in_scope: u64, n: u64| {
            let per_mille = policy.stratum_per_mille(s, t, key);
            TierCount {
                tier: t,
                candidates: in_scope,
                excluded: in_scope - n,
                eligible: n,
                per_mille,
                k: policy.rounding.apply(per_mille, n),
            }
        };
        let tiers = Tier::ALL
            .iter()
            .map(|&t| {
                let n = c.eligible[t as usize];
                let mut tc = tier_count(t, 0, c.in_scope[t as usize], n);
                if let Some(ps) = &per_stratum {
                    // k is summed over the strata, each with its own ratio.
                    tc.k = ps
                        .iter()
                        .enumerate()
                        .map(|(s, sc)| {
                            let n = sc.eligible[t as usize];
                            policy
                                .rounding
                                .apply(policy.stratum_per_mille(s, t, key), n)
                        })
                        .sum();
                }
                tc
            })
            .collect();
        let groups = match (strata, &per_stratum) {
            (Some(st), Some(ps)) => st
                .groups
                .iter()
                .map(|&g| {
                    let s = g + 1;
                    let gr = &policy.group_ratios[g];
                    GroupCount {
                        basis: gr.basis.clone(),
                        district: gr.district.clone(),
                        industry: gr.industry.clone(),
                        tiers: Tier::ALL
                            .iter()
                            .map(|&t| {
                                tier_count(
                                    t,
                                    s,
                                    ps[s].in_scope[t as usize],
                                    ps[s].eligible[t as usize],
                                )
                            })
                            .collect(),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        Preview {
            total_candidates: self.len() as u64,
            out_of_scope: c.out_of_scope,
            tiers,
            groups,
        }
    }
}

/// The group ratio stratum of every candidate (see [`SupervisionPolicy::stratum`]).
struct Strata {
    /// By candidate index: 0 outside every group, else 1 + the group ratio's index.
    of: Vec<u8>,
    /// Indices of the group ratios valid on the inspection date, ascending.
    groups: Vec<usize>,
    /// Number of strata: 1 + the number of group ratios.
    len: usize,
}

impl Strata {
    /// Counts per stratum and tier.
    fn counts(&self, halves: &Halves) -> Vec<Counts> {
        let mut out = vec![Counts::default(); self.len];
        for k in halves.left.iter().chain(&halves.right) {
            out[self.of[k.idx as usize] as usize].add(k.tier, k.disposition);
        }
        out
    }

    fn of(&self, k: &Key) -> usize {
        self.of[k.idx as usize] as usize
    }
}

/// The strata of the candidates, or `None` when no group ratio of `policy` is valid on
/// `inspection_date` (then the draw is exactly the plain one, with no extra pass).
fn strata(
    policy: &SupervisionPolicy,
    inspection_date: Date,
    candidates: &[Candidate],
) -> Result<Option<Strata>, DrawError> {
    let groups: Vec<usize> = (0..policy.group_ratios.len())
        .filter(|&i| policy.group_ratios[i].valid_on(inspection_date))
        .collect();
    if groups.is_empty() {
        return Ok(None);
    }
    if policy.group_ratios.len() > super::policy::bounds::GROUP_RATIOS {
        return Err(DrawError::invalid(
            "policy.group_ratios",
            format!(
                "`{}` entries is out of range: group_ratios may list 0 to {}",
                policy.group_ratios.len(),
                super::policy::bounds::GROUP_RATIOS
            ),
        ));
    }
    let of = map_range(candidates.len(), PARALLEL_MIN, |i| {
        // At most GROUP_RATIOS (10) + 1 strata: fits a byte.
        policy.stratum(&candidates[i], inspection_date) as u8
    });
    Ok(Some(Strata {
        of,
        groups,
        len: policy.group_ratios.len() + 1,
    }))
}

/// The keys of two sorted halves in merged order.
struct Merged<'a> {
    left: &'a [Key],
    right: &'a [Key],
}

impl<'a> Iterator for Merged<'a> {
    type Item = &'a Key;

    #[inline]
    fn next(&mut self) -> Option<&'a Key> {
        let from_left = match (self.left.first(), self.right.first()) {
            (Some(l), Some(r)) => l.rank() < r.rank(),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let side = if from_left {
            &mut self.left
        } else {
            &mut self.right
        };
        let (first, rest) = side.split_first()?;
        *side = rest;
        Some(first)
    }
}

/// The sequential walk over all keys in code order.
struct Walk {
    /// Excluded enterprises, ascending code.
    exclusions: Vec<(Key, ExclusionReason)>,
    /// The candidate digest, when asked for.
    digest: Option<String>,
}

/// Walks the keys in code order: fails on the first duplicate code (naming the later index, as
/// the sort order puts the smaller first), lists the exclusions, and computes the candidate
/// digest if `with_digest`.
fn walk(halves: &Halves, with_digest: bool) -> Result<Walk, DrawError> {
    let mut exclusions = Vec::new();
    let mut digest = with_digest.then(DigestWriter::new);
    let mut prev: Option<&Key> = None;
    for k in halves.merged() {
        if let Some(p) = prev {
            if p.code == k.code {
                return Err(DrawError::invalid(
                    format!("candidates[{}].credit_code", p.idx.max(k.idx)),
                    format!("`{}` appears twice in the candidate snapshot", k.code),
                ));
            }
        }
        if let Disposition::Excluded(r) = k.disposition {
            exclusions.push((*k, r));
        }
        if let Some(w) = digest.as_mut() {
            w.push(k.code.as_bytes(), k.tier);
        }
        prev = Some(k);
    }
    Ok(Walk {
        exclusions,
        digest: digest.map(DigestWriter::finish),
    })
}

/// Candidate indices in ascending code order; fails on a duplicate code.
pub(crate) fn sorted_order(candidates: &[Candidate]) -> Result<Vec<usize>, DrawError> {
    let halves = Halves::build(candidates, |_| Disposition::Eligible)?;
    walk(&halves, false)?;
    Ok(halves.merged().map(|k| k.idx as usize).collect())
}

/// The counts per tier a draw of `item` would use (a dry run: no tickets are computed).
/// `policy` is the effective policy (after overrides).
pub fn preview(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    candidates: &[Candidate],
) -> Result<Preview, DrawError> {
    let halves = Halves::build(candidates, |c| {
        disposition(item, policy, inspection_date, c)
    })?;
    walk(&halves, false)?;
    let strata = strata(policy, inspection_date, candidates)?;
    Ok(halves.preview(item, policy, strata.as_ref()))
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
    Ok(draw(item, policy, inspection_date, seed, candidates)?.draw)
}

/// An entity draw with the code and tier of each exclusion and selection, in the same orders:
/// the record reads them from here rather than from the scattered candidates.
pub(crate) struct Drawn {
    pub(crate) draw: EntityDraw,
    pub(crate) excluded: Vec<(CreditCode, Tier)>,
    pub(crate) selected: Vec<(CreditCode, Tier)>,
}

/// [`draw_entities`], with the codes and tiers; see the module doc for how the work is split.
pub(crate) fn draw(
    item: &InspectionItem,
    policy: &SupervisionPolicy,
    inspection_date: Date,
    seed: &str,
    candidates: &[Candidate],
) -> Result<Drawn, DrawError> {
    let halves = Halves::build(candidates, |c| {
        disposition(item, policy, inspection_date, c)
    })?;
    let strata = strata(policy, inspection_date, candidates)?;
    let preview = halves.preview(item, policy, strata.as_ref());
    // k ≤ eligible ≤ number of candidates, so it fits in usize. One selection per stratum and
    // tier, at `stratum * 4 + tier`.
    let take: Vec<usize> = match &strata {
        None => preview.tiers.iter().map(|t| t.k as usize).collect(),
        Some(st) => {
            let key = item.kind == super::item::ItemKind::Key;
            st.counts(&halves)
                .iter()
                .enumerate()
                .flat_map(|(s, c)| {
                    Tier::ALL.map(|t| {
                        let n = c.eligible[t as usize];
                        policy
                            .rounding
                            .apply(policy.stratum_per_mille(s, t, key), n)
                            as usize
                    })
                })
                .collect()
        }
    };
    let slot = |k: &Key| strata.as_ref().map_or(0, |st| st.of(k) * 4) + k.tier as usize;
    let hasher = PrefixHasher::new(seed);
    // Ties need a SHA-256 collision; then Python orders by id, i.e. by code.
    let tie = |a: &Key, b: &Key| a.code.cmp(&b.code);
    let next = AtomicUsize::new(0);
    let tickets = || {
        let mut sel: Vec<_> = take.iter().map(|&k| Smallest::new(k, tie)).collect();
        while let Some(chunk) = halves.chunk(next.fetch_add(1, AtomicOrdering::Relaxed)) {
            for k in chunk {
                if k.disposition == Disposition::Eligible {
                    sel[slot(k)].offer_words(&hasher.digest_words(k.code.as_bytes()), *k);
                }
            }
        }
        sel
    };
    let (other, (walked, mut selections)) = both(halves.len() >= PARALLEL_MIN, tickets, || {
        let walked = walk(&halves, true);
        if walked.is_err() {
            // The draw fails: stop handing out ticket work (far below overflow).
            next.store(usize::MAX / 2, AtomicOrdering::Relaxed);
        }
        (walked, tickets())
    });
    let walked = walked?;
    let per_tier: Vec<Vec<(Key, Ticket)>> = selections
        .iter_mut()
        .zip(&other)
        .map(|(sel, o)| {
            sel.absorb(o);
            // The full tickets (a 256-bit decimal conversion each) on two threads.
            let kept = sel.finish();
            map_range(kept.len(), PARALLEL_MIN, |i| {
                (kept[i].item(), kept[i].ticket())
            })
        })
        .collect();
    let selected = merge_by_ticket(per_tier);
    let exclusions = &walked.exclusions;
    Ok(Drawn {
        draw: EntityDraw {
            preview,
            // Always computed when asked for.
            candidate_digest: walked.digest.unwrap_or_default(),
            exclusions: exclusions
                .iter()
                .map(|(k, r)| (k.idx as usize, *r))
                .collect(),
            selected: selected.iter().map(|(k, t)| (k.idx as usize, *t)).collect(),
        },
        excluded: exclusions.iter().map(|(k, _)| (k.code, k.tier)).collect(),
        selected: selected.iter().map(|(k, _)| (k.code, k.tier)).collect(),
    })
}

/// Merges lists each in ascending (ticket, code) order into one in that order: the global
/// order of the draw. Ties (impossible without a SHA-256 collision) are broken by code.
fn merge_by_ticket(lists: Vec<Vec<(Key, Ticket)>>) -> Vec<(Key, Ticket)> {
    let by_ticket =
        |a: &(Key, Ticket), b: &(Key, Ticket)| a.1.cmp(&b.1).then_with(|| a.0.code.cmp(&b.0.code));
    let mut out = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    let mut heads = vec![0usize; lists.len()];
    loop {
        let mut best: Option<(usize, &(Key, Ticket))> = None;
        for (l, list) in lists.iter().enumerate() {
            if let Some(x) = list.get(heads[l]) {
                if best.is_none_or(|(_, b)| by_ticket(x, b).is_lt()) {
                    best = Some((l, x));
                }
            }
        }
        let Some((l, x)) = best else { break };
        out.push(*x);
        heads[l] += 1;
    }
    out
}
