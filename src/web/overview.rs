//! The overview page (`/overview`): the tier mix of the city, overall, by district and by
//! industry section, and its monthly trend, each as a table with a decorative SVG beside it.
//!
//! Everything here is read from aggregates stored with each classification run
//! ([`crate::classify::report`]): the latest whole-population run's stored mix and one stored
//! mix per month for the trend, so the page costs the same at 4 million enterprises as at 60
//! (`creditrisk bench overview`). Without such a run the report falls back to a scan of the
//! current tiers (demo scale only), as the ReportTiers RPC does.

use super::pages::{blocking, share, tier_words, REPORT_TIERS, TIERS, TIER_COLOURS};
use super::{ctx, Ctx, Web};
use crate::classify::report::{TierCounts, TrendPoint, MAX_TREND_MONTHS};
use crate::domain::names;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use maud::{html, Markup};

/// A stacked horizontal bar of `c` scaled to `max`, decorative (the numbers are beside it).
fn bar(c: &TierCounts, max: u64) -> Markup {
    const W: f64 = 240.0;
    let mut x = 0.0;
    let mut parts = Vec::new();
    for (t, n) in c.iter().enumerate() {
        let w = if max == 0 {
            0.0
        } else {
            W * (*n as f64) / (max as f64)
        };
        parts.push((x, w, TIER_COLOURS[t]));
        x += w;
    }
    html! {
        svg width="240" height="16" viewBox="0 0 240 16" aria-hidden="true" focusable="false" {
            @for (x, w, colour) in parts {
                rect x=(format!("{x:.1}")) y="0" width=(format!("{w:.1}")) height="16" fill=(colour) {}
            }
        }
    }
}

/// A table of tier counts, one row per key, with a bar per row. `id_prefix` makes each row's
/// id (`{id_prefix}-{key}`), so the numbers are easy to find.
fn mix_table(
    c: &Ctx,
    caption: &str,
    key_head: &str,
    id_prefix: &str,
    rows: &[(String, String, TierCounts)],
) -> Markup {
    let max = rows
        .iter()
        .map(|(_, _, n)| n.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    html! {
        table {
            caption { (caption) }
            thead { tr {
                th scope="col" { (key_head) }
                @for t in TIERS { th scope="col" { (t) } }
                th scope="col" { (c.t("合计", "Total")) }
                th scope="col" { (c.t("构成", "Mix")) }
            } }
            tbody {
                @for (key, label, n) in rows {
                    tr id=(format!("{id_prefix}-{key}")) {
                        th scope="row" { (label) }
                        @for v in n { td.n { (v) } }
                        td.n { (n.iter().sum::<u64>()) }
                        td { (bar(n, max)) }
                    }
                }
            }
        }
    }
}

fn legend(c: &Ctx) -> Markup {
    html! {
        p.legend {
            @for (t, name) in TIERS.iter().enumerate() {
                span style=(format!("background:{}", TIER_COLOURS[t])) {}
                (name) " " (tier_words(t, c.lang))
            }
        }
    }
}

/// Overview: the tier mix of the city, overall, by district and by industry section, from the
/// same report as the ReportTiers RPC, and the monthly trend from the runs' stored mixes.
pub async fn overview(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(REPORT_TIERS) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cls = c.app().classifier().clone();
    let read = blocking(move || Ok((cls.tier_report(None)?, cls.tier_trend(MAX_TREND_MONTHS)?)));
    let (report, trend_points) = match read.await {
        Ok(r) => r,
        Err(e) => return c.error(e),
    };
    let lang = c.lang;
    let overall = vec![(
        "all".to_string(),
        c.t("全市", "City").to_string(),
        report.mix.overall,
    )];
    let districts: Vec<_> = report
        .mix
        .by_jurisdiction
        .iter()
        .map(|(k, n)| (k.clone(), names::district(k, lang).to_string(), *n))
        .collect();
    let sections: Vec<_> = report
        .mix
        .by_section
        .iter()
        .map(|(k, n)| {
            let label = k
                .chars()
                .next()
                .and_then(|s| names::industry_section(s, lang))
                .map(|name| format!("{k} {name}"))
                .unwrap_or_else(|| {
                    if k.is_empty() {
                        c.t("（未填行业）", "(no industry)").to_string()
                    } else {
                        k.clone()
                    }
                });
            (k.clone(), label, *n)
        })
        .collect();
    let source = match &report.run {
        Some(r) => format!(
            "{} {} ({} {})",
            c.t("分类批次", "Classification run"),
            r.id,
            c.t("截至", "as of"),
            r.as_of
        ),
        None => c.t("当前分类", "Current tiers").to_string(),
    };
    let title = c.t("信用风险分类总览", "Credit-risk tier overview");
    c.page(
        title,
        Some(&p),
        html! {
            h1 { (title) }
            p { (source) "; " (c.t("企业数", "enterprises")) ": " (report.mix.total()) }
            (legend(&c))
            h2 { (c.t("全市", "City")) }
            (mix_table(&c, c.t("全市各类企业数", "Enterprises per tier, whole city"), c.t("范围", "Scope"), "overall", &overall))
            h2 { (c.t("按区（市）县", "By district")) }
            (mix_table(&c, c.t("各区（市）县企业分类", "Tiers by district"), c.t("区（市）县", "District"), "d", &districts))
            h2 { (c.t("按行业门类", "By industry section")) }
            (mix_table(&c, c.t("各行业门类企业分类", "Tiers by industry section"), c.t("行业门类", "Section"), "s", &sections))
            h2 { (c.t("月度趋势", "Monthly trend")) }
            (trend(&c, &trend_points))
        },
    )
}

/// The trend as stacked columns, one per month (oldest left), each column the month's mix in
/// shares of its total; decorative, the table beside it carries the numbers.
fn trend_chart(points: &[TrendPoint]) -> Markup {
    const COL: usize = 28;
    const H: f64 = 120.0;
    let width = (points.len() * COL).max(COL);
    let mut rects = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let total: u64 = p.overall.iter().sum();
        let mut y = 0.0;
        for (t, n) in p.overall.iter().enumerate() {
            let h = if total == 0 {
                0.0
            } else {
                H * (*n as f64) / (total as f64)
            };
            rects.push((i * COL + 2, y, h, TIER_COLOURS[t]));
            y += h;
        }
    }
    html! {
        svg width=(width) height="120" viewBox=(format!("0 0 {width} 120")) aria-hidden="true" focusable="false" {
            @for (x, y, h, colour) in rects {
                rect x=(x) y=(format!("{y:.1}")) width=(COL - 4) height=(format!("{h:.1}")) fill=(colour) {}
            }
        }
    }
}

