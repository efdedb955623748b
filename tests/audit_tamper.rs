//! Range replay after stored data is altered behind the service's back: the report names
//! exactly the altered entries (found against the signed head, not a tree rebuilt from the
//! altered store), none of them is a MATCH, and the counts add up.

mod common;

use common::*;
use creditrisk::audit::{Entry, Role};
use creditrisk::classify::record::ClassificationRecord;
use creditrisk::server::pb;
use creditrisk::storage::codec::{decode, encode};
use creditrisk::storage::{engine::Op, keys::prefix, Engine, Key};
use pb::audit_service_client::AuditServiceClient;
use pb::classification_service_client::ClassificationServiceClient;
use std::collections::{BTreeMap, BTreeSet};

/// A whole-population run over 40 enterprises (its entries go to a log block, its records to
/// a run block), a run over their jurisdiction (its 40 entries are stored one by one, in one
/// job, so one group commit under one signed head), then three classifications stored one by
/// one. The log's entries by subject.
async fn setup(s: &TestServer) -> BTreeMap<String, u64> {
    let mut rec = s.client().await;
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..40).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    reclassify_all(s, "2026-11-01").await;
    let mut cls = ClassificationServiceClient::new(s.channel_as(Role::Admin).await);
    let mut run = cls
        .reclassify(pb::ReclassifyRequest {
            scope: Some(pb::Scope {
                jurisdiction: "510104".into(),
            }),
            as_of: "2026-11-15".into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(p) = run.message().await.unwrap() {
        last = Some(p);
    }
    assert!(last.is_some_and(|p| p.finished && p.done == 40));
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
    /// The actor of the 10th entry of the run's log block (its payload digest untouched).
    ActorInLogBlock,
    /// The time (`at_unix_ms`) of an entry of the jurisdiction run, stored on its own but
    /// committed with 39 others under one signed head.
    TimeInGroupCommit,
    /// The actor of the 10th entry of the run's log block and its stored leaf hash, recomputed
    /// as an attacker would.
    ActorAndLeafInLogBlock,
    /// Every stored leaf hash deleted, as in a store written before they were stored.
    NoStoredLeaves,
}

/// The run's log block (the last one stored): its key, first index and decoded value.
fn run_log_block(engine: &dyn Engine) -> (Vec<u8>, u64, LogBlock) {
    let (k, v) = engine
        .last_in(
            &Key::LogBlock(0).encode(),
            &Key::LogBlock(u64::MAX).encode(),
        )
        .unwrap()
        .unwrap();
    let first = creditrisk::storage::keys::trailing_seq(&k).unwrap();
    let block: LogBlock = decode(&v, &"log block").unwrap();
    assert!(block.entries.len() > 20, "a run's block holds its entries");
    (k, first, block)
}

/// Alters each of `what` in the stopped server's store; the altered log indices.
fn alter(dir: &tempfile::TempDir, subjects: &BTreeMap<String, u64>, what: &[Alter]) -> Vec<u64> {
    let engine = common::open_engine(dir.path());
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
                let (k, first, mut block) = run_log_block(engine.as_ref());
                let mut e = Entry::decode(&block.entries[5]).unwrap();
                e.payload_digest[0] ^= 0x01;
                block.entries[5] = e.encode().unwrap();
                ops.push(Op::Put(k, encode(&block).unwrap()));
                altered.push(first + 5);
            }
            Alter::InLogBlockAndNode => {
                let (k, first, mut block) = run_log_block(engine.as_ref());
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
            Alter::ActorInLogBlock | Alter::ActorAndLeafInLogBlock => {
                let (k, first, mut block) = run_log_block(engine.as_ref());
                let idx = first + 9;
                // The actor text starts after magic (6), kind (1), time (8) and its length (4).
                block.entries[9][19] ^= 0x01;
                if *w == Alter::ActorAndLeafInLogBlock {
                    let (lk, mut lv) = engine
                        .last_in(
                            &Key::LogLeaves(0).encode(),
                            &Key::LogLeaves(idx + 1).encode(),
                        )
                        .unwrap()
                        .unwrap();
                    let at = (idx - creditrisk::storage::keys::trailing_seq(&lk).unwrap()) as usize;
                    lv[at * 32..at * 32 + 32]
                        .copy_from_slice(&creditrisk::audit::merkle::leaf_hash(&block.entries[9]));
                    ops.push(Op::Put(lk, lv));
                }
                ops.push(Op::Put(k, encode(&block).unwrap()));
                altered.push(idx);
            }
            Alter::TimeInGroupCommit => {
                let subject = subjects
                    .keys()
                    .filter(|s| s.starts_with(&format!("classification/{}/", synthetic_code(20))))
                    .max_by_key(|s| subjects[*s])
                    .unwrap();
                let idx = subjects[subject];
                let mut entry = engine.get(&Key::LogEntry(idx).encode()).unwrap().unwrap();
                let e = Entry::decode(&entry).unwrap();
                assert_eq!(e.actor, "system", "an entry of the jurisdiction run");
                // No signed head separates it from its neighbours in the group commit.
                for size in [idx, idx + 1] {
                    assert!(engine.get(&Key::LogHead(size).encode()).unwrap().is_none());
                }
                // The lowest byte of `at_unix_ms` (after magic (6) and kind (1)).
                entry[14] ^= 0x01;
                ops.push(Op::Put(Key::LogEntry(idx).encode(), entry));
                altered.push(idx);
            }
            Alter::NoStoredLeaves => {
                for kv in engine.scan(&Key::LogLeaves(0).encode()[..1], None) {
                    ops.push(Op::Delete(kv.unwrap().0));
                }
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

/// Replays after altering `what`; the report names exactly the altered entries, and nothing
/// is left unverified.
async fn names_exactly(what: &[Alter]) {
    let (altered, p) = replay_altered(what).await;
    assert_eq!(
        p.mismatched_indices, altered,
        "named exactly the altered: {p:?}"
    );
    assert!(p.unverified_indices.is_empty(), "{p:?}");
    assert_eq!(p.mismatched, altered.len() as u64);
    let reported: BTreeSet<i64> = p.mismatches.iter().map(|m| m.log_index).collect();
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
    // The rewritten node no longer ties its group to the signed root, but the stored leaf
    // hashes under the node above it still do.
    names_exactly(&[Alter::InLogBlockAndNode]).await;
}

#[tokio::test]
async fn the_actor_of_an_entry_inside_a_log_block() {
    // Neither its payload digest nor a signed head tells it from the rest of the run's chunk.
    names_exactly(&[Alter::ActorInLogBlock]).await;
}

#[tokio::test]
async fn the_time_of_an_entry_inside_a_group_commit() {
    names_exactly(&[Alter::TimeInGroupCommit]).await;
}

#[tokio::test]
async fn three_kinds_at_once() {
    names_exactly(&[
        Alter::Alone,
        Alter::ActorInLogBlock,
        Alter::TimeInGroupCommit,
        Alter::RunRecord,
    ])
    .await;
}

/// Replays after altering `what`, where nothing stored or signed tells the altered entry from
/// its neighbours: it is reported (named or unverified), nothing is a MATCH, and nothing is
/// reported outside its group of 16.
async fn reported_within_its_group(what: &[Alter]) {
    let (altered, p) = replay_altered(what).await;
    let bad: BTreeSet<u64> = p
        .mismatched_indices
        .iter()
        .chain(&p.unverified_indices)
        .copied()
        .collect();
    assert!(bad.contains(&altered[0]), "{p:?}");
    assert!(bad.iter().all(|i| i / 16 == altered[0] / 16), "{p:?}");
    assert_eq!(p.mismatched, bad.len() as u64);
    assert!(p.mismatches.iter().all(|m| !m.r#match));
}

#[tokio::test]
async fn an_entry_and_its_stored_leaf_hash() {
    reported_within_its_group(&[Alter::ActorAndLeafInLogBlock]).await;
}

#[tokio::test]
async fn a_store_without_leaf_hashes() {
    // As before leaf hashes were stored: the altered entry's group is left unverified.
    reported_within_its_group(&[Alter::NoStoredLeaves, Alter::ActorInLogBlock]).await;
}
