//! Rule and classification commands: local checks (`rules check`, `rules test`) that need no
//! server, and client commands for rule sets and classifications.

use super::client::{channel, explain as explain_status, Target};
use crate::classify::rulesets::read_dir_files;
use crate::rules::{run_cases, RuleSet, Severity};
use crate::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use pb::rule_service_client::RuleServiceClient;
use std::path::Path;

/// `rules check DIR`: loads and checks a rule set; false when it has errors.
pub fn check(dir: &Path) -> bool {
    match RuleSet::load(dir) {
        Ok(rs) => {
            for w in &rs.warnings {
                println!("{w}");
            }
            let (r, w) = (rs.rules.len() as u64, rs.warnings.len() as u64);
            println!(
                "ok: {r} {}, {w} {}, hash {}",
                super::import::plural(r, "rule", "rules"),
                super::import::plural(w, "warning", "warnings"),
                rs.hash()
            );
            true
        }
        Err(errs) => {
            for e in &errs {
                println!("{e}");
                if !e.snippet.is_empty() {
                    println!("    {}", e.snippet);
                }
            }
            let n = errs
                .iter()
                .filter(|e| e.severity == Severity::Error)
                .count();
            println!(
                "rejected: {n} {}",
                super::import::plural(n as u64, "error", "errors")
            );
            false
        }
    }
}

/// `rules test`: runs every case file; false when any case fails.
pub fn test(rules: &Path, cases: &Path) -> bool {
    let results = run_cases(rules, cases);
    let mut failed = 0;
    for r in &results {
        if r.passed() {
            println!("ok    {}#{} {}", r.file, r.index, r.description);
        } else {
            failed += 1;
            println!(
                "FAIL  {}#{} {}: {}",
                r.file,
                r.index,
                r.description,
                r.failures.join("; ")
            );
        }
    }
    println!("{} passed, {} failed", results.len() - failed, failed);
    failed == 0 && !results.is_empty()
}

fn files_of(dir: &Path) -> anyhow::Result<pb::RuleSetFiles> {
    Ok(pb::RuleSetFiles {
        files: read_dir_files(dir)?.into_iter().collect(),
        hash: String::new(),
    })
}

/// `rules upload DIR [--activate]`.
pub async fn upload(target: &Target, dir: &Path, activate: bool) -> anyhow::Result<()> {
    let mut c = RuleServiceClient::new(channel(target).await?);
    let info = c
        .upload_rule_set(files_of(dir)?)
        .await
        .map_err(explain_status)?
        .into_inner();
    println!(
        "uploaded {} ({} {}, {} rules)",
        info.hash, info.name, info.version, info.rules
    );
    if activate {
        let a = c
            .activate_rule_set(pb::ActivateRuleSetRequest {
                hash: info.hash.clone(),
            })
            .await
            .map_err(explain_status)?
            .into_inner();
        println!("activated {} (effective from {})", a.hash, a.effective_from);
    }
    Ok(())
}

/// `rules activate HASH`.
pub async fn activate(target: &Target, hash: &str) -> anyhow::Result<()> {
    let mut c = RuleServiceClient::new(channel(target).await?);
    let a = c
        .activate_rule_set(pb::ActivateRuleSetRequest { hash: hash.into() })
        .await
        .map_err(explain_status)?
        .into_inner();
    println!("activated {} (effective from {})", a.hash, a.effective_from);
    Ok(())
}

/// `rules list`.
pub async fn list(target: &Target) -> anyhow::Result<()> {
    let mut c = RuleServiceClient::new(channel(target).await?);
    let r = c
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .map_err(explain_status)?
        .into_inner();
    for s in r.rule_sets {
        println!(
            "{} {} {} effective {} rules {} activations {}{}",
            s.hash,
            s.name,
            s.version,
            s.effective_from,
            s.rules,
            s.activations.len(),
            if s.active { " (in force)" } else { "" }
        );
    }
    Ok(())
}

