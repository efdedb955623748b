//! The alert record and its lifecycle, as pure functions over the record (no store, no clock):
//! the writer jobs in [`super::store`] load an alert, apply one of these and store the result
//! with its audit entry.
//!
//! Lifecycle: `raised` -> `assessed` (confirmed or dismissed, with a reason) -> `warned`
//! (departments notified; confirmed alerts only) -> `disposing` (disposal actions, each with a
//! deadline and later an outcome) -> `closed` (every action has an outcome; a dismissed alert
//! closes straight from `assessed`). Anything else is refused with
//! [`Error::FailedPrecondition`] naming the alert, its state and what it allows.

use crate::domain::{CreditCode, Date};
use crate::error::{Error, Result};
use crate::warn::{Evidence, Level};
use serde::{Deserialize, Serialize};

/// Where an alert is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Fired, not yet assessed (研判).
    Raised,
    /// Assessed: confirmed or dismissed.
    Assessed,
    /// Confirmed and the departments concerned notified.
    Warned,
    /// Disposal actions (处置) under way.
    Disposing,
    /// Done; the (rule, subject) may fire a new alert.
    Closed,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 5] = [
        State::Raised,
        State::Assessed,
        State::Warned,
        State::Disposing,
        State::Closed,
    ];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Raised => "raised",
            State::Assessed => "assessed",
            State::Warned => "warned",
            State::Disposing => "disposing",
            State::Closed => "closed",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> std::result::Result<State, String> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not one of `raised`, `assessed`, `warned`, `disposing`, `closed`")
            })
    }
}

/// A disposal action's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Targeted inspection (定向检查).
    TargetedInspection,
    /// Administrative interview (约谈).
    Interview,
    /// Order to rectify within a time limit (责令限期整改).
    RectificationOrder,
    /// Joint inspection with other departments (联合检查).
    JointInspection,
}

impl ActionKind {
    /// Every kind.
    pub const ALL: [ActionKind; 4] = [
        ActionKind::TargetedInspection,
        ActionKind::Interview,
        ActionKind::RectificationOrder,
        ActionKind::JointInspection,
    ];

    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::TargetedInspection => "targeted-inspection",
            ActionKind::Interview => "interview",
            ActionKind::RectificationOrder => "rectification-order",
            ActionKind::JointInspection => "joint-inspection",
        }
    }

    /// Parses a kebab-case name.
    pub fn parse(s: &str) -> std::result::Result<ActionKind, String> {
        ActionKind::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not one of `targeted-inspection`, `interview`, `rectification-order`, `joint-inspection`"
                )
            })
    }
}

/// The routing file built into the binary (`rules/routing.toml`): the one list of departments
/// alerts are routed and notified to, the same ids as the inspector roster and inspection items.
pub fn routing() -> &'static crate::warn::routing::Routing {
    static ROUTING: std::sync::OnceLock<crate::warn::routing::Routing> = std::sync::OnceLock::new();
    ROUTING.get_or_init(|| {
        // INVARIANT (built-in file): `rules/routing.toml` is embedded and a unit test
        // (`warn::routing`) loads it, so a broken file fails the build's tests, not a server.
        crate::warn::routing::Routing::built_in().unwrap_or_default()
    })
}

/// Checks a department id against the routing file's departments.
pub fn check_department(d: &str) -> std::result::Result<(), String> {
    let r = routing();
    if r.department(d).is_some() {
        Ok(())
    } else {
        let known: Vec<&str> = r.departments().map(|x| x.id.as_str()).collect();
        Err(format!(
            "`{}` is not a known department (rules/routing.toml); known: {}",
            crate::domain::validate::truncate(d, 40),
            known.join(", ")
        ))
    }
}

/// The department a caller's view of alerts is limited to: planner and inspector tokens whose
/// subject is a department id see (and change) only the alerts notified to that department;
/// `None` for everyone else. gRPC and the web console both use this rule.
pub fn department_scope(p: &crate::audit::Principal) -> Option<String> {
    use crate::audit::Role;
    (matches!(p.role, Role::Planner | Role::Inspector) && check_department(&p.subject).is_ok())
        .then(|| p.subject.clone())
}

