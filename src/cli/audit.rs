//! Audit commands that talk to the server: save a signed head, export the public key, build an
//! audit bundle (heads, consistency proof, entries with inclusion proofs) for the offline
//! `audit verify`, and replay classifications, draws and log ranges.

use super::client::{channel, explain, AuthChannel, Target};
use crate::audit::merkle::Hash;
use crate::audit::verify::{BundleEntry, BUNDLE_FORMAT};
use crate::audit::{AuditBundle, Entry, SignedTreeHead};
use crate::server::pb;
use anyhow::Context;
use pb::audit_service_client::AuditServiceClient;
use serde_json::json;
use std::path::Path;

async fn client(target: &Target) -> anyhow::Result<AuditServiceClient<AuthChannel>> {
    Ok(AuditServiceClient::new(channel(target).await?))
}

fn hashes(v: &[String]) -> anyhow::Result<Vec<Hash>> {
    v.iter()
        .map(|h| {
            let b = hex::decode(h).with_context(|| format!("`{h}` is not hex"))?;
            b.try_into()
                .map_err(|_| anyhow::anyhow!("`{h}` is not a 32-byte hash"))
        })
        .collect()
}

async fn signed_head(
    c: &mut AuditServiceClient<AuthChannel>,
    size: u64,
) -> anyhow::Result<SignedTreeHead> {
    let h = c
        .get_signed_head(pb::GetSignedHeadRequest { tree_size: size })
        .await
        .map_err(explain)?
        .into_inner();
    SignedTreeHead::from_json(&h.json).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `audit head [--size N] [--out FILE]`: the newest (or a given) signed head as JSON.
pub async fn head(target: &Target, size: u64, out: Option<&Path>) -> anyhow::Result<()> {
    let h = signed_head(&mut client(target).await?, size).await?;
    let text = h.to_json();
    match out {
        Some(p) => {
            std::fs::write(p, format!("{text}\n"))
                .with_context(|| format!("cannot write `{}`", p.display()))?;
            println!("saved head of size {} to {}", h.head.size, p.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}

/// `audit public-key`: the key that verifies heads (hex), to pin in `audit verify`.
pub async fn public_key(target: &Target) -> anyhow::Result<()> {
    let k = client(target)
        .await?
        .export_public_key(pb::ExportPublicKeyRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{}",
        json!({"public_key": k.public_key, "key_id": k.key_id})
    );
    Ok(())
}

/// `audit bundle --saved-head FILE [--entry N]... [--subject S]... --out FILE`: fetches the
/// current head, the consistency proof from the saved head, and the given entries with their
/// inclusion proofs, and writes an audit bundle for `audit verify`.
pub async fn bundle(
    target: &Target,
    saved_head: &Path,
    indices: &[u64],
    subjects: &[String],
    out: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(saved_head)
        .with_context(|| format!("cannot read `{}`", saved_head.display()))?;
    let saved = SignedTreeHead::from_json(text.trim()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut c = client(target).await?;
    let current = signed_head(&mut c, 0).await?;
    let consistency = if saved.head.size == 0 || saved.head.size == current.head.size {
        Vec::new()
    } else {
        let p = c
            .get_consistency_proof(pb::ConsistencyProofRequest {
                from_size: saved.head.size,
                to_size: current.head.size,
            })
            .await
            .map_err(explain)?
            .into_inner();
        hashes(&p.hashes)?
    };
    let mut wanted: Vec<u64> = indices.to_vec();
    for s in subjects {
        let e = c
            .find_entry(pb::FindEntryRequest { subject: s.clone() })
            .await
            .map_err(explain)?
            .into_inner();
        wanted.push(e.index);
    }
    let mut entries = Vec::new();
    for index in wanted {
        let e = c
            .get_entries(pb::GetEntriesRequest {
                from_index: index,
                count: 1,
            })
            .await
            .map_err(explain)?
            .into_inner();
        let e = e
            .entries
            .into_iter()
            .next()
            .with_context(|| format!("no log entry {index}"))?;
        let entry = Entry::decode(&e.canonical).map_err(|x| anyhow::anyhow!("{x}"))?;
        let p = c
            .get_inclusion_proof(pb::InclusionProofRequest {
                index,
                tree_size: current.head.size,
            })
            .await
            .map_err(explain)?
            .into_inner();
        entries.push(BundleEntry {
            index,
            entry,
            inclusion_proof: hashes(&p.hashes)?,
        });
    }
    let k = c
        .export_public_key(pb::ExportPublicKeyRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    let public_key: [u8; 32] = hex::decode(&k.public_key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the server's public key is not 32 bytes"))?;
    let b = AuditBundle {
        format: BUNDLE_FORMAT.to_string(),
        public_key,
        saved_head: saved,
        current_head: current,
        consistency_proof: consistency,
        entries,
    };
    let text = serde_json::to_string_pretty(&b)?;
    std::fs::write(out, text).with_context(|| format!("cannot write `{}`", out.display()))?;
    println!(
        "wrote {} (saved size {}, current size {}, {} entries); check it with `creditrisk audit verify {} --public-key {}`",
        out.display(),
        b.saved_head.head.size,
        b.current_head.head.size,
        b.entries.len(),
        out.display(),
        k.public_key
    );
    Ok(())
}

fn print_report(r: &pb::ReplayReport) {
    let diffs: Vec<serde_json::Value> = r
        .differences
        .iter()
        .map(|d| json!({"field": d.field, "stored": d.stored, "replayed": d.replayed}))
        .collect();
    println!(
        "{}",
        json!({"subject": r.subject, "result": if r.r#match { "MATCH" } else { "MISMATCH" },
               "log_index": r.log_index, "digest_matches_log": r.digest_matches_log,
               "included_in_signed_head": r.included_in_signed_head, "differences": diffs})
    );
}

/// `audit replay classification CODE [--seq N] [--as-of DATE]`; false on a mismatch.
pub async fn replay_classification(
    target: &Target,
    code: &str,
    seq: u64,
    as_of: &str,
) -> anyhow::Result<bool> {
    let r = client(target)
        .await?
        .replay_classification(pb::ReplayClassificationRequest {
            credit_code: code.into(),
            seq,
            as_of: as_of.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    print_report(&r);
    Ok(r.r#match)
}

/// `audit replay draw ID`; false on a mismatch.
pub async fn replay_draw(target: &Target, id: &str) -> anyhow::Result<bool> {
    let r = client(target)
        .await?
        .replay_draw(pb::ReplayDrawRequest { draw_id: id.into() })
        .await
        .map_err(explain)?
        .into_inner();
    print_report(&r);
    Ok(r.r#match)
}

/// Milliseconds since the epoch of 00:00 UTC+8 on the first day of `YYYY-MM`, and of the next
/// month.
fn month_bounds(month: &str) -> anyhow::Result<(i64, i64)> {
    let first = crate::domain::Date::parse(&format!("{month}-01"))
        .map_err(|e| anyhow::anyhow!("`{month}` is not a month (YYYY-MM): {e}"))?;
    let (y, m) = (first.year(), month[5..].parse::<u32>()?);
    let next = if m == 12 {
        crate::domain::Date::from_ymd(y + 1, 1, 1)
    } else {
        crate::domain::Date::from_ymd(y, m + 1, 1)
    }
    .context("month out of range")?;
    let ms = |d: crate::domain::Date| (i64::from(d.days()) * 86_400 - 8 * 3600) * 1000;
    Ok((ms(first), ms(next)))
}

/// `audit replay range [--from N] [--to N] [--month YYYY-MM] [--head SIZE]`: progress lines,
/// then the summary (final counts, the signed head checked against, every mismatched index)
/// and the first mismatches; false when anything mismatched.
pub async fn replay_range(
    target: &Target,
    from: u64,
    to: u64,
    month: Option<&str>,
    head: u64,
) -> anyhow::Result<bool> {
    let (from_ms, to_ms) = match month {
        Some(m) => month_bounds(m)?,
        None => (0, 0),
    };
    let mut st = client(target)
        .await?
        .replay_range(pb::ReplayRangeRequest {
            from_index: from,
            to_index: to,
            from_unix_ms: from_ms,
            to_unix_ms: to_ms,
            head_size: head,
        })
        .await
        .map_err(explain)?
        .into_inner();
    let mut last = None;
    while let Some(p) = st.message().await.map_err(explain)? {
        println!(
            "{}",
            json!({"scanned": p.scanned, "replayed": p.replayed, "matched": p.matched,
                   "mismatched": p.mismatched, "rate": p.rate.round(), "finished": p.finished})
        );
        last = Some(p);
    }
    let last = last.context("the server sent no progress")?;
    println!(
        "{}",
        json!({"head_size": last.head_size, "scanned": last.scanned, "matched": last.matched,
               "mismatched": last.mismatched, "not_replayable": last.not_replayable,
               "mismatched_indices": last.mismatched_indices,
               "unverified_indices": last.unverified_indices})
    );
    for m in &last.mismatches {
        print_report(m);
    }
    Ok(last.mismatched == 0)
}

/// `audit alert-entries SUBJECT [--public-key HEX]`: every alert entry about `alert/W1`,
/// `enterprise/CODE` or `group/KEY`, one JSON line each, each checked here: its leaf hash from
/// its canonical bytes, its inclusion proof against the signed head's root, and the head's
/// signature (with the pinned key, else the server's, which the summary line says). Fails if any
/// check fails.
pub async fn alert_entries(
    target: &Target,
    subject: &str,
    public_key: Option<&str>,
) -> anyhow::Result<()> {
    let mut c = client(target).await?;
    let (key, pinned) = match public_key {
        Some(k) => (k.to_string(), true),
        None => (
            c.export_public_key(pb::ExportPublicKeyRequest {})
                .await
                .map_err(explain)?
                .into_inner()
                .public_key,
            false,
        ),
    };
    let key: [u8; 32] = hex::decode(&key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("`{key}` is not a 32-byte hex public key"))?;
    let mut from = 0;
    let mut count = 0u64;
    let head_size = loop {
        let page = c
            .list_alert_entries(pb::ListAlertEntriesRequest {
                subject: subject.into(),
                from_index: from,
                count: 0,
            })
            .await
            .map_err(explain)?
            .into_inner();
        let head = page
            .head
            .ok_or_else(|| anyhow::anyhow!("the server sent no signed head"))?;
        let head = SignedTreeHead::from_json(&head.json).map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::audit::verify_head(&key, &head)
            .map_err(|e| anyhow::anyhow!("the signed head of size {}: {e}", head.head.size))?;
        for p in &page.entries {
            let e = p
                .entry
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("the server sent an empty entry"))?;
            let leaf = crate::audit::merkle::leaf_hash(&e.canonical);
            crate::audit::merkle::verify_inclusion(
                e.index,
                head.head.size,
                &leaf,
                &hashes(&p.proof)?,
                &head.head.root,
            )
            .map_err(|err| anyhow::anyhow!("entry {}: not in the signed head: {err:?}", e.index))?;
            let entry = Entry::decode(&e.canonical)
                .map_err(|err| anyhow::anyhow!("entry {}: {err}", e.index))?;
            let d = |k: &str| entry.details.get(k).cloned().unwrap_or_default();
            println!(
                "{}",
                json!({"index": e.index, "alert": entry.subject, "action": d("action"),
                       "state": d("state"), "level": d("level"), "actor": entry.actor,
                       "at_unix_ms": entry.at_unix_ms, "included": true})
            );
            count += 1;
        }
        if page.next_from_index == 0 {
            break head.head.size;
        }
        from = page.next_from_index;
    };
    println!(
        "{}",
        json!({"subject": subject, "entries": count, "head_size": head_size,
               "verified": true, "public_key": if pinned { "pinned" } else { "the server's" }})
    );
    Ok(())
}
