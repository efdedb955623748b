//! Tier reports: the tier mix (counts per tier, overall, by jurisdiction and by industry
//! section) of a run's output, and enterprise listings with each one's current tier.
//!
//! Why the mix is stored with the run: an overview of 4 million enterprises must answer in
//! milliseconds, which a scan per request cannot. A run already visits every enterprise in its
//! scope, so it adds each chunk's counts to a running [`TierMix`] and rewrites
//! [`Key::RunTierMix`] in the same commit as the chunk's checkpoint: the stored mix always
//! matches the stored output, also across a crash and resume. The cost is one value per chunk
//! commit (a few KiB per few thousand enterprises).
//!
//! Without a finished whole-population run (or for runs stored before tier reports existed)
//! the report falls back to the current tiers, found by a scan over every enterprise (two point
//! reads each): fine at demo scale, slow at millions, which is why the run's copy is preferred.

use super::batch::RunState;
use super::blocks;
use super::service::Classifier;
use crate::domain::{CreditCode, Date, EnterpriseVersion};
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::keys::prefix;
use crate::storage::records::{EnterpriseFilter, Page};
use crate::storage::Key;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts per tier: A, B, C, D.
pub type TierCounts = [u64; 4];

/// How many enterprises have each tier, overall and broken down. Maps are ordered, so the
/// stored bytes and every listing are deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierMix {
    /// Every enterprise counted.
    pub overall: TierCounts,
    /// By jurisdiction (district code or zone id).
    pub by_jurisdiction: BTreeMap<String, TierCounts>,
    /// By GB/T 4754 industry section letter (`""` when the industry is empty).
    pub by_section: BTreeMap<String, TierCounts>,
    /// By jurisdiction, then section: the cross breakdown group warning signals read
    /// (concentration of C and D per district and industry). Empty in mixes stored before
    /// it existed (see [`stored_mix`]).
    pub by_jurisdiction_section: BTreeMap<String, BTreeMap<String, TierCounts>>,
}

/// The stored form of a mix before the cross breakdown: decoded when the current form is not.
#[derive(Deserialize)]
struct TierMixV1 {
    overall: TierCounts,
    by_jurisdiction: BTreeMap<String, TierCounts>,
    by_section: BTreeMap<String, TierCounts>,
}

impl TierMix {
    /// Counts one enterprise of tier byte `tier` (0 = A .. 3 = D); other values are ignored.
    pub fn add(&mut self, tier: u8, jurisdiction: &str, section: &str) {
        let t = tier as usize;
        if t >= 4 {
            return;
        }
        self.overall[t] += 1;
        self.by_jurisdiction
            .entry(jurisdiction.to_string())
            .or_default()[t] += 1;
        self.by_section.entry(section.to_string()).or_default()[t] += 1;
        self.by_jurisdiction_section
            .entry(jurisdiction.to_string())
            .or_default()
            .entry(section.to_string())
            .or_default()[t] += 1;
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &TierMix) {
        fn sum(a: &mut TierCounts, b: &TierCounts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        sum(&mut self.overall, &other.overall);
        for (k, v) in &other.by_jurisdiction {
            sum(self.by_jurisdiction.entry(k.clone()).or_default(), v);
        }
        for (k, v) in &other.by_section {
            sum(self.by_section.entry(k.clone()).or_default(), v);
        }
        for (j, by) in &other.by_jurisdiction_section {
            let mine = self.by_jurisdiction_section.entry(j.clone()).or_default();
            for (s, v) in by {
                sum(mine.entry(s.clone()).or_default(), v);
            }
        }
    }

    /// The cross breakdown keyed by (jurisdiction, section), as group warning signals read it.
    pub fn group_tiers(&self) -> BTreeMap<(String, String), TierCounts> {
        let mut out = BTreeMap::new();
        for (j, by) in &self.by_jurisdiction_section {
            for (s, v) in by {
                out.insert((j.clone(), s.clone()), *v);
            }
        }
        out
    }

    /// Enterprises counted.
    pub fn total(&self) -> u64 {
        self.overall.iter().sum()
    }
}

/// A tier report: the mix and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierReport {
    /// The run reported on, or `None` for the current tiers.
    pub run: Option<RunState>,
    /// The counts.
    pub mix: TierMix,
}

