//! The alert lifecycle as pure functions: transitions in and out of order, overdue episodes
//! and their one-time escalation, and what re-firing changes.

use super::alert::*;
use crate::domain::Date;
use crate::warn::Level;
use std::collections::BTreeMap;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn firing(level: Level, rate: &str) -> NewFiring {
    NewFiring {
        rule_id: "group.rate".into(),
        subject: "group/district=510104".into(),
        level,
        evidence: BTreeMap::from([("rate_permille".to_string(), rate.to_string())]),
        enterprises: vec![],
        sectors: vec!["food".into()],
        group: vec![("district".into(), "510104".into())],
        district: None,
        routed: vec!["samr-chengdu-food".into()],
        cross_department: false,
        basis: Basis {
            rule_set: "h".into(),
            as_of: d("2026-11-30"),
            cut: 7,
            classification_seq: None,
            previous_tier: None,
            tiers: BTreeMap::new(),
            tiers_run: None,
        },
    }
}

fn raised(level: Level) -> Alert {
    Alert::raise(
        "W1".into(),
        firing(level, "300"),
        "system",
        1,
        d("2026-12-01"),
    )
}

fn msg(e: crate::Error) -> String {
    match e {
        crate::Error::FailedPrecondition(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn transitions_out_of_order_name_the_alert_its_state_and_what_is_allowed() {
    let mut a = raised(Level::Yellow);
    let m = msg(a.warn(vec!["health-chengdu".into()], "p", 2).unwrap_err());
    assert_eq!(
        m,
        "alert `W1` is `raised`: warn is allowed only when `assessed` and confirmed"
    );
    a.assess(false, "lab error", "p", 2).unwrap();
    let m = msg(a.warn(vec!["health-chengdu".into()], "p", 3).unwrap_err());
    assert!(m.contains("a dismissed one can only be closed"), "{m}");
    a.close("dismissed", "p", 4).unwrap();
    assert!(!a.is_open());
    let m = msg(a.close("again", "p", 5).unwrap_err());
    assert_eq!(m, "alert `W1` is `closed`: close is done already");
    let steps: Vec<_> = a.history.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(steps, ["raise", "assess", "close"]);
}

#[test]
fn overdue_alerts_escalate_once_per_episode() {
    // Yellow: 5 days to assess from 2026-12-01.
    let mut a = raised(Level::Yellow);
    assert!(a.overdue_episodes(d("2026-12-06")).is_empty());
    assert_eq!(a.overdue_episodes(d("2026-12-07")), ["assess"]);
    assert!(a.escalate(d("2026-12-07"), "system", 9));
    assert_eq!(a.level, Level::Orange);
    // The same episode does not escalate again, even though orange allows only 3 days.
    assert!(!a.escalate(d("2026-12-20"), "system", 10));
    assert_eq!(a.level, Level::Orange);
    a.assess(true, "real", "p", 11).unwrap();
    a.warn(vec!["health-chengdu".into()], "p", 12).unwrap();
    let action = |deadline: &str| Action {
        kind: ActionKind::Interview,
        deadline: d(deadline),
        note: String::new(),
        outcome: None,
        draw_id: None,
    };
    a.dispose(action("2026-12-10"), "p", 13).unwrap();
    a.dispose(action("2026-12-31"), "p", 14).unwrap();
    assert!(a.overdue_episodes(d("2026-12-10")).is_empty());
    assert_eq!(a.overdue_episodes(d("2026-12-11")), ["action/1"]);
    assert!(a.escalate(d("2026-12-11"), "system", 15));
    assert_eq!(a.level, Level::Red);
    assert!(!a.escalate(d("2026-12-12"), "system", 16));
    a.record_outcome(1, "done", d("2026-12-12"), "p", 17)
        .unwrap();
    assert!(a.overdue_episodes(d("2026-12-12")).is_empty());
    // A second action overdue is a new episode; red stays red but the step is recorded.
    assert!(a.escalate(d("2027-01-01"), "system", 18));
    assert_eq!(a.level, Level::Red);
    let escalations = a.history.iter().filter(|t| t.action == "escalate").count();
    assert_eq!(escalations, 3);
    assert_eq!(a.escalated, ["assess", "action/1", "action/2"]);
}

#[test]
fn refiring_updates_evidence_and_never_lowers_the_level() {
    let mut a = raised(Level::Orange);
    assert!(
        !a.refire(firing(Level::Orange, "300"), "system", 2),
        "same evidence"
    );
    assert!(
        !a.refire(firing(Level::Yellow, "300"), "system", 2),
        "lower level, same evidence"
    );
    assert!(a.refire(firing(Level::Yellow, "250"), "system", 3));
    assert_eq!(
        (a.level, a.evidence["rate_permille"].as_str()),
        (Level::Orange, "250")
    );
    assert!(a.refire(firing(Level::Red, "650"), "system", 4));
    assert_eq!(a.level, Level::Red);
    assert_eq!(
        a.history.last().unwrap().reason,
        "level raised from orange to red"
    );
}

#[test]
fn levels_states_kinds_and_departments_parse_and_refuse_with_the_value() {
    assert_eq!(State::parse("disposing"), Ok(State::Disposing));
    assert!(State::parse("open").unwrap_err().contains("`open`"));
    assert_eq!(
        ActionKind::parse("rectification-order"),
        Ok(ActionKind::RectificationOrder)
    );
    assert!(ActionKind::parse("raid").unwrap_err().contains("`raid`"));
    assert!(check_department("health-chengdu").is_ok());
    assert!(check_department("police").unwrap_err().contains("`police`"));
    assert_eq!(assessment_days(Level::Red), 1);
    assert_eq!(super::store::parse_id("W12"), Some(12));
    for bad in [
        "W",
        "W0",
        "W012",
        "w1",
        "W1x",
        "X1",
        "W99999999999999999999",
    ] {
        assert_eq!(super::store::parse_id(bad), None, "{bad}");
    }
}

/// Over a real writer and in-memory store: escalation is stored once per episode with its
/// audit entry, and firings of one (rule, subject) from many threads make one alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_and_concurrent_firing_over_the_store() {
    let (app, stopper) = crate::app::test_app().await;
    let w = app.warnings().clone();
    let log_size = |app: &crate::app::App| {
        app.records()
            .engine()
            .scan(&crate::storage::keys::prefix::log_entries(), None)
            .count() as u64
    };
    let before = log_size(&app);
    let fired = {
        let w = w.clone();
        tokio::task::spawn_blocking(move || {
            let threads: Vec<_> = (0..6)
                .map(|i| {
                    let w = w.clone();
                    std::thread::spawn(move || {
                        let level = if i == 5 { Level::Orange } else { Level::Yellow };
                        w.fire(
                            vec![firing(level, &format!("{}", 300 + i % 2))],
                            "system",
                            i,
                            d("2026-12-01"),
                        )
                        .unwrap()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap()
    };
    let raised: usize = fired.iter().map(|f| f.raised.len()).sum();
    assert_eq!(raised, 1, "{fired:?}");
    let open = w.open_numbers().unwrap();
    assert_eq!(open.len(), 1);
    let a = w.get("W1").unwrap();
    assert_eq!(a.level, Level::Orange, "the orange firing raised it");
    let changes = a.history.len() as u64;
    assert_eq!(log_size(&app) - before, changes, "one audit entry per step");

    // Orange: 3 days to assess from 2026-12-01.
    let w2 = w.clone();
    let (none, once, again, overdue) = tokio::task::spawn_blocking(move || {
        let none = w2.escalate_overdue(d("2026-12-04"), 1).unwrap();
        let once = w2.escalate_overdue(d("2026-12-05"), 2).unwrap();
        let again = w2.escalate_overdue(d("2026-12-06"), 3).unwrap();
        let overdue = w2.overdue(d("2026-12-06")).unwrap();
        (none, once, again, overdue)
    })
    .await
    .unwrap();
    assert!(none.is_empty());
    assert_eq!(once, [1]);
    assert!(again.is_empty());
    assert_eq!(overdue.len(), 1);
    let a = w.get("W1").unwrap();
    assert_eq!(a.level, Level::Red);
    assert_eq!(a.history.last().unwrap().action, "escalate");
    assert_eq!(log_size(&app) - before, changes + 1);
    let watched = w.changes_after(0, 100).unwrap();
    assert_eq!(watched.len() as u64, changes + 1);
    assert_eq!(watched.last().unwrap().1.action, "escalate");
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}

#[test]
fn fact_blocks_split_back_into_their_facts() {
    let mut block = Vec::new();
    for f in [&b"abc"[..], b"", b"0123456789"] {
        block.extend_from_slice(&(f.len() as u16).to_be_bytes());
        block.extend_from_slice(f);
    }
    let facts = crate::ingest::facts_in_block(&block).unwrap();
    assert_eq!(facts, [&b"abc"[..], b"", b"0123456789"]);
    assert_eq!(
        crate::ingest::facts_in_block(&block[..block.len() - 1]),
        None
    );
    assert_eq!(crate::ingest::facts_in_block(&[0]), None);
    assert_eq!(crate::ingest::facts_in_block(&[]), Some(vec![]));
}
