//! The audit log through a real server: every state change is logged, heads are signed and
//! consistent, proofs verify offline, every classification and draw replays as MATCH, and a
//! value altered directly in sled is reported as MISMATCH (or fails its inclusion proof).

mod common;

use common::*;
use creditrisk::audit::merkle::{verify_consistency, verify_inclusion, Hash};
use creditrisk::audit::Role;
use creditrisk::audit::{verify_head, SignedTreeHead};
use creditrisk::cli::client::AuthChannel as Channel;
use creditrisk::server::pb;
use pb::audit_service_client::AuditServiceClient;
use pb::classification_service_client::ClassificationServiceClient;
use pb::draw_service_client::DrawServiceClient;
use std::collections::BTreeSet;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The consistency proof from tree size `from` to the current size, as served.
async fn consistency_to_now(a: &mut AuditServiceClient<Channel>, from: u64) -> Vec<Hash> {
    let c = a
        .get_consistency_proof(pb::ConsistencyProofRequest {
            from_size: from,
            to_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    c.hashes.iter().map(|x| h(x)).collect()
}

async fn head(a: &mut AuditServiceClient<Channel>, size: u64) -> SignedTreeHead {
    let r = a
        .get_signed_head(pb::GetSignedHeadRequest { tree_size: size })
        .await
        .unwrap()
        .into_inner();
    SignedTreeHead::from_json(&r.json).unwrap()
}

async fn key(a: &mut AuditServiceClient<Channel>) -> [u8; 32] {
    let k = a
        .export_public_key(pb::ExportPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    hex::decode(k.public_key).unwrap().try_into().unwrap()
}

/// Enterprises, a classification run, a single classification, a roster, an item, a draw, a
/// result and a publication: every kind of logged change.
async fn activity(s: &TestServer) -> String {
    let mut rec = s.client().await;
    let records: Vec<_> = (0..60)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            e.industry = "H6210".into();
            e
        })
        .collect();
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    rec.append_events(pb::AppendEventsRequest {
        records: (0..30).map(|i| synthetic_event("ev", i, i % 7)).collect(),
    })
    .await
    .unwrap();
    let roster = (0..6)
        .map(|i| pb::Inspector {
            inspector_id: format!("i-{i}"),
            name: "检查员".into(),
            department: "samr".into(),
            jurisdictions: vec!["510104".into()],
            qualifications: vec!["food".into()],
            certificate_number: format!("川执{i}"),
            certificate_expiry: "2030-12-31".into(),
            active: true,
            ..Default::default()
        })
        .collect();
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest { records: roster })
        .await
        .unwrap();
    reclassify_all(s, "2026-11-01").await;
    let mut cls = ClassificationServiceClient::new(s.channel_as(Role::Admin).await);
    cls.classify(pb::ClassifyRequest {
        credit_code: synthetic_code(3).to_string(),
        as_of: "2026-10-01".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![pb::InspectionItem {
                id: "food".into(),
                name: "食品".into(),
                basis: "食品安全法".into(),
                departments: vec!["samr".into()],
                kind: pb::ItemKind::Key as i32,
                qualifications: vec!["food".into()],
                scope: None,
            }],
        })
        .await
        .unwrap();
    let d = draws
        .create_draw(pb::DrawSpec {
            draw_id: "audit-draw".into(),
            item_id: "food".into(),
            seed: "audit seed".into(),
            as_of: "2026-11-01".into(),
            inspection_date: "2026-11-10".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = &d.selected[0];
    let team: Vec<String> = first
        .team
        .iter()
        .flat_map(|m| m.inspector_ids.clone())
        .collect();
    DrawServiceClient::new(s.inspector_channel(&team[0]).await)
        .record_results(pb::RecordResultsRequest {
            draw_id: d.draw_id.clone(),
            results: vec![pb::DrawResult {
                credit_code: first.credit_code.clone(),
                inspection_id: String::new(),
                date: "2026-11-10".into(),
                inspector_ids: team,
                result_codes: vec!["1".into()],
            }],
        })
        .await
        .unwrap();
    draws
        .publish_results(pb::PublishResultsRequest {
            draw_id: d.draw_id.clone(),
            credit_codes: vec![first.credit_code.clone()],
            published_on: "2026-11-12".into(),
        })
        .await
        .unwrap();
    first.credit_code.clone()
}

async fn all_entries(a: &mut AuditServiceClient<Channel>) -> Vec<pb::LogEntry> {
    let mut out = Vec::new();
    loop {
        let r = a
            .get_entries(pb::GetEntriesRequest {
                from_index: out.len() as u64,
                count: 1000,
            })
            .await
            .unwrap()
            .into_inner();
        if r.entries.is_empty() {
            return out;
        }
        out.extend(r.entries);
    }
}

async fn replay_all(a: &mut AuditServiceClient<Channel>) -> pb::ReplayProgress {
    let mut st = a
        .replay_range(pb::ReplayRangeRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(p) = st.message().await.unwrap() {
        last = Some(p);
    }
    last.unwrap()
}

#[tokio::test]
async fn log_heads_proofs_and_replay() {
    let s = TestServer::start().await;
    let mut a = AuditServiceClient::new(s.channel_as(Role::Auditor).await);
    let key = key(&mut a).await;
    // The default rule set was uploaded and activated at start: already logged.
    let early = head(&mut a, 0).await;
    verify_head(&key, &early).unwrap();
    assert!(early.head.size >= 2);

    activity(&s).await;

    let now = head(&mut a, 0).await;
    verify_head(&key, &now).unwrap();
    assert!(now.head.size > early.head.size + 60);
    // The early head is still served, and the log extends it.
    assert_eq!(head(&mut a, early.head.size).await, early);
    let proof = consistency_to_now(&mut a, early.head.size).await;
    verify_consistency(
        early.head.size,
        now.head.size,
        &early.head.root,
        &now.head.root,
        &proof,
    )
    .unwrap();

    // Every entry is included in the newest head; every kind of change is there.
    let entries = all_entries(&mut a).await;
    assert_eq!(entries.len() as u64, now.head.size);
    for e in &entries {
        let p = a
            .get_inclusion_proof(pb::InclusionProofRequest {
                index: e.index,
                tree_size: now.head.size,
            })
            .await
            .unwrap()
            .into_inner();
        let leaf = creditrisk::audit::merkle::leaf_hash(&e.canonical);
        assert_eq!(hex::encode(leaf), e.leaf_hash);
        let path: Vec<Hash> = p.hashes.iter().map(|x| h(x)).collect();
        verify_inclusion(e.index, now.head.size, &leaf, &path, &now.head.root).unwrap();
    }
    let kinds: BTreeSet<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "rule_set_uploaded",
        "rule_set_activated",
        "classification",
        "draw",
        "inspection_result",
        "publication",
        "roster_change",
        "token_change",
    ] {
        assert!(kinds.contains(k), "{k} logged: {kinds:?}");
    }
    let draw = a
        .find_entry(pb::FindEntryRequest {
            subject: "draw/audit-draw".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(draw.kind, "draw");
    // The caller is recorded: the planner's token id.
    let planner = s.tokens[&Role::Planner].clone();
    let planner_id = creditrisk::audit::access::token_parts(&planner).unwrap().0;
    assert_eq!(draw.actor, planner_id);

    // Every classification and draw replays as MATCH.
    let p = replay_all(&mut a).await;
    assert!(p.finished);
    let expected = entries
        .iter()
        .filter(|e| e.kind == "classification" || e.kind == "draw")
        .count() as u64;
    assert_eq!(p.replayed, expected);
    assert_eq!(p.mismatched, 0, "{:?}", p.mismatches);
    let r = a
        .replay_draw(pb::ReplayDrawRequest {
            draw_id: "audit-draw".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.r#match && r.digest_matches_log && r.included_in_signed_head,
        "{r:?}"
    );
    let r = a
        .replay_classification(pb::ReplayClassificationRequest {
            credit_code: synthetic_code(3).to_string(),
            seq: 0,
            as_of: "2026-10-15".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.r#match, "{r:?}");
    assert!(r.log_index >= 0);
    s.stop().await;
}

#[tokio::test]
async fn values_altered_in_sled_are_reported() {
    use creditrisk::classify::record::ClassificationRecord;
    use creditrisk::storage::codec::{decode, encode};
    use creditrisk::storage::{engine::Op, keys::prefix, Key};
    let s = TestServer::start().await;
    activity(&s).await;
    let mut a = AuditServiceClient::new(s.channel_as(Role::Auditor).await);
    let before = head(&mut a, 0).await;
    let dir = s.stop().await;

    // 1. One stored classification's score, behind the service's back.
    // 2. One byte of a log entry (the actor of the draw's entry).
    let altered_code;
    let altered_seq;
    {
        let engine = common::open_engine(dir.path());
        let (k, v) = engine
            .scan(&prefix::classifications(), None)
            .nth(5)
            .unwrap()
            .unwrap();
        let mut r: ClassificationRecord = decode(&v, &"test").unwrap();
        r.score += 1;
        altered_code = r.code;
        altered_seq = r.seq;
        let mut ops = vec![Op::Put(k, encode(&r).unwrap())];
        let idx = engine
            .get(&Key::LogSubject("draw/audit-draw").encode())
            .unwrap()
            .unwrap();
        let idx = u64::from_be_bytes(idx.try_into().unwrap());
        let mut entry = engine.get(&Key::LogEntry(idx).encode()).unwrap().unwrap();
        // The actor text starts after magic (6), kind (1), time (8) and its length (4).
        entry[19] ^= 0x01;
        ops.push(Op::Put(Key::LogEntry(idx).encode(), entry));
        engine.apply(ops).unwrap();
        engine.flush().unwrap();
    }
    let s = TestServer::start_in(dir, Default::default()).await;
    let mut a = AuditServiceClient::new(s.channel_as(Role::Auditor).await);
    let r = a
        .replay_classification(pb::ReplayClassificationRequest {
            credit_code: altered_code.to_string(),
            seq: altered_seq,
            as_of: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.r#match, "{r:?}");
    assert!(!r.digest_matches_log);
    assert!(r.differences.iter().any(|d| d.field == "score"), "{r:?}");

    let r = a
        .replay_draw(pb::ReplayDrawRequest {
            draw_id: "audit-draw".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.r#match, "{r:?}");
    assert!(
        !r.included_in_signed_head,
        "an altered entry fails its proof: {r:?}"
    );

    // The range replay finds the altered classification.
    let p = replay_all(&mut a).await;
    assert!(p.mismatched >= 2, "{p:?}");
    assert!(p
        .mismatches
        .iter()
        .any(|m| m.subject == format!("classification/{altered_code}/{altered_seq}")));
    let proof = consistency_to_now(&mut a, before.head.size).await;
    let now = head(&mut a, 0).await;
    // The restart appended entries (the test tokens are issued and logged), so the new head's
    // tree is hashed over the altered entry: the consistency proof from the head saved before
    // the tampering no longer verifies.
    assert!(now.head.size > before.head.size);
    assert!(verify_consistency(
        before.head.size,
        now.head.size,
        &before.head.root,
        &now.head.root,
        &proof,
    )
    .is_err());
    s.stop().await;
}
