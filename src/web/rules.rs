//! The rules page (`/rules`, issue 13): the stored classification and warning rule sets and
//! their activations, newest first, read from the same [`crate::classify::RuleSets`] stores as
//! `RuleService/ListRuleSets`, whose permission it needs. Warning rule sets have no list RPC;
//! they are shown under the same permission (planner, auditor, admin).

use super::pages::blocking;
use super::{ctx, Ctx, Web};
use crate::classify::rulesets::ActivationRecord;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use maud::{html, Markup};

/// The page's permission.
pub const LIST_RULE_SETS: &str = "/creditrisk.v1.RuleService/ListRuleSets";

/// What calling `method` means, in words, for refusal pages; `None` for other methods.
pub fn method_words(method: &str) -> Option<(&'static str, &'static str)> {
    (method == LIST_RULE_SETS).then_some(("查看规则集", "list rule sets"))
}

/// One stored rule set as listed.
struct SetRow {
    hash: String,
    name: String,
    version: String,
    effective_from: String,
    rules: usize,
}

/// Rule sets (newest uploaded first) and activations (newest first) of one kind.
struct Kind {
    sets: Vec<(i64, SetRow)>,
    activations: Vec<ActivationRecord>,
    active: Option<String>,
}

fn newest_first(mut k: Kind) -> Kind {
    k.sets
        .sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.hash.cmp(&b.1.hash)));
    k.activations.sort_by_key(|a| std::cmp::Reverse(a.seq));
    k
}

/// The rules page.
pub async fn rules(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(LIST_RULE_SETS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let rs = c.app().classifier().rule_sets().clone();
    let ws = c.app().warnings().rule_sets().clone();
    let today = crate::clock::today();
    let read = blocking(move || {
        let mut cls = Kind {
            sets: Vec::new(),
            activations: rs.activations()?,
            active: rs
                .applicable_blocking(today)
                .ok()
                .map(|s| s.hash().to_string()),
        };
        for h in rs.hashes()? {
            let s = rs.get_blocking(&h)?;
            let at = stored_at(&cls.activations, &h);
            cls.sets.push((
                at,
                SetRow {
                    hash: h,
                    name: s.manifest.name.clone(),
                    version: s.manifest.version.clone(),
                    effective_from: s.manifest.effective_from.to_string(),
                    rules: s.rules.len(),
                },
            ));
        }
        let mut warn = Kind {
            sets: Vec::new(),
            activations: ws.activations()?,
            active: ws
                .applicable_blocking(today)
                .ok()
                .map(|s| s.hash().to_string()),
        };
        for h in ws.hashes()? {
            let s = ws.get_blocking(&h)?;
            let at = stored_at(&warn.activations, &h);
            warn.sets.push((
                at,
                SetRow {
                    hash: h,
                    name: s.manifest.name.clone(),
                    version: s.version().to_string(),
                    effective_from: s.manifest.effective_from.to_string(),
                    rules: s.enterprise.len() + s.group.len(),
                },
            ));
        }
        Ok((newest_first(cls), newest_first(warn)))
    })
    .await;
    let (cls, warn) = match read {
        Ok(x) => x,
        Err(e) => return c.error(e),
    };
    let title = c.t("规则", "Rules");
    let body = html! {
        h1 { (title) }
        p {
            a href="/rules/diff" { (c.t("对比两个规则集", "Compare two rule sets")) }
            " · "
            a href="/rules/simulate" { (c.t("模拟候选规则集", "Simulate a candidate rule set")) }
        }
        (section(&c, "classification", c.t("分类规则集", "Classification rule sets"), &cls))
        (section(&c, "warning", c.t("预警规则集", "Warning rule sets"), &warn))
    };
    c.page(title, Some(&p), body)
}

/// When a set was last activated (0 if never): the order of the list, newest first.
fn stored_at(acts: &[ActivationRecord], hash: &str) -> i64 {
    acts.iter()
        .filter(|a| a.hash == hash)
        .map(|a| a.at_ms)
        .max()
        .unwrap_or(0)
}

fn section(c: &Ctx, id: &str, heading: &str, k: &Kind) -> Markup {
    html! {
        section id=(id) {
            h2 { (heading) }
            table {
                caption { (c.t("规则集（最近激活的在前）", "Rule sets (most recently activated first)")) }
                thead { tr {
                    th scope="col" { (c.t("哈希", "Hash")) }
                    th scope="col" { (c.t("名称", "Name")) }
                    th scope="col" { (c.t("版本", "Version")) }
                    th scope="col" { (c.t("生效日期", "Effective from")) }
                    th scope="col" { (c.t("规则数", "Rules")) }
                    th scope="col" { (c.t("今日适用", "In force today")) }
                } }
                tbody {
                    @for (_, s) in &k.sets {
                        tr {
                            td { code { (s.hash.get(..12).unwrap_or(&s.hash)) } }
                            td { (s.name) }
                            td { (s.version) }
                            td { (s.effective_from) }
                            td.n { (s.rules) }
                            td { @if k.active.as_deref() == Some(s.hash.as_str()) { strong { (c.t("是", "yes")) } } }
                        }
                    }
                }
            }
            table {
                caption { (c.t("激活记录（最新在前）", "Activations (newest first)")) }
                thead { tr {
                    th scope="col" { (c.t("序号", "Seq")) }
                    th scope="col" { (c.t("时间", "Time")) }
                    th scope="col" { (c.t("规则集", "Rule set")) }
                    th scope="col" { (c.t("操作人", "By")) }
                } }
                tbody {
                    @for a in &k.activations {
                        tr {
                            td.n { (a.seq) }
                            td { (crate::clock::rfc3339(a.at_ms)) }
                            td { code { (a.hash.get(..12).unwrap_or(&a.hash)) } }
                            td { code { (a.actor) } }
                        }
                    }
                }
            }
        }
    }
}
