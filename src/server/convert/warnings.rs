//! Conversions for `WarningService`: request fields to domain values (every bad field an
//! INVALID_ARGUMENT naming it and its value), alerts to proto.

use super::bounds::{echo, max_bytes, MAX_FILTER_BYTES, MAX_ID_BYTES};
use crate::domain::{Date, Violations};
use crate::error::{Error, Result};
use crate::server::pb;
use crate::warn::Level;
use crate::warnsvc::alert::{check_department, ActionKind, Alert, State};
use crate::warnsvc::{AlertChange, AlertFilter};

/// Bytes of a free-text reason, note or outcome.
pub const MAX_TEXT_BYTES: usize = 2000;
/// Departments one warning may name.
pub const MAX_DEPARTMENTS: usize = 8;
/// Months one back-test may cover.
pub const MAX_BACKTEST_MONTHS: i32 = 120;

/// An optional level filter or argument named `field` (empty: `None`).
pub fn level_opt(field: &str, s: &str) -> Result<Option<Level>> {
    if s.is_empty() {
        return Ok(None);
    }
    Level::parse(s).map(Some).map_err(|_| {
        Error::invalid(
            field,
            format!(
                "`{}` is not one of `blue`, `yellow`, `orange`, `red` (or IV to I)",
                echo(s)
            ),
        )
    })
}

/// An optional state filter (empty: `None`).
pub fn state_opt(field: &str, s: &str) -> Result<Option<State>> {
    if s.is_empty() {
        return Ok(None);
    }
    State::parse(s).map(Some).map_err(|_| {
        Error::invalid(
            field,
            format!(
                "`{}` is not one of `raised`, `assessed`, `warned`, `disposing`, `closed`",
                echo(s)
            ),
        )
    })
}

/// A required date named `field`.
pub fn date_req(field: &str, s: &str) -> Result<Date> {
    if s.is_empty() {
        return Err(Error::invalid(field, "is required (YYYY-MM-DD)"));
    }
    Date::parse(s).map_err(|e| Error::invalid(field, e))
}

/// Free text named `field`: required when `required`, at most [`MAX_TEXT_BYTES`].
pub fn text(field: &str, s: &str, required: bool) -> Result<String> {
    max_bytes(field, s, MAX_TEXT_BYTES)?;
    if required && s.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    Ok(s.to_string())
}

/// The alert id of a request, checked for length before it is parsed.
pub fn alert_id(s: &str) -> Result<&str> {
    max_bytes("alert_id", s, MAX_ID_BYTES)?;
    crate::warnsvc::service::alert_number("alert_id", s)?;
    Ok(s)
}

/// The filter of a list call; every bad field is reported.
pub fn filter_from(r: &pb::ListAlertsRequest) -> Result<AlertFilter> {
    let mut v = Violations::new();
    let mut f = AlertFilter::default();
    let take = |e: Error, v: &mut Violations| {
        if let Error::InvalidInput(list) = e {
            list.into_iter().for_each(|x| v.add(x.field, x.description));
        }
    };
    for (field, value) in [
        ("level", &r.level),
        ("state", &r.state),
        ("department", &r.department),
        ("district", &r.district),
        ("sector", &r.sector),
        ("rule_id", &r.rule_id),
    ] {
        if let Err(e) = max_bytes(field, value, MAX_FILTER_BYTES) {
            take(e, &mut v);
        }
    }
    if !v.is_empty() {
        return Err(Error::InvalidInput(v.into_vec()));
    }
    match level_opt("level", &r.level) {
        Ok(l) => f.level = l,
        Err(e) => take(e, &mut v),
    }
    match state_opt("state", &r.state) {
        Ok(s) => f.state = s,
        Err(e) => take(e, &mut v),
    }
    if !r.department.is_empty() {
        match check_department(&r.department) {
            Ok(()) => f.department = Some(r.department.clone()),
            Err(m) => v.add("department", m),
        }
    }
    let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
    f.district = opt(&r.district);
    f.sector = opt(&r.sector);
    f.rule = opt(&r.rule_id);
    if v.is_empty() {
        Ok(f)
    } else {
        Err(Error::InvalidInput(v.into_vec()))
    }
}

/// The fingerprint of a filter, for page tokens.
pub fn filter_key(r: &pb::ListAlertsRequest) -> String {
    format!(
        "alerts|{}|{}|{}|{}|{}|{}",
        r.level, r.state, r.department, r.district, r.sector, r.rule_id
    )
}

