//! Crash safety: the real binary is killed with SIGKILL at pseudo-random moments while a client
//! streams events; after each restart every acknowledged event must be there, readable, and
//! re-sending it must be a no-op. The kill times come from a fixed-seed generator, so a failure
//! can be replayed; nothing asserts on timing.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::record_service_client::RecordServiceClient;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: u64 = 20;
const CHUNK: u64 = 250;

async fn client(url: &str, token: &str) -> RecordServiceClient<AuthChannel> {
    let target = creditrisk::cli::client::Target::new(url, Some(token.to_string()));
    creditrisk::cli::client::connect(&target).await.unwrap()
}

async fn stored_ids(c: &mut RecordServiceClient<AuthChannel>, enterprise: u64) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_events(pb::ListEventsRequest {
                credit_code: synthetic_code(enterprise).to_string(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(r.events.into_iter().map(|e| e.event_id));
        if r.next_page_token.is_empty() {
            return ids;
        }
        token = r.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_process(dir.path(), &[]).unwrap();
    // An ingest token issued with the bootstrap admin token; tokens survive the restarts.
    let token = server
        .target_as(dir.path(), "crash-ingest", Role::Ingest, "test")
        .await
        .unwrap()
        .token
        .unwrap();
    let mut c = client(&server.url, &token).await;
    c.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..ROUNDS).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    drop(c);
    let mut server = Some(server);
    let mut rng = 0x5eed_u64;
    let mut acked_per_round: Vec<Vec<String>> = Vec::new();
    let mut killed_mid_stream = 0;

    for round in 0..ROUNDS {
        let srv = match server.take() {
            Some(s) => s,
            None => common::start_process(dir.path(), &[]).unwrap(),
        };
        let url = srv.url.clone();
        let task_token = token.clone();
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let book = acked.clone();
        // Stream far more than can be sent before the kill.
        let streamer = tokio::spawn(async move {
            let mut c = client(&url, &task_token).await;
            let chunks = (0..400u64).map(move |k| pb::AppendEventsRequest {
                records: (0..CHUNK)
                    .map(|i| synthetic_event(&format!("r{round}"), k * CHUNK + i, round))
                    .collect(),
            });
            let mut stream = match c.bulk_append_events(futures::stream::iter(chunks)).await {
                Ok(s) => s.into_inner(),
                Err(_) => return false,
            };
            loop {
                match stream.message().await {
                    Ok(Some(ack)) => {
                        assert!(ack.ok, "{ack:?}");
                        let k = ack.chunk;
                        let mut b = book.lock().unwrap();
                        b.extend((0..CHUNK).map(|i| format!("r{round}-{}", k * CHUNK + i)));
                    }
                    Ok(None) => return false, // finished: not killed mid-stream
                    Err(_) => return true,    // the server died under us
                }
            }
        });
        // Wait for the first acknowledgement, then a pseudo-random extra delay.
        for _ in 0..200 {
            if !acked.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(20 + rng % 400)).await;
        srv.kill9().unwrap();
        if streamer.await.unwrap() {
            killed_mid_stream += 1;
        }
        let acked = acked.lock().unwrap().clone();
        assert!(
            !acked.is_empty(),
            "round {round}: nothing was acknowledged before the kill"
        );

        let srv = common::start_process(dir.path(), &[]).unwrap();
        let mut c = client(&srv.url, &token).await;
        let stored = stored_ids(&mut c, round).await;
        let missing: Vec<_> = acked
            .iter()
            .filter(|id| !stored.contains(*id))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost after kill -9: {missing:?}"
        );
        // Re-sending an acknowledged chunk is a no-op.
        let first: Vec<_> = (0..CHUNK)
            .map(|i| synthetic_event(&format!("r{round}"), i, round))
            .collect();
        let again = c
            .append_events(pb::AppendEventsRequest { records: first })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.duplicates as u64, CHUNK);
        acked_per_round.push(acked);
        server = Some(srv);
    }
    // Finally, everything acknowledged in any round is still there.
    let srv = server.take().unwrap();
    let mut c = client(&srv.url, &token).await;
    for (round, acked) in acked_per_round.iter().enumerate() {
        let stored = stored_ids(&mut c, round as u64).await;
        assert!(
            acked.iter().all(|id| stored.contains(id)),
            "round {round} lost events later"
        );
    }
    assert_eq!(srv.stop().unwrap().code(), Some(0), "SIGTERM exits cleanly");
    assert!(
        killed_mid_stream >= ROUNDS / 2,
        "only {killed_mid_stream} kills hit a live stream"
    );
}
