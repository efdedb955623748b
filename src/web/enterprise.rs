//! The enterprise page (`/enterprises/{code}`): the record, the current tier, the explanation
//! in words, the tier history as a chart and a table, and the enterprise's events, newest
//! first, a page at a time (`?before=SEQ`). Each part needs the permission of the RPC that
//! reads it (GetEnterprise for the page, then GetClassification, ListClassifications, Explain
//! and ListEvents) and is left out for roles without it.

use super::pages::{blocking, tier_words, TIERS, TIER_COLOURS};
use super::{ctx, field, Web};
use crate::domain::event::{AbnormalGround, EventBody, RepairClass, Severity, TaxGrade};
use crate::domain::names::{self, Lang};
use crate::domain::CreditCode;
use crate::error::Error;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use maud::{html, Markup};

/// The enterprise page's permission.
pub const GET_ENTERPRISE: &str = "/creditrisk.v1.RecordService/GetEnterprise";
/// The enterprise page's tier section needs this one too.
pub const GET_CLASSIFICATION: &str = "/creditrisk.v1.ClassificationService/GetClassification";
/// The enterprise page's tier history needs this one.
pub const LIST_CLASSIFICATIONS: &str = "/creditrisk.v1.ClassificationService/ListClassifications";
/// The enterprise page's explanation needs this one.
pub const EXPLAIN: &str = "/creditrisk.v1.ClassificationService/Explain";
/// The enterprise page's events need this one.
pub const LIST_EVENTS: &str = "/creditrisk.v1.RecordService/ListEvents";
/// Most classifications the enterprise page shows (the newest).
const HISTORY_ROWS: usize = 24;
/// Events per page of the enterprise page.
pub const EVENT_ROWS: usize = 20;