/// The stored tier mix of run `run`, if it has one (a mix stored before the cross breakdown
/// comes back with it empty).
pub fn stored_mix(c: &Classifier, run: u64) -> Result<Option<TierMix>> {
    let what = format!("tier mix of run `{run}`");
    match c.records().engine().get(&Key::RunTierMix(run).encode())? {
        Some(v) => match decode::<TierMix>(&v, &what) {
            Ok(m) => Ok(Some(m)),
            Err(e) => match decode::<TierMixV1>(&v, &what) {
                Ok(old) => Ok(Some(TierMix {
                    overall: old.overall,
                    by_jurisdiction: old.by_jurisdiction,
                    by_section: old.by_section,
                    by_jurisdiction_section: BTreeMap::new(),
                })),
                Err(_) => Err(e),
            },
        },
        None => Ok(None),
    }
}

/// The key and value that store `mix` for run `run`.
pub fn mix_entry(run: u64, mix: &TierMix) -> Result<(Key<'static>, Vec<u8>)> {
    Ok((Key::RunTierMix(run), encode(mix)?))
}

/// The current tier byte of `code` (0 = A .. 3 = D), `None` if never classified: the newer of
/// its one-by-one current tier and its tier-layer entry.
pub fn current_tier(c: &Classifier, code: &CreditCode) -> Result<Option<u8>> {
    let engine = c.records().engine();
    let single = match engine.get(&Key::CurrentTier(*code).encode())? {
        Some(v) => Some(blocks::individual(&v, code)?),
        None => None,
    };
    let layered = blocks::layer_entry(engine.as_ref(), code)?.map(|e| (e.tier, e.seq));
    Ok(blocks::newest(single, layered).map(|(t, _)| t))
}

/// Most enterprises one listing page looks at, as the storage listing's own budget.
const LIST_BUDGET: usize = 50_000;

impl Classifier {
    /// A page of enterprises passing `filter` and, if given, whose current tier byte is
    /// `tier`, each with its current tier; in credit-code order after `after`, at most
    /// `limit`. Like the plain listing, a page may come back short (with a `next`) when many
    /// enterprises were looked at without a match.
    pub fn list_with_tiers(
        &self,
        filter: &EnterpriseFilter,
        tier: Option<u8>,
        mut after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<(EnterpriseVersion, Option<u8>), CreditCode>> {
        let mut items = Vec::new();
        let mut looked = 0usize;
        loop {
            let inner = if tier.is_some() { 1000 } else { limit };
            let page = self.records().list_enterprises(filter, after, inner)?;
            for e in page.items {
                looked += 1;
                let t = current_tier(self, &e.enterprise.credit_code)?;
                if tier.is_none() || t == tier {
                    let code = e.enterprise.credit_code;
                    items.push((e, t));
                    if items.len() >= limit {
                        return Ok(Page {
                            items,
                            next: Some(code),
                        });
                    }
                }
            }
            match page.next {
                None => return Ok(Page { items, next: None }),
                Some(n) if tier.is_none() || looked >= LIST_BUDGET => {
                    return Ok(Page {
                        items,
                        next: Some(n),
                    })
                }
                Some(n) => after = Some(n),
            }
        }
    }

    /// The tier mix of run `run`, or by default of the latest finished whole-population run
    /// with a stored mix, or (if there is none) of the current tiers. `NotFound` for an
    /// unknown run; `FailedPrecondition` for a run stored before tier reports existed.
    pub fn tier_report(&self, run: Option<u64>) -> Result<TierReport> {
        if let Some(id) = run {
            let state = self.run(id)?;
            let mix = stored_mix(self, id)?.ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "run `{id}` has no stored tier mix (it was made before tier reports): \
                     re-classify to get one"
                ))
            })?;
            return Ok(TierReport {
                run: Some(state),
                mix,
            });
        }
        for state in self.runs()?.into_iter().rev() {
            if state.jurisdiction.is_none() && state.finished {
                if let Some(mix) = stored_mix(self, state.id)? {
                    return Ok(TierReport {
                        run: Some(state),
                        mix,
                    });
                }
            }
        }
        Ok(TierReport {
            run: None,
            mix: self.current_mix()?,
        })
    }

    /// The tier mix of the current tiers of every enterprise, by a scan (see the module doc).
    pub fn current_mix(&self) -> Result<TierMix> {
        let mut mix = TierMix::default();
        for kv in self.records().engine().scan(&prefix::enterprises(), None) {
            let (_, v) = kv?;
            let e: EnterpriseVersion = decode(&v, &"enterprise")?;
            if let Some(t) = current_tier(self, &e.enterprise.credit_code)? {
                mix.add(
                    t,
                    &e.enterprise.jurisdiction,
                    e.enterprise.industry_section(),
                );
            }
        }
        Ok(mix)
    }
}

