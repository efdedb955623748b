//! The audit page (`/audit`, issue 13): the newest signed tree head with its signature
//! checked against the log's public key, an enterprise's classification checked against that
//! head (replay plus an inclusion proof verified here), and the replay of an alert's evidence.
//! It calls the same [`crate::auditsvc::Auditor`] and [`crate::warnsvc::Warnings`] operations
//! as the `AuditService` and `WarningService/ReplayAlert` RPCs and needs their permissions.
//! The checks are GET forms: they read and change nothing, so they need no CSRF token.

use super::{ctx, field, session, Ctx, Web};
use crate::audit::merkle::verify_inclusion;
use crate::audit::verify_head;
use crate::auditsvc::replay::ReplayReport;
use crate::server::convert;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use maud::{html, Markup};

/// The page's permission: the newest signed head.
pub const GET_SIGNED_HEAD: &str = "/creditrisk.v1.AuditService/GetSignedHead";
/// The enterprise check's permission.
pub const REPLAY_CLASSIFICATION: &str = "/creditrisk.v1.AuditService/ReplayClassification";
/// The inclusion proof shown with the enterprise check.
pub const GET_INCLUSION_PROOF: &str = "/creditrisk.v1.AuditService/GetInclusionProof";
/// The alert replay's permission.
pub const REPLAY_ALERT: &str = "/creditrisk.v1.WarningService/ReplayAlert";

/// What calling `method` means, in words, for refusal pages; `None` for other methods.
pub fn method_words(method: &str) -> Option<(&'static str, &'static str)> {
    Some(match method {
        GET_SIGNED_HEAD => ("查看审计日志签名树头", "see the audit log's signed head"),
        REPLAY_CLASSIFICATION => ("重放分类记录", "replay classifications"),
        GET_INCLUSION_PROOF => ("获取包含证明", "get inclusion proofs"),
        REPLAY_ALERT => ("重放预警证据", "replay alerts"),
        _ => return None,
    })
}

fn verdict(c: &Ctx, ok: bool) -> Markup {
    html! {
        @if ok { strong.ok id="verdict" { "MATCH" } " " (c.t("（一致）", "(the same)")) }
        @else { strong.err id="verdict" { "MISMATCH" } " " (c.t("（不一致）", "(differs)")) }
    }
}

fn yes_no(c: &Ctx, ok: bool) -> Markup {
    html! {
        @if ok { span.ok { "✓ " (c.t("是", "yes")) } } @else { span.err { "✗ " (c.t("否", "no")) } }
    }
}

/// An enterprise check: the replay report and, when the entry is in the log, whether its
/// inclusion proof verifies against the head shown.
struct Check {
    report: ReplayReport,
    proof: Option<(u64, bool)>,
}