/// An enterprise: its record and, for roles allowed each part, its current tier, the
/// explanation, the tier history and its events (paged, newest first).
pub async fn enterprise(
    State(web): State<Web>,
    Path(code): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(GET_ENTERPRISE) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let code = match CreditCode::parse(&code) {
        Ok(x) => x,
        Err(e) => return c.error(Error::invalid("credit_code", e)),
    };
    let e = match c.app().enterprise(code).await {
        Ok(e) => e.enterprise,
        Err(e) => return c.error(e),
    };
    let tier = if c.may(&p, GET_CLASSIFICATION) {
        let cls = c.app().classifier().clone();
        match blocking(move || crate::classify::report::current_tier(&cls, &code)).await {
            Ok(t) => Some(t),
            Err(e) => return c.error(e),
        }
    } else {
        None
    };
    // The history (newest first, as ListClassifications pages it) and the explanation, each
    // for roles allowed its method; an enterprise never classified has neither.
    let history = if c.may(&p, LIST_CLASSIFICATIONS) {
        let cls = c.app().classifier().clone();
        match blocking(move || cls.history(&code)).await {
            Ok(mut h) => {
                h.reverse();
                h.truncate(HISTORY_ROWS);
                h
            }
            Err(e) => return c.error(e),
        }
    } else {
        Vec::new()
    };
    let explanation = if c.may(&p, EXPLAIN) && !history.is_empty() {
        let cls = c.app().classifier().clone();
        match blocking(move || cls.explain_latest(&code)).await {
            Ok((_, x)) => Some(x),
            Err(e) => return c.error(e),
        }
    } else {
        None
    };
    // Events, newest first, a page at a time: `before` is the seq the previous page ended at.
    let query = super::session::parse_form(uri.query().unwrap_or(""));
    let before = match field(&query, "before") {
        "" => None,
        b => match b.parse::<u64>() {
            Ok(s) if s > 0 => Some(s),
            _ => {
                return c.error(Error::invalid(
                    "before",
                    format!("`{}` is not an event sequence number", b.escape_default()),
                ))
            }
        },
    };
    let events = if c.may(&p, LIST_EVENTS) {
        match c.app().events_newest_first(code, before, EVENT_ROWS).await {
            Ok(page) => Some(page),
            Err(e) => return c.error(e),
        }
    } else {
        None
    };
    let lang = c.lang;
    c.page(
        &e.name,
        Some(&p),
        html! {
            h1 { (e.name) }
            dl {
                dt { (c.t("统一社会信用代码", "Credit code")) } dd { code { (e.credit_code.as_str()) } }
                dt { (c.t("所在区（市）县", "District")) } dd { (names::district(&e.jurisdiction, lang)) }
                dt { (c.t("行业", "Industry")) } dd { (names::industry(&e.industry, lang)) }
                dt { (c.t("住所", "Address")) } dd { (e.address) }
                dt { (c.t("成立日期", "Established")) } dd { (e.established) }
                @match tier {
                    Some(Some(t)) => {
                        dt { (c.t("信用风险分类", "Credit-risk tier")) }
                        dd { strong { (TIERS[(t as usize).min(3)]) } " " (tier_words(t as usize, lang)) }
                    }
                    Some(None) => {
                        dt { (c.t("信用风险分类", "Credit-risk tier")) }
                        dd { (c.t("尚未分类", "not classified yet")) }
                    }
                    None => {}
                }
            }
            @if let Some(x) = &explanation {
                h2 { (c.t("分类理由", "Why this tier")) }
                ul { @for w in &x.why { li { (w) } } }
                @if !x.next_words.is_empty() {
                    h2 { (c.t("如何改善", "How to improve")) }
                    ul { @for w in &x.next_words { li { (w) } } }
                }
            }
            @if !history.is_empty() {
                h2 { (c.t("分类历史", "Tier history")) }
                (history_chart(&history))
                table {
                    caption { (c.t("最近的分类（新的在前）", "Latest classifications, newest first")) }
                    thead { tr {
                        th scope="col" { (c.t("截至日期", "As of")) }
                        th scope="col" { (c.t("类别", "Tier")) }
                        th scope="col" { (c.t("得分", "Score")) }
                        th scope="col" { (c.t("分类批次", "Run")) }
                    } }
                    tbody {
                        @for h in &history {
                            tr {
                                th scope="row" { (h.as_of) }
                                td { (TIERS[(h.tier as usize).min(3)]) }
                                td.n { (h.score) }
                                td.n { @if h.run_id == 0 { "-" } @else { (h.run_id) } }
                            }
                        }
                    }
                }
            }
            @if let Some(page) = &events {
                h2 id="events" { (c.t("信用事件", "Credit events")) }
                @if page.items.is_empty() {
                    p { (if before.is_some() { c.t("没有更早的事件。", "No earlier events.") } else { c.t("暂无事件。", "No events yet.") }) }
                } @else {
                    table {
                        caption { (c.t("信用事件（新的在前）", "Credit events, newest first")) }
                        thead { tr {
                            th scope="col" { (c.t("序号", "Seq")) }
                            th scope="col" { (c.t("生效日期", "Effective")) }
                            th scope="col" { (c.t("事件", "Event")) }
                            th scope="col" { (c.t("报送部门", "Department")) }
                            th scope="col" { (c.t("事件编号", "Event id")) }
                        } }
                        tbody {
                            @for ev in &page.items {
                                tr id=(format!("ev-{}", ev.seq)) {
                                    td.n { (ev.seq) }
                                    td { (ev.event.effective_date) }
                                    td { (event_words(&ev.event.body, lang)) }
                                    td { code { (ev.event.source_department) } }
                                    td { code { (ev.event.event_id) } }
                                }
                            }
                        }
                    }
                }
                p {
                    @if before.is_some() {
                        a href={ "/enterprises/" (code.as_str()) "#events" } { (c.t("最新事件", "Newest events")) }
                        " "
                    }
                    @if let Some(next) = page.next {
                        a href={ "/enterprises/" (code.as_str()) "?before=" (next) "#events" } { (c.t("更早的事件", "Earlier events")) }
                    }
                }
            }
        },
    )
}

/// The tier over time, oldest left, as a step of squares (A high, D low); decorative, the
/// table below it carries the same facts.
fn history_chart(newest_first: &[crate::classify::ClassificationRecord]) -> Markup {
    const STEP: usize = 14;
    let n = newest_first.len();
    let width = (n * STEP).max(STEP);
    html! {
        svg width=(width) height="64" viewBox=(format!("0 0 {width} 64")) aria-hidden="true" focusable="false" {
            @for (i, h) in newest_first.iter().rev().enumerate() {
                @let t = (h.tier as usize).min(3);
                rect x=(i * STEP + 1) y=(t * 16) width=(STEP - 2) height="14" fill=(TIER_COLOURS[t]) {}
            }
        }
    }
}