/// Most months a trend lists (two years).
pub const MAX_TREND_MONTHS: usize = 24;
/// Most stored runs a trend looks at, newest first: the bound on its work whatever the number
/// of runs (jurisdiction runs of the automatic re-classification are among them).
pub const TREND_RUN_BUDGET: usize = 10_000;

/// One month of a trend: the latest finished whole-population run as of a day in that month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrendPoint {
    /// Year and month of the run's as-of date.
    pub month: (i32, u32),
    /// The run whose stored mix is shown.
    pub run: RunState,
    /// Its counts per tier, from the mix stored with it.
    pub overall: TierCounts,
}

impl Classifier {
    /// The monthly trend of the tier mix: for each month, the latest (highest id) finished
    /// whole-population run whose as-of date falls in it, with the overall counts of the mix
    /// stored with that run; oldest month first, at most `months` (capped at
    /// [`MAX_TREND_MONTHS`]) of the latest months. Reads the stored runs newest first, at most
    /// [`TREND_RUN_BUDGET`] of them, and one stored mix per month: no scan of enterprises.
    /// Runs without a stored mix (made before tier reports) are left out.
    pub fn tier_trend(&self, months: usize) -> Result<Vec<TrendPoint>> {
        let months = months.min(MAX_TREND_MONTHS);
        let mut latest: BTreeMap<(i32, u32), RunState> = BTreeMap::new();
        for kv in self
            .records()
            .engine()
            .scan_rev(&prefix::runs())
            .take(TREND_RUN_BUDGET)
        {
            let (_, v) = kv?;
            let state: RunState = decode(&v, &"run")?;
            if state.jurisdiction.is_some() || !state.finished {
                continue;
            }
            let (y, m, _) = state.as_of.ymd();
            // Newest id first: the first run seen for a month is its latest.
            latest.entry((y, m)).or_insert(state);
        }
        let skip = latest.len().saturating_sub(months);
        let mut out = Vec::new();
        for (month, run) in latest.into_iter().skip(skip) {
            if let Some(mix) = stored_mix(self, run.id)? {
                out.push(TrendPoint {
                    month,
                    overall: mix.overall,
                    run,
                });
            }
        }
        Ok(out)
    }
}

/// The date a report is as of: the run's, if any.
pub fn as_of(report: &TierReport) -> Option<Date> {
    report.run.as_ref().map(|r| r.as_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_breakdown_adds_merges_and_old_mixes_still_decode() {
        let mut m = TierMix::default();
        m.add(3, "510104", "C");
        m.add(2, "510104", "C");
        m.add(0, "510104", "H");
        let mut other = TierMix::default();
        other.add(3, "510104", "C");
        m.merge(&other);
        let g = m.group_tiers();
        assert_eq!(g[&("510104".to_string(), "C".to_string())], [0, 0, 1, 2]);
        assert_eq!(g[&("510104".to_string(), "H".to_string())], [1, 0, 0, 0]);
        // A mix stored before the cross breakdown (three fields).
        #[derive(Serialize)]
        struct Old<'a> {
            overall: TierCounts,
            by_jurisdiction: &'a BTreeMap<String, TierCounts>,
            by_section: &'a BTreeMap<String, TierCounts>,
        }
        let old = encode(&Old {
            overall: m.overall,
            by_jurisdiction: &m.by_jurisdiction,
            by_section: &m.by_section,
        })
        .unwrap();
        assert!(decode::<TierMix>(&old, &"mix").is_err());
        let v1: TierMixV1 = decode(&old, &"mix").unwrap();
        assert_eq!(v1.overall, m.overall);
        assert_eq!(v1.by_section, m.by_section);
        assert_eq!(v1.by_jurisdiction, m.by_jurisdiction);
    }
}
