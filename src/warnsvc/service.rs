//! Alert operations over the store, in domain terms: read, list and filter; the lifecycle
//! transitions (each one writer job, see [`super::store`]); overdue lists and escalation; the
//! change log watchers follow. Every method here blocks (sled reads, waiting for the writer);
//! the application calls them on tokio's blocking pool.

use super::alert::{check_department, check_scope, Action, ActionKind, Alert, NewFiring, State};
use super::store::{self, id_of, parse_id, AlertChange, Fired};
use crate::domain::{Date, Violations};
use crate::error::{Error, Result};
use crate::storage::codec::decode;
use crate::storage::keys::{prefix, trailing_seq};
use crate::storage::{Job, Key, Page, Records, Writer};
use crate::warn::Level;
use std::sync::{Arc, Mutex};

/// Which alerts a list returns; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    /// Exactly this level.
    pub level: Option<Level>,
    /// Exactly this state.
    pub state: Option<State>,
    /// Notified to this department.
    pub department: Option<String>,
    /// Concerning this district.
    pub district: Option<String>,
    /// Concerning this key sector.
    pub sector: Option<String>,
    /// Fired by this rule.
    pub rule: Option<String>,
}

impl AlertFilter {
    /// True when `a` passes every set criterion.
    pub fn matches(&self, a: &Alert) -> bool {
        self.level.is_none_or(|l| a.level == l)
            && self.state.is_none_or(|s| a.state == s)
            && self
                .department
                .as_ref()
                .is_none_or(|d| a.departments.contains(d))
            && self
                .district
                .as_ref()
                .is_none_or(|d| a.district.as_ref() == Some(d))
            && self.sector.as_ref().is_none_or(|s| a.sectors.contains(s))
            && self.rule.as_ref().is_none_or(|r| a.rule_id == *r)
    }
}

/// A disposal action as asked for.
#[derive(Clone, Debug)]
pub struct NewAction {
    /// Its kind.
    pub kind: ActionKind,
    /// Last day for its outcome.
    pub deadline: Date,
    /// What is to be done.
    pub note: String,
    /// The joint targeted draw made for it, if any.
    pub draw_id: Option<String>,
}

/// Alert service over the store. Cheap to clone.
#[derive(Clone)]
pub struct Warnings {
    records: Records,
    writer: Writer,
    classifier: crate::classify::Classifier,
    rules: crate::classify::RuleSets<crate::classify::rulesets::Warning>,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

/// Most alerts scanned for one list page before the page is cut short (a filter that matches
/// little then answers in bounded time, with a token to go on).
pub const MAX_SCAN: usize = 100_000;

/// The alert number of id `id`, or INVALID_ARGUMENT naming `field`.
pub fn alert_number(field: &str, id: &str) -> Result<u64> {
    parse_id(id).ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "`{}` is not an alert id (`W` and a number, e.g. `W12`)",
                crate::domain::validate::truncate(id, 40)
            ),
        )
    })
}

impl Warnings {
    /// Over the store; `classifier` gives tier counts and stored classifications.
    pub fn new(classifier: crate::classify::Classifier) -> Self {
        let (tx, _) = tokio::sync::watch::channel(0);
        Warnings {
            records: classifier.records().clone(),
            writer: classifier.writer().clone(),
            rules: crate::classify::RuleSets::new(
                classifier.records().clone(),
                classifier.writer().clone(),
            ),
            classifier,
            changes: Arc::new(tx),
        }
    }

    /// Read access.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Warning rule-set storage (by hash, with activations; loaded sets cached).
    pub fn rule_sets(&self) -> &crate::classify::RuleSets<crate::classify::rulesets::Warning> {
        &self.rules
    }

    /// Uploads and activates the built-in warning rule set when none was ever activated.
    pub async fn ensure_default_rules(&self, at_ms: i64) -> Result<()> {
        self.rules
            .ensure_default_files(
                crate::rules::embedded::warning_rule_set_files(),
                crate::rules::embedded::SOURCE,
                at_ms,
            )
            .await
    }

    /// The classification service.
    pub fn classifier(&self) -> &crate::classify::Classifier {
        &self.classifier
    }

