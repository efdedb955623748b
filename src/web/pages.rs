//! The console's pages. Each names the gRPC method whose permission it needs (the constants
//! below) and calls the operation behind that method; see the module doc of [`crate::web`].

use super::enterprise::{
    EXPLAIN, GET_CLASSIFICATION, GET_ENTERPRISE, LIST_CLASSIFICATIONS, LIST_EVENTS,
};
use super::{ctx, field, see_other, Ctx, Web};
use crate::audit::access::Principal;
use crate::domain::names::{self, Lang};
use crate::domain::{CreditCode, Date};
use crate::drawsvc::ResultInput;
use crate::error::Error;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use std::collections::{BTreeMap, BTreeSet};

/// The overview's permission: the tier report.
pub const REPORT_TIERS: &str = "/creditrisk.v1.ClassificationService/ReportTiers";
/// The draw list's permission.
pub const LIST_DRAWS: &str = "/creditrisk.v1.DrawService/ListDraws";
/// The draw detail's permission.
pub const GET_DRAW: &str = "/creditrisk.v1.DrawService/GetDraw";
/// The inspector page's permission: the caller's own assignments.
pub const LIST_ASSIGNMENTS: &str = "/creditrisk.v1.DrawService/ListAssignments";
/// The result form's permission.
pub const RECORD_RESULTS: &str = "/creditrisk.v1.DrawService/RecordResults";

/// What calling `method` means, in words, for refusal pages.
pub fn method_words(method: &str, lang: Lang) -> &'static str {
    let (zh, en) = match method {
        REPORT_TIERS => ("查看信用风险分类总览", "see the credit-risk tier overview"),
        LIST_DRAWS => ("查看抽查列表", "list draws"),
        GET_DRAW => ("查看抽查详情", "see a draw's details"),
        LIST_ASSIGNMENTS => ("查看检查任务", "see inspection assignments"),
        RECORD_RESULTS => ("录入检查结果", "record inspection results"),
        GET_ENTERPRISE => ("查看企业档案", "see enterprise records"),
        GET_CLASSIFICATION => ("查看企业分类", "see an enterprise's tier"),
        LIST_CLASSIFICATIONS => ("查看分类历史", "see an enterprise's tier history"),
        EXPLAIN => ("查看分类理由", "see why an enterprise has its tier"),
        LIST_EVENTS => ("查看企业信用事件", "see an enterprise's credit events"),
        _ => super::warnings::method_words(method)
            .or_else(|| super::audit::method_words(method))
            .or_else(|| super::rules::method_words(method))
            .or_else(|| super::review::method_words(method))
            .unwrap_or(("调用此接口", "call this method")),
    };
    lang.pick(zh, en)
}

/// Colours of tiers A to D in charts.
pub(super) const TIER_COLOURS: [&str; 4] = ["#116329", "#0550ae", "#9a4a00", "#a40e26"];
/// Tier letters, A to D.
pub(super) const TIERS: [&str; 4] = ["A", "B", "C", "D"];

/// Tier `t` (0 = A) in words.
pub(super) fn tier_words(t: usize, lang: Lang) -> &'static str {
    let zh = ["信用风险低", "信用风险一般", "信用风险较高", "信用风险高"];
    let en = ["low risk", "ordinary risk", "higher risk", "high risk"];
    lang.pick(zh[t.min(3)], en[t.min(3)])
}

/// `part` of `total` as a percentage with one decimal (`12.5%`), the same in every language;
/// `-` when `total` is 0.
pub(super) fn share(part: u64, total: u64) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / total as f64)
    }
}

/// Runs a storage read on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("web task failed: {e}")))?
}

/// A draw id as the gRPC layer accepts it: 1 to 128 characters, no control characters.
fn draw_id(id: &str) -> crate::Result<String> {
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(Error::invalid(
            "draw_id",
            format!("`{}` is not a draw id", id.escape_default()),
        ));
    }
    Ok(id.to_string())
}

