//! Evaluating warning rules over the store: group signals as of a date and snapshot cut
//! (stored as alerts), enterprise signals in the store job of a classification, single or in
//! a run's chunk ([`EnterpriseSignals`]), back-tests that store nothing, and alert replay.
//!
//! Group evaluation reads the facts of the window (`window_days` back from `as_of`, one range
//! scan over the [`crate::storage::Key::WarnFact`] blocks, facts with a seq above the cut
//! skipped) and the tier counts
//! per (jurisdiction, section) of the newest finished whole-population run's tier mix (or of
//! the current tiers when there is none), calls the pure core and stores every firing in one
//! writer job. What the evidence was computed from is kept in the alert's
//! [`Basis`], so replay recomputes it bit for bit.

use super::alert::{Basis, NewFiring};
use super::service::Warnings;
use super::store::{self, Fired};
use crate::classify::inputs::Inputs;
use crate::classify::record::{tier_of, ClassificationRecord};
use crate::classify::service::{SignalJob, SignalPreparer, StoreHook};
use crate::domain::Date;
use crate::error::{Error, Result};
use crate::rules::FeatureVector;
use crate::storage::keys::prefix;
use crate::warn::{Evidence, Fact, GroupTiers, Level, WarningRuleSet};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Which warning rule set a back-test uses.
#[derive(Clone, Debug)]
pub enum RuleSource {
    /// Files sent with the request (checked, not stored).
    Files(BTreeMap<String, String>),
    /// A stored one, by hash.
    Stored(String),
    /// The one in force on each month's last day.
    InForce,
}

/// What a group evaluation did.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Hash of the warning rule set used.
    pub rule_set: String,
    /// The evaluation date.
    pub as_of: Date,
    /// The snapshot cut.
    pub cut: u64,
    /// Facts read in the window.
    pub facts: u64,
    /// Alerts raised, updated, unchanged.
    pub fired: Fired,
}

/// One month of a back-test.
#[derive(Clone, Debug)]
pub struct BacktestMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Firings by (rule, level).
    pub counts: BTreeMap<(String, Level), u64>,
    /// `rule level subject` of the first firings (at most 100).
    pub fired: Vec<String>,
    /// The whole-population run whose tier mix gave the month's tier counts: the newest
    /// finished one as of the month's last day; `None`: no run yet, so no tier counts (the
    /// concentration rules see no enterprises that month).
    pub tiers_run: Option<u64>,
}

/// A back-test's answer.
#[derive(Clone, Debug)]
pub struct Backtest {
    /// Hash of the rule set (for [`RuleSource::InForce`], the one of the last month).
    pub rule_set: String,
    /// Month by month.
    pub months: Vec<BacktestMonth>,
}

/// A replay's answer: the evidence keys that differ (empty: MATCH).
#[derive(Clone, Debug)]
pub struct Replay {
    /// Keys whose values differ or that are on one side only.
    pub differing: Vec<String>,
    /// As stored.
    pub stored: Evidence,
    /// As recomputed.
    pub recomputed: Evidence,
    /// What was recomputed from, or why nothing fired.
    pub detail: String,
}

/// Most firings listed per back-test month.
const MAX_LISTED: usize = 100;

fn last_day_of_month(y: i32, m: u32) -> Result<Date> {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Date::from_ymd(ny, nm, 1)
        .map(|d| d.add_days(-1))
        .ok_or_else(|| Error::invalid("month", format!("`{y}-{m:02}` is not a month")))
}

/// The tier rows a group firing depends on: those of its district and section, if it groups
/// by them (all rows otherwise).
fn rows_for(group: &[(String, String)], tiers: &GroupTiers) -> BTreeMap<String, [u64; 4]> {
    let dim = |d: &str| group.iter().find(|(k, _)| k == d).map(|(_, v)| v.as_str());
    let district = dim("district");
    let section =
        dim("industry_section").or_else(|| dim("industry_division").and_then(|d| d.get(..1)));
    tiers
        .iter()
        .filter(|((j, s), _)| district.is_none_or(|d| d == j) && section.is_none_or(|x| x == s))
        .map(|((j, s), v)| (format!("{j}/{s}"), *v))
        .collect()
}

fn tiers_from_rows(rows: &BTreeMap<String, [u64; 4]>) -> GroupTiers {
    rows.iter()
        .filter_map(|(k, v)| {
            let (j, s) = k.split_once('/')?;
            Some(((j.to_string(), s.to_string()), *v))
        })
        .collect()
}

