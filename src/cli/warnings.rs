//! Early-warning commands (`creditrisk warnings ...`): list, show, the lifecycle transitions,
//! overdue, watch, evaluate, back-test and replay. Alerts print as one line each (`--json`:
//! a JSON object per line); errors as one line.

use super::client::{channel, explain, AuthChannel, Target};
use crate::server::pb;
use anyhow::Context;
use pb::warning_service_client::WarningServiceClient;
use serde_json::json;
use std::path::Path;

async fn client(target: &Target) -> anyhow::Result<WarningServiceClient<AuthChannel>> {
    Ok(WarningServiceClient::new(channel(target).await?)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
}

/// An alert as JSON, everything included.
pub fn alert_json(a: &pb::Alert) -> serde_json::Value {
    json!({
        "id": a.id, "rule_id": a.rule_id, "rule_set": a.rule_set, "subject": a.subject,
        "level": a.level, "state": a.state, "evidence": a.evidence,
        "enterprises": a.enterprises, "sectors": a.sectors, "departments": a.departments,
        "district": a.district, "as_of": a.as_of, "cut": a.cut, "raised_on": a.raised_on,
        "assessment": a.assessment, "assessment_reason": a.assessment_reason,
        "overdue": a.overdue, "routed_departments": a.routed_departments,
        "cross_department": a.cross_department,
        "actions": a.actions.iter().map(|x| json!({
            "number": x.number, "kind": x.kind, "deadline": x.deadline, "note": x.note,
            "outcome": x.outcome, "outcome_recorded_on": x.outcome_recorded_on,
            "outcome_actor": x.outcome_actor, "draw_id": x.draw_id})).collect::<Vec<_>>(),
        "history": a.history.iter().map(|t| json!({
            "action": t.action, "state": t.state, "level": t.level, "actor": t.actor,
            "at_unix_ms": t.at_unix_ms, "reason": t.reason})).collect::<Vec<_>>(),
    })
}

fn line(a: &pb::Alert) -> String {
    let district = if a.district.is_empty() {
        String::new()
    } else {
        format!(" district {}", a.district)
    };
    format!(
        "{} {} {} {} {}{district}{}{}",
        a.id,
        a.level,
        a.state,
        a.rule_id,
        a.subject,
        if a.cross_department {
            " CROSS-DEPARTMENT"
        } else {
            ""
        },
        if a.overdue { " OVERDUE" } else { "" }
    )
}

fn print(a: &pb::Alert, as_json: bool) {
    if as_json {
        println!("{}", alert_json(a));
    } else {
        println!("{}", line(a));
    }
}

/// Filters of `warnings list`.
#[derive(Clone, Debug, Default)]
pub struct ListArgs {
    /// Level filter.
    pub level: String,
    /// State filter.
    pub state: String,
    /// Department filter.
    pub department: String,
    /// District filter.
    pub district: String,
    /// Sector filter.
    pub sector: String,
    /// Rule filter.
    pub rule: String,
}

/// `warnings list`: every matching alert, following pages.
pub async fn list(target: &Target, f: ListArgs, as_json: bool) -> anyhow::Result<()> {
    let mut c = client(target).await?;
    let mut token = String::new();
    loop {
        let r = c
            .list_alerts(pb::ListAlertsRequest {
                level: f.level.clone(),
                state: f.state.clone(),
                department: f.department.clone(),
                district: f.district.clone(),
                sector: f.sector.clone(),
                rule_id: f.rule.clone(),
                page_size: 500,
                page_token: token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        for a in &r.alerts {
            print(a, as_json);
        }
        if r.next_page_token.is_empty() {
            return Ok(());
        }
        token = r.next_page_token;
    }
}

/// `warnings show ID`: the alert as JSON.
pub async fn show(target: &Target, id: &str) -> anyhow::Result<()> {
    let a = client(target)
        .await?
        .get_alert(pb::GetAlertRequest {
            alert_id: id.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!("{}", alert_json(&a));
    Ok(())
}

/// A lifecycle transition, named by what it does.
pub enum Transition {
    /// `assess ID --decision confirmed|dismissed --reason TEXT`.
    Assess {
        /// `confirmed` or `dismissed`.
        decision: String,
        /// Why.
        reason: String,
    },
    /// `warn ID --department D...`.
    Warn {
        /// Departments notified.
        departments: Vec<String>,
    },
    /// `dispose ID --kind K --deadline DATE [--note TEXT]`.
    Dispose {
        /// Action kind.
        kind: String,
        /// Deadline.
        deadline: String,
        /// What is to be done.
        note: String,
        /// Also make a joint targeted draw (`--draw`).
        draw: bool,
        /// With `draw`: the planned inspection date.
        inspection_date: String,
        /// With `draw`: the seed (empty: the server's).
        seed: String,
        /// With `draw`: sample the alert's group instead of its enterprises.
        group_scope: bool,
        /// With `draw`: the records date (empty: the alert's evaluation date).
        draw_as_of: String,
    },
    /// `outcome ID --action N --outcome TEXT`.
    Outcome {
        /// Action number.
        action: u32,
        /// What came of it.
        outcome: String,
    },
    /// `close ID [--reason TEXT]`.
    Close {
        /// Why.
        reason: String,
    },
    /// `raise-ratio ID --ratios A,B,C,D --from DATE --until DATE`.
    RaiseRatio {
        /// Ratios per mille for tiers A, B, C and D.
        ratios: [u32; 4],
        /// First inspection date it applies to.
        valid_from: String,
        /// Last inspection date it applies to.
        valid_until: String,
    },
}

/// Parses `A,B,C,D` (per mille, tiers A to D) for `--ratios`.
pub fn parse_ratios(s: &str) -> Result<[u32; 4], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("`{s}`: expected four per-mille ratios A,B,C,D, e.g. 50,100,200,400");
    if parts.len() != 4 {
        return Err(bad());
    }
    let mut out = [0u32; 4];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.parse().map_err(|_| bad())?;
    }
    Ok(out)
}

/// Runs a transition on alert `id`; prints the alert after it (one line, `--json`: whole).
pub async fn transition(
    target: &Target,
    id: &str,
    t: Transition,
    as_json: bool,
) -> anyhow::Result<()> {
    let mut c = client(target).await?;
    let alert_id = id.to_string();
    let drew = matches!(t, Transition::Dispose { draw: true, .. });
    let a = match t {
        Transition::Assess { decision, reason } => {
            c.assess_alert(pb::AssessAlertRequest {
                alert_id,
                decision,
                reason,
            })
            .await
        }
        Transition::Warn { departments } => {
            c.warn_alert(pb::WarnAlertRequest {
                alert_id,
                departments,
            })
            .await
        }
        Transition::Dispose {
            kind,
            deadline,
            note,
            draw,
            inspection_date,
            seed,
            group_scope,
            draw_as_of,
        } => {
            c.dispose_alert(pb::DisposeAlertRequest {
                draw_as_of,
                alert_id,
                kind,
                deadline,
                note,
                draw,
                inspection_date,
                seed,
                group_scope,
            })
            .await
        }
        Transition::Outcome { action, outcome } => {
            c.record_action_outcome(pb::RecordActionOutcomeRequest {
                alert_id,
                action,
                outcome,
            })
            .await
        }
        Transition::Close { reason } => {
            c.close_alert(pb::CloseAlertRequest { alert_id, reason })
                .await
        }
        Transition::RaiseRatio {
            ratios: [a, b, cc, d],
            valid_from,
            valid_until,
        } => {
            c.raise_group_ratio(pb::RaiseGroupRatioRequest {
                alert_id,
                ratio_a: a,
                ratio_b: b,
                ratio_c: cc,
                ratio_d: d,
                valid_from,
                valid_until,
            })
            .await
        }
    }
    .map_err(explain)?
    .into_inner();
    print(&a, as_json);
    // A disposal that made a draw names it on a second line (`draw get ID`).
    if let (false, true, Some(x)) = (as_json, drew, a.actions.last()) {
        if !x.draw_id.is_empty() {
            println!("draw {}", x.draw_id);
        }
    }
    Ok(())
}

/// `warnings overdue`: overdue alerts (escalated first when the caller may change alerts).
pub async fn overdue(target: &Target, as_json: bool) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .list_overdue(pb::ListOverdueAlertsRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    for a in &r.alerts {
        print(a, as_json);
    }
    Ok(())
}

/// `warnings watch`: prints alert changes as they happen (`CURSOR ID ACTION STATE LEVEL RULE
/// SUBJECT`); reconnects and resumes after the last cursor when the connection breaks; ends
/// only for a refused token or a bad argument.
pub async fn watch(target: &Target, mut cursor: u64, min_level: &str) -> anyhow::Result<()> {
    let fatal = |st: &tonic::Status| {
        matches!(
            st.code(),
            tonic::Code::Unauthenticated
                | tonic::Code::PermissionDenied
                | tonic::Code::InvalidArgument
        )
    };
    let mut backoff = std::time::Duration::from_millis(200);
    loop {
        let reason = match client(target).await {
            Err(e) => format!("{e:#}"),
            Ok(mut c) => match c
                .watch_alerts(pb::WatchAlertsRequest {
                    cursor,
                    min_level: min_level.into(),
                })
                .await
            {
                Err(st) if fatal(&st) => return Err(explain(st)),
                Err(st) => format!("{:?}: {}", st.code(), st.message()),
                Ok(resp) => {
                    backoff = std::time::Duration::from_millis(200);
                    let mut s = resp.into_inner();
                    loop {
                        match s.message().await {
                            Ok(Some(e)) => {
                                cursor = cursor.max(e.cursor);
                                println!(
                                    "{} {} {} {} {} {} {}",
                                    e.cursor,
                                    e.alert_id,
                                    e.action,
                                    e.state,
                                    e.level,
                                    e.rule_id,
                                    e.subject
                                );
                            }
                            Ok(None) => break "the server ended the stream".to_string(),
                            Err(st) if fatal(&st) => return Err(explain(st)),
                            Err(st) => break format!("{:?}: {}", st.code(), st.message()),
                        }
                    }
                }
            },
        };
        eprintln!("connection lost: {reason}; reconnecting from cursor {cursor}");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(super::rules::WATCH_MAX_BACKOFF);
    }
}

/// `warnings evaluate [--as-of DATE] [--cut SEQ]`: group signals, stored as alerts.
pub async fn evaluate(target: &Target, as_of: &str, cut: u64) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .evaluate_groups(pb::EvaluateGroupsRequest {
            as_of: as_of.into(),
            cut,
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"rule_set": r.rule_set, "as_of": r.as_of, "cut": r.cut, "facts": r.facts,
               "raised": r.raised, "updated": r.updated, "unchanged": r.unchanged})
    );
    Ok(())
}

/// `warnings backtest --from YYYY-MM --to YYYY-MM [--dir DIR | --rule-set HASH]`: one JSON
/// line per month; stores nothing.
pub async fn backtest(
    target: &Target,
    from: &str,
    to: &str,
    dir: Option<&Path>,
    rule_set: &str,
) -> anyhow::Result<()> {
    let files = match dir {
        Some(d) => crate::classify::rulesets::read_dir_files(d)
            .with_context(|| format!("cannot read the rule folder `{}`", d.display()))?
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    let r = client(target)
        .await?
        .backtest_warnings(pb::BacktestWarningsRequest {
            files,
            rule_set: rule_set.into(),
            from_month: from.into(),
            to_month: to.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    for m in &r.months {
        let counts: Vec<_> = m
            .counts
            .iter()
            .map(|c| json!({"rule_id": c.rule_id, "level": c.level, "count": c.count}))
            .collect();
        println!(
            "{}",
            json!({"rule_set": r.rule_set, "month": m.month, "counts": counts, "fired": m.fired,
                "tiers_run": m.tiers_run})
        );
    }
    Ok(())
}

/// `warnings replay ID`: MATCH or MISMATCH with the differing keys; a mismatch is an error
/// (exit status 1) after the line is printed.
pub async fn replay(target: &Target, id: &str) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .replay_alert(pb::ReplayAlertRequest {
            alert_id: id.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"alert_id": id, "verdict": r.verdict, "differing_keys": r.differing_keys,
               "detail": r.detail})
    );
    if r.verdict != "MATCH" {
        anyhow::bail!(
            "alert `{id}` does not replay: {}",
            r.differing_keys.join(", ")
        );
    }
    Ok(())
}

/// `warnings upload DIR`: checks and stores a warning rule folder; prints its hash.
pub async fn upload(target: &Target, dir: &Path) -> anyhow::Result<()> {
    let files = crate::classify::rulesets::read_dir_files(dir)
        .with_context(|| format!("cannot read the rule folder `{}`", dir.display()))?;
    let r = client(target)
        .await?
        .upload_warning_rule_set(pb::UploadWarningRuleSetRequest {
            files: files.into_iter().collect(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"hash": r.hash, "name": r.name, "effective_from": r.effective_from, "rules": r.rule_ids})
    );
    Ok(())
}

/// `warnings activate HASH`: puts a stored warning rule set in force from its
/// `effective_from`.
pub async fn activate(target: &Target, hash: &str) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .activate_warning_rule_set(pb::ActivateWarningRuleSetRequest { hash: hash.into() })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"hash": r.hash, "name": r.name, "effective_from": r.effective_from, "activated": true})
    );
    Ok(())
}

/// `warnings export ID`: the group alert with its rule, facts or tier counts and evidence as
/// JSON on standard output, for `tools/verify_alert.py`.
pub async fn export(target: &Target, id: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stream = client(target)
        .await?
        .export_alert(pb::ExportAlertRequest {
            alert_id: id.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = stream.message().await.map_err(explain)? {
        out.write_all(&chunk.data)?;
    }
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