fn print_classification(c: &pb::Classification) {
    println!(
        "{} tier {} score {} (bands: {}) as of {} rule set {} data seq {}{}",
        c.credit_code,
        c.tier,
        c.score,
        c.band_tier,
        c.as_of,
        &c.rule_set_hash[..c.rule_set_hash.len().min(12)],
        c.data_seq,
        if c.seq == 0 {
            " (not stored)".to_string()
        } else {
            format!(" seq {}", c.seq)
        }
    );
    for f in &c.fired {
        let reads: Vec<String> = f
            .reads
            .iter()
            .map(|r| format!("{} = {}", r.name, r.value))
            .collect();
        let what = match f.effect.as_str() {
            "score" => format!("{:+}", f.contribution),
            "cap" => format!("no better than {}", f.tier),
            _ => format!("tier {}", f.tier),
        };
        println!(
            "  {} {}: {} [{}] ({})",
            f.rule_id,
            what,
            f.title,
            reads.join(", "),
            f.basis
        );
    }
}

/// `classify CODE`.
pub async fn classify(
    target: &Target,
    code: &str,
    as_of: &str,
    candidate: Option<&Path>,
) -> anyhow::Result<()> {
    let mut c = ClassificationServiceClient::new(channel(target).await?);
    let req = pb::ClassifyRequest {
        credit_code: code.into(),
        as_of: as_of.into(),
        candidate: candidate.map(files_of).transpose()?,
    };
    let r = c.classify(req).await.map_err(explain_status)?.into_inner();
    print_classification(&r);
    Ok(())
}

/// `explain CODE`.
pub async fn explain(target: &Target, code: &str) -> anyhow::Result<()> {
    let mut c = ClassificationServiceClient::new(channel(target).await?);
    let r = c
        .explain(pb::GetClassificationRequest {
            credit_code: code.into(),
        })
        .await
        .map_err(explain_status)?
        .into_inner();
    if let Some(cl) = &r.classification {
        print_classification(cl);
    }
    for w in r.why.iter().chain(&r.next_words) {
        println!("{w}");
    }
    Ok(())
}

/// `history CODE`.
pub async fn history(target: &Target, code: &str) -> anyhow::Result<()> {
    let mut c = ClassificationServiceClient::new(channel(target).await?);
    let r = c
        .list_classifications(pb::ListClassificationsRequest {
            credit_code: code.into(),
            page_size: 500,
            page_token: String::new(),
        })
        .await
        .map_err(explain_status)?
        .into_inner();
    for cl in &r.classifications {
        print_classification(cl);
    }
    Ok(())
}

/// `reclassify`: streams progress until the run finishes.
pub async fn reclassify(
    target: &Target,
    jurisdiction: &str,
    as_of: &str,
    run_id: u64,
) -> anyhow::Result<()> {
    let mut c = ClassificationServiceClient::new(channel(target).await?);
    let req = pb::ReclassifyRequest {
        scope: Some(pb::Scope {
            jurisdiction: jurisdiction.into(),
        }),
        as_of: as_of.into(),
        run_id,
    };
    let mut s = c
        .reclassify(req)
        .await
        .map_err(explain_status)?
        .into_inner();
    while let Some(p) = s.message().await.map_err(explain_status)? {
        println!(
            "run {} {}/{} changed {} tiers A {} B {} C {} D {}{}",
            p.run_id,
            p.done,
            p.total,
            p.changed,
            p.tiers.first().unwrap_or(&0),
            p.tiers.get(1).unwrap_or(&0),
            p.tiers.get(2).unwrap_or(&0),
            p.tiers.get(3).unwrap_or(&0),
            if p.finished { " finished" } else { "" }
        );
    }
    Ok(())
}