/// The departments of a warning, each checked.
pub fn departments(list: &[String]) -> Result<Vec<String>> {
    if list.len() > MAX_DEPARTMENTS {
        return Err(Error::invalid(
            "departments",
            format!(
                "`{}` entries is out of range: departments may list 1 to {MAX_DEPARTMENTS}",
                list.len()
            ),
        ));
    }
    Ok(list.to_vec())
}

/// An action kind named `kind`.
pub fn action_kind(s: &str) -> Result<ActionKind> {
    max_bytes("kind", s, MAX_FILTER_BYTES)?;
    ActionKind::parse(s).map_err(|_| {
        Error::invalid(
            "kind",
            format!(
                "`{}` is not one of `targeted-inspection`, `interview`, `rectification-order`, `joint-inspection`",
                echo(s)
            ),
        )
    })
}

/// An assessment decision: true for `confirmed`.
pub fn decision(s: &str) -> Result<bool> {
    match s {
        "confirmed" => Ok(true),
        "dismissed" => Ok(false),
        other => Err(Error::invalid(
            "decision",
            format!("`{}` is not one of `confirmed`, `dismissed`", echo(other)),
        )),
    }
}

/// A `YYYY-MM` month named `field`: (year, month).
pub fn month(field: &str, s: &str) -> Result<(i32, u32)> {
    let bad = || Error::invalid(field, format!("`{}` is not a month (YYYY-MM)", echo(s)));
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1900..=2999).contains(&y) {
        return Err(bad());
    }
    Ok((y, m))
}

/// An alert in proto form; `overdue` as computed by the caller.
pub fn alert_to(a: &Alert, overdue: bool) -> pb::Alert {
    pb::Alert {
        id: a.id.clone(),
        rule_id: a.rule_id.clone(),
        rule_set: a.basis.rule_set.clone(),
        subject: a.subject.clone(),
        level: a.level.as_str().into(),
        state: a.state.as_str().into(),
        evidence: a
            .evidence
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        enterprises: a.enterprises.iter().map(|c| c.to_string()).collect(),
        sectors: a.sectors.clone(),
        departments: a.departments.clone(),
        district: a.district.clone().unwrap_or_default(),
        as_of: a.basis.as_of.to_string(),
        cut: a.basis.cut,
        raised_on: a.raised_on.to_string(),
        assessment: match &a.assessment {
            None => String::new(),
            Some(x) if x.confirmed => "confirmed".into(),
            Some(_) => "dismissed".into(),
        },
        assessment_reason: a
            .assessment
            .as_ref()
            .map(|x| x.reason.clone())
            .unwrap_or_default(),
        actions: a
            .actions
            .iter()
            .enumerate()
            .map(|(i, x)| pb::DisposalAction {
                number: i as u32 + 1,
                draw_id: x.draw_id.clone().unwrap_or_default(),
                kind: x.kind.as_str().into(),
                deadline: x.deadline.to_string(),
                note: x.note.clone(),
                outcome: x
                    .outcome
                    .as_ref()
                    .map(|o| o.text.clone())
                    .unwrap_or_default(),
                outcome_recorded_on: x
                    .outcome
                    .as_ref()
                    .map(|o| o.recorded_on.to_string())
                    .unwrap_or_default(),
                outcome_actor: x
                    .outcome
                    .as_ref()
                    .map(|o| o.actor.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        history: a
            .history
            .iter()
            .map(|t| pb::AlertTransition {
                action: t.action.clone(),
                state: t.state.as_str().into(),
                level: t.level.as_str().into(),
                actor: t.actor.clone(),
                at_unix_ms: t.at_ms,
                reason: t.reason.clone(),
            })
            .collect(),
        overdue,
        routed_departments: a.routed.clone(),
        cross_department: a.cross_department,
    }
}

/// A change-log entry in proto form.
pub fn alert_event_to(cursor: u64, c: &AlertChange) -> pb::AlertEvent {
    pb::AlertEvent {
        cursor,
        alert_id: crate::warnsvc::store::id_of(c.alert),
        action: c.action.clone(),
        state: c.state.as_str().into(),
        level: c.level.as_str().into(),
        rule_id: c.rule_id.clone(),
        subject: c.subject.clone(),
        at_unix_ms: c.at_ms,
    }
}