/// What an event says, in words of `lang` (its fields as stored, no interpretation).
pub fn event_words(body: &EventBody, lang: Lang) -> String {
    let t = |zh: &str, en: &str| lang.pick(zh, en).to_string();
    match body {
        EventBody::Penalty {
            decision_number,
            amount_yuan,
            severity,
            kind,
        } => {
            let sev = match severity {
                Severity::General => t("一般", "general"),
                Severity::Heavier => t("较重", "heavier"),
                Severity::Serious => t("严重", "serious"),
            };
            match lang {
                Lang::Zh => format!("行政处罚（{kind}，{sev}，罚款 {amount_yuan} 元，决定书 {decision_number}）"),
                Lang::En => format!("administrative penalty ({kind}, {sev}, fine {amount_yuan} yuan, decision {decision_number})"),
            }
        }
        EventBody::AbnormalListEntry { ground } => {
            let g = match ground {
                AbnormalGround::AnnualReportNotFiled => {
                    t("未按时公示年报", "annual report not filed")
                }
                AbnormalGround::InformationNotDisclosed => {
                    t("未按规定公示信息", "information not disclosed")
                }
                AbnormalGround::FalseInformation => {
                    t("公示信息隐瞒真实情况、弄虚作假", "false information")
                }
                AbnormalGround::Unreachable => t(
                    "通过登记的住所无法联系",
                    "unreachable at its registered address",
                ),
            };
            format!(
                "{}{g}{}",
                t(
                    "列入经营异常名录（",
                    "entered the abnormal-operations list ("
                ),
                t("）", ")")
            )
        }
        EventBody::AbnormalListExit {} => {
            t("移出经营异常名录", "left the abnormal-operations list")
        }
        EventBody::SeriousListEntry { reason } => format!(
            "{}{reason}{}",
            t(
                "列入严重违法失信名单（",
                "entered the serious illegal and dishonest list ("
            ),
            t("）", ")")
        ),
        EventBody::SeriousListExit {} => t(
            "移出严重违法失信名单",
            "left the serious illegal and dishonest list",
        ),
        EventBody::SpotCheck {
            passed,
            product_category,
        } => {
            let r = if *passed {
                t("合格", "passed")
            } else {
                t("不合格", "failed")
            };
            match lang {
                Lang::Zh => format!("产品质量抽检（{product_category}）：{r}"),
                Lang::En => format!("product-quality spot check ({product_category}): {r}"),
            }
        }
        EventBody::Complaint { verified } => {
            if *verified {
                t("投诉举报（已核实）", "complaint (verified)")
            } else {
                t("投诉举报（未核实）", "complaint (not verified)")
            }
        }
        EventBody::Honour { kind } => format!("{}{kind}{}", t("荣誉（", "honour ("), t("）", ")")),
        EventBody::TaxGrade { year, grade } => {
            let g = match grade {
                TaxGrade::A => "A",
                TaxGrade::B => "B",
                TaxGrade::M => "M",
                TaxGrade::C => "C",
                TaxGrade::D => "D",
            };
            match lang {
                Lang::Zh => format!("{year} 年度纳税信用等级 {g}"),
                Lang::En => format!("tax credit grade {g} for {year}"),
            }
        }
        EventBody::AnnualReport { year, filed_on } => match lang {
            Lang::Zh => format!("报送 {year} 年度年报（{filed_on}）"),
            Lang::En => format!("annual report for {year} filed on {filed_on}"),
        },
        EventBody::CreditRepair {
            repairs_event_id,
            class,
        } => {
            let cl = match class {
                RepairClass::Minor => t("轻微", "minor"),
                RepairClass::General => t("一般", "general"),
                RepairClass::Serious => t("严重", "serious"),
            };
            match lang {
                Lang::Zh => format!("信用修复（{cl}，修复事件 {repairs_event_id}）"),
                Lang::En => format!("credit repair ({cl}) of event {repairs_event_id}"),
            }
        }
        EventBody::LicenceGranted { kind } => format!(
            "{}{kind}{}",
            t("取得许可（", "licence granted ("),
            t("）", ")")
        ),
        EventBody::LicenceRevoked { kind } => format!(
            "{}{kind}{}",
            t("吊销许可（", "licence revoked ("),
            t("）", ")")
        ),
        EventBody::Inspection {
            item_id,
            result_codes,
            draw_id,
            ..
        } => {
            let results: Vec<String> = result_codes
                .iter()
                .map(|r| format!("{} {}", r.as_str(), names::result_meaning(*r, lang)))
                .collect();
            let from = draw_id
                .as_ref()
                .map(|d| format!("{}{d}", t("，抽查 ", ", draw ")))
                .unwrap_or_default();
            match lang {
                Lang::Zh => format!("检查（事项 {item_id}{from}）：{}", results.join("；")),
                Lang::En => format!("inspection (item {item_id}{from}): {}", results.join("; ")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_told_in_both_languages_with_the_same_numbers() {
        let body = EventBody::Penalty {
            decision_number: "成市监罚〔2026〕12号".into(),
            amount_yuan: 25000,
            severity: Severity::Heavier,
            kind: "fine".into(),
        };
        let zh = event_words(&body, Lang::Zh);
        let en = event_words(&body, Lang::En);
        assert!(zh.contains("较重") && zh.contains("25000"), "{zh}");
        assert!(en.contains("heavier") && en.contains("25000"), "{en}");
    }
}
