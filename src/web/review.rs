//! Reviewing a classification rule set before it is activated (`/rules/diff`,
//! `/rules/simulate`): what changed between two stored sets (manifest and parameters, rules
//! added, removed and changed, with their text), and a simulation of a stored set against the
//! one in force, shown as its 4x4 matrix (from tier x to tier y) with counts.
//!
//! The diff reads two sets as `RuleService/GetRuleSet` does and needs its permission; the
//! simulation runs the operation behind `ClassificationService/Simulate`
//! ([`crate::classify::Classifier::simulate_scope`]) and needs that one. A simulation of 4
//! million enterprises takes about 20 s, so the console runs one at a time (a second request
//! meanwhile gets 429) and the form is a POST with its CSRF token, never a link.

use super::pages::{blocking, share, TIERS};
use super::{ctx, field, Ctx, Web};
use crate::audit::access::Principal;
use crate::classify::Simulation;
use crate::domain::Date;
use crate::error::Error;
use crate::rules::diff::{diff, effect_text, RuleSetDiff};
use crate::rules::{Rule, RuleSet};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{html, Markup};
use std::sync::Arc;

/// The diff's permission: it reads two rule sets.
pub const GET_RULE_SET: &str = "/creditrisk.v1.RuleService/GetRuleSet";
/// The simulation's permission.
pub const SIMULATE: &str = "/creditrisk.v1.ClassificationService/Simulate";
/// Changed enterprises listed under a simulation's matrix.
const SIM_CHANGES: usize = 20;

/// What calling `method` means, in words, for refusal pages; `None` for other methods.
pub fn method_words(method: &str) -> Option<(&'static str, &'static str)> {
    match method {
        GET_RULE_SET => Some(("查看规则集内容", "read rule sets")),
        SIMULATE => Some(("模拟规则集", "simulate a rule set")),
        _ => None,
    }
}

/// A rule-set hash from a form: 1 to 64 lower-case hex digits.
fn hash_arg(name: &str, v: &str) -> crate::Result<String> {
    if v.is_empty() {
        return Err(Error::invalid(name, "choose a rule set"));
    }
    if v.len() > 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::invalid(
            name,
            format!(
                "`{}` is not a rule-set hash (up to 64 hex digits)",
                crate::domain::validate::truncate(v, 80).escape_default()
            ),
        ));
    }
    Ok(v.to_string())
}