/// `simulate DIR`.
pub async fn simulate(
    target: &Target,
    dir: &Path,
    jurisdiction: &str,
    as_of: &str,
) -> anyhow::Result<()> {
    let mut c = ClassificationServiceClient::new(channel(target).await?);
    let r = c
        .simulate(pb::SimulateRequest {
            candidate: Some(files_of(dir)?),
            scope: Some(pb::Scope {
                jurisdiction: jurisdiction.into(),
            }),
            as_of: as_of.into(),
            max_changes: 20,
        })
        .await
        .map_err(explain_status)?
        .into_inner();
    println!(
        "{} enterprises, {} would change tier",
        r.enterprises, r.changed
    );
    println!("from\\to        A        B        C        D");
    for (i, t) in ["A", "B", "C", "D"].iter().enumerate() {
        let row: Vec<String> = r.matrix[i * 4..i * 4 + 4]
            .iter()
            .map(|n| format!("{n:>8}"))
            .collect();
        println!("{t:<7} {}", row.join(" "));
    }
    for m in &r.changes {
        println!("  {} {} -> {}", m.credit_code, m.from, m.to);
    }
    Ok(())
}

/// `watch`: prints tier changes as they happen, one line each on standard output; connection
/// notes go to standard error. Never ends by itself: see [`watch_with`].
pub async fn watch(
    target: &Target,
    cursor: u64,
    jurisdiction: &str,
    direction: &str,
) -> anyhow::Result<()> {
    watch_with(
        target,
        cursor,
        jurisdiction,
        direction,
        &mut |t| {
            println!(
                "{} {} {} {} -> {} as of {}",
                t.cursor, t.credit_code, t.jurisdiction, t.from, t.to, t.as_of
            )
        },
        &mut |note| eprintln!("{note}"),
    )
    .await
}

/// Longest wait between two tries to reconnect.
pub const WATCH_MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(5);

