//! The warnings board (`/warnings`) and the alert page (`/warnings/{id}`, issue 13): open
//! alerts by level and by department, one alert's evidence, history and actions, and the
//! forms that take it through its lifecycle. Each form posts to the same
//! [`crate::warnsvc::Warnings`] operation, parses its fields with the same
//! [`crate::server::convert`] functions and needs the same policy method as the
//! `WarningService` RPC it mirrors; department-scoped tokens see and change only their
//! department's alerts, exactly as over gRPC.

use super::{ctx, field, see_other, session, Ctx, Web};
use crate::audit::access::Principal;
use crate::error::Error;
use crate::server::convert;
use crate::warn::Level;
use crate::warnsvc::alert::{check_department, routing};
use crate::warnsvc::{ActionKind, Alert, AlertFilter, NewAction, State};
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use maud::{html, Markup};
use std::collections::BTreeMap;

/// The board's permission.
pub const LIST_ALERTS: &str = "/creditrisk.v1.WarningService/ListAlerts";
/// The alert page's permission.
pub const GET_ALERT: &str = "/creditrisk.v1.WarningService/GetAlert";
/// The assessment form's permission.
pub const ASSESS_ALERT: &str = "/creditrisk.v1.WarningService/AssessAlert";
/// The warning (department notification) form's permission.
pub const WARN_ALERT: &str = "/creditrisk.v1.WarningService/WarnAlert";
/// The disposal form's permission.
pub const DISPOSE_ALERT: &str = "/creditrisk.v1.WarningService/DisposeAlert";
/// The outcome form's permission.
pub const RECORD_OUTCOME: &str = "/creditrisk.v1.WarningService/RecordActionOutcome";
/// The close form's permission.
pub const CLOSE_ALERT: &str = "/creditrisk.v1.WarningService/CloseAlert";
/// Most alerts the board reads (it says so when there are more).
const MAX_BOARD: usize = 2000;

/// What calling `method` means, in words, for refusal pages; `None` for other methods.
pub fn method_words(method: &str) -> Option<(&'static str, &'static str)> {
    Some(match method {
        LIST_ALERTS => ("查看预警列表", "list alerts"),
        GET_ALERT => ("查看预警详情", "see an alert"),
        ASSESS_ALERT => ("研判预警", "assess alerts"),
        WARN_ALERT => ("发布预警（通报部门）", "warn departments of alerts"),
        DISPOSE_ALERT => ("部署处置措施", "add disposal actions"),
        RECORD_OUTCOME => ("录入处置结果", "record disposal outcomes"),
        CLOSE_ALERT => ("关闭预警", "close alerts"),
        _ => return None,
    })
}

use crate::warnsvc::alert::{check_scope, department_scope as scope};

/// Levels from the most severe.
const LEVELS: [Level; 4] = [Level::Red, Level::Orange, Level::Yellow, Level::Blue];

fn level_colour(l: Level) -> &'static str {
    match l {
        Level::Red => "#a40e26",
        Level::Orange => "#bc4c00",
        Level::Yellow => "#7d4e00",
        Level::Blue => "#0550ae",
    }
}

/// The level's name in words (never colour alone).
fn level_words(c: &Ctx, l: Level) -> String {
    let (zh, en) = match l {
        Level::Red => ("红色", "Red"),
        Level::Orange => ("橙色", "Orange"),
        Level::Yellow => ("黄色", "Yellow"),
        Level::Blue => ("蓝色", "Blue"),
    };
    match c.lang {
        crate::domain::names::Lang::Zh => format!("{zh}（{}）", l.roman()),
        crate::domain::names::Lang::En => format!("{en} ({})", l.roman()),
    }
}

/// A level badge: a coloured square (decorative) and the level's name.
fn level_badge(c: &Ctx, l: Level) -> Markup {
    html! {
        span class=(format!("level level-{}", l.as_str())) {
            span aria-hidden="true" style=(format!("color:{}", level_colour(l))) { "■ " }
            (level_words(c, l))
        }
    }
}

fn state_words(c: &Ctx, s: State) -> &'static str {
    let (zh, en) = match s {
        State::Raised => ("待研判", "raised"),
        State::Assessed => ("已研判", "assessed"),
        State::Warned => ("已发布", "warned"),
        State::Disposing => ("处置中", "disposing"),
        State::Closed => ("已关闭", "closed"),
    };
    c.t(zh, en)
}