/// The stored classification rule sets, newest activation first: (hash, label).
fn stored_sets(
    web: &Web,
) -> impl std::future::Future<Output = crate::Result<Vec<(String, String)>>> {
    let rs = web.app.classifier().rule_sets().clone();
    blocking(move || {
        let acts = rs.activations()?;
        let mut out = Vec::new();
        for h in rs.hashes()? {
            let s = rs.get_blocking(&h)?;
            let at = acts.iter().filter(|a| a.hash == h).map(|a| a.at_ms).max();
            let label = format!(
                "{} {} ({})",
                s.manifest.name,
                s.manifest.version,
                h.get(..12).unwrap_or(&h)
            );
            out.push((at.unwrap_or(0), h, label));
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(out.into_iter().map(|(_, h, l)| (h, l)).collect())
    })
}

fn select(id: &str, label: &str, sets: &[(String, String)], chosen: &str) -> Markup {
    html! {
        label for=(id) { (label) }
        select id=(id) name=(id) required {
            @for (h, l) in sets {
                option value=(h) selected[h == chosen] { (l) }
            }
        }
    }
}

/// `/rules/diff?from=HASH&to=HASH`: the form, and the differences once both are chosen.
pub async fn diff_page(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(GET_RULE_SET) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let sets = match stored_sets(&web).await {
        Ok(s) => s,
        Err(e) => return c.error(e),
    };
    let query = super::session::parse_form(uri.query().unwrap_or(""));
    let (from, to) = (field(&query, "from"), field(&query, "to"));
    let mut result = None;
    if !from.is_empty() || !to.is_empty() {
        let pair = hash_arg("from", from).and_then(|f| Ok((f, hash_arg("to", to)?)));
        let (f, t) = match pair {
            Ok(x) => x,
            Err(e) => return c.error(e),
        };
        let rs = web.app.classifier().rule_sets().clone();
        match blocking(move || Ok((rs.get_blocking(&f)?, rs.get_blocking(&t)?))).await {
            Ok((a, b)) => result = Some((diff(&a, &b), a, b)),
            Err(e) => return c.error(e),
        }
    }
    let title = c.t("规则集对比", "Compare rule sets");
    c.page(
        title,
        Some(&p),
        html! {
            h1 { (title) }
            form method="get" action="/rules/diff" {
                p { (select("from", c.t("原规则集", "From"), &sets, from)) }
                p { (select("to", c.t("新规则集", "To"), &sets, to)) }
                p { button type="submit" { (c.t("对比", "Compare")) } }
            }
            @if let Some((d, a, b)) = &result {
                (diff_view(&c, d, a, b))
            }
        },
    )
}

fn rule_text(c: &Ctx, r: &Rule) -> Markup {
    html! {
        dl.rule {
            dt { (c.t("标题", "Title")) } dd { (r.title) }
            dt { (c.t("依据", "Basis")) } dd { (r.basis) }
            dt { (c.t("范围", "Scope")) } dd { code { (r.scope) } }
            dt { (c.t("条件", "When")) } dd { code { (r.when) } }
            dt { (c.t("效果", "Effect")) } dd { code { (effect_text(&r.effect)) } }
        }
    }
}

fn diff_view(c: &Ctx, d: &RuleSetDiff, a: &RuleSet, b: &RuleSet) -> Markup {
    html! {
        h2 id="diff" {
            (a.manifest.name) " " (a.manifest.version) " → " (b.manifest.name) " " (b.manifest.version)
        }
        p {
            (c.t("新增规则", "Rules added")) " " span #added-count { (d.added.len()) } "; "
            (c.t("删除规则", "removed")) " " span #removed-count { (d.removed.len()) } "; "
            (c.t("修改规则", "changed")) " " span #changed-count { (d.changed.len()) } "; "
            (c.t("参数变更", "manifest changes")) " " span #manifest-count { (d.manifest.len()) }
        }
        @if d.is_empty() {
            p { (c.t("两个规则集含义相同。", "The two rule sets mean the same.")) }
        }
        @if !d.manifest.is_empty() {
            table #manifest {
                caption { (c.t("清单与参数的变更", "Manifest and parameter changes")) }
                thead { tr {
                    th scope="col" { (c.t("字段", "Field")) }
                    th scope="col" { (c.t("原值", "Was")) }
                    th scope="col" { (c.t("新值", "Now")) }
                } }
                tbody {
                    @for f in &d.manifest {
                        tr { th scope="row" { code { (f.field) } } td { (f.old) } td { (f.new) } }
                    }
                }
            }
        }
        @if !d.added.is_empty() {
            h3 { (c.t("新增的规则", "Rules added")) }
            @for r in &d.added {
                section.added id=(format!("added-{}", r.id)) {
                    h4 { code { (r.id) } }
                    (rule_text(c, r))
                }
            }
        }
        @if !d.removed.is_empty() {
            h3 { (c.t("删除的规则", "Rules removed")) }
            @for r in &d.removed {
                section.removed id=(format!("removed-{}", r.id)) {
                    h4 { code { (r.id) } }
                    (rule_text(c, r))
                }
            }
        }
        @if !d.changed.is_empty() {
            h3 { (c.t("修改的规则", "Rules changed")) }
            @for ch in &d.changed {
                section.changed id=(format!("changed-{}", ch.new.id)) {
                    h4 { code { (ch.new.id) } }
                    table {
                        caption { (c.t("变更的字段", "Fields changed")) }
                        thead { tr {
                            th scope="col" { (c.t("字段", "Field")) }
                            th scope="col" { (c.t("原值", "Was")) }
                            th scope="col" { (c.t("新值", "Now")) }
                        } }
                        tbody {
                            @for f in &ch.fields {
                                tr { th scope="row" { code { (f.field) } } td { code { (f.old) } } td { code { (f.new) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a simulation form asked for, checked.
struct SimArgs {
    candidate: String,
    jurisdiction: Option<String>,
    as_of: Date,
}

fn sim_args(form: &[(String, String)]) -> crate::Result<SimArgs> {
    let candidate = hash_arg("candidate", field(form, "candidate"))?;
    let j = field(form, "jurisdiction").trim();
    let jurisdiction = if j.is_empty() {
        None
    } else {
        crate::domain::validate::check_ident(j).map_err(|e| Error::invalid("jurisdiction", e))?;
        Some(j.to_string())
    };
    let a = field(form, "as_of").trim();
    let as_of = if a.is_empty() {
        crate::clock::today()
    } else {
        Date::parse(a).map_err(|e| Error::invalid("as_of", e))?
    };
    Ok(SimArgs {
        candidate,
        jurisdiction,
        as_of,
    })
}

fn sim_form(c: &Ctx, sets: &[(String, String)], form: &[(String, String)]) -> Markup {
    let csrf = c.csrf().unwrap_or_default();
    let as_of = match field(form, "as_of") {
        "" => crate::clock::today().to_string(),
        a => a.to_string(),
    };
    html! {
        form method="post" action="/rules/simulate" {
            input type="hidden" name="csrf" value=(csrf);
            p { (select("candidate", c.t("候选规则集", "Candidate rule set"), sets, field(form, "candidate"))) }
            p {
                label for="jurisdiction" { (c.t("区（市）县代码（留空为全市）", "District code (empty: the whole city)")) }
                input #jurisdiction name="jurisdiction" type="text" size="12" maxlength="64" value=(field(form, "jurisdiction"));
            }
            p {
                label for="as_of" { (c.t("截至日期", "As of")) }
                input #as_of name="as_of" type="date" value=(as_of);
            }
            p { button type="submit" { (c.t("模拟", "Simulate")) } }
        }
    }
}

/// `GET /rules/simulate`: the form.
pub async fn simulate_page(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(SIMULATE) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let sets = match stored_sets(&web).await {
        Ok(s) => s,
        Err(e) => return c.error(e),
    };
    sim_response(&c, &p, &sets, &[], None)
}

fn sim_response(
    c: &Ctx,
    p: &Principal,
    sets: &[(String, String)],
    form: &[(String, String)],
    result: Option<(&Simulation, &str, &str)>,
) -> Response {
    let title = c.t("规则集模拟", "Simulate a rule set");
    c.page(
        title,
        Some(p),
        html! {
            h1 { (title) }
            p { (c.t("用候选规则集与现行规则集分别对同一批企业分类，只比较，不保存。",
                     "Classifies the same enterprises with the candidate and with the rule set in force, and compares; nothing is stored.")) }
            (sim_form(c, sets, form))
            @if let Some((sim, current, candidate)) = result {
                (matrix(c, sim, current, candidate))
            }
        },
    )
}

/// The 4x4 matrix: rows the tier under the rule set in force, columns under the candidate.
fn matrix(c: &Ctx, sim: &Simulation, current: &str, candidate: &str) -> Markup {
    html! {
        h2 id="result" { (c.t("模拟结果", "Result")) }
        p {
            (c.t("现行规则集", "In force")) " " code { (current.get(..12).unwrap_or(current)) } "; "
            (c.t("候选规则集", "candidate")) " " code { (candidate.get(..12).unwrap_or(candidate)) } "; "
            (c.t("企业数", "enterprises")) " " span #sim-enterprises { (sim.enterprises) } "; "
            (c.t("分类变化", "tier changes")) " " span #sim-changed { (sim.changed) }
            " (" (share(sim.changed, sim.enterprises)) ")"
        }
        table #matrix {
            caption { (c.t("分类迁移矩阵（行：现行规则集；列：候选规则集）",
                           "Tier moves (rows: rule set in force; columns: candidate)")) }
            thead { tr {
                th scope="col" { (c.t("现行 \\ 候选", "In force \\ candidate")) }
                @for t in TIERS { th scope="col" { (t) } }
                th scope="col" { (c.t("合计", "Total")) }
            } }
            tbody {
                @for (i, row) in sim.matrix.iter().enumerate() {
                    tr id=(format!("m-{}", TIERS[i])) {
                        th scope="row" { (TIERS[i]) }
                        @for (j, v) in row.iter().enumerate() {
                            @if i == j { td.n.same { (v) } } @else { td.n { (v) } }
                        }
                        td.n { (row.iter().sum::<u64>()) }
                    }
                }
            }
        }
        @if !sim.changes.is_empty() {
            table {
                caption { (c.t("分类变化的企业（前 20 家，按代码）", "Enterprises whose tier changes (first 20, by code)")) }
                thead { tr {
                    th scope="col" { (c.t("统一社会信用代码", "Credit code")) }
                    th scope="col" { (c.t("现行", "In force")) }
                    th scope="col" { (c.t("候选", "Candidate")) }
                } }
                tbody {
                    @for (code, from, to) in &sim.changes {
                        tr { th scope="row" { code { (code.as_str()) } } td { (from.as_str()) } td { (to.as_str()) } }
                    }
                }
            }
        }
    }
}

/// `POST /rules/simulate`: runs the simulation and shows the form again with the matrix.
pub async fn simulate(
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
    let p = match c.authorize(SIMULATE) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let args = match sim_args(&form) {
        Ok(a) => a,
        Err(e) => return c.error(e),
    };
    let sets = match stored_sets(&web).await {
        Ok(s) => s,
        Err(e) => return c.error(e),
    };
    // One simulation at a time from the console: each reads the whole scope.
    let Ok(_permit) = web.simulations.clone().try_acquire_owned() else {
        let mut r = c.error(Error::FailedPrecondition(
            "a simulation is already running: try again when it has finished".into(),
        ));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return r;
    };
    let cls = web.app.classifier().clone();
    let run = blocking(move || {
        let candidate: Arc<RuleSet> = cls.rule_sets().get_blocking(&args.candidate)?;
        let (sim, current) = cls.simulate_scope(
            args.jurisdiction.as_deref(),
            &candidate,
            args.as_of,
            SIM_CHANGES,
        )?;
        Ok((
            sim,
            current.hash().to_string(),
            candidate.hash().to_string(),
        ))
    })
    .await;
    match run {
        Ok((sim, current, candidate)) => {
            sim_response(&c, &p, &sets, &form, Some((&sim, &current, &candidate)))
        }
        Err(e) => c.error(e),
    }
}