/// NOT_FOUND for an alert outside the caller's department (its existence is not revealed).
pub fn check_scope(a: &Alert, scope: &Option<String>) -> Result<()> {
    match scope {
        Some(d) if !a.departments.contains(d) => Err(Error::NotFound(format!("alert `{}`", a.id))),
        _ => Ok(()),
    }
}

/// Days an alert of each level may stay unassessed before it is overdue (README table).
pub fn assessment_days(level: Level) -> i32 {
    match level {
        Level::Red => 1,
        Level::Orange => 3,
        Level::Yellow => 5,
        Level::Blue => 10,
    }
}

/// The assessment of an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Confirmed (true) or dismissed.
    pub confirmed: bool,
    /// Why.
    pub reason: String,
}

/// The outcome recorded for a disposal action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// What came of it.
    pub text: String,
    /// When it was recorded (the service's date).
    pub recorded_on: Date,
    /// Who recorded it (token id).
    pub actor: String,
}

/// A disposal action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Its kind.
    pub kind: ActionKind,
    /// Last day for its outcome.
    pub deadline: Date,
    /// Free text: what is to be done.
    pub note: String,
    /// The outcome, once recorded.
    pub outcome: Option<Outcome>,
    /// The joint targeted draw created for this action, if any (`draw get ID`). Always
    /// serialized: the store's codec (postcard) is not self-describing, so fields cannot be
    /// skipped.
    pub draw_id: Option<String>,
}

/// One step of an alert's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// `raise`, `refire`, `assess`, `warn`, `dispose`, `outcome`, `escalate`, `ratio` or
    /// `close`.
    pub action: String,
    /// State after the step.
    pub state: State,
    /// Level after the step.
    pub level: Level,
    /// Who (token id, or `system`).
    pub actor: String,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Why, or what changed.
    pub reason: String,
}

/// What an alert's evidence was computed from, so replay can recompute it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    /// Hash of the warning rule set.
    pub rule_set: String,
    /// The evaluation date.
    pub as_of: Date,
    /// Snapshot cut: the newest ingest seq read.
    pub cut: u64,
    /// Enterprise alerts: the seq of the classification evaluated.
    pub classification_seq: Option<u64>,
    /// Enterprise alerts: the tier of the classification before it (`A`..`D`).
    pub previous_tier: Option<String>,
    /// Group alerts: the tier counts per (jurisdiction, section) used, as
    /// `jurisdiction/section` -> `[A, B, C, D]`, for the groups of the firing; empty when the
    /// rule does not read tiers.
    pub tiers: std::collections::BTreeMap<String, [u64; 4]>,
    /// Group alerts: the run whose tier mix gave the counts (`None`: current tiers).
    pub tiers_run: Option<u64>,
}

/// An alert: one rule firing for one subject, and what was done about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// `W<n>`, `n` counting alerts from 1 in the order they were raised.
    pub id: String,
    /// The warning rule that fired.
    pub rule_id: String,
    /// `enterprise/<code>` or `group/<key>`.
    pub subject: String,
    /// Current level.
    pub level: Level,
    /// Current state.
    pub state: State,
    /// The evidence of the newest firing.
    pub evidence: Evidence,
    /// Enterprises concerned.
    pub enterprises: Vec<CreditCode>,
    /// Key sectors concerned.
    pub sectors: Vec<String>,
    /// Group signals: the (dimension, value) pairs; empty for enterprise signals.
    pub group: Vec<(String, String)>,
    /// The district concerned (the enterprise's jurisdiction, or the group's `district`).
    pub district: Option<String>,
    /// Departments notified (set when warned).
    pub departments: Vec<String>,
    /// Departments responsible according to the routing file (`rules/routing.toml`), set when
    /// raised: the ones to warn.
    pub routed: Vec<String>,
    /// The routed departments belong to more than one agency: a cross-department case.
    pub cross_department: bool,
    /// What the newest evidence was computed from.
    pub basis: Basis,
    /// The service's date when it was raised (assessment deadlines count from it).
    pub raised_on: Date,
    /// The assessment, once made.
    pub assessment: Option<Assessment>,
    /// Disposal actions, in the order added (numbered from 1).
    pub actions: Vec<Action>,
    /// Overdue episodes already escalated (`assess`, `action/<n>`): each escalates once.
    pub escalated: Vec<String>,
    /// Every step, oldest first.
    pub history: Vec<Transition>,
}