/// The filter of the board's query: the same parsing as `ListAlerts`.
fn board_filter(q: &[(String, String)], scope: &Option<String>) -> crate::Result<AlertFilter> {
    let mut f = AlertFilter {
        level: convert::level_opt("level", field(q, "level"))?,
        ..Default::default()
    };
    let state = field(q, "state");
    if !state.is_empty() {
        f.state = Some(State::parse(state).map_err(|e| Error::invalid("state", e))?);
    }
    let dept = field(q, "department");
    if !dept.is_empty() {
        check_department(dept).map_err(|e| Error::invalid("department", e))?;
        f.department = Some(dept.to_string());
    }
    if let Some(d) = scope {
        if f.department.as_ref().is_some_and(|x| x != d) {
            return Err(Error::invalid(
                "department",
                format!("`{dept}`: this token sees only the alerts notified to `{d}`"),
            ));
        }
        f.department = Some(d.clone());
    }
    Ok(f)
}

/// The warnings board: open alerts (or those of the chosen state) by level and department.
pub async fn board(AxState(web): AxState<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(LIST_ALERTS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let scope = scope(&p);
    let q = session::parse_form(uri.query().unwrap_or(""));
    let filter = match board_filter(&q, &scope) {
        Ok(f) => f,
        Err(e) => return c.error(e),
    };
    let only_open = filter.state.is_none();
    let read = c
        .app()
        .warn_op(move |w| {
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let page = w.list(&filter, after, 500)?;
                out.extend(page.items.into_iter().filter(|a| !only_open || a.is_open()));
                match page.next {
                    Some(n) if out.len() < MAX_BOARD => after = Some(n),
                    next => return Ok((out, next.is_some())),
                }
            }
        })
        .await;
    let (alerts, more) = match read {
        Ok(x) => x,
        Err(e) => return c.error(e),
    };
    let mut by_level: BTreeMap<Level, u64> = BTreeMap::new();
    let mut by_dept: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for a in &alerts {
        *by_level.entry(a.level).or_default() += 1;
        let i = LEVELS.iter().position(|l| *l == a.level).unwrap_or(3);
        if a.departments.is_empty() {
            by_dept.entry(String::new()).or_default()[i] += 1;
        }
        for d in &a.departments {
            by_dept.entry(d.clone()).or_default()[i] += 1;
        }
    }
    // Most severe first, then oldest first.
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.level));
    let chosen = |name: &str, v: &str| field(&q, name) == v;
    let title = c.t("预警看板", "Warnings board");
    let body = html! {
        h1 { (title) }
        @if let Some(d) = &scope {
            p { (c.t("本令牌只能看到通报给本部门的预警：", "This token sees only the alerts notified to ")) code { (d) } }
        }
        form method="get" action="/warnings" {
            label for="level" { (c.t("级别", "Level")) }
            select id="level" name="level" {
                option value="" { (c.t("全部", "all")) }
                @for l in LEVELS {
                    option value=(l.as_str()) selected[chosen("level", l.as_str())] { (level_words(&c, l)) }
                }
            }
            label for="state" { (c.t("状态", "State")) }
            select id="state" name="state" {
                option value="" { (c.t("未关闭", "open")) }
                @for s in State::ALL {
                    option value=(s.as_str()) selected[chosen("state", s.as_str())] { (state_words(&c, s)) }
                }
            }
            @if scope.is_none() {
                label for="department" { (c.t("部门", "Department")) }
                select id="department" name="department" {
                    option value="" { (c.t("全部", "all")) }
                    @for d in routing().departments() {
                        option value=(d.id) selected[chosen("department", &d.id)] { (c.t(&d.zh, &d.en)) }
                    }
                }
            }
            p { button type="submit" { (c.t("筛选", "Filter")) } }
        }
        table {
            caption { (c.t("按级别", "By level")) }
            thead { tr { th scope="col" { (c.t("级别", "Level")) } th scope="col" { (c.t("数量", "Alerts")) } } }
            tbody {
                @for l in LEVELS {
                    tr id=(format!("level-{}", l.as_str())) {
                        th scope="row" { (level_badge(&c, l)) }
                        td.n { (by_level.get(&l).copied().unwrap_or(0)) }
                    }
                }
            }
        }
        table {
            caption { (c.t("按部门", "By department")) }
            thead { tr {
                th scope="col" { (c.t("部门", "Department")) }
                @for l in LEVELS { th scope="col" { (level_words(&c, l)) } }
            } }
            tbody {
                @for (d, n) in &by_dept {
                    tr {
                        th scope="row" {
                            @if d.is_empty() { (c.t("（尚未通报）", "(not yet notified)")) } @else { code { (d) } }
                        }
                        @for v in n { td.n { (v) } }
                    }
                }
            }
        }
        @if sorted.is_empty() {
            p { (c.t("没有符合条件的预警。", "No alerts match.")) }
        } @else {
            table {
                caption { (c.t("预警", "Alerts")) }
                thead { tr {
                    th scope="col" { (c.t("编号", "Alert")) }
                    th scope="col" { (c.t("级别", "Level")) }
                    th scope="col" { (c.t("状态", "State")) }
                    th scope="col" { (c.t("规则", "Rule")) }
                    th scope="col" { (c.t("对象", "Subject")) }
                    th scope="col" { (c.t("发现日期", "Raised on")) }
                } }
                tbody {
                    @for a in &sorted {
                        tr id=(format!("alert-{}", a.id)) {
                            td { a href=(format!("/warnings/{}", a.id)) { (a.id) } }
                            td { (level_badge(&c, a.level)) }
                            td { (state_words(&c, a.state)) }
                            td { code { (a.rule_id) } }
                            td { (a.subject) }
                            td { (a.raised_on.to_string()) }
                        }
                    }
                }
            }
        }
        @if more {
            p { (c.t("预警过多，仅显示前 2000 条：请缩小筛选范围。", "More alerts than shown (2000): narrow the filter.")) }
        }
    };
    c.page(title, Some(&p), body)
}