/// The audit page.
pub async fn audit(State(web): State<Web>, headers: HeaderMap, uri: Uri) -> Response {
    let c = ctx(&web, &headers, &uri);
    let p = match c.authorize(GET_SIGNED_HEAD) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = session::parse_form(uri.query().unwrap_or(""));
    let head = match c.app().audit_op(|a| a.head(None)).await {
        Ok(h) => h,
        Err(e) => return c.error(e),
    };
    let key = c.app().log_public_key();
    let signed = verify_head(&key, &head).is_ok();
    let code_in = field(&q, "code").trim().to_string();
    let check = if code_in.is_empty() {
        None
    } else {
        for m in [REPLAY_CLASSIFICATION, GET_INCLUSION_PROOF] {
            if let Err(r) = c.authorize(m) {
                return r;
            }
        }
        let code = match convert::code_arg(&code_in) {
            Ok(x) => x,
            Err(e) => return c.error(e),
        };
        let (size, root) = (head.head.size, head.head.root);
        let done = c
            .app()
            .audit_op(move |a| {
                let report = a.replay_classification(&code, None, None)?;
                let proof = match report.log_index {
                    Some(i) if i < size => {
                        let hashes = a.inclusion(i, size)?;
                        let leaf = a.entry(i)?.leaf_hash();
                        Some((i, verify_inclusion(i, size, &leaf, &hashes, &root).is_ok()))
                    }
                    _ => None,
                };
                Ok(Check { report, proof })
            })
            .await;
        match done {
            Ok(x) => Some(x),
            Err(e) => return c.error(e),
        }
    };
    let alert_in = field(&q, "alert").trim().to_string();
    let replay = if alert_in.is_empty() {
        None
    } else {
        if let Err(r) = c.authorize(REPLAY_ALERT) {
            return r;
        }
        let id = match convert::alert_id(&alert_in) {
            Ok(x) => x.to_string(),
            Err(e) => return c.error(e),
        };
        match c.app().warn_op(move |w| w.replay(&id)).await {
            Ok(x) => Some(x),
            Err(e) => return c.error(e),
        }
    };
    let title = c.t("审计", "Audit");
    let body = html! {
        h1 { (title) }
        section.card {
            h2 { (c.t("最新签名树头", "Newest signed head")) }
            dl {
                dt { (c.t("条目数", "Size")) } dd id="head-size" { (head.head.size) }
                dt { (c.t("根哈希", "Root")) } dd { code id="head-root" { (hex::encode(head.head.root)) } }
                dt { (c.t("时间", "Time")) } dd { (crate::clock::rfc3339(head.head.at_unix_ms)) }
                dt { (c.t("密钥", "Key id")) } dd { code { (hex::encode(head.key_id)) } }
                dt { (c.t("签名", "Signature")) }
                dd id="head-signature" {
                    @if signed { span.ok { "✓ " (c.t("已用日志公钥验证", "verified with the log's public key")) } }
                    @else { span.err { "✗ " (c.t("验证失败", "does not verify")) } }
                }
            }
        }
        form.card method="get" action="/audit" {
            h2 { (c.t("核验企业分类", "Check an enterprise's classification")) }
            label for="code" { (c.t("统一社会信用代码", "Unified social credit code")) }
            input id="code" name="code" value=(code_in) size="20" required;
            p { button type="submit" { (c.t("核验", "Check")) } }
        }
        @if let Some(k) = &check {
            section.card id="check" {
                h2 { (c.t("核验结果：", "Result: ")) code { (k.report.subject) } }
                p { (verdict(&c, k.report.matched)) }
                dl {
                    dt { (c.t("日志条目", "Log entry")) }
                    dd { @match k.report.log_index { Some(i) => (i), None => (c.t("未找到", "not found")) } }
                    dt { (c.t("存储值与日志摘要一致", "Stored value matches the logged digest")) }
                    dd { (yes_no(&c, k.report.digest_matches_log)) }
                    dt { (c.t("包含在签名树头中", "Included in the signed head")) }
                    dd { (yes_no(&c, k.report.included_in_signed_head)) }
                    @if let Some((i, ok)) = k.proof {
                        dt { (c.t("包含证明（条目 ", "Inclusion proof (entry ")) (i) (c.t("，树大小 ", ", tree size ")) (head.head.size) ")" }
                        dd id="inclusion" { (yes_no(&c, ok)) }
                    }
                }
                @if !k.report.differences.is_empty() {
                    (differences(&c, k.report.differences.iter().map(|d| (d.field.as_str(), d.stored.as_str(), d.replayed.as_str()))))
                }
            }
        }
        form.card method="get" action="/audit" {
            h2 { (c.t("重放预警证据", "Replay an alert's evidence")) }
            label for="alert" { (c.t("预警编号（W…）", "Alert id (W…)")) }
            input id="alert" name="alert" value=(alert_in) size="12" required;
            p { button type="submit" { (c.t("重放", "Replay")) } }
        }
        @if let Some(r) = &replay {
            section.card id="replay" {
                h2 { (c.t("重放结果：", "Replay: ")) code { (alert_in) } }
                p { (verdict(&c, r.differing.is_empty())) }
                p { (r.detail) }
                @if !r.differing.is_empty() {
                    (differences(&c, r.differing.iter().map(|k| (
                        k.as_str(),
                        r.stored.get(k).map(String::as_str).unwrap_or(""),
                        r.recomputed.get(k).map(String::as_str).unwrap_or(""),
                    ))))
                }
            }
        }
    };
    c.page(title, Some(&p), body)
}

fn differences<'a>(c: &Ctx, rows: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Markup {
    html! {
        table {
            caption { (c.t("差异", "Differences")) }
            thead { tr {
                th scope="col" { (c.t("字段", "Field")) }
                th scope="col" { (c.t("存储值", "Stored")) }
                th scope="col" { (c.t("重算值", "Recomputed")) }
            } }
            tbody { @for (f, s, r) in rows { tr { th scope="row" { code { (f) } } td { (s) } td { (r) } } } }
        }
    }
}