fn diff(stored: &Evidence, recomputed: &Evidence) -> Vec<String> {
    let mut keys: Vec<String> = stored
        .keys()
        .chain(recomputed.keys())
        .filter(|k| stored.get(*k) != recomputed.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

impl Warnings {
    /// The facts of days `from..=to` with seq at most `cut`.
    pub fn facts(&self, from: Date, to: Date, cut: u64) -> Result<Vec<Fact>> {
        let mut out = Vec::new();
        for kv in self.records().engine().range(
            &prefix::facts_from(from.days()),
            &prefix::facts_from(to.days().saturating_add(1)),
        ) {
            let (k, v) = kv?;
            let first = crate::storage::keys::trailing_seq(&k).unwrap_or(u64::MAX);
            if first > cut {
                continue; // every fact of the block is newer than the cut
            }
            let bad = || Error::Corrupt(format!("warning facts from seq {first}"));
            for bytes in crate::ingest::facts_in_block(&v).ok_or_else(bad)? {
                let f = Fact::decode(bytes).ok_or_else(bad)?;
                if f.seq <= cut {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    /// Tier counts per (jurisdiction, section): the newest finished whole-population run's
    /// (and its id), or the current tiers' when there is none (or its mix predates the cross
    /// breakdown).
    pub fn group_tiers(&self) -> Result<(GroupTiers, Option<u64>)> {
        let c = self.classifier();
        let report = c.tier_report(None)?;
        match report.run {
            Some(r)
                if report.mix.total() == 0 || !report.mix.by_jurisdiction_section.is_empty() =>
            {
                Ok((report.mix.group_tiers(), Some(r.id)))
            }
            Some(_) => Ok((c.current_mix()?.group_tiers(), None)),
            None => Ok((report.mix.group_tiers(), None)),
        }
    }

    /// Evaluates the group signals in force on `as_of` over the facts up to `cut` (default:
    /// everything acknowledged) and stores the firings as alerts, in one job.
    pub fn evaluate_groups(
        &self,
        as_of: Date,
        cut: Option<u64>,
        actor: &str,
        at_ms: i64,
        today: Date,
    ) -> Result<Evaluation> {
        let rules = self.rule_sets().applicable_blocking(as_of)?;
        let newest = self.records().next_seq()?.saturating_sub(1);
        let cut = match cut {
            Some(c) if c > newest => {
                return Err(Error::invalid(
                    "cut",
                    format!("`{c}` is after the newest ingest seq {newest}"),
                ))
            }
            Some(c) => c,
            None => newest,
        };
        let facts = self.facts(as_of.add_days(-rules.window_days()), as_of, cut)?;
        let (tiers, run) = self.group_tiers()?;
        let firings = rules.evaluate_groups(as_of, &facts, &tiers);
        let new: Vec<NewFiring> = firings
            .into_iter()
            .map(|f| {
                let basis = Basis {
                    rule_set: rules.hash().to_string(),
                    as_of,
                    cut,
                    classification_seq: None,
                    previous_tier: None,
                    tiers: rows_for(&f.group, &tiers),
                    tiers_run: run,
                };
                NewFiring::from_firing(f, basis, None)
            })
            .collect();
        let fired = if new.is_empty() {
            Fired::default()
        } else {
            self.fire(new, actor, at_ms, today)?
        };
        Ok(Evaluation {
            rule_set: rules.hash().to_string(),
            as_of,
            cut,
            facts: facts.len() as u64,
            fired,
        })
    }

    /// The finished whole-population runs whose stored tier mix has the (jurisdiction,
    /// section) breakdown group signals need, as (as-of date, run id), ascending.
    fn tier_runs(&self) -> Result<Vec<(Date, u64)>> {
        let mut out = Vec::new();
        for r in self.classifier().runs()? {
            if r.finished && r.jurisdiction.is_none() {
                out.push((r.as_of, r.id));
            }
        }
        out.sort();
        Ok(out)
    }

    /// What `source` would have fired month by month from `from` to `to` (each as of its last
    /// day, reading every fact stored so far, and the tier counts of the newest finished
    /// whole-population run as of that day: the tiers as they were then, not today's).
    /// Stores nothing.
    pub fn backtest(
        &self,
        source: RuleSource,
        from: (i32, u32),
        to: (i32, u32),
    ) -> Result<Backtest> {
        let fixed: Option<Arc<WarningRuleSet>> = match source {
            RuleSource::Files(files) => Some(Arc::new(
                WarningRuleSet::from_files(files)
                    .map_err(|e| crate::classify::rulesets::rule_errors(&e))?,
            )),
            RuleSource::Stored(h) => Some(self.rule_sets().get_blocking(&h)?),
            RuleSource::InForce => None,
        };
        let cut = self.records().next_seq()?.saturating_sub(1);
        let runs = self.tier_runs()?;
        // Tier counts by run, each read once (months often share a run).
        let mut mixes: BTreeMap<u64, GroupTiers> = BTreeMap::new();
        let mut months = Vec::new();
        let (mut y, mut m) = from;
        let mut hash = String::new();
        while (y, m) <= to {
            let as_of = last_day_of_month(y, m)?;
            let rules = match &fixed {
                Some(r) => r.clone(),
                None => self.rule_sets().applicable_blocking(as_of)?,
            };
            hash = rules.hash().to_string();
            let facts = self.facts(as_of.add_days(-rules.window_days()), as_of, cut)?;
            // The newest run as of the month's end whose mix has the cross breakdown (older
            // mixes lack it: that run is passed over for an older one).
            let mut tiers_run = None;
            for &(_, id) in runs.iter().rev().filter(|(d, _)| *d <= as_of) {
                if let std::collections::btree_map::Entry::Vacant(slot) = mixes.entry(id) {
                    let Some(mix) = crate::classify::report::stored_mix(self.classifier(), id)?
                    else {
                        continue;
                    };
                    if mix.total() > 0 && mix.by_jurisdiction_section.is_empty() {
                        continue;
                    }
                    slot.insert(mix.group_tiers());
                }
                tiers_run = Some(id);
                break;
            }
            let none = GroupTiers::new();
            let tiers = tiers_run.and_then(|id| mixes.get(&id)).unwrap_or(&none);
            let mut month = BacktestMonth {
                month: format!("{y:04}-{m:02}"),
                counts: BTreeMap::new(),
                fired: Vec::new(),
                tiers_run,
            };
            for f in rules.evaluate_groups(as_of, &facts, tiers) {
                *month
                    .counts
                    .entry((f.rule_id.clone(), f.level))
                    .or_default() += 1;
                if month.fired.len() < MAX_LISTED {
                    month
                        .fired
                        .push(format!("{} {} {}", f.rule_id, f.level.as_str(), f.subject));
                }
            }
            months.push(month);
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        Ok(Backtest {
            rule_set: hash,
            months,
        })
    }

    /// Recomputes alert `id`'s evidence from the inputs its basis names and compares it with
    /// the stored evidence.
    pub fn replay(&self, id: &str) -> Result<Replay> {
        let a = self.get(id)?;
        let rules = self.rule_sets().get_blocking(&a.basis.rule_set)?;
        let b = &a.basis;
        let firings = match b.classification_seq {
            Some(seq) => {
                let code = a.enterprises.first().copied().ok_or_else(|| {
                    Error::Corrupt(format!("alert `{}` names no enterprise", a.id))
                })?;
                let record = self
                    .classifier()
                    .history(&code)?
                    .into_iter()
                    .find(|r| r.seq == seq)
                    .ok_or_else(|| Error::NotFound(format!("classification {seq} of `{code}`")))?;
                let inputs = crate::classify::inputs::gather(
                    self.records(),
                    &code,
                    record.cut,
                    record.as_of,
                )?
                .ok_or_else(|| Error::NotFound(format!("enterprise `{code}`")))?;
                let previous = match b.previous_tier.as_deref() {
                    None => None,
                    Some(t) => Some(
                        crate::rules::Tier::parse(t)
                            .map_err(|e| Error::Corrupt(format!("alert `{}`: {e}", a.id)))?,
                    ),
                };
                enterprise_firings(&rules, &inputs, &record, previous)?
            }
            None => {
                let facts = self.facts(b.as_of.add_days(-rules.window_days()), b.as_of, b.cut)?;
                rules.evaluate_groups(b.as_of, &facts, &tiers_from_rows(&b.tiers))
            }
        };
        let recomputed = firings
            .into_iter()
            .find(|f| f.rule_id == a.rule_id && f.subject == a.subject)
            .map(|f| f.evidence);
        let detail = format!(
            "rule set `{}`, as of {}, cut {}{}",
            b.rule_set,
            b.as_of,
            b.cut,
            b.classification_seq
                .map(|s| format!(", classification {s}"))
                .unwrap_or_default()
        );
        Ok(match recomputed {
            Some(r) => Replay {
                differing: diff(&a.evidence, &r),
                stored: a.evidence,
                recomputed: r,
                detail,
            },
            None => Replay {
                differing: a.evidence.keys().cloned().collect(),
                stored: a.evidence,
                recomputed: Evidence::new(),
                detail: format!(
                    "{detail}: rule `{}` does not fire for `{}`",
                    a.rule_id, a.subject
                ),
            },
        })
    }
}

/// The enterprise firings for stored classification `record` computed from `inputs`, with
/// `previous` as the tier before it.
fn enterprise_firings(
    rules: &WarningRuleSet,
    inputs: &Inputs,
    record: &ClassificationRecord,
    previous: Option<crate::rules::Tier>,
) -> Result<Vec<crate::warn::Firing>> {
    let features = inputs.features(record.as_of);
    let input = crate::warn::EnterpriseInput {
        credit_code: record.code,
        as_of: record.as_of,
        features: &features,
        tier: tier_of(record.tier)?,
        previous_tier: previous,
        extras: crate::warn::extras(&inputs.events, record.as_of),
    };
    Ok(rules.evaluate_enterprise(&input))
}

/// The enterprise-signal hook: evaluates the warning rules in force after each
/// classification, single or in a run's chunk, inside its store job (see
/// [`crate::classify::service::StoreHook`]).
///
/// It holds the warning rule sets and the change notifier, not the [`Warnings`] service: the
/// classifier holds the hook and the service holds the classifier, so holding the service
/// here would make a reference cycle that keeps the store open forever.
pub struct EnterpriseSignals {
    rules: crate::classify::RuleSets<crate::classify::rulesets::Warning>,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl EnterpriseSignals {
    /// For `warnings`.
    pub fn new(warnings: &Warnings) -> Self {
        EnterpriseSignals {
            rules: warnings.rule_sets().clone(),
            changes: warnings.notifier(),
        }
    }
}

impl StoreHook for EnterpriseSignals {
    fn preparer(&self, as_of: Date) -> Option<Arc<dyn SignalPreparer>> {
        match self.rules.applicable_blocking(as_of) {
            Ok(rules) => Some(Arc::new(Signals { rules })),
            // No warning rules in force: classification goes on without signals.
            Err(Error::FailedPrecondition(_)) => None,
            // Fail-safe: a warning rule set that cannot be read must not stop classification
            // (which draws and the tier log depend on); the lost signals are logged loudly and
            // the next classification or group evaluation tries again.
            Err(e) => {
                tracing::error!(error = %e, %as_of, "enterprise warning signals skipped");
                None
            }
        }
    }

    fn committed(&self) {
        self.changes.send_modify(|c| *c += 1);
    }
}

/// The enterprise signals of one warning rule set, for classifications as of one date.
struct Signals {
    rules: Arc<WarningRuleSet>,
}

impl SignalPreparer for Signals {
    fn prepare(
        &self,
        inputs: &Inputs,
        features: FeatureVector,
        record: &ClassificationRecord,
    ) -> Result<Option<SignalJob>> {
        let extras = crate::warn::extras(&inputs.events, record.as_of);
        let district = inputs.version.enterprise.jurisdiction.clone();
        let as_of = record.as_of;
        let tier = tier_of(record.tier)?;
        let rules = self.rules.clone();
        // Evaluated in the writer job: the firings depend on the previous tier, which only the
        // job knows for certain (another classification of the enterprise may commit between
        // this call and the job).
        Ok(Some(Box::new(move |tx, prev, stored| {
            let previous = prev.map(tier_of).transpose()?;
            let input = crate::warn::EnterpriseInput {
                credit_code: stored.code,
                as_of,
                features: &features,
                tier,
                previous_tier: previous,
                extras,
            };
            let firings = rules.evaluate_enterprise(&input);
            if firings.is_empty() {
                return Ok(());
            }
            let new = firings
                .into_iter()
                .map(|f| {
                    let basis = Basis {
                        rule_set: rules.hash().to_string(),
                        as_of,
                        cut: stored.cut,
                        classification_seq: Some(stored.seq),
                        previous_tier: previous.map(|t| t.as_str().to_string()),
                        tiers: BTreeMap::new(),
                        tiers_run: None,
                    };
                    NewFiring::from_firing(f, basis, Some(district.clone()))
                })
                .collect();
            store::fire_in(
                tx,
                new,
                crate::classify::service::SYSTEM,
                crate::clock::now_ms(),
                crate::clock::today(),
            )?;
            Ok(())
        })))
    }
}