/// One alert: evidence, actions, history, and the forms the caller's role allows.
pub async fn alert(
    AxState(web): AxState<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(GET_ALERT) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let scope = scope(&p);
    let id = match convert::alert_id(&id) {
        Ok(id) => id.to_string(),
        Err(e) => return c.error(e),
    };
    let a = match c
        .app()
        .warn_op(move |w| {
            let a = w.get(&id)?;
            check_scope(&a, &scope)?;
            Ok(a)
        })
        .await
    {
        Ok(a) => a,
        Err(e) => return c.error(e),
    };
    let title = format!("{} {}", c.t("预警", "Alert"), a.id);
    let body = html! {
        h1 { (title) }
        p { a href="/warnings" { (c.t("返回预警看板", "Back to the board")) } }
        dl {
            dt { (c.t("级别", "Level")) } dd id="level" { (level_badge(&c, a.level)) }
            dt { (c.t("状态", "State")) } dd id="state" { (state_words(&c, a.state)) " (" code { (a.state.as_str()) } ")" }
            dt { (c.t("规则", "Rule")) } dd { code { (a.rule_id) } }
            dt { (c.t("对象", "Subject")) } dd { (a.subject) }
            @if let Some(d) = &a.district { dt { (c.t("区县", "District")) } dd { (d) } }
            dt { (c.t("发现日期", "Raised on")) } dd { (a.raised_on.to_string()) }
            @if !a.enterprises.is_empty() {
                dt { (c.t("涉及企业", "Enterprises")) }
                dd { @for e in &a.enterprises { a href=(format!("/enterprises/{e}")) { code { (e) } } " " } }
            }
            dt { (c.t("通报部门", "Departments")) }
            dd { @if a.departments.is_empty() { (c.t("（尚未通报）", "(not yet notified)")) } @else { (a.departments.join(", ")) } }
            @if let Some(s) = &a.assessment {
                dt { (c.t("研判", "Assessment")) }
                dd { (if s.confirmed { c.t("确认", "confirmed") } else { c.t("排除", "dismissed") }) ": " (s.reason) }
            }
            dt { (c.t("计算依据", "Computed from")) }
            dd { (c.t("规则集 ", "rule set ")) code { (a.basis.rule_set) } ", " (c.t("截至 ", "as of ")) (a.basis.as_of.to_string()) ", cut " (a.basis.cut) }
        }
        table {
            caption { (c.t("证据", "Evidence")) }
            thead { tr { th scope="col" { (c.t("项", "Key")) } th scope="col" { (c.t("值", "Value")) } } }
            tbody { @for (k, v) in &a.evidence { tr { th scope="row" { code { (k) } } td { (v) } } } }
        }
        @if !a.actions.is_empty() {
            table {
                caption { (c.t("处置措施", "Disposal actions")) }
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (c.t("类型", "Kind")) }
                    th scope="col" { (c.t("期限", "Deadline")) }
                    th scope="col" { (c.t("说明", "Note")) }
                    th scope="col" { (c.t("结果", "Outcome")) }
                } }
                tbody {
                    @for (i, x) in a.actions.iter().enumerate() {
                        tr {
                            td.n { (i + 1) }
                            td { code { (x.kind.as_str()) } }
                            td { (x.deadline.to_string()) }
                            td { (x.note) }
                            td { @if let Some(o) = &x.outcome { (o.text) " (" (o.recorded_on.to_string()) ", " code { (o.actor) } ")" } }
                        }
                    }
                }
            }
        }
        table {
            caption { (c.t("经过", "History")) }
            thead { tr {
                th scope="col" { (c.t("时间", "Time")) }
                th scope="col" { (c.t("步骤", "Step")) }
                th scope="col" { (c.t("状态", "State")) }
                th scope="col" { (c.t("级别", "Level")) }
                th scope="col" { (c.t("操作人", "By")) }
                th scope="col" { (c.t("说明", "Reason")) }
            } }
            tbody {
                @for h in &a.history {
                    tr {
                        td { (crate::clock::rfc3339(h.at_ms)) }
                        td { code { (h.action) } }
                        td { (state_words(&c, h.state)) }
                        td { (level_words(&c, h.level)) }
                        td { code { (h.actor) } }
                        td { (h.reason) }
                    }
                }
            }
        }
        (forms(&c, &p, &a))
    };
    c.page(&title, Some(&p), body)
}