/// The monthly trend: the chart and, beside it, a table with one row per month (id
/// `t-YYYY-MM`): the counts per tier, the total and the share of C and D.
fn trend(c: &Ctx, points: &[TrendPoint]) -> Markup {
    html! {
        @if points.is_empty() {
            p { (c.t("尚无已完成的全市分类批次，暂无趋势。",
                     "No finished whole-population run yet, so no trend.")) }
        } @else {
            div.chart {
                (trend_chart(points))
                table {
                    caption { (c.t("各月分类构成（每月最新的全市分类批次）",
                                   "Tier mix per month (the latest whole-population run of each month)")) }
                    thead { tr {
                        th scope="col" { (c.t("月份", "Month")) }
                        th scope="col" { (c.t("分类批次", "Run")) }
                        @for t in TIERS { th scope="col" { (t) } }
                        th scope="col" { (c.t("合计", "Total")) }
                        th scope="col" { (c.t("C+D 占比", "C+D share")) }
                    } }
                    tbody {
                        @for p in points {
                            @let month = format!("{:04}-{:02}", p.month.0, p.month.1);
                            @let total: u64 = p.overall.iter().sum();
                            tr id=(format!("t-{month}")) {
                                th scope="row" { (month) }
                                td { (p.run.id) " (" (p.run.as_of) ")" }
                                @for v in p.overall { td.n { (v) } }
                                td.n { (total) }
                                td.pct { (share(p.overall[2] + p.overall[3], total)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_decorative_and_scaled() {
        let m = bar(&[1, 1, 0, 2], 8).into_string();
        assert!(m.contains("aria-hidden=\"true\""));
        assert!(
            m.contains("x=\"60.0\" y=\"0\" width=\"60.0\""),
            "D: 2 of 8 is a quarter of 240: {m}"
        );
    }
}
