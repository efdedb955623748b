//! Draw commands: items, preview, create, get, list, export (bundle, CSV and XLSX lists),
//! assignments, results, publication, overdue and public lists. Output is JSON lines, except
//! `export`, which writes files.

use super::client::{channel, explain, read_lines, AuthChannel, Target};
use crate::server::pb;
use anyhow::Context;
use pb::draw_service_client::DrawServiceClient;
use serde_json::json;
use std::path::Path;

async fn client(target: &Target) -> anyhow::Result<DrawServiceClient<AuthChannel>> {
    Ok(DrawServiceClient::new(channel(target).await?)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
}

/// `draw items upload FILE`: sends an item list file (`[[item]]` tables, see
/// `rules/items.toml`), checked locally first.
pub async fn upload_items(target: &Target, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    let items = crate::drawsvc::Draws::parse_items(&file.display().to_string(), &text)?;
    let records = items.iter().map(crate::server::convert::item_to).collect();
    let out = client(target)
        .await?
        .upsert_items(pb::UpsertItemsRequest { records })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"accepted": out.accepted, "duplicates": out.duplicates})
    );
    Ok(())
}

/// `draw items list`.
pub async fn list_items(target: &Target) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .list_items(pb::ListItemsRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    for i in r.items {
        println!(
            "{}",
            json!({"id": i.id, "name": i.name, "departments": i.departments,
                   "kind": if i.kind == pb::ItemKind::Key as i32 { "key" } else { "general" },
                   "qualifications": i.qualifications})
        );
    }
    Ok(())
}

fn tiers_json(t: &[pb::TierCount]) -> serde_json::Value {
    t.iter()
        .map(|t| {
            json!({"tier": t.tier, "candidates": t.candidates, "excluded": t.excluded,
                   "eligible": t.eligible, "per_mille": t.per_mille, "k": t.k})
        })
        .collect()
}

/// `draw preview`: the counts per tier, nothing stored.
pub async fn preview(target: &Target, spec: pb::DrawSpec) -> anyhow::Result<()> {
    let p = client(target)
        .await?
        .preview_draw(spec)
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"total_candidates": p.total_candidates, "out_of_scope": p.out_of_scope,
               "unclassified": p.unclassified, "cut": p.cut, "tiers": tiers_json(&p.tiers)})
    );
    Ok(())
}

fn summary(d: &pb::Draw) -> serde_json::Value {
    json!({"draw_id": d.draw_id, "item_id": d.item_id, "seed": d.seed,
           "seed_source": d.seed_source, "as_of": d.as_of,
           "inspection_date": d.inspection_date, "departments": d.departments,
           "candidate_digest": d.candidate_digest, "roster_digest": d.roster_digest,
           "selected": d.selected_count, "unstaffed": d.unstaffed_count,
           "publication_deadline": d.publication_deadline, "tiers": tiers_json(&d.tiers),
           "created_by": d.created_by})
}

/// A team as JSON: one `{department, members}` object per department.
fn team_json(team: &[pb::DepartmentMembers]) -> serde_json::Value {
    team.iter()
        .map(|m| json!({"department": m.department, "members": m.inspector_ids}))
        .collect()
}

fn print_draw(d: &pb::Draw) {
    println!("{}", summary(d));
    for e in &d.selected {
        let team = team_json(&e.team);
        println!(
            "{}",
            json!({"credit_code": e.credit_code, "name": e.name, "tier": e.tier,
                   "ticket": e.ticket, "team": team, "unstaffed_reason": e.unstaffed_reason})
        );
    }
}

/// `draw create`: draws and stores; prints the summary, then one line per drawn enterprise.
pub async fn create(target: &Target, spec: pb::DrawSpec) -> anyhow::Result<()> {
    let d = client(target)
        .await?
        .create_draw(spec)
        .await
        .map_err(explain)?
        .into_inner();
    print_draw(&d);
    Ok(())
}

/// `draw get ID`.
pub async fn get(target: &Target, id: &str) -> anyhow::Result<()> {
    let d = client(target)
        .await?
        .get_draw(pb::GetDrawRequest { draw_id: id.into() })
        .await
        .map_err(explain)?
        .into_inner();
    print_draw(&d);
    Ok(())
}