/// Follows tier changes after `cursor`, calling `on_change` for each. When the stream ends or
/// breaks (a server restart, a network fault) it says so through `on_note` (`connection lost:
/// ...; reconnecting from cursor N`), tries again with a growing pause (at most
/// [`WATCH_MAX_BACKOFF`]), resumes after the last cursor seen, and says `reconnected`. It
/// returns only with an error, for an answer no retry can mend: a missing or refused token
/// (`UNAUTHENTICATED`, `PERMISSION_DENIED`) or a bad argument (`INVALID_ARGUMENT`), or a
/// target that is not a server address.
pub async fn watch_with(
    target: &Target,
    mut cursor: u64,
    jurisdiction: &str,
    direction: &str,
    on_change: &mut (dyn FnMut(&pb::TierChange) + Send),
    on_note: &mut (dyn FnMut(&str) + Send),
) -> anyhow::Result<()> {
    const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_millis(200);
    let fatal = |st: &tonic::Status| {
        matches!(
            st.code(),
            tonic::Code::Unauthenticated
                | tonic::Code::PermissionDenied
                | tonic::Code::InvalidArgument
        )
    };
    let mut backoff = FIRST_BACKOFF;
    let mut lost = false;
    loop {
        let reason = match channel(target).await {
            // A malformed address or unreadable TLS files will not mend either.
            Err(e)
                if !lost
                    && e.chain()
                        .all(|c| !c.to_string().starts_with("cannot connect")) =>
            {
                return Err(e);
            }
            Err(e) => format!("{e:#}"),
            Ok(ch) => {
                let mut c = ClassificationServiceClient::new(ch);
                let req = pb::WatchTierChangesRequest {
                    cursor,
                    jurisdiction: jurisdiction.into(),
                    direction: direction.into(),
                };
                match c.watch_tier_changes(req).await {
                    Err(st) if fatal(&st) => return Err(explain_status(st)),
                    Err(st) => format!("{:?}: {}", st.code(), st.message()),
                    Ok(resp) => {
                        if lost {
                            on_note(&format!("reconnected; resuming after cursor {cursor}"));
                            lost = false;
                        }
                        backoff = FIRST_BACKOFF;
                        let mut s = resp.into_inner();
                        loop {
                            match s.message().await {
                                Ok(Some(t)) => {
                                    cursor = cursor.max(t.cursor);
                                    on_change(&t);
                                }
                                Ok(None) => break "the server ended the stream".to_string(),
                                Err(st) if fatal(&st) => return Err(explain_status(st)),
                                Err(st) => break format!("{:?}: {}", st.code(), st.message()),
                            }
                        }
                    }
                }
            }
        };
        if !lost {
            on_note(&format!(
                "connection lost: {reason}; reconnecting from cursor {cursor}"
            ));
            lost = true;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(WATCH_MAX_BACKOFF);
    }
}

/// `rules export DIR [--force]`: writes the rule files built into the binary under `DIR`
/// (`DIR/default` is the rule set, `DIR/warnings` the warning rule set; `DIR` itself works as
/// `supervision_dir`).
pub fn export(dir: &Path, force: bool) -> anyhow::Result<()> {
    let written = crate::rules::embedded::export(dir, force)?;
    for p in &written {
        println!("{}", p.display());
    }
    println!(
        "wrote {} files; serve with rules_dir = \"{}\" and supervision_dir = \"{}\" to use them",
        written.len(),
        dir.join("default").display(),
        dir.display()
    );
    Ok(())
}

/// `report tiers [--run N] [--json]`: the tier mix as readable tables (or JSON).
pub async fn report_tiers(target: &Target, run: Option<u64>, json: bool) -> anyhow::Result<()> {
    let mut c = ClassificationServiceClient::new(channel(target).await?);
    let r = c
        .report_tiers(pb::ReportTiersRequest {
            run_id: run.unwrap_or(0),
        })
        .await
        .map_err(explain_status)?
        .into_inner();
    let counts = |c: &Option<pb::TierCounts>| {
        let c = c.unwrap_or_default();
        [c.a, c.b, c.c, c.d]
    };
    if json {
        let rows = |rows: &[pb::TierMixRow]| {
            rows.iter()
                .map(|row| {
                    let [a, b, c, d] = counts(&row.counts);
                    serde_json::json!({"key": row.key, "A": a, "B": b, "C": c, "D": d})
                })
                .collect::<Vec<_>>()
        };
        let [a, b, c, d] = counts(&r.overall);
        println!(
            "{}",
            serde_json::json!({
                "run_id": r.run_id,
                "as_of": r.as_of,
                "jurisdiction": r.jurisdiction,
                "finished": r.finished,
                "rule_set_hash": r.rule_set_hash,
                "overall": {"A": a, "B": b, "C": c, "D": d},
                "by_jurisdiction": rows(&r.by_jurisdiction),
                "by_industry_section": rows(&r.by_industry_section),
            })
        );
        return Ok(());
    }
    if r.run_id == 0 {
        println!("current tiers (no finished whole-population run)");
    } else {
        println!(
            "run {} as of {}{}{}",
            r.run_id,
            r.as_of,
            if r.jurisdiction.is_empty() {
                String::new()
            } else {
                format!(", jurisdiction {}", r.jurisdiction)
            },
            if r.finished { "" } else { " (still running)" }
        );
    }
    let overall = pb::TierMixRow {
        key: "all".into(),
        counts: r.overall,
    };
    print_mix_table("overall", std::slice::from_ref(&overall), &counts);
    println!();
    print_mix_table("district", &r.by_jurisdiction, &counts);
    println!();
    print_mix_table("section", &r.by_industry_section, &counts);
    Ok(())
}

fn print_mix_table(
    title: &str,
    rows: &[pb::TierMixRow],
    counts: &dyn Fn(&Option<pb::TierCounts>) -> [u64; 4],
) {
    let w = rows
        .iter()
        .map(|r| r.key.chars().count())
        .chain([title.len()])
        .max()
        .unwrap_or(0);
    println!(
        "{title:<w$} {:>9} {:>9} {:>9} {:>9} {:>10} {:>6}",
        "A", "B", "C", "D", "total", "D %"
    );
    for row in rows {
        let c = counts(&row.counts);
        let total: u64 = c.iter().sum();
        let d_share = if total == 0 {
            0.0
        } else {
            100.0 * c[3] as f64 / total as f64
        };
        let key = if row.key.is_empty() { "-" } else { &row.key };
        println!(
            "{key:<w$} {:>9} {:>9} {:>9} {:>9} {:>10} {:>5.1}%",
            c[0], c[1], c[2], c[3], total, d_share
        );
    }
}
