//! Enterprise signals in whole-population runs: a run that moves enterprises into D raises the
//! tier-fall alert from each chunk's store job, an interrupted run resumed after its last
//! committed chunk neither repeats nor loses an alert, and the alerts replay MATCH.

use crate::classify::Classifier;
use crate::domain::{CreditCode, CreditEvent, Date, EventBody};
use crate::warnsvc::AlertFilter;

const TIER_FALL: &str = "enterprise.tier-fall";

fn tier_falls(w: &crate::warnsvc::Warnings) -> Vec<crate::warnsvc::Alert> {
    let filter = AlertFilter {
        rule: Some(TIER_FALL.into()),
        ..Default::default()
    };
    w.list(&filter, None, 1000).unwrap().items
}

fn run(c: &Classifier, as_of: Date) -> crate::Result<crate::classify::RunState> {
    let r = c.start_run(None, as_of, 0)?;
    c.execute_run(r, &mut |_| {})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_raises_tier_falls_in_its_chunks_and_a_resumed_run_repeats_and_loses_none() {
    let (app, stopper) = crate::app::test_app().await;
    app.warnings().ensure_default_rules(0).await.unwrap();
    // More than one chunk, without events: every enterprise starts in the same low tier.
    let n = crate::classify::batch::CHUNK + 300;
    let data = crate::demo::generate(n, 3);
    app.upsert_enterprises(data.enterprises.clone())
        .await
        .unwrap();
    let as_of = crate::demo::demo_as_of();
    let c = app.classifier().clone();
    let first = {
        let c = c.clone();
        tokio::task::spawn_blocking(move || run(&c, as_of).unwrap())
            .await
            .unwrap()
    };
    assert_eq!(first.done, n as u64);
    let w = app.warnings().clone();
    assert!(
        tier_falls(&w).is_empty(),
        "first classifications fall from nothing"
    );

    // One enterprise of the first chunk and one of the second enter the serious list.
    let mut codes: Vec<CreditCode> = data.enterprises.iter().map(|e| e.credit_code).collect();
    codes.sort();
    let picked = [codes[10], codes[crate::classify::batch::CHUNK + 10]];
    let before: Vec<u8> = picked.iter().map(|p| c.latest(p).unwrap().tier).collect();
    assert!(before.iter().all(|t| *t <= 1), "{before:?}: from A or B");
    let events = picked
        .iter()
        .map(|code| CreditEvent {
            event_id: format!("serious-{code}"),
            credit_code: *code,
            effective_date: as_of,
            source_department: "test".into(),
            body: EventBody::SeriousListEntry {
                reason: "test".into(),
            },
        })
        .collect();
    app.append_events(events).await.unwrap();

    // The second chunk's store job fails (a corrupt open-alert index for the second
    // enterprise's tier fall), as a crash after the first chunk's commit would stop the run.
    let subject = format!("enterprise/{}", picked[1]);
    let bogus = crate::storage::Key::AlertOpen(TIER_FALL, &subject).encode();
    app.writer()
        .submit(Box::new(move |tx| {
            let key = crate::storage::Key::AlertOpen(TIER_FALL, &subject);
            tx.put(&key, 999_999u64.to_be_bytes().to_vec());
            Ok(Default::default())
        }))
        .await
        .unwrap();
    let (c2, w2) = (c.clone(), w.clone());
    let (stopped, run_id) = tokio::task::spawn_blocking(move || {
        let r = c2.start_run(None, as_of, 0).unwrap();
        let id = r.id;
        (c2.execute_run(r, &mut |_| {}).unwrap_err(), id)
    })
    .await
    .unwrap();
    assert!(stopped.to_string().contains("missing alert"), "{stopped}");
    let interrupted = c.run(run_id).unwrap();
    assert!(!interrupted.finished);
    assert_eq!(interrupted.done, crate::classify::batch::CHUNK as u64);
    // The first chunk's alert committed with it; the second's did not.
    let after_stop = tier_falls(&w2);
    assert_eq!(after_stop.len(), 1, "{after_stop:?}");
    assert_eq!(after_stop[0].subject, format!("enterprise/{}", picked[0]));

    // Repaired, the run resumes after its checkpoint.
    app.writer()
        .submit(Box::new(move |tx| {
            tx.delete_raw(&bogus);
            Ok(Default::default())
        }))
        .await
        .unwrap();
    let done = {
        let c = c.clone();
        tokio::task::spawn_blocking(move || c.execute_run(c.run(run_id).unwrap(), &mut |_| {}))
            .await
            .unwrap()
            .unwrap()
    };
    assert!(done.finished);
    assert_eq!(done.done, n as u64);
    let changes = c.changes_after(0, 10).unwrap();
    assert_eq!(changes.len(), 2, "the two enterprises only: {changes:?}");

    let alerts = tier_falls(&w);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    for ((a, code), was) in alerts.iter().zip(picked).zip(&before) {
        let latest = c.latest(&code).unwrap();
        assert_eq!(latest.run_id, run_id);
        assert_eq!(latest.tier, 3, "`{code}` on the serious list is D");
        assert_eq!(a.subject, format!("enterprise/{code}"));
        assert_eq!(a.enterprises, [code]);
        assert_eq!(
            a.level,
            crate::warn::Level::Red,
            "straight to D from A or B"
        );
        assert_eq!(a.evidence["tier"], "D");
        let prev = crate::classify::record::tier_of(*was).unwrap();
        assert_eq!(a.evidence["previous_tier"], prev.as_str());
        assert_eq!(a.basis.classification_seq, Some(latest.seq));
        assert_eq!(a.basis.previous_tier.as_deref(), Some(prev.as_str()));
        // Raised once, never fired again by the resumed run.
        let steps: Vec<_> = a.history.iter().map(|t| t.action.as_str()).collect();
        assert_eq!(steps, ["raise"], "{}", a.id);
        let w = w.clone();
        let id = a.id.clone();
        let rep = tokio::task::spawn_blocking(move || w.replay(&id).unwrap())
            .await
            .unwrap();
        assert!(rep.differing.is_empty(), "{}: {rep:?}", a.id);
    }
    // The serious-list entries fired their own rule once each, too.
    let serious = w
        .list(
            &AlertFilter {
                rule: Some("enterprise.serious-list-entry".into()),
                ..Default::default()
            },
            None,
            100,
        )
        .unwrap()
        .items;
    assert_eq!(serious.len(), 2, "{serious:?}");
    drop((app, w, c));
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}

/// A back-test month reads the tier counts of the newest finished whole run as of its last
/// day: a concentration of D that a run in October made fires in October, not in September
/// (whose run saw none), although today's tiers have it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backtest_month_uses_the_tiers_of_its_own_run() {
    let (app, stopper) = crate::app::test_app().await;
    app.warnings().ensure_default_rules(0).await.unwrap();
    // 40 enterprises of one district and industry section (the concentration rule needs 30).
    let mut data = crate::demo::generate(40, 9);
    for e in &mut data.enterprises {
        e.jurisdiction = "510104".into();
        e.industry = "F5211".into();
    }
    app.upsert_enterprises(data.enterprises.clone())
        .await
        .unwrap();
    let c = app.classifier().clone();
    let september = {
        let c = c.clone();
        tokio::task::spawn_blocking(move || run(&c, Date::parse("2026-09-30").unwrap()).unwrap())
            .await
            .unwrap()
    };
    // 15 of 40 (375 per mille) enter the serious list in October: D in October's run.
    let events = data.enterprises[..15]
        .iter()
        .map(|e| CreditEvent {
            event_id: format!("serious-{}", e.credit_code),
            credit_code: e.credit_code,
            effective_date: Date::parse("2026-10-15").unwrap(),
            source_department: "test".into(),
            body: EventBody::SeriousListEntry {
                reason: "test".into(),
            },
        })
        .collect();
    app.append_events(events).await.unwrap();
    let october = {
        let c = c.clone();
        tokio::task::spawn_blocking(move || run(&c, Date::parse("2026-10-31").unwrap()).unwrap())
            .await
            .unwrap()
    };
    assert_eq!(october.tiers[3], 15, "{october:?}");
    let w = app.warnings().clone();
    let bt = tokio::task::spawn_blocking(move || {
        w.backtest(super::RuleSource::InForce, (2026, 8), (2026, 10))
            .unwrap()
    })
    .await
    .unwrap();
    let concentration = |m: &super::eval::BacktestMonth| {
        m.fired
            .iter()
            .filter(|f| f.starts_with("group.high-risk-concentration "))
            .cloned()
            .collect::<Vec<_>>()
    };
    let runs: Vec<_> = bt.months.iter().map(|m| m.tiers_run).collect();
    assert_eq!(runs, [None, Some(september.id), Some(october.id)]);
    assert!(
        concentration(&bt.months[0]).is_empty(),
        "no run, no tier counts"
    );
    assert!(
        concentration(&bt.months[1]).is_empty(),
        "September's tiers had no D: {:?}",
        bt.months[1]
    );
    let fired = concentration(&bt.months[2]);
    assert_eq!(fired.len(), 1, "{:?}", bt.months[2]);
    assert!(
        fired[0].ends_with(" group/district=510104;industry_section=F"),
        "{fired:?}"
    );
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
