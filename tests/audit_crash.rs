//! Crash safety of the audit log: the real binary is killed with SIGKILL at pseudo-random
//! moments while clients classify and draw and an auditor polls signed heads. After each
//! restart the log's newest head must be consistent with every head seen before the crash (a
//! published head is never rolled back), every head seen must still be served unchanged, and
//! every acknowledged classification and draw must be in the log. Kill times come from a
//! fixed-seed generator; nothing asserts on timing.

mod common;

use common::*;
use creditrisk::audit::merkle::{verify_consistency, Hash};
use creditrisk::audit::Role;
use creditrisk::audit::SignedTreeHead;
use creditrisk::cli::bench::ServerProcess;
use creditrisk::cli::client::Target;
use creditrisk::server::pb;
use pb::audit_service_client::AuditServiceClient;
use pb::classification_service_client::ClassificationServiceClient;
use pb::draw_service_client::DrawServiceClient;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: u64 = 8;
const ENTERPRISES: u64 = 300;

/// Tokens by role, issued once with the admin token the first start wrote.
struct Tokens {
    admin: String,
    ingest: String,
    planner: String,
    auditor: String,
}

fn start(dir: &std::path::Path) -> ServerProcess {
    let root = env!("CARGO_MANIFEST_DIR");
    // The child servers inherit these: they find the rules wherever the test runs.
    std::env::set_var("CREDITRISK_RULES_DIR", format!("{root}/rules/default"));
    std::env::set_var("CREDITRISK_SUPERVISION_DIR", format!("{root}/rules"));
    common::start_process(dir, &[]).unwrap()
}