/// A firing to store: what [`crate::warn::Firing`] says plus what it was computed from.
#[derive(Clone, Debug)]
pub struct NewFiring {
    /// The rule.
    pub rule_id: String,
    /// The subject.
    pub subject: String,
    /// Its level.
    pub level: Level,
    /// Its evidence.
    pub evidence: Evidence,
    /// Enterprises concerned.
    pub enterprises: Vec<CreditCode>,
    /// Key sectors concerned.
    pub sectors: Vec<String>,
    /// Group pairs.
    pub group: Vec<(String, String)>,
    /// District concerned.
    pub district: Option<String>,
    /// Departments responsible by the routing file.
    pub routed: Vec<String>,
    /// The routed departments span more than one agency.
    pub cross_department: bool,
    /// Inputs.
    pub basis: Basis,
}

impl NewFiring {
    /// From a core firing and its basis; `district` for enterprise signals (the group's
    /// `district` pair is used otherwise).
    pub fn from_firing(f: crate::warn::Firing, basis: Basis, district: Option<String>) -> Self {
        let district = district.or_else(|| {
            f.group
                .iter()
                .find(|(d, _)| d == "district")
                .map(|(_, v)| v.clone())
        });
        let routed = routing().departments_for(&f);
        let cross_department = routing().agencies_of(&routed).len() > 1;
        NewFiring {
            routed,
            cross_department,
            rule_id: f.rule_id,
            subject: f.subject,
            level: f.level,
            evidence: f.evidence,
            enterprises: f.enterprises,
            sectors: f.sectors,
            group: f.group,
            district,
            basis,
        }
    }
}

fn refuse(a: &Alert, action: &str, allowed: &str) -> Error {
    Error::FailedPrecondition(format!(
        "alert `{}` is `{}`: {action} {allowed}",
        a.id,
        a.state.as_str()
    ))
}

impl Alert {
    /// A new alert from a firing.
    pub fn raise(id: String, f: NewFiring, actor: &str, at_ms: i64, today: Date) -> Alert {
        let mut a = Alert {
            id,
            rule_id: f.rule_id,
            subject: f.subject,
            level: f.level,
            state: State::Raised,
            evidence: f.evidence,
            enterprises: f.enterprises,
            sectors: f.sectors,
            group: f.group,
            district: f.district,
            departments: Vec::new(),
            routed: f.routed,
            cross_department: f.cross_department,
            basis: f.basis,
            raised_on: today,
            assessment: None,
            actions: Vec::new(),
            escalated: Vec::new(),
            history: Vec::new(),
        };
        a.step("raise", actor, at_ms, format!("level {}", f.level.as_str()));
        a
    }

    fn step(&mut self, action: &str, actor: &str, at_ms: i64, reason: String) {
        self.history.push(Transition {
            action: action.into(),
            state: self.state,
            level: self.level,
            actor: actor.into(),
            at_ms,
            reason,
        });
    }

