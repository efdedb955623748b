//! Classification through a real server: classify, explain, history, as-of with an older rule
//! set chosen by effective date, candidates, simulation, rule-set management, and a watcher that
//! disconnects and resumes without missing a change.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use pb::rule_service_client::RuleServiceClient;
use std::collections::HashMap;
use tonic::Code;

fn default_files() -> HashMap<String, String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
    creditrisk::classify::rulesets::read_dir_files(&dir)
        .unwrap()
        .into_iter()
        .collect()
}

/// The default rules with another effective date and base score.
fn variant(effective_from: &str, base: i64) -> HashMap<String, String> {
    let mut f = default_files();
    let m = f.get_mut("ruleset.toml").unwrap();
    *m = m
        .replace(
            "effective_from = \"2026-04-01\"",
            &format!("effective_from = \"{effective_from}\""),
        )
        .replace("base_score = 100", &format!("base_score = {base}"))
        .replace("version = \"", "version = \"variant-");
    f
}

fn event(id: &str, code: &str, date: &str, body: pb::credit_event::Body) -> pb::CreditEvent {
    pb::CreditEvent {
        event_id: id.into(),
        credit_code: code.into(),
        effective_date: date.into(),
        source_department: "samr-chengdu".into(),
        body: Some(body),
        seq: 0,
    }
}

fn serious(id: &str, code: &str) -> pb::CreditEvent {
    event(
        id,
        code,
        "2026-05-01",
        pb::credit_event::Body::SeriousListEntry(pb::SeriousListEntry {
            reason: "heavy fine".into(),
        }),
    )
}

