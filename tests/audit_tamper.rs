//! Range replay after stored data is altered behind the service's back: the report names
//! exactly the altered entries (found against the signed head, not a tree rebuilt from the
//! altered store), none of them is a MATCH, and the counts add up.

mod common;

use common::*;
use creditrisk::audit::{Entry, Role};
use creditrisk::classify::record::ClassificationRecord;
use creditrisk::server::pb;
use creditrisk::storage::codec::{decode, encode};
use creditrisk::storage::{engine::Op, keys::prefix, Engine, Key, SledEngine};
use pb::audit_service_client::AuditServiceClient;
use pb::classification_service_client::ClassificationServiceClient;
use std::collections::{BTreeMap, BTreeSet};

/// A whole-population run over 40 enterprises (its entries go to a log block, its records to
/// a run block), then three classifications stored one by one. The log's entries by subject.
async fn setup(s: &TestServer) -> BTreeMap<String, u64> {
    let mut rec = s.client().await;
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..40).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    reclassify_all(s, "2026-11-01").await;
    let mut cls = ClassificationServiceClient::new(s.channel_as(Role::Admin).await);
    for n in [3, 7, 11] {
        cls.classify(pb::ClassifyRequest {
            credit_code: synthetic_code(n).to_string(),
            as_of: "2026-10-01".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut a = AuditServiceClient::new(s.channel_as(Role::Auditor).await);
    let mut out = BTreeMap::new();
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
        for e in r.entries {
            out.insert(e.subject, e.index);
        }
    }
}

/// A stored log block, as `storage::log` writes it.
#[derive(serde::Serialize, serde::Deserialize)]
struct LogBlock {
    entries: Vec<Vec<u8>>,
}

/// A stored run block, as `classify::blocks` writes it.
#[derive(serde::Serialize, serde::Deserialize)]
struct RunBlock {
    first_seq: u64,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What a test alters.
#[derive(Clone, Copy, PartialEq)]
enum Alter {
    /// The actor of the last classification stored one by one (its own `LogEntry`).
    Alone,
    /// The payload digest of the 6th entry of the run's log block.
    InLogBlock,
    /// The score of the 10th record of the run block (its log entry untouched).
    RunRecord,
    /// The actor of the 3rd entry of the run's log block, and the stored level-4 subtree hash
    /// over it, recomputed as an attacker would.
    InLogBlockAndNode,
}

/// Alters each of `what` in the stopped server's store; the altered log indices.
fn alter(dir: &tempfile::TempDir, subjects: &BTreeMap<String, u64>, what: &[Alter]) -> Vec<u64> {
    let engine = SledEngine::open(&dir.path().join("db"), 16 << 20).unwrap();
    let mut ops = Vec::new();
    let mut altered = Vec::new();
    for w in what {
        match w {
            Alter::Alone => {
                let subject = subjects
                    .keys()
                    .filter(|s| s.starts_with(&format!("classification/{}/", synthetic_code(11))))
                    .max_by_key(|s| subjects[*s])
                    .unwrap();
                let idx = subjects[subject];
                let mut entry = engine.get(&Key::LogEntry(idx).encode()).unwrap().unwrap();
                // The actor text starts after magic (6), kind (1), time (8) and its length (4).
                entry[19] ^= 0x01;
                ops.push(Op::Put(Key::LogEntry(idx).encode(), entry));
                altered.push(idx);
            }
            Alter::InLogBlock => {
                let (k, v) = engine
                    .last_in(
                        &Key::LogBlock(0).encode(),
                        &Key::LogBlock(u64::MAX).encode(),
                    )
                    .unwrap()
                    .unwrap();
                let first = creditrisk::storage::keys::trailing_seq(&k).unwrap();
                let mut block: LogBlock = decode(&v, &"log block").unwrap();
                assert!(block.entries.len() > 20, "a run's block holds its entries");
                let mut e = Entry::decode(&block.entries[5]).unwrap();
                e.payload_digest[0] ^= 0x01;
                block.entries[5] = e.encode().unwrap();
                ops.push(Op::Put(k, encode(&block).unwrap()));
                altered.push(first + 5);
            }
            Alter::InLogBlockAndNode => {
                let (k, v) = engine
                    .last_in(
                        &Key::LogBlock(0).encode(),
                        &Key::LogBlock(u64::MAX).encode(),
                    )
                    .unwrap()
                    .unwrap();
                let first = creditrisk::storage::keys::trailing_seq(&k).unwrap();
                let mut block: LogBlock = decode(&v, &"log block").unwrap();
                let idx = first + 2;
                block.entries[2][19] ^= 0x01;
                ops.push(Op::Put(k, encode(&block).unwrap()));
                // The level-4 node over `idx`, recomputed from the altered leaves.
                let group = idx / 16;
                let leaves: Vec<_> = (group * 16..group * 16 + 16)
                    .map(|i| {
                        let bytes = if i >= first && i - first < block.entries.len() as u64 {
                            block.entries[(i - first) as usize].clone()
                        } else {
                            engine.get(&Key::LogEntry(i).encode()).unwrap().unwrap()
                        };
                        creditrisk::audit::merkle::leaf_hash(&bytes)
                    })
                    .collect();
                let mut level = leaves;
                while level.len() > 1 {
                    level = level
                        .chunks(2)
                        .map(|p| creditrisk::audit::merkle::node_hash(&p[0], &p[1]))
                        .collect();
                }
                let node = Key::LogNode(4, group).encode();
                assert!(
                    engine.get(&node).unwrap().is_some(),
                    "node (4, {group}) is stored"
                );
                ops.push(Op::Put(node, level[0].to_vec()));
                altered.push(idx);
            }
            Alter::RunRecord => {
                let (k, v) = engine
                    .scan(&prefix::run_blocks(0)[..1], None)
                    .next()
                    .unwrap()
                    .unwrap();
                let mut block: RunBlock = decode(&v, &"run block").unwrap();
                let mut r: ClassificationRecord = decode(&block.entries[10].1, &"record").unwrap();
                r.score += 1;
                block.entries[10].1 = encode(&r).unwrap();
                ops.push(Op::Put(k, encode(&block).unwrap()));
                altered.push(subjects[&format!("classification/{}/{}", r.code, r.seq)]);
            }
        }
    }
    engine.apply(ops).unwrap();
    engine.flush().unwrap();
    altered.sort();
    altered
}

async fn replay_all(
    a: &mut AuditServiceClient<creditrisk::cli::client::AuthChannel>,
) -> pb::ReplayProgress {
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

/// Sets up, alters `what` with the server stopped, restarts it and replays the whole log.
async fn replay_altered(what: &[Alter]) -> (Vec<u64>, pb::ReplayProgress) {
    let s = TestServer::start().await;
    let subjects = setup(&s).await;
    let dir = s.stop().await;
    let altered = alter(&dir, &subjects, what);
    let s = TestServer::start_in(dir, Default::default()).await;
    let mut a = AuditServiceClient::new(s.channel_as(Role::Auditor).await);
    let p = replay_all(&mut a).await;
    s.stop().await;
    assert!(p.finished);
    assert_eq!(
        p.matched + p.mismatched + p.not_replayable,
        p.scanned,
        "counts add up: {p:?}"
    );
    (altered, p)
}

/// Replays after altering `what`; the report names exactly the altered entries.
async fn names_exactly(what: &[Alter]) {
    let (altered, p) = replay_altered(what).await;
    assert_eq!(
        p.mismatched_indices, altered,
        "named exactly the altered: {p:?}"
    );
    // Entries after an altered one inside the same group of 16 may be left unverifiable (no
    // trusted hash covers them alone); they are counted as mismatched but never named.
    for u in &p.unverified_indices {
        assert!(
            altered.iter().any(|a| a / 16 == u / 16),
            "{u} unverified: {p:?}"
        );
        assert!(!altered.contains(u));
    }
    assert_eq!(
        p.mismatched,
        (altered.len() + p.unverified_indices.len()) as u64
    );
    let reported: BTreeSet<i64> = p
        .mismatches
        .iter()
        .map(|m| m.log_index)
        .filter(|i| !p.unverified_indices.contains(&(*i as u64)))
        .collect();
    let want: BTreeSet<i64> = altered.iter().map(|&i| i as i64).collect();
    assert_eq!(reported, want, "{p:?}");
    assert!(p.mismatches.iter().all(|m| !m.r#match));
    // An altered entry (not just its record) is not included in the signed head.
    for m in &p.mismatches {
        let entry_altered = m.differences.iter().any(|d| d.field == "log.entry");
        assert_eq!(entry_altered, !m.included_in_signed_head, "{m:?}");
    }
}

#[tokio::test]
async fn one_entry_stored_alone() {
    names_exactly(&[Alter::Alone]).await;
}

#[tokio::test]
async fn one_entry_inside_a_log_block() {
    names_exactly(&[Alter::InLogBlock]).await;
}

#[tokio::test]
async fn one_run_block_record() {
    names_exactly(&[Alter::RunRecord]).await;
}

#[tokio::test]
async fn two_at_once() {
    names_exactly(&[Alter::Alone, Alter::InLogBlock]).await;
}

#[tokio::test]
async fn an_entry_and_its_stored_subtree_hash() {
    // The rewritten node no longer ties its group to the signed root, so the entries under
    // its parent cannot be checked one by one: the altered entry is among those reported (as
    // unverifiable), none of them is a MATCH, and nothing outside the node's 32-entry parent
    // is reported.
    let (altered, p) = replay_altered(&[Alter::InLogBlockAndNode]).await;
    let bad: BTreeSet<u64> = p
        .mismatched_indices
        .iter()
        .chain(&p.unverified_indices)
        .copied()
        .collect();
    assert!(bad.contains(&altered[0]), "{p:?}");
    assert!(bad.iter().all(|i| i / 32 == altered[0] / 32), "{p:?}");
    assert_eq!(p.mismatched, bad.len() as u64);
}