    /// The canonical JSON whose SHA-256 the audit entry of each change carries.
    pub fn canonical_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Internal(format!("alert `{}`: {e}", self.id)))
    }

    /// True until closed.
    pub fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// The same (rule, subject) fired again: takes the new evidence and inputs and raises the
    /// level if the firing's is higher (never lowers it). Returns false (and changes nothing)
    /// when the evidence is unchanged and the level not higher.
    pub fn refire(&mut self, f: NewFiring, actor: &str, at_ms: i64) -> bool {
        if f.evidence == self.evidence && f.level <= self.level {
            return false;
        }
        let reason = if f.level > self.level {
            let r = format!(
                "level raised from {} to {}",
                self.level.as_str(),
                f.level.as_str()
            );
            self.level = f.level;
            r
        } else {
            "evidence updated".to_string()
        };
        self.evidence = f.evidence;
        self.enterprises = f.enterprises;
        self.sectors = f.sectors;
        self.group = f.group;
        if f.district.is_some() {
            self.district = f.district;
        }
        self.basis = f.basis;
        self.step("refire", actor, at_ms, reason);
        true
    }

    /// 研判: confirms or dismisses a raised alert; the reason is required.
    pub fn assess(&mut self, confirmed: bool, reason: &str, actor: &str, at_ms: i64) -> Result<()> {
        if self.state != State::Raised {
            return Err(refuse(self, "assess", "is allowed only when `raised`"));
        }
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "is required"));
        }
        self.state = State::Assessed;
        self.assessment = Some(Assessment {
            confirmed,
            reason: reason.to_string(),
        });
        let what = if confirmed { "confirmed" } else { "dismissed" };
        self.step("assess", actor, at_ms, format!("{what}: {reason}"));
        Ok(())
    }

    /// Records that `departments` (checked, non-empty) were notified of a confirmed alert.
    pub fn warn(&mut self, departments: Vec<String>, actor: &str, at_ms: i64) -> Result<()> {
        let confirmed = self.assessment.as_ref().is_some_and(|a| a.confirmed);
        if self.state != State::Assessed || !confirmed {
            let allowed = if self.state == State::Assessed {
                "is allowed only for a confirmed alert; a dismissed one can only be closed"
            } else {
                "is allowed only when `assessed` and confirmed"
            };
            return Err(refuse(self, "warn", allowed));
        }
        self.state = State::Warned;
        self.departments = departments;
        let list = self.departments.join(", ");
        self.step("warn", actor, at_ms, list);
        Ok(())
    }

    /// `Ok` when a disposal action may be added (`warned` or `disposing`): checked before a
    /// joint draw is made for one, so a refused disposal makes no draw.
    pub fn check_disposable(&self) -> Result<()> {
        if matches!(self.state, State::Warned | State::Disposing) {
            Ok(())
        } else {
            Err(refuse(
                self,
                "dispose",
                "is allowed only when `warned` or `disposing`",
            ))
        }
    }

    /// `Ok` when the alert may be the basis of a group ratio override (differentiated
    /// supervision): a group alert, confirmed, not closed.
    pub fn check_ratio_basis(&self) -> Result<()> {
        if self.group.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "alert `{}` is `{}` and an enterprise alert (`{}`): only a confirmed group alert can raise a group's inspection ratio",
                self.id,
                self.state.as_str(),
                self.subject
            )));
        }
        let confirmed = self.assessment.as_ref().is_some_and(|a| a.confirmed);
        if !confirmed || self.state == State::Closed {
            return Err(refuse(
                self,
                "raising a group ratio",
                "is allowed only for a confirmed alert that is not closed",
            ));
        }
        Ok(())
    }

    /// Records in the history that a group ratio override rests on this alert (`summary`
    /// says which); the state does not change.
    pub fn record_ratio(&mut self, summary: &str, actor: &str, at_ms: i64) -> Result<()> {
        self.check_ratio_basis()?;
        self.step("ratio", actor, at_ms, summary.to_string());
        Ok(())
    }

    /// Adds a disposal action; returns its number (from 1).
    pub fn dispose(&mut self, action: Action, actor: &str, at_ms: i64) -> Result<usize> {
        self.check_disposable()?;
        self.state = State::Disposing;
        let mut reason = format!(
            "{} due {}: {}",
            action.kind.as_str(),
            action.deadline,
            action.note
        );
        if let Some(d) = &action.draw_id {
            reason.push_str(&format!(" (draw {d})"));
        }
        self.actions.push(action);
        self.step("dispose", actor, at_ms, reason);
        Ok(self.actions.len())
    }

    /// Records the outcome of action number `n` (from 1).
    pub fn record_outcome(
        &mut self,
        n: usize,
        text: &str,
        today: Date,
        actor: &str,
        at_ms: i64,
    ) -> Result<()> {
        if self.state != State::Disposing {
            return Err(refuse(
                self,
                "record outcome",
                "is allowed only when `disposing`",
            ));
        }
        if text.trim().is_empty() {
            return Err(Error::invalid("outcome", "is required"));
        }
        let count = self.actions.len();
        let Some(action) = n.checked_sub(1).and_then(|i| self.actions.get_mut(i)) else {
            return Err(Error::invalid(
                "action",
                format!(
                    "`{n}` is out of range: alert `{}` has actions 1 to {count}",
                    self.id
                ),
            ));
        };
        if action.outcome.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "alert `{}`: action {n} already has an outcome",
                self.id
            )));
        }
        action.outcome = Some(Outcome {
            text: text.to_string(),
            recorded_on: today,
            actor: actor.to_string(),
        });
        self.step("outcome", actor, at_ms, format!("action {n}: {text}"));
        Ok(())
    }

    /// Closes a dismissed alert, or one whose every disposal action has an outcome.
    pub fn close(&mut self, reason: &str, actor: &str, at_ms: i64) -> Result<()> {
        let dismissed =
            self.state == State::Assessed && self.assessment.as_ref().is_some_and(|a| !a.confirmed);
        let disposed = self.state == State::Disposing
            && !self.actions.is_empty()
            && self.actions.iter().all(|a| a.outcome.is_some());
        if !(dismissed || disposed) {
            let allowed = match self.state {
                State::Disposing => {
                    let open: Vec<String> = (1..=self.actions.len())
                        .filter(|i| self.actions[i - 1].outcome.is_none())
                        .map(|i| i.to_string())
                        .collect();
                    format!(
                        "needs an outcome for every action first (missing: {})",
                        open.join(", ")
                    )
                }
                State::Closed => "is done already".to_string(),
                _ => "is allowed only for a dismissed alert or when every disposal action has an outcome".to_string(),
            };
            return Err(refuse(self, "close", &allowed));
        }
        self.state = State::Closed;
        self.step("close", actor, at_ms, reason.to_string());
        Ok(())
    }

    /// The overdue episodes open on `today`: `assess` when raised and not assessed within
    /// [`assessment_days`] of its level, `action/<n>` for an action past its deadline without
    /// outcome.
    pub fn overdue_episodes(&self, today: Date) -> Vec<String> {
        let mut out = Vec::new();
        if self.state == State::Raised
            && today.days() > self.raised_on.days() + assessment_days(self.level)
        {
            out.push("assess".to_string());
        }
        if self.state == State::Disposing {
            for (i, a) in self.actions.iter().enumerate() {
                if a.outcome.is_none() && today > a.deadline {
                    out.push(format!("action/{}", i + 1));
                }
            }
        }
        out
    }

    /// Raises the level one step for each overdue episode not yet escalated; true if anything
    /// changed.
    pub fn escalate(&mut self, today: Date, actor: &str, at_ms: i64) -> bool {
        let mut changed = false;
        for ep in self.overdue_episodes(today) {
            if self.escalated.contains(&ep) {
                continue;
            }
            let from = self.level;
            self.level = from.raised();
            self.escalated.push(ep.clone());
            let reason = format!(
                "overdue ({ep}) on {today}: level {} to {}",
                from.as_str(),
                self.level.as_str()
            );
            self.step("escalate", actor, at_ms, reason);
            changed = true;
        }
        changed
    }
}