/// The lifecycle forms the alert's state allows and the caller's role may post.
fn forms(c: &Ctx, p: &Principal, a: &Alert) -> Markup {
    let csrf = c
        .session
        .as_ref()
        .map(|(_, s)| s.csrf.clone())
        .unwrap_or_default();
    let action = |op: &str| format!("/warnings/{}/{op}", a.id);
    let confirmed = a.assessment.as_ref().is_some_and(|s| s.confirmed);
    let today = crate::clock::today().to_string();
    html! {
        @if a.state == State::Raised && c.may(p, ASSESS_ALERT) {
            form.card method="post" action=(action("assess")) {
                h2 { (c.t("研判", "Assess")) }
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (c.t("结论", "Decision")) }
                    label { input type="radio" name="decision" value="confirmed" required; (c.t("确认", "confirm")) }
                    label { input type="radio" name="decision" value="dismissed"; (c.t("排除", "dismiss")) }
                }
                label for="assess-reason" { (c.t("理由", "Reason")) }
                input id="assess-reason" name="reason" required size="60";
                p { button type="submit" { (c.t("提交研判", "Submit assessment")) } }
            }
        }
        @if a.state == State::Assessed && confirmed && c.may(p, WARN_ALERT) {
            form.card method="post" action=(action("warn")) {
                h2 { (c.t("发布预警", "Warn departments")) }
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (c.t("通报部门", "Departments to notify")) }
                    @for d in routing().departments() {
                        label {
                            input type="checkbox" name="departments" value=(d.id) checked[a.routed.contains(&d.id)];
                            (c.t(&d.zh, &d.en)) " " code { (d.id) }
                        }
                    }
                }
                p { button type="submit" { (c.t("发布", "Warn")) } }
            }
        }
        @if matches!(a.state, State::Warned | State::Disposing) && c.may(p, DISPOSE_ALERT) {
            form.card method="post" action=(action("dispose")) {
                h2 { (c.t("部署处置措施", "Add a disposal action")) }
                input type="hidden" name="csrf" value=(csrf);
                label for="kind" { (c.t("措施类型", "Kind")) }
                select id="kind" name="kind" required {
                    @for k in ActionKind::ALL { option value=(k.as_str()) { (k.as_str()) } }
                }
                label for="deadline" { (c.t("期限", "Deadline")) }
                input id="deadline" name="deadline" type="date" required min=(today);
                label for="note" { (c.t("说明", "Note")) }
                input id="note" name="note" size="60";
                p { button type="submit" { (c.t("部署", "Add")) } }
            }
        }
        @if a.state == State::Disposing && a.actions.iter().any(|x| x.outcome.is_none()) && c.may(p, RECORD_OUTCOME) {
            form.card method="post" action=(action("outcome")) {
                h2 { (c.t("录入处置结果", "Record an outcome")) }
                input type="hidden" name="csrf" value=(csrf);
                label for="action" { (c.t("措施编号", "Action number")) }
                select id="action" name="action" {
                    @for (i, x) in a.actions.iter().enumerate() {
                        @if x.outcome.is_none() { option value=(i + 1) { (i + 1) " · " (x.kind.as_str()) } }
                    }
                }
                label for="outcome" { (c.t("结果", "Outcome")) }
                input id="outcome" name="outcome" required size="60";
                p { button type="submit" { (c.t("录入", "Record")) } }
            }
        }
        @if a.is_open() && (a.state == State::Disposing || (a.state == State::Assessed && !confirmed)) && c.may(p, CLOSE_ALERT) {
            form.card method="post" action=(action("close")) {
                h2 { (c.t("关闭预警", "Close")) }
                input type="hidden" name="csrf" value=(csrf);
                label for="close-reason" { (c.t("说明", "Reason")) }
                input id="close-reason" name="reason" size="60";
                p { button type="submit" { (c.t("关闭", "Close")) } }
            }
        }
    }
}

