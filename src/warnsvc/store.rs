//! How alerts are stored, and the writer jobs that change them.
//!
//! Keys: [`Key::Alert`] (the record, by number), [`Key::AlertOpen`] (the open alert of a
//! (rule, subject)), [`Key::AlertChange`] (the change log watchers follow),
//! [`Key::AlertEntry`] (the audit entries of an alert and of a subject, by log index),
//! [`Key::WebhookOutbox`] (the steps of warned alerts, for the departments' webhooks) and two
//! meta counters, `alert_next` (alert numbers) and `alert_change_next` (change numbers).
//!
//! Every change is a job on the single [`crate::storage::Writer`]: the job reads the open
//! index, changes the alert, writes it, its change-log entry and its audit entry (kind
//! `alert`, subject `alert/<id>`, payload digest = SHA-256 of the alert's canonical JSON after
//! the change, details `action`, `level`, `rule`, `state` and the alert's `subject`), the
//! entry's index rows and, for a warned alert, its webhook outbox row, in one atomic commit.
//!
//! INVARIANT (one open alert per rule and subject): only [`fire`] creates alerts, it runs on
//! the writer thread and checks [`Key::AlertOpen`] first, and the index is written in the same
//! commit as the alert; so concurrent firings of a (rule, subject) are serialised and the
//! second one finds the first's alert, even when both sit in the same commit group.

use super::alert::{Alert, NewFiring, State};
use crate::audit::EntryKind;
use crate::domain::Date;
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::{log, Job, Key, Tx, WriteOutcome};
use crate::warn::Level;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

const NEXT_ALERT: &str = "alert_next";
const NEXT_CHANGE: &str = "alert_change_next";

/// One entry of the alert-change log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertChange {
    /// The alert's number.
    pub alert: u64,
    /// What happened (the history step's action).
    pub action: String,
    /// State after it.
    pub state: State,
    /// Level after it.
    pub level: Level,
    /// The rule.
    pub rule_id: String,
    /// The subject.
    pub subject: String,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// The number of alert id `W<n>`, or `None` for anything else.
pub fn parse_id(id: &str) -> Option<u64> {
    let n = id.strip_prefix('W')?;
    if n.is_empty() || n.len() > 19 || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0')
    {
        return None;
    }
    n.parse().ok()
}

/// The id of alert number `n`.
pub fn id_of(n: u64) -> String {
    format!("W{n}")
}

fn counter(tx: &mut Tx<'_>, name: &'static str) -> Result<u64> {
    let next = match tx.get(&Key::Meta(name))? {
        None => 1,
        Some(v) => u64::from_be_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| Error::Corrupt(format!("meta `{name}`")))?,
        ),
    };
    tx.put(&Key::Meta(name), (next + 1).to_be_bytes().to_vec());
    Ok(next)
}

/// Reads alert number `n` as the job sees it.
pub fn load(tx: &Tx<'_>, n: u64) -> Result<Option<Alert>> {
    match tx.get(&Key::Alert(n))? {
        None => Ok(None),
        Some(v) => Ok(Some(decode(&v, &format_args!("alert `{}`", id_of(n)))?)),
    }
}

/// Writes `a` (number `n`) after a change: the record, the open index, the change log and
/// the audit entry.
fn save(tx: &mut Tx<'_>, n: u64, a: &Alert) -> Result<()> {
    let last = a
        .history
        .last()
        .ok_or_else(|| Error::Internal(format!("alert `{}` has no history", a.id)))?;
    let json = a.canonical_json()?;
    let index = tx.log_unindexed(&log::entry(
        EntryKind::Alert,
        last.at_ms,
        &last.actor,
        format!("alert/{}", a.id),
        &json,
        &[
            ("action", last.action.clone()),
            ("level", a.level.as_str().to_string()),
            ("rule", a.rule_id.clone()),
            ("state", a.state.as_str().to_string()),
            ("subject", a.subject.clone()),
        ],
    ))?;
    // INVARIANT (alert entries indexed): every alert entry is indexed under its alert and its
    // subject in the commit that appends it, so `Auditor::alert_entries` lists all of them.
    tx.put(
        &Key::AlertEntry(&format!("alert/{}", a.id), index),
        Vec::new(),
    );
    tx.put(&Key::AlertEntry(&a.subject, index), Vec::new());
    let open = Key::AlertOpen(&a.rule_id, &a.subject);
    if a.is_open() {
        tx.put(&open, n.to_be_bytes().to_vec());
    } else {
        tx.delete(&open);
    }
    let change = counter(tx, NEXT_CHANGE)?;
    let event = AlertChange {
        alert: n,
        action: last.action.clone(),
        state: a.state,
        level: a.level,
        rule_id: a.rule_id.clone(),
        subject: a.subject.clone(),
        at_ms: last.at_ms,
    };
    tx.put(&Key::AlertChange(change), encode(&event)?);
    // INVARIANT (outbox): a step of an alert notified to departments is in the webhook outbox
    // from the commit that makes it, so no acknowledged step is lost to a restart.
    if !a.departments.is_empty() {
        tx.put(
            &Key::WebhookOutbox(change),
            encode(&super::webhook::OutboxRow {
                departments: a.departments.clone(),
                event,
            })?,
        );
    }
    tx.put(&Key::Alert(n), encode(a)?);
    Ok(())
}