    /// Subscribes to "alert changes were committed" (the value only grows).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The sender behind [`Warnings::subscribe`], for writers elsewhere (the enterprise-signal
    /// hook).
    pub fn notifier(&self) -> Arc<tokio::sync::watch::Sender<u64>> {
        self.changes.clone()
    }

    fn notify(&self) {
        self.changes.send_modify(|c| *c += 1);
    }

    /// One alert by id; NOT_FOUND if there is none, INVALID_ARGUMENT if `id` is no alert id.
    pub fn get(&self, id: &str) -> Result<Alert> {
        let n = alert_number("alert_id", id)?;
        self.get_n(n)?
            .ok_or_else(|| Error::NotFound(format!("alert `{}`", id_of(n))))
    }

    fn get_n(&self, n: u64) -> Result<Option<Alert>> {
        match self.records.engine().get(&Key::Alert(n).encode())? {
            None => Ok(None),
            Some(v) => Ok(Some(decode(&v, &format_args!("alert `{}`", id_of(n)))?)),
        }
    }

    /// A page of alerts matching `filter`, in id order, after alert number `after`.
    pub fn list(
        &self,
        filter: &AlertFilter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<Alert, u64>> {
        let start = after.map(|n| Key::Alert(n).encode());
        let mut items = Vec::new();
        let mut scanned = 0;
        let mut last = None;
        for kv in self
            .records
            .engine()
            .scan(&prefix::alerts(), start.as_deref())
        {
            let (k, v) = kv?;
            let n = trailing_seq(&k).ok_or_else(|| Error::Corrupt("alert key".into()))?;
            let a: Alert = decode(&v, &format_args!("alert `{}`", id_of(n)))?;
            last = Some(n);
            scanned += 1;
            if filter.matches(&a) {
                items.push(a);
                if items.len() >= limit {
                    break;
                }
            }
            if scanned >= MAX_SCAN {
                break;
            }
        }
        // INVARIANT (pages): `next` is set whenever the scan stopped early, so a client
        // following tokens sees every match exactly once.
        let more = match last {
            Some(n) => self
                .records
                .engine()
                .scan(&prefix::alerts(), Some(&Key::Alert(n).encode()))
                .next()
                .is_some(),
            None => false,
        };
        Ok(Page {
            items,
            next: if more { last } else { None },
        })
    }

    /// Numbers of every open alert (from the open-alert index).
    pub fn open_numbers(&self) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&prefix::open_alerts(), None) {
            let (_, v) = kv?;
            out.push(u64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| Error::Corrupt("open-alert index value".into()))?,
            ));
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Stores firings: new alerts, or updates of open ones (see [`store::fire_in`]).
    pub fn fire(
        &self,
        firings: Vec<NewFiring>,
        actor: &str,
        at_ms: i64,
        today: Date,
    ) -> Result<Fired> {
        let slot = Arc::new(Mutex::new(None));
        self.writer.submit_blocking(store::fire(
            firings,
            actor.to_string(),
            at_ms,
            today,
            slot.clone(),
        ))?;
        let fired = store::take_slot(&slot)?;
        if !(fired.raised.is_empty() && fired.updated.is_empty()) {
            self.notify();
        }
        Ok(fired)
    }

    /// Tells watchers that alerts changed in a job submitted elsewhere (e.g. with a
    /// classification).
    pub fn changed(&self) {
        self.notify();
    }

    fn apply(
        &self,
        id: &str,
        change: impl FnOnce(&mut Alert) -> Result<()> + Send + 'static,
    ) -> Result<Alert> {
        let (job, slot) = self.change_job(id, change)?;
        self.writer.submit_blocking(job)?;
        self.committed_change(&slot)
    }

    /// Alert `id`'s `change` as a writer job, for a caller that commits it together with
    /// other writes (a draw, a group ratio) in one job: a change that fails fails the whole
    /// job, so nothing of it is stored. After the job committed, [`Warnings::committed_change`] with
    /// the slot gives the changed alert.
    pub fn change_job(
        &self,
        id: &str,
        change: impl FnOnce(&mut Alert) -> Result<()> + Send + 'static,
    ) -> Result<(Job, AlertSlot)> {
        let n = alert_number("alert_id", id)?;
        let slot = Arc::new(Mutex::new(None));
        Ok((store::change(n, Box::new(change), slot.clone()), slot))
    }

    /// The alert a committed [`Warnings::change_job`] changed; tells watchers.
    pub fn committed_change(&self, slot: &AlertSlot) -> Result<Alert> {
        self.notify();
        store::take_slot(slot)
    }

    /// Alert `id`'s `change` and `also` in one atomic writer job, the change first: when it
    /// is refused, `also` does not run and nothing is stored.
    pub fn apply_with(
        &self,
        id: &str,
        change: impl FnOnce(&mut Alert) -> Result<()> + Send + 'static,
        also: Job,
    ) -> Result<Alert> {
        let (job, slot) = self.change_job(id, change)?;
        self.writer.submit_blocking(Box::new(move |tx| {
            let out = job(tx)?;
            also(tx)?;
            Ok(out)
        }))?;
        self.committed_change(&slot)
    }

    /// 研判: confirms or dismisses a raised alert.
    pub fn assess(
        &self,
        id: &str,
        confirmed: bool,
        reason: String,
        actor: &str,
        at_ms: i64,
    ) -> Result<Alert> {
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "is required"));
        }
        let actor = actor.to_string();
        self.apply(id, move |a| a.assess(confirmed, &reason, &actor, at_ms))
    }

    /// Records the departments notified of a confirmed alert.
    pub fn warn(
        &self,
        id: &str,
        departments: Vec<String>,
        actor: &str,
        at_ms: i64,
    ) -> Result<Alert> {
        let mut v = Violations::new();
        if departments.is_empty() {
            v.add("departments", "name at least one department");
        }
        for (i, d) in departments.iter().enumerate() {
            v.parse(&format!("departments[{i}]"), check_department(d));
            if departments[..i].contains(d) {
                v.add(format!("departments[{i}]"), format!("`{d}` appears twice"));
            }
        }
        if !v.is_empty() {
            return Err(Error::InvalidInput(v.into_vec()));
        }
        let actor = actor.to_string();
        self.apply(id, move |a| a.warn(departments, &actor, at_ms))
    }

    /// Adds a disposal action; the answer's last action is the new one.
    pub fn dispose(&self, id: &str, action: NewAction, actor: &str, at_ms: i64) -> Result<Alert> {
        self.apply(id, dispose_step(action, None, actor, at_ms))
    }

    /// Records in the alert's history that a group ratio override rests on it.
    pub fn record_ratio(
        &self,
        id: &str,
        summary: String,
        actor: &str,
        at_ms: i64,
    ) -> Result<Alert> {
        let actor = actor.to_string();
        self.apply(id, move |a| a.record_ratio(&summary, &actor, at_ms))
    }

    /// [`Warnings::record_ratio`] and `ratio` (the job storing the group ratio override) in
    /// one atomic job: both are stored or neither, and a refused step stores no override.
    pub fn record_ratio_with(
        &self,
        id: &str,
        summary: String,
        actor: &str,
        at_ms: i64,
        ratio: Job,
    ) -> Result<Alert> {
        let actor = actor.to_string();
        self.apply_with(id, move |a| a.record_ratio(&summary, &actor, at_ms), ratio)
    }

    /// Records the outcome of action `n` (from 1).
    pub fn record_outcome(
        &self,
        id: &str,
        n: usize,
        text: String,
        today: Date,
        actor: &str,
        at_ms: i64,
    ) -> Result<Alert> {
        let actor = actor.to_string();
        self.apply(id, move |a| {
            a.record_outcome(n, &text, today, &actor, at_ms)
        })
    }

    /// Closes a dismissed or fully disposed alert.
    pub fn close(&self, id: &str, reason: String, actor: &str, at_ms: i64) -> Result<Alert> {
        let actor = actor.to_string();
        self.apply(id, move |a| a.close(&reason, &actor, at_ms))
    }

    /// Escalates every open alert overdue on `today` (once per overdue episode, as `system`);
    /// returns the numbers of the alerts escalated.
    pub fn escalate_overdue(&self, today: Date, at_ms: i64) -> Result<Vec<u64>> {
        let mut candidates = Vec::new();
        for n in self.open_numbers()? {
            if let Some(a) = self.get_n(n)? {
                if a.overdue_episodes(today)
                    .iter()
                    .any(|e| !a.escalated.contains(e))
                {
                    candidates.push(n);
                }
            }
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let slot = Arc::new(Mutex::new(None));
        self.writer
            .submit_blocking(store::escalate(candidates, today, at_ms, slot.clone()))?;
        let changed = store::take_slot(&slot)?;
        if !changed.is_empty() {
            self.notify();
        }
        Ok(changed)
    }

    /// Open alerts overdue on `today`, in id order.
    pub fn overdue(&self, today: Date) -> Result<Vec<Alert>> {
        let mut out = Vec::new();
        for n in self.open_numbers()? {
            if let Some(a) = self.get_n(n)? {
                if !a.overdue_episodes(today).is_empty() {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    /// Alert changes after `cursor`, at most `limit`, oldest first, each with whether a caller
    /// limited to department `scope` may see it: by [`check_scope`] on the alert as it is now,
    /// the rule `ListAlerts` and `GetAlert` use. Every change read is returned (visible or not)
    /// so a follower's cursor moves past the ones it skips.
    pub fn changes_in_scope(
        &self,
        cursor: u64,
        limit: usize,
        scope: &Option<String>,
    ) -> Result<Vec<(u64, (AlertChange, bool))>> {
        let changes = self.changes_after(cursor, limit)?;
        let mut seen: std::collections::BTreeMap<u64, bool> = Default::default();
        let mut out = Vec::with_capacity(changes.len());
        for (seq, ch) in changes {
            let visible = match scope {
                None => true,
                Some(_) => match seen.get(&ch.alert) {
                    Some(v) => *v,
                    None => {
                        let v = match self.get_n(ch.alert)? {
                            Some(a) => check_scope(&a, scope).is_ok(),
                            None => false,
                        };
                        seen.insert(ch.alert, v);
                        v
                    }
                },
            };
            out.push((seq, (ch, visible)));
        }
        Ok(out)
    }

    /// Alert changes after `cursor`, at most `limit`, oldest first.
    pub fn changes_after(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, AlertChange)>> {
        let after = Key::AlertChange(cursor).encode();
        let mut out = Vec::new();
        for kv in self
            .records
            .engine()
            .scan(&prefix::alert_changes(), Some(&after))
        {
            let (k, v) = kv?;
            let seq = trailing_seq(&k).unwrap_or(0);
            out.push((seq, decode(&v, &"alert change")?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

/// Where a committed [`Warnings::change_job`] leaves the changed alert.
pub type AlertSlot = Arc<Mutex<Option<Alert>>>;

/// The change adding disposal `action`. With `expected` (check-and-set), it is refused unless
/// the alert still has that many actions: a disposal whose draw was made outside the writer
/// is refused (and its draw not stored, see [`crate::drawsvc::Draws::create_with`]) when
/// another disposal was recorded meanwhile, so racing disposals make at most one draw.
pub fn dispose_step(
    action: NewAction,
    expected: Option<usize>,
    actor: &str,
    at_ms: i64,
) -> impl FnOnce(&mut Alert) -> Result<()> + Send + 'static {
    let actor = actor.to_string();
    move |a: &mut Alert| {
        if let Some(n) = expected.filter(|n| *n != a.actions.len()) {
            let last = a.actions.last();
            return Err(Error::FailedPrecondition(format!(
                "alert `{}` is `{}`: another disposal was recorded while this one's draw was made (it had {n} actions, now {}{}); this draw was not stored",
                a.id,
                a.state.as_str(),
                a.actions.len(),
                last.and_then(|l| l.draw_id.as_ref())
                    .map(|d| format!(", the last with draw `{d}`"))
                    .unwrap_or_default(),
            )));
        }
        a.dispose(
            Action {
                kind: action.kind,
                deadline: action.deadline,
                note: action.note,
                outcome: None,
                draw_id: action.draw_id,
            },
            &actor,
            at_ms,
        )
        .map(|_| ())
    }
}
