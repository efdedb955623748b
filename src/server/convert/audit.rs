//! Audit: heads, entries, proofs, replay reports.

use crate::audit::SignedTreeHead;
use crate::auditsvc::{RangeProgress, ReplayReport, StoredEntry};
use crate::server::pb;
use base64::Engine as _;

/// A signed head to proto.
pub fn head_to(h: &SignedTreeHead) -> pb::SignedHead {
    pb::SignedHead {
        tree_size: h.head.size,
        root: hex::encode(h.head.root),
        at_unix_ms: h.head.at_unix_ms,
        signature: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.signature),
        key_id: hex::encode(h.key_id),
        json: h.to_json(),
    }
}

/// A log entry to proto.
pub fn entry_to(e: &StoredEntry) -> pb::LogEntry {
    pb::LogEntry {
        index: e.index,
        canonical: e.canonical.clone(),
        leaf_hash: hex::encode(e.leaf_hash()),
        kind: e.entry.kind.as_str().to_string(),
        at_unix_ms: e.entry.at_unix_ms,
        actor: e.entry.actor.clone(),
        subject: e.entry.subject.clone(),
        payload_digest: hex::encode(e.entry.payload_digest),
        details: e
            .entry
            .details
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// A replay report to proto.
pub fn report_to(r: &ReplayReport) -> pb::ReplayReport {
    pb::ReplayReport {
        subject: r.subject.clone(),
        r#match: r.matched,
        differences: r
            .differences
            .iter()
            .map(|d| pb::Difference {
                field: d.field.clone(),
                stored: d.stored.clone(),
                replayed: d.replayed.clone(),
            })
            .collect(),
        log_index: r.log_index.map_or(-1, |i| i as i64),
        digest_matches_log: r.digest_matches_log,
        included_in_signed_head: r.included_in_signed_head,
    }
}

/// Range progress to proto.
pub fn range_progress_to(p: &RangeProgress) -> pb::ReplayProgress {
    pb::ReplayProgress {
        scanned: p.scanned,
        replayed: p.replayed,
        matched: p.matched,
        mismatched: p.mismatched,
        mismatches: p.mismatches.iter().map(report_to).collect(),
        finished: p.finished,
        rate: p.rate,
        not_replayable: p.not_replayable,
        // The full list only once, with the final counts.
        mismatched_indices: if p.finished {
            p.mismatched_indices.clone()
        } else {
            Vec::new()
        },
        head_size: p.head_size,
        unverified_indices: if p.finished {
            p.unverified_indices.clone()
        } else {
            Vec::new()
        },
    }
}