/// What [`fire`] did with each firing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// Alert numbers newly raised.
    pub raised: Vec<u64>,
    /// Open alerts updated (evidence or level).
    pub updated: Vec<u64>,
    /// Open alerts fired again with the same evidence: nothing changed.
    pub unchanged: Vec<u64>,
}

/// Stores `firings` inside a job: each raises a new alert, or updates the open alert of its
/// (rule, subject). See the module's invariant.
pub fn fire_in(
    tx: &mut Tx<'_>,
    firings: Vec<NewFiring>,
    actor: &str,
    at_ms: i64,
    today: Date,
) -> Result<Fired> {
    let mut out = Fired::default();
    for f in firings {
        let open = match tx.get(&Key::AlertOpen(&f.rule_id, &f.subject))? {
            None => None,
            Some(v) => Some(u64::from_be_bytes(v.as_slice().try_into().map_err(
                |_| Error::Corrupt(format!("open-alert index of `{}`", f.subject)),
            )?)),
        };
        match open {
            Some(n) => {
                let mut a = load(tx, n)?.ok_or_else(|| {
                    Error::Corrupt(format!("the open-alert index names missing alert {n}"))
                })?;
                if a.refire(f, actor, at_ms) {
                    save(tx, n, &a)?;
                    out.updated.push(n);
                } else {
                    out.unchanged.push(n);
                }
            }
            None => {
                let n = counter(tx, NEXT_ALERT)?;
                let a = Alert::raise(id_of(n), f, actor, at_ms, today);
                save(tx, n, &a)?;
                out.raised.push(n);
            }
        }
    }
    Ok(out)
}

/// Job: [`fire_in`]; the outcome lands in `slot`. `WriteOutcome::accepted` counts raised
/// alerts, `duplicates` updated or unchanged ones.
pub fn fire(
    firings: Vec<NewFiring>,
    actor: String,
    at_ms: i64,
    today: Date,
    slot: Arc<Mutex<Option<Fired>>>,
) -> Job {
    Box::new(move |tx| {
        let fired = fire_in(tx, firings, &actor, at_ms, today)?;
        let out = WriteOutcome {
            accepted: fired.raised.len() as u32,
            duplicates: (fired.updated.len() + fired.unchanged.len()) as u32,
            seqs: fired.raised.clone(),
            note: 0,
        };
        put_slot(&slot, fired);
        Ok(out)
    })
}

/// A change of one alert: a lifecycle step, or an error that leaves it unchanged.
pub type Change = Box<dyn FnOnce(&mut Alert) -> Result<()> + Send>;

/// Job: loads alert `n` (NOT_FOUND if missing), applies `change` and stores the result; the
/// changed alert lands in `slot`. A change that fails writes nothing.
pub fn change(n: u64, change: Change, slot: Arc<Mutex<Option<Alert>>>) -> Job {
    Box::new(move |tx| {
        let mut a = load(tx, n)?.ok_or_else(|| Error::NotFound(format!("alert `{}`", id_of(n))))?;
        change(&mut a)?;
        save(tx, n, &a)?;
        put_slot(&slot, a);
        Ok(WriteOutcome {
            accepted: 1,
            ..Default::default()
        })
    })
}

/// Job: escalates every open alert overdue on `today` whose episode was not escalated yet;
/// the numbers of the alerts changed land in `slot`.
pub fn escalate(
    candidates: Vec<u64>,
    today: Date,
    at_ms: i64,
    slot: Arc<Mutex<Option<Vec<u64>>>>,
) -> Job {
    Box::new(move |tx| {
        let mut changed = Vec::new();
        for n in candidates {
            let Some(mut a) = load(tx, n)? else { continue };
            if a.is_open() && a.escalate(today, crate::classify::service::SYSTEM, at_ms) {
                save(tx, n, &a)?;
                changed.push(n);
            }
        }
        let out = WriteOutcome {
            accepted: changed.len() as u32,
            ..Default::default()
        };
        put_slot(&slot, changed);
        Ok(out)
    })
}

/// Stores a job's answer for its submitter. The lock cannot be poisoned in a way that matters
/// (the value is only ever replaced), so a poisoned one is used as is.
pub fn put_slot<T>(slot: &Mutex<Option<T>>, v: T) {
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
}

/// Takes a job's answer after the job committed.
pub fn take_slot<T>(slot: &Mutex<Option<T>>) -> Result<T> {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| Error::Internal("a committed alert job left no answer".into()))
}