/// Draws: the list (planners, auditors, admins).
pub async fn draws(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(LIST_DRAWS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let query = super::session::parse_form(uri.query().unwrap_or(""));
    let after = Some(field(&query, "after").to_string()).filter(|a| !a.is_empty());
    let page = match c.app().draw_op(move |d| d.list(after.as_deref(), 50)).await {
        Ok(p) => p,
        Err(e) => return c.error(e),
    };
    let title = c.t("双随机抽查", "Double-random draws");
    c.page(
        title,
        Some(&p),
        html! {
            h1 { (title) }
            @if page.items.is_empty() {
                p { (c.t("暂无抽查。", "No draws yet.")) }
            } @else {
                table {
                    caption { (c.t("抽查列表", "Draws")) }
                    thead { tr {
                        th scope="col" { (c.t("编号", "Id")) }
                        th scope="col" { (c.t("检查事项", "Inspection item")) }
                        th scope="col" { (c.t("快照日期", "As of")) }
                        th scope="col" { (c.t("检查日期", "Inspection date")) }
                        th scope="col" { (c.t("抽中企业", "Drawn")) }
                        th scope="col" { (c.t("公示", "Public page")) }
                    } }
                    tbody {
                        @for d in &page.items {
                            tr {
                                th scope="row" { a href={ "/draws/" (super::pct(&d.record.draw_id)) } { (d.record.draw_id) } }
                                td { (d.record.item.name) }
                                td { (d.record.as_of) }
                                td { (d.record.inspection_date) }
                                td.n { (d.record.selected.len()) }
                                td { a href={ "/public/draws/" (super::pct(&d.record.draw_id)) } { (c.t("公示页", "public page")) } }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next {
                    p { a href={ "/draws?after=" (super::pct(next)) } { (c.t("下一页", "Next page")) } }
                }
            }
        },
    )
}

/// One draw in detail: the seed, the counts per tier, the drawn enterprises and their teams.
pub async fn draw(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(GET_DRAW) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let id = match draw_id(&id) {
        Ok(id) => id,
        Err(e) => return c.error(e),
    };
    let (v, info) = match c
        .app()
        .draw_op(move |d| {
            let v = d.get(&id)?;
            let info = d.selected_info(&v)?;
            Ok((v, info))
        })
        .await
    {
        Ok(x) => x,
        Err(e) => return c.error(e),
    };
    let r = &v.record;
    let teams: BTreeMap<CreditCode, Vec<&str>> = r
        .teams
        .iter()
        .map(|t| (t.credit_code, t.members()))
        .collect();
    let link_enterprises = c.may(&p, GET_ENTERPRISE);
    let title = format!("{} {}", c.t("抽查", "Draw"), r.draw_id);
    c.page(
        &title,
        Some(&p),
        html! {
            h1 { (title) }
            dl {
                dt { (c.t("检查事项", "Inspection item")) } dd { (r.item.name) " (" code { (r.item.id) } ")" }
                dt { (c.t("随机种子", "Seed")) } dd { code { (r.seed) } }
                dt { (c.t("快照日期", "As of")) } dd { (r.as_of) }
                dt { (c.t("检查日期", "Inspection date")) } dd { (r.inspection_date) }
                dt { (c.t("公示截止", "Publish results by")) } dd { (v.publication_deadline) }
            }
            p { a href={ "/public/draws/" (super::pct(&r.draw_id)) } { (c.t("公示页（无需登录）", "Public page (no login)")) } }
            table {
                caption { (c.t("各类别抽取数", "Counts per tier")) }
                thead { tr {
                    th scope="col" { (c.t("类别", "Tier")) }
                    th scope="col" { (c.t("候选", "Candidates")) }
                    th scope="col" { (c.t("排除", "Excluded")) }
                    th scope="col" { (c.t("抽取", "Drawn")) }
                } }
                tbody {
                    @for t in &r.tiers {
                        tr {
                            th scope="row" { (t.tier.as_str()) }
                            td.n { (t.candidates) }
                            td.n { (t.excluded) }
                            td.n { (t.k) }
                        }
                    }
                }
            }
            table {
                caption { (c.t("抽中企业与检查组", "Drawn enterprises and teams")) }
                thead { tr {
                    th scope="col" { (c.t("统一社会信用代码", "Credit code")) }
                    th scope="col" { (c.t("名称", "Name")) }
                    th scope="col" { (c.t("类别", "Tier")) }
                    th scope="col" { (c.t("检查人员", "Inspectors")) }
                } }
                tbody {
                    @for s in &r.selected {
                        tr {
                            th scope="row" {
                                @if link_enterprises {
                                    a href={ "/enterprises/" (s.credit_code.as_str()) } { code { (s.credit_code.as_str()) } }
                                } @else {
                                    code { (s.credit_code.as_str()) }
                                }
                            }
                            td { (info.get(&s.credit_code).map(|i| i.name.as_str()).unwrap_or("")) }
                            td { (s.tier.as_str()) }
                            td { (teams.get(&s.credit_code).map(|m| m.join(", ")).unwrap_or_default()) }
                        }
                    }
                }
            }
        },
    )
}

/// The public result page of a draw (公示), without login: the results as published, the
/// seed, the bundle and the command to check it.
pub async fn public_draw(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let id = match draw_id(&id) {
        Ok(id) => id,
        Err(e) => return c.error(e),
    };
    let (v, results) = match c.app().draw_op(move |d| d.public_results(&id)).await {
        Ok(x) => x,
        Err(e) => return c.error(e),
    };
    let published: Vec<_> = results
        .iter()
        .filter(|r| r.published_on.is_some())
        .collect();
    let r = &v.record;
    let title = format!(
        "{} {}",
        c.t("抽查结果公示", "Published inspection results"),
        r.draw_id
    );
    c.page(
        &title,
        None,
        html! {
            h1 { (title) }
            dl {
                dt { (c.t("检查事项", "Inspection item")) } dd { (r.item.name) }
                dt { (c.t("随机种子", "Seed")) } dd { code { (r.seed) } }
                dt { (c.t("检查日期", "Inspection date")) } dd { (r.inspection_date) }
                dt { (c.t("抽中企业数", "Enterprises drawn")) } dd { (r.selected.len()) }
            }
            h2 { (c.t("检查结果", "Results")) }
            @if published.is_empty() {
                p { (c.t("尚未公示检查结果。", "No results published yet.")) }
            } @else {
                table {
                    caption { (c.t("已公示的检查结果", "Results as published")) }
                    thead { tr {
                        th scope="col" { (c.t("统一社会信用代码", "Credit code")) }
                        th scope="col" { (c.t("名称", "Name")) }
                        th scope="col" { (c.t("检查日期", "Inspection date")) }
                        th scope="col" { (c.t("检查结果", "Result")) }
                        th scope="col" { (c.t("公示日期", "Published on")) }
                    } }
                    tbody {
                        @for x in &published {
                            tr {
                                th scope="row" { code { (x.credit_code.as_str()) } }
                                td { (x.name) }
                                td { (x.date) }
                                td {
                                    @for (i, code) in x.result_codes.iter().enumerate() {
                                        @if i > 0 { "; " }
                                        (code.as_str()) " " (names::result_meaning(*code, c.lang))
                                    }
                                }
                                td { (x.published_on.map(|d| d.to_string()).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            h2 { (c.t("自行核验", "Check it yourself")) }
            p {
                a href={ "/public/draws/" (super::pct(&r.draw_id)) "/bundle.json" } download="bundle.json" {
                    (c.t("下载抽查数据包 bundle.json", "Download the draw bundle, bundle.json"))
                }
            }
            p { (c.t("用公开的 Python 包 consistent-sampler 重算抽取（见 docs/draws.md）：",
                     "Re-run the draw with the public Python package consistent-sampler (see docs/draws.md):")) }
            pre { code { "python3 tools/verify_bundle.py bundle.json" } }
        },
    )
}

/// The draw's publication bundle as a download, without login (what the public page links).
pub async fn public_bundle(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let id = match draw_id(&id) {
        Ok(id) => id,
        Err(e) => return c.error(e),
    };
    match c.app().draw_op(move |d| d.export(&id, Lang::Zh)).await {
        Ok(x) => {
            let mut r = x.bundle.json.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"bundle.json\""),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        Err(e) => c.error(e),
    }
}

/// The inspector's page: their assignments with deadlines, and a result form for each one
/// without a result. Made for a phone (390 px wide).
pub async fn inspector(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(LIST_ASSIGNMENTS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let me = p.subject.clone();
    let list = match c.app().draw_op(move |d| d.assignments(&me)).await {
        Ok(l) => l,
        Err(e) => return c.error(e),
    };
    let query = super::session::parse_form(uri.query().unwrap_or(""));
    let saved = field(&query, "saved");
    let csrf = c
        .session
        .as_ref()
        .map(|(_, s)| s.csrf.clone())
        .unwrap_or_default();
    let title = c.t("我的检查任务", "My assignments");
    c.page(
        title,
        Some(&p),
        html! {
            h1 { (title) }
            @if !saved.is_empty() {
                p.ok role="status" { (c.t("已保存检查结果：", "Result saved: ")) code { (saved) } }
            }
            @if list.is_empty() {
                p { (c.t("暂无任务。", "No assignments.")) }
            }
            @for (i, a) in list.iter().enumerate() {
                section.card aria-labelledby=(format!("a{i}")) {
                    h2 id=(format!("a{i}")) { (a.name) }
                    p { code { (a.credit_code.as_str()) } br; (a.address) }
                    p {
                        (c.t("抽查", "Draw")) " " code { (a.draw.record.draw_id) } "; "
                        (c.t("检查日期", "inspection date")) " " (a.draw.record.inspection_date) "; "
                        strong { (c.t("公示截止", "publish by")) " " (a.draw.publication_deadline) }
                    }
                    @if let Some((res, codes)) = &a.result {
                        p.ok {
                            (c.t("已录入结果", "Result recorded")) " (" (res.date) "): "
                            @for (j, code) in codes.iter().enumerate() {
                                @if j > 0 { "; " }
                                (code.as_str()) " " (names::result_meaning(*code, c.lang))
                            }
                        }
                    } @else {
                        (result_form(&c, i, a, &p, &csrf))
                    }
                }
            }
        },
    )
}

fn result_form(
    c: &Ctx,
    i: usize,
    a: &crate::drawsvc::Assignment,
    p: &Principal,
    csrf: &str,
) -> Markup {
    let team: Vec<String> = a
        .draw
        .record
        .teams
        .iter()
        .find(|t| t.credit_code == a.credit_code)
        .map(|t| t.members().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    html! {
        form method="post" action="/inspector/results" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="draw_id" value=(a.draw.record.draw_id);
            input type="hidden" name="credit_code" value=(a.credit_code.as_str());
            input type="hidden" name="inspector" value=(p.subject);
            label for=(format!("date{i}")) { (c.t("检查日期", "Inspection date")) }
            input id=(format!("date{i}")) name="date" type="date" required value=(a.draw.record.inspection_date.to_string());
            fieldset {
                legend { (c.t("同组检查人员", "Team members who inspected")) }
                p { (c.t("本人", "Me")) ": " code { (p.subject) } }
                @for (j, m) in team.iter().filter(|m| **m != p.subject).enumerate() {
                    label for=(format!("m{i}-{j}")) {
                        input id=(format!("m{i}-{j}")) type="checkbox" name="inspector" value=(m) checked;
                        code { (m) }
                    }
                }
            }
            fieldset {
                legend { (c.t("检查结果（可多选）", "Result (one or more)")) }
                @for (j, code) in names::result_codes().enumerate() {
                    label for=(format!("r{i}-{j}")) {
                        input id=(format!("r{i}-{j}")) type="checkbox" name="result" value=(code.as_str());
                        span { (code.as_str()) " " (names::result_meaning(code, c.lang)) }
                    }
                }
            }
            p { button type="submit" { (c.t("提交结果", "Submit the result")) } }
        }
    }
}

/// Stores one result from the inspector's form, through the same operation as the
/// RecordResults RPC (with the same check: the caller is among the inspectors).
pub async fn record_result(
    State(web): State<Web>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let form = match c.posted_form(body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let p = match c.authorize(RECORD_RESULTS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let input = match result_input(&form, &p) {
        Ok(x) => x,
        Err(e) => return c.error(e),
    };
    let code = input.1.credit_code;
    match c
        .app()
        .record_results(input.0, vec![input.1], &p.token_id)
        .await
    {
        Ok(_) => see_other(&format!("/inspector?saved={}", code.as_str())),
        Err(e) => c.error(e),
    }
}

/// The draw id and result of a posted result form; the caller must be among the inspectors.
fn result_input(form: &[(String, String)], p: &Principal) -> crate::Result<(String, ResultInput)> {
    let id = draw_id(field(form, "draw_id"))?;
    let credit_code = CreditCode::parse(field(form, "credit_code"))
        .map_err(|e| Error::invalid("credit_code", e))?;
    let date = Date::parse(field(form, "date")).map_err(|e| Error::invalid("date", e))?;
    let inspector_ids: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "inspector")
        .map(|(_, v)| v.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !inspector_ids.iter().any(|i| p.check_subject(i).is_ok()) {
        return Err(crate::audit::AuthError::NotYours.into());
    }
    let mut result_codes = BTreeSet::new();
    for (k, v) in form {
        if k == "result" {
            result_codes.insert(
                crate::domain::ResultCode::parse(v).map_err(|e| Error::invalid("result", e))?,
            );
        }
    }
    if result_codes.is_empty() {
        return Err(Error::invalid("result", "choose at least one result code"));
    }
    Ok((
        id,
        ResultInput {
            credit_code,
            inspection_id: None,
            date,
            inspector_ids,
            result_codes,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_the_method_does() {
        assert_eq!(method_words(GET_DRAW, Lang::En), "see a draw's details");
    }
}