/// A lifecycle step asked for by a form.
enum Step {
    Assess(bool, String),
    Warn(Vec<String>),
    Dispose(NewAction),
    Outcome(usize, String),
    Close(String),
}

/// The step `op` with its fields, parsed by the gRPC handlers' functions.
fn step(op: &str, form: &[(String, String)]) -> crate::Result<Step> {
    Ok(match op {
        "assess" => Step::Assess(
            convert::decision(field(form, "decision"))?,
            convert::text("reason", field(form, "reason"), true)?,
        ),
        "warn" => {
            let list: Vec<String> = form
                .iter()
                .filter(|(k, _)| k == "departments")
                .map(|(_, v)| v.clone())
                .collect();
            Step::Warn(convert::departments(&list)?)
        }
        "dispose" => Step::Dispose(NewAction {
            kind: convert::action_kind(field(form, "kind"))?,
            deadline: convert::date_req("deadline", field(form, "deadline"))?,
            note: convert::text("note", field(form, "note"), false)?,
            draw_id: None,
        }),
        "outcome" => {
            let n = field(form, "action");
            let n = n.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Error::invalid("action", format!("`{n}` is not an action's number, from 1"))
            })?;
            Step::Outcome(n, convert::text("outcome", field(form, "outcome"), true)?)
        }
        _ => Step::Close(convert::text("reason", field(form, "reason"), false)?),
    })
}

/// Posts a lifecycle form (`assess`, `warn`, `dispose`, `outcome`, `close`) and returns to
/// the alert page.
pub async fn change(
    AxState(web): AxState<Web>,
    Path((id, op)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let method = match op.as_str() {
        "assess" => ASSESS_ALERT,
        "warn" => WARN_ALERT,
        "dispose" => DISPOSE_ALERT,
        "outcome" => RECORD_OUTCOME,
        "close" => CLOSE_ALERT,
        _ => return c.error(Error::NotFound(format!("page `{}`", uri.path()))),
    };
    let p = match c.authorize(method) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let form = match c.posted_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let id = match convert::alert_id(&id) {
        Ok(id) => id.to_string(),
        Err(e) => return c.error(e),
    };
    let step = match step(&op, &form) {
        Ok(s) => s,
        Err(e) => return c.error(e),
    };
    let (actor, scope) = (p.token_id.clone(), scope(&p));
    let back = format!("/warnings/{id}");
    let done = c
        .app()
        .warn_op(move |w| {
            // Departments set at `warn` never change, so the check cannot go stale.
            if scope.is_some() {
                check_scope(&w.get(&id)?, &scope)?;
            }
            let now = crate::clock::now_ms();
            match step {
                Step::Assess(ok, reason) => w.assess(&id, ok, reason, &actor, now),
                Step::Warn(d) => w.warn(&id, d, &actor, now),
                Step::Dispose(a) => w.dispose(&id, a, &actor, now),
                Step::Outcome(n, text) => {
                    w.record_outcome(&id, n, text, crate::clock::today(), &actor, now)
                }
                Step::Close(reason) => w.close(&id, reason, &actor, now),
            }
        })
        .await;
    match done {
        Ok(_) => {
            tracing::info!(caller = %p.token_id, alert = %back, step = %op, "web alert change");
            see_other(&back)
        }
        Err(e) => c.error(e),
    }
}