#[derive(Default)]
struct Seen {
    heads: Vec<SignedTreeHead>,
    classifications: Vec<String>,
    draws: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_heads_survive_kill_9_and_cover_every_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let admin = ServerProcess::admin_token(dir.path()).unwrap();
    let token = |id: &'static str, role: Role| {
        let (url, admin) = (server.url.clone(), admin.clone());
        async move {
            let t = Target::new(&url, Some(admin));
            creditrisk::cli::token::issue_token(&t, id, role, "", None)
                .await
                .unwrap()
                .0
        }
    };
    let tokens = Tokens {
        ingest: token("t-ingest", Role::Ingest).await,
        planner: token("t-planner", Role::Planner).await,
        auditor: token("t-auditor", Role::Auditor).await,
        admin: admin.clone(),
    };
    {
        let mut rec = pb::record_service_client::RecordServiceClient::new(
            channel(&server.url, &tokens.ingest).await,
        );
        rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: (0..ENTERPRISES).map(synthetic_enterprise).collect(),
        })
        .await
        .unwrap();
        let mut rec = pb::record_service_client::RecordServiceClient::new(
            channel(&server.url, &tokens.admin).await,
        );
        rec.upsert_inspectors(pb::UpsertInspectorsRequest {
            records: (0..8)
                .map(|i| pb::Inspector {
                    inspector_id: format!("i-{i}"),
                    name: "检查员".into(),
                    department: "samr".into(),
                    jurisdictions: vec!["510104".into()],
                    qualifications: vec!["general".into()],
                    certificate_number: format!("川执{i}"),
                    certificate_expiry: "2030-12-31".into(),
                    active: true,
                    ..Default::default()
                })
                .collect(),
        })
        .await
        .unwrap();
        DrawServiceClient::new(channel(&server.url, &tokens.planner).await)
            .upsert_items(pb::UpsertItemsRequest {
                records: vec![pb::InspectionItem {
                    id: "general".into(),
                    name: "一般检查".into(),
                    basis: "企业信息公示暂行条例".into(),
                    departments: vec!["samr".into()],
                    kind: pb::ItemKind::General as i32,
                    qualifications: vec!["general".into()],
                    scope: None,
                }],
            })
            .await
            .unwrap();
    }
    let mut server = Some(server);
    let mut rng = 0xa0d1_u64;
    let mut all = Seen::default();

    for round in 0..ROUNDS {
        let srv = server.take().unwrap_or_else(|| start(dir.path()));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut tasks = Vec::new();
        {
            let (seen, ch) = (seen.clone(), channel(&srv.url, &tokens.admin).await);
            tasks.push(tokio::spawn(async move {
                let mut c = ClassificationServiceClient::new(ch);
                for n in 0.. {
                    let code = synthetic_code((round * 37 + n) % ENTERPRISES).to_string();
                    match c
                        .classify(pb::ClassifyRequest {
                            credit_code: code.clone(),
                            as_of: "2026-11-01".into(),
                            candidate: None,
                        })
                        .await
                    {
                        Ok(r) => {
                            let r = r.into_inner();
                            seen.lock()
                                .unwrap()
                                .classifications
                                .push(format!("classification/{code}/{}", r.seq));
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        {
            let (seen, ch) = (seen.clone(), channel(&srv.url, &tokens.planner).await);
            tasks.push(tokio::spawn(async move {
                let mut c = DrawServiceClient::new(ch);
                for k in 0.. {
                    let id = format!("r{round}-{k}");
                    let spec = pb::DrawSpec {
                        draw_id: id.clone(),
                        item_id: "general".into(),
                        seed: id.clone(),
                        as_of: "2026-11-01".into(),
                        inspection_date: "2026-11-10".into(),
                        ..Default::default()
                    };
                    match c.create_draw(spec).await {
                        Ok(_) => seen.lock().unwrap().draws.push(format!("draw/{id}")),
                        Err(_) => return,
                    }
                }
            }));
        }
        {
            let (seen, ch) = (seen.clone(), channel(&srv.url, &tokens.auditor).await);
            tasks.push(tokio::spawn(async move {
                let mut a = AuditServiceClient::new(ch);
                loop {
                    match a
                        .get_signed_head(pb::GetSignedHeadRequest { tree_size: 0 })
                        .await
                    {
                        Ok(h) => {
                            let h = SignedTreeHead::from_json(&h.into_inner().json).unwrap();
                            seen.lock().unwrap().heads.push(h);
                        }
                        Err(_) => return,
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(150 + rng % 500)).await;
        srv.kill9().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let mut s = std::mem::take(&mut *seen.lock().unwrap());
        assert!(
            !s.heads.is_empty() && !s.classifications.is_empty(),
            "round {round}: nothing happened before the kill"
        );
        all.heads.append(&mut s.heads);
        all.classifications.append(&mut s.classifications);
        all.draws.append(&mut s.draws);

        // After the restart: every head ever seen is extended by the newest one and still
        // served as it was; every acknowledged change is logged under it.
        let srv = start(dir.path());
        let mut a = AuditServiceClient::new(channel(&srv.url, &tokens.auditor).await);
        let now = SignedTreeHead::from_json(
            &a.get_signed_head(pb::GetSignedHeadRequest { tree_size: 0 })
                .await
                .unwrap()
                .into_inner()
                .json,
        )
        .unwrap();
        all.heads.dedup_by_key(|h| h.head.size);
        for h in &all.heads {
            assert!(
                h.head.size <= now.head.size,
                "round {round}: head rolled back"
            );
            let served = a
                .get_signed_head(pb::GetSignedHeadRequest {
                    tree_size: h.head.size,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(SignedTreeHead::from_json(&served.json).unwrap(), *h);
            let p = a
                .get_consistency_proof(pb::ConsistencyProofRequest {
                    from_size: h.head.size,
                    to_size: now.head.size,
                })
                .await
                .unwrap()
                .into_inner();
            let proof: Vec<Hash> = p
                .hashes
                .iter()
                .map(|x| hex::decode(x).unwrap().try_into().unwrap())
                .collect();
            verify_consistency(
                h.head.size,
                now.head.size,
                &h.head.root,
                &now.head.root,
                &proof,
            )
            .unwrap_or_else(|e| panic!("round {round}: head {} inconsistent: {e:?}", h.head.size));
        }
        for subject in all.classifications.iter().chain(&all.draws) {
            let e = a
                .find_entry(pb::FindEntryRequest {
                    subject: subject.clone(),
                })
                .await
                .unwrap_or_else(|e| {
                    panic!("round {round}: `{subject}` acknowledged, not logged: {e}")
                })
                .into_inner();
            assert!(
                e.index < now.head.size,
                "round {round}: `{subject}` not under the head"
            );
        }
        // Keep the checks bounded: heads of earlier rounds were checked already.
        all.heads.retain(|h| h.head.size == now.head.size);
        all.heads.push(now);
        server = Some(srv);
    }
    let srv = server.take().unwrap();
    assert!(!all.draws.is_empty(), "some draws were acknowledged");
    srv.stop().unwrap();
}