/// `draw list`: every stored draw's summary.
pub async fn list(target: &Target) -> anyhow::Result<()> {
    let mut c = client(target).await?;
    let mut token = String::new();
    loop {
        let r = c
            .list_draws(pb::ListDrawsRequest {
                page_size: 0,
                page_token: token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        for d in &r.draws {
            println!("{}", summary(d));
        }
        if r.next_page_token.is_empty() {
            return Ok(());
        }
        token = r.next_page_token;
    }
}

/// `draw export ID --out DIR [--lang zh|en]`: writes `bundle.json`, `selected.csv`,
/// `excluded.csv` and `inspection-list.xlsx` (headers in `lang`) into `DIR`.
pub async fn export(target: &Target, id: &str, out: &Path, lang: &str) -> anyhow::Result<()> {
    let mut stream = client(target)
        .await?
        .export_draw(pb::ExportDrawRequest {
            draw_id: id.into(),
            lang: lang.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    while let Some(chunk) = stream.message().await.map_err(explain)? {
        files.entry(chunk.file).or_default().extend(chunk.data);
    }
    for (name, data) in files {
        // Names come from the server: accept plain file names only.
        anyhow::ensure!(
            !name.is_empty() && !name.contains(['/', '\\']) && name != ".." && name != ".",
            "the server sent an unsafe file name `{name}`"
        );
        let path = out.join(&name);
        std::fs::write(&path, &data)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        println!(
            "{}",
            json!({"file": path.display().to_string(), "bytes": data.len()})
        );
    }
    Ok(())
}

/// `draw assignments INSPECTOR`.
pub async fn assignments(target: &Target, inspector: &str) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .list_assignments(pb::ListAssignmentsRequest {
            inspector_id: inspector.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    for a in r.assignments {
        let team = team_json(&a.team);
        println!(
            "{}",
            json!({"draw_id": a.draw_id, "item": a.item_name, "credit_code": a.credit_code,
                   "name": a.name, "address": a.address, "inspection_date": a.inspection_date,
                   "publication_deadline": a.publication_deadline, "team": team,
                   "inspection_id": a.inspection_id, "result_codes": a.result_codes,
                   "published_on": a.published_on})
        );
    }
    Ok(())
}

/// One result line of `draw results`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultLine {
    credit_code: String,
    #[serde(default)]
    inspection_id: String,
    date: String,
    inspector_ids: Vec<String>,
    result_codes: Vec<String>,
}

/// `draw results ID FILE`: records results read as JSON lines
/// (`{"credit_code", "date", "inspector_ids", "result_codes", "inspection_id"?}`).
pub async fn results(target: &Target, id: &str, file: &str) -> anyhow::Result<()> {
    let lines: Vec<ResultLine> = read_lines(file)?;
    let results = lines
        .into_iter()
        .map(|l| pb::DrawResult {
            credit_code: l.credit_code,
            inspection_id: l.inspection_id,
            date: l.date,
            inspector_ids: l.inspector_ids,
            result_codes: l.result_codes,
        })
        .collect();
    let out = client(target)
        .await?
        .record_results(pb::RecordResultsRequest {
            draw_id: id.into(),
            results,
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"accepted": out.accepted, "duplicates": out.duplicates, "seqs": out.seqs})
    );
    Ok(())
}

/// `draw publish ID --on DATE CODE...`.
pub async fn publish(
    target: &Target,
    id: &str,
    on: &str,
    codes: Vec<String>,
) -> anyhow::Result<()> {
    let out = client(target)
        .await?
        .publish_results(pb::PublishResultsRequest {
            draw_id: id.into(),
            credit_codes: codes,
            published_on: on.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"accepted": out.accepted, "duplicates": out.duplicates})
    );
    Ok(())
}

/// `draw overdue [--today DATE]`.
pub async fn overdue(target: &Target, today: &str) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .list_overdue(pb::ListOverdueRequest {
            today: today.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    for o in r.overdue {
        println!(
            "{}",
            json!({"draw_id": o.draw_id, "credit_code": o.credit_code,
                   "inspection_id": o.inspection_id, "inspection_date": o.inspection_date,
                   "deadline": o.deadline, "published_on": o.published_on})
        );
    }
    Ok(())
}

/// `draw public ID`: the public result list.
pub async fn public(target: &Target, id: &str) -> anyhow::Result<()> {
    let r = client(target)
        .await?
        .public_results(pb::GetDrawRequest { draw_id: id.into() })
        .await
        .map_err(explain)?
        .into_inner();
    for p in r.results {
        println!(
            "{}",
            json!({"credit_code": p.credit_code, "name": p.name, "item": p.item_name,
                   "inspection_date": p.inspection_date, "result_codes": p.result_codes,
                   "published_on": p.published_on})
        );
    }
    Ok(())
}