#[tokio::test]
async fn classify_explain_history_and_as_of() {
    let s = TestServer::start().await;
    let ch = s.channel_as(Role::Admin).await;
    let mut rec = s.client().await;
    let mut cls = ClassificationServiceClient::new(ch.clone());
    let mut rules = RuleServiceClient::new(ch);
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..3).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    let code = synthetic_code(0).to_string();

    let clean = cls
        .classify(pb::ClassifyRequest {
            credit_code: code.clone(),
            as_of: "2026-11-01".into(),
            candidate: None,
        })
        .await
        .unwrap()
        .into_inner();
    // No annual reports on file: the report rules fire, nothing else.
    assert_ne!(clean.tier, "D", "{clean:?}");
    assert!(
        clean
            .fired
            .iter()
            .all(|f| f.rule_id.starts_with("reports.")),
        "{clean:?}"
    );
    assert!(clean.seq > 0, "stored");

    rec.append_events(pb::AppendEventsRequest {
        records: vec![serious("s-0", &code)],
    })
    .await
    .unwrap();
    let d = cls
        .classify(pb::ClassifyRequest {
            credit_code: code.clone(),
            as_of: "2026-11-01".into(),
            candidate: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.tier, "D");
    let fired = d
        .fired
        .iter()
        .find(|f| f.rule_id == "lists.serious")
        .expect("serious-list rule fired");
    assert_eq!(fired.effect, "tier");
    assert!(!fired.basis.is_empty());
    assert!(
        fired
            .reads
            .iter()
            .any(|r| r.name == "on_serious_list" && r.value == "true"),
        "{fired:?}"
    );
    assert!(d.data_seq >= clean.data_seq);

    let got = cls
        .get_classification(pb::GetClassificationRequest {
            credit_code: code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.tier, "D");
    let hist = cls
        .list_classifications(pb::ListClassificationsRequest {
            credit_code: code.clone(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .classifications;
    assert!(hist.len() >= 2);
    assert!(hist.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    assert!(hist
        .iter()
        .any(|h| h.tier == clean.tier && h.seq == clean.seq));

    let e = cls
        .explain(pb::GetClassificationRequest {
            credit_code: code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!e.why.is_empty());
    let next = e.next.expect("a D enterprise has a next step");
    assert_eq!(next.target, "C");
    assert!(
        next.blocking_overrides
            .contains(&"lists.serious".to_string()),
        "{next:?}"
    );
    assert!(
        e.next_words.iter().any(|w| w.contains("lists.serious")),
        "{:?}",
        e.next_words
    );

    // A newer rule set, effective later, serves dates from its effective date on; the default
    // keeps serving earlier dates; before any effective date nothing applies.
    let info = rules
        .upload_rule_set(pb::RuleSetFiles {
            files: variant("2026-10-01", 90),
            hash: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    rules
        .activate_rule_set(pb::ActivateRuleSetRequest {
            hash: info.hash.clone(),
        })
        .await
        .unwrap();
    let code1 = synthetic_code(1).to_string();
    let new = cls
        .classify(pb::ClassifyRequest {
            credit_code: code1.clone(),
            as_of: "2026-11-01".into(),
            candidate: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(new.rule_set_hash, info.hash);
    let old = cls
        .classify(pb::ClassifyRequest {
            credit_code: code1.clone(),
            as_of: "2026-06-01".into(),
            candidate: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(old.rule_set_hash, info.hash);
    assert_eq!(new.score, old.score - 10, "base 90 instead of 100");
    assert_eq!(old.as_of, "2026-06-01");
    let none = cls
        .classify(pb::ClassifyRequest {
            credit_code: code1.clone(),
            as_of: "2025-01-01".into(),
            candidate: None,
        })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::FailedPrecondition, "{none:?}");

    // A candidate is evaluated but not stored.
    let before = cls
        .get_classification(pb::GetClassificationRequest {
            credit_code: code1.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let cand = cls
        .classify(pb::ClassifyRequest {
            credit_code: code1.clone(),
            as_of: "2026-11-01".into(),
            candidate: Some(pb::RuleSetFiles {
                files: variant("2026-01-01", 85),
                hash: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((cand.score, cand.seq), (new.score - 5, 0));
    let after = cls
        .get_classification(pb::GetClassificationRequest {
            credit_code: code1.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.seq, after.seq);

    // Rule sets are listed and fetched by hash, byte for byte.
    let list = rules
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rule_sets;
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .any(|r| r.hash == info.hash && r.active && r.activations.len() == 1));
    let files = rules
        .get_rule_set(pb::GetRuleSetRequest {
            hash: info.hash.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(files.files, variant("2026-10-01", 90));
    s.stop().await;
}

#[tokio::test]
async fn bad_rule_sets_are_rejected_with_positions() {
    let s = TestServer::start().await;
    let mut rules = RuleServiceClient::new(s.channel_as(Role::Admin).await);
    let mut files = default_files();
    let lists = files.get_mut("general/lists.toml").unwrap();
    *lists = lists.replacen("when = \"on_serious_list\"", "when = \"on_serius_list\"", 1);
    let report = rules
        .validate_rule_set(pb::RuleSetFiles {
            files: files.clone(),
            hash: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!report.ok);
    let e = &report.errors[0];
    assert_eq!(e.file, "general/lists.toml");
    assert!(e.line > 0 && e.column > 0, "{e:?}");
    assert!(e.message.contains("`on_serius_list`"), "{e:?}");
    let err = rules
        .upload_rule_set(pb::RuleSetFiles {
            files,
            hash: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        violations(&err)[0]
            .0
            .starts_with("files[general/lists.toml]"),
        "{:?}",
        violations(&err)
    );
    let err = rules
        .activate_rule_set(pb::ActivateRuleSetRequest {
            hash: "00".repeat(32),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    s.stop().await;
}

#[tokio::test]
async fn reclassify_and_simulate_a_scope() {
    let s = TestServer::start().await;
    let ch = s.channel_as(Role::Admin).await;
    let mut rec = s.client().await;
    let mut cls = ClassificationServiceClient::new(ch);
    let records: Vec<_> = (0..40)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            if n % 2 == 0 {
                e.jurisdiction = "510107".into();
            }
            e
        })
        .collect();
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    rec.append_events(pb::AppendEventsRequest {
        records: vec![serious("s-2", &synthetic_code(2).to_string())],
    })
    .await
    .unwrap();

    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: Some(pb::Scope {
                jurisdiction: "510107".into(),
            }),
            as_of: "2026-11-01".into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(p) = stream.message().await.unwrap() {
        last = Some(p);
    }
    let last = last.unwrap();
    assert!(last.finished);
    assert_eq!(last.done, 20);
    assert_eq!(last.tiers.iter().sum::<u64>(), 20);
    assert_eq!(last.tiers[3], 1, "the serious-listed enterprise is D");

    // Simulation with a stricter base score: nothing stored, matrix sums to the scope.
    let before = cls
        .get_classification(pb::GetClassificationRequest {
            credit_code: synthetic_code(4).to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    let sim = cls
        .simulate(pb::SimulateRequest {
            candidate: Some(pb::RuleSetFiles {
                files: variant("2026-01-01", 85),
                hash: String::new(),
            }),
            scope: Some(pb::Scope {
                jurisdiction: String::new(),
            }),
            as_of: "2026-11-01".into(),
            max_changes: 5,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sim.matrix.len(), 16);
    assert_eq!(sim.matrix.iter().sum::<u64>(), 40);
    assert_eq!(sim.enterprises, 40);
    // Every synthetic enterprise scores 87 (B) under the defaults; 15 points less is C.
    assert_eq!(sim.matrix[4 + 2], 39, "B to C: {sim:?}");
    assert_eq!(sim.changed, 39);
    assert_eq!(sim.changes.len(), 5);
    assert_eq!(sim.matrix[3 * 4 + 3], 1, "D stays D");
    let after = cls
        .get_classification(pb::GetClassificationRequest {
            credit_code: synthetic_code(4).to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.seq, after.seq, "simulation stores nothing");
    s.stop().await;
}

#[tokio::test]
async fn watcher_resumes_from_its_cursor_without_missing_a_change() {
    let s = TestServer::start().await;
    let ch = s.channel_as(Role::Admin).await;
    let mut rec = s.client().await;
    let mut cls = ClassificationServiceClient::new(ch.clone());
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: (0..6).map(synthetic_enterprise).collect(),
    })
    .await
    .unwrap();
    // Baseline classifications (B: no annual reports on file), so later D ones are changes.
    for n in 0..6 {
        cls.classify(pb::ClassifyRequest {
            credit_code: synthetic_code(n).to_string(),
            as_of: String::new(),
            candidate: None,
        })
        .await
        .unwrap();
    }
    let mut watch = cls
        .watch_tier_changes(pb::WatchTierChangesRequest {
            cursor: 0,
            jurisdiction: "510104".into(),
            direction: "worse".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // New events trigger re-classification on their own.
    rec.append_events(pb::AppendEventsRequest {
        records: vec![serious("w-0", &synthetic_code(0).to_string())],
    })
    .await
    .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), watch.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.credit_code, synthetic_code(0).to_string());
    assert_eq!((first.from.as_str(), first.to.as_str()), ("B", "D"));
    drop(watch); // the watcher goes away...

    for n in 1..4 {
        rec.append_events(pb::AppendEventsRequest {
            records: vec![serious(&format!("w-{n}"), &synthetic_code(n).to_string())],
        })
        .await
        .unwrap();
    }
    // ...and comes back with its cursor: it gets exactly the changes it missed, in order.
    let mut watch = cls
        .watch_tier_changes(pb::WatchTierChangesRequest {
            cursor: first.cursor,
            jurisdiction: "510104".into(),
            direction: "worse".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let m = tokio::time::timeout(std::time::Duration::from_secs(20), watch.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(m.cursor > first.cursor);
        seen.push(m);
    }
    let mut codes: Vec<_> = seen.iter().map(|m| m.credit_code.clone()).collect();
    codes.sort();
    assert_eq!(
        codes,
        (1..4)
            .map(|n| synthetic_code(n).to_string())
            .collect::<Vec<_>>()
    );
    assert!(seen.windows(2).all(|w| w[0].cursor < w[1].cursor));

    // A filter on another jurisdiction or direction sees none of them.
    let mut other = cls
        .watch_tier_changes(pb::WatchTierChangesRequest {
            cursor: 0,
            jurisdiction: String::new(),
            direction: "better".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let none = tokio::time::timeout(std::time::Duration::from_millis(500), other.message()).await;
    assert!(none.is_err(), "no improvement happened");
    let bad = cls
        .watch_tier_changes(pb::WatchTierChangesRequest {
            cursor: 0,
            jurisdiction: String::new(),
            direction: "sideways".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    // A graceful shutdown ends the open watch stream instead of waiting for it forever.
    tokio::time::timeout(std::time::Duration::from_secs(30), s.stop())
        .await
        .expect("shutdown ends watchers");
    assert!(matches!(other.message().await, Ok(None) | Err(_)));
}
