//! Crash safety of group evaluation: the real binary is killed with SIGKILL while several
//! callers evaluate group signals over many groups; after each restart every alert a caller
//! was told about is there, and no (rule, subject) has two open alerts. Kill times come from
//! a fixed-seed generator; nothing asserts on timing.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::warning_service_client::WarningServiceClient;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: u64 = 4;
/// Product categories, each a group that fires (10 checks, 3 failed).
const GROUPS: u64 = 40;

async fn list_all(url: &str, token: &str) -> Vec<pb::Alert> {
    let mut c = WarningServiceClient::new(channel(url, token).await);
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let r = c
            .list_alerts(pb::ListAlertsRequest {
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(r.alerts);
        if r.next_page_token.is_empty() {
            return out;
        }
        page_token = r.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raised_alert_is_lost_and_none_duplicated_by_kill_9_during_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_process(dir.path(), &[]).unwrap();
    let target = |id: &'static str, role| {
        let (server, dir) = (&server, dir.path());
        async move {
            server
                .target_as(dir, id, role, "test")
                .await
                .unwrap()
                .token
                .unwrap()
        }
    };
    let ingest = target("crash-ingest", Role::Ingest).await;
    let planner = target("crash-planner", Role::Planner).await;
    let mut c =
        pb::record_service_client::RecordServiceClient::new(channel(&server.url, &ingest).await);
    let n = GROUPS * 10;
    c.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..n).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    c.append_events(pb::AppendEventsRequest {
        records: (0..n)
            .map(|i| pb::CreditEvent {
                event_id: format!("sc-{i}"),
                credit_code: synthetic_code(i).to_string(),
                effective_date: format!("2026-11-{:02}", 1 + i % 28),
                source_department: "samr-chengdu".into(),
                body: Some(pb::credit_event::Body::SpotCheck(pb::SpotCheck {
                    passed: i % 10 >= 3,
                    product_category: format!("cat-{}", i / 10),
                })),
                seq: 0,
            })
            .collect(),
    })
    .await
    .unwrap();
    drop(c);
    let mut server = Some(server);
    let mut told: BTreeSet<String> = BTreeSet::new();
    let mut rng = 0x5eed_u64;
    let mut cut = 0;
    for round in 0..ROUNDS {
        let srv = match server.take() {
            Some(s) => s,
            None => common::start_process(dir.path(), &[]).unwrap(),
        };
        let acked = Arc::new(Mutex::new(BTreeSet::<String>::new()));
        let mut tasks = Vec::new();
        // Three callers, each evaluating a few days in a row (each as-of date changes the
        // evidence, so every call writes).
        for caller in 0..3u64 {
            let (url, token, book) = (srv.url.clone(), planner.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let mut w = WarningServiceClient::new(channel(&url, &token).await);
                for day in 0..20u64 {
                    let as_of = format!("2026-12-{:02}", 1 + (round * 7 + caller + day) % 28);
                    match w
                        .evaluate_groups(pb::EvaluateGroupsRequest { as_of, cut: 0 })
                        .await
                    {
                        Ok(r) => book.lock().unwrap().extend(r.into_inner().raised),
                        Err(_) => return true, // cut by the kill
                    }
                }
                false
            }));
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(50 + rng % 500)).await;
        srv.kill9().unwrap();
        for t in tasks {
            cut += t.await.unwrap() as u64;
        }
        told.extend(acked.lock().unwrap().iter().cloned());
        // Restart and check.
        let srv = common::start_process(dir.path(), &[]).unwrap();
        let alerts = list_all(&srv.url, &planner).await;
        let ids: BTreeSet<String> = alerts.iter().map(|a| a.id.clone()).collect();
        let lost: Vec<_> = told.difference(&ids).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged alerts lost: {lost:?}"
        );
        let mut open: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for a in &alerts {
            if a.state != "closed" {
                open.entry((a.rule_id.clone(), a.subject.clone()))
                    .or_default()
                    .push(a.id.clone());
            }
        }
        let dup: Vec<_> = open.iter().filter(|(_, v)| v.len() > 1).collect();
        assert!(
            dup.is_empty(),
            "round {round}: duplicate open alerts: {dup:?}"
        );
        let groups = open
            .keys()
            .filter(|(r, _)| r == "group.spot-check-failure-rate")
            .count();
        assert!(groups as u64 <= GROUPS, "{groups}");
        server = Some(srv);
    }
    eprintln!(
        "{cut} evaluation calls were cut by a kill; {} alerts acknowledged",
        told.len()
    );
    // At the end every group has its one alert.
    let srv = server.take().unwrap();
    let mut w = WarningServiceClient::new(channel(&srv.url, &planner).await);
    w.evaluate_groups(pb::EvaluateGroupsRequest {
        as_of: "2026-12-01".into(),
        cut: 0,
    })
    .await
    .unwrap();
    let alerts = list_all(&srv.url, &planner).await;
    let rate: BTreeSet<&str> = alerts
        .iter()
        .filter(|a| a.rule_id == "group.spot-check-failure-rate")
        .map(|a| a.subject.as_str())
        .collect();
    assert_eq!(rate.len() as u64, GROUPS);
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a.rule_id == "group.spot-check-failure-rate")
            .count() as u64,
        GROUPS
    );
    srv.kill9().unwrap();
}
