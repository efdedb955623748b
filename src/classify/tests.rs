//! Batch reads through event segments give exactly what the event keys give; whole runs stored
//! as blocks read back, change tiers and audit exactly like records stored one by one.

use super::inputs::{gather_range, RepIndex, Shares, Sources};
use crate::storage::{segments, EventSegments};

#[tokio::test]
async fn batch_inputs_and_simulation_are_the_same_with_and_without_segments() {
    let rules = crate::app::default_rules_dir();
    // Enough enterprises for three segments; most events before the compaction, the rest
    // after it, and some enterprises changed after it too.
    let (app, stopper, data) = demo_app(2_500, 11).await;
    let split = data.events.len() * 7 / 10;
    for c in data.events[..split].chunks(2_000) {
        app.append_events(c.to_vec()).await.unwrap();
    }
    let c = app.classifier().clone();
    let built =
        tokio::task::spawn_blocking(move || segments::compact(c.records(), c.writer()).unwrap())
            .await
            .unwrap();
    assert!(built.total >= 2, "{built:?}");
    let at_compaction = app.records().next_seq().unwrap() - 1;
    for c in data.events[split..].chunks(2_000) {
        app.append_events(c.to_vec()).await.unwrap();
    }
    let mut changed: Vec<_> = data.enterprises[100..130].to_vec();
    for (i, e) in changed.iter_mut().enumerate() {
        e.registered_capital_yuan += 1;
        // Some move to a representative shared with another enterprise (relation features).
        if i % 3 == 0 {
            e.legal_representative = data.enterprises[0].legal_representative.clone();
        }
    }
    app.upsert_enterprises(changed).await.unwrap();
    let now = app.records().next_seq().unwrap() - 1;
    let records = app.records().clone();
    let c = app.classifier().clone();
    tokio::task::spawn_blocking(move || {
        let codes = super::batch::codes_in_scope(&c, None, None).unwrap();
        let reps = RepIndex::load(&records).unwrap();
        let as_of = crate::demo::demo_as_of();
        for cut in [at_compaction / 2, at_compaction, at_compaction + 7, now] {
            let segs = EventSegments::load(records.engine().as_ref(), cut)
                .unwrap()
                .unwrap();
            let shares = Shares::load(&records, &reps, Some(&segs), cut, as_of).unwrap();
            let keys_only = Sources {
                reps: &reps,
                segments: None,
                shares: None,
            };
            let batch = Sources {
                reps: &reps,
                segments: Some(&segs),
                shares: Some(&shares),
            };
            for part in [&codes[..], &codes[900..1_700], &codes[5..6]] {
                let by_keys = gather_range(&records, part, cut, as_of, keys_only).unwrap();
                let by_segs = gather_range(&records, part, cut, as_of, batch).unwrap();
                assert_eq!(by_keys.len(), part.len());
                assert_eq!(format!("{by_keys:?}"), format!("{by_segs:?}"), "cut {cut}");
            }
            // Some enterprises have related ones, so the shares were used.
            assert!(by_relations(&records, &codes, cut, as_of, batch) > 0);
            // A segment set read at one cut is refused at another.
            assert!(gather_range(&records, &codes, cut + 1, as_of, batch).is_err());
        }
        // Listing every code in parallel ranges, from the start or after a run's cursor.
        let batch = super::inputs::BatchSource::load(&records, now, as_of).unwrap();
        for after in [
            None,
            Some(codes[0]),
            Some(codes[1_234]),
            codes.last().copied(),
        ] {
            let listed = super::batch::codes_whole(&c, &batch, after).unwrap();
            let expected: Vec<_> = codes
                .iter()
                .filter(|code| after.is_none_or(|a| **code > a))
                .copied()
                .collect();
            assert_eq!(listed, expected, "after {after:?}");
        }
        // The simulation (whole scope: segments) agrees with one lookup per enterprise.
        let candidate = crate::rules::RuleSet::load(&rules).unwrap();
        let (whole, _) = c.simulate_blocking(None, &candidate, as_of, 10).unwrap();
        let (one_by_one, _) = c
            .simulate_blocking(Some(&codes), &candidate, as_of, 10)
            .unwrap();
        assert_eq!(whole.enterprises, codes.len() as u64);
        assert_eq!(whole.matrix, one_by_one.matrix);
    })
    .await
    .unwrap();
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}

/// The in-memory test app with a demo population's enterprises and inspectors stored (its
/// events are left to the test).
async fn demo_app(
    entities: usize,
    seed: u64,
) -> (crate::app::App, crate::app::Stopper, crate::demo::DemoData) {
    let (app, stopper) = crate::app::test_app().await;
    let data = crate::demo::generate(entities, seed);
    app.upsert_enterprises(data.enterprises.clone())
        .await
        .unwrap();
    app.upsert_inspectors(data.inspectors.clone(), "test")
        .await
        .unwrap();
    (app, stopper, data)
}

/// How many enterprises have other enterprises under their legal representative.
fn by_relations(
    records: &crate::storage::Records,
    codes: &[crate::domain::CreditCode],
    cut: u64,
    as_of: crate::domain::Date,
    src: Sources<'_>,
) -> usize {
    gather_range(records, codes, cut, as_of, src)
        .unwrap()
        .into_iter()
        .flatten()
        .filter(|i| i.relations.other_enterprises > 0)
        .count()
}

/// A jurisdiction's run (records one by one), then whole runs (blocks), with one-by-one
/// classifications in between: histories, latest records, tier changes, the draw snapshot and
/// the audit replay all see one consistent set of classifications; an altered block record is
/// caught by its log digest.
#[tokio::test]
async fn whole_runs_in_blocks_read_change_tiers_and_audit_like_records_one_by_one() {
    use crate::classify::blocks::RecordBlock;
    use crate::classify::record::tier_of;
    use crate::domain::{CreditEvent, EventBody};
    use crate::storage::codec::{decode, encode};
    use crate::storage::engine::Op;
    use crate::storage::keys::prefix;
    let (app, stopper, data) = demo_app(1_500, 5).await;
    for c in data.events.chunks(2_000) {
        app.append_events(c.to_vec()).await.unwrap();
    }
    let jurisdiction = data.enterprises[0].jurisdiction.clone();
    let c = app.classifier().clone();
    let records = app.records().clone();
    let as_of = crate::demo::demo_as_of();
    let run = move |c: &super::Classifier, j: Option<String>| {
        let r = c.start_run(j, as_of, 0).unwrap();
        c.execute_run(r, &mut |_| {}).unwrap()
    };
    let (local, whole, codes, picked) = tokio::task::spawn_blocking(move || {
        let engine = records.engine().as_ref();
        let local = run(&c, Some(jurisdiction.clone()));
        assert!(local.done > 0);
        let whole = run(&c, None);
        let codes = super::batch::codes_in_scope(&c, None, None).unwrap();
        assert_eq!(whole.done, codes.len() as u64);
        // Only the jurisdiction's run stored records one by one.
        let singles = engine.scan(&prefix::classifications(), None).count() as u64;
        assert_eq!(singles, local.done);
        assert!(engine.scan(&prefix::run_blocks(whole.id), None).count() >= 1);
        // Same data and rules: no tier changed, and first classifications are not changes.
        assert_eq!(whole.changed, 0);
        assert!(c.changes_after(0, 10).unwrap().is_empty());
        for code in &codes {
            let latest = c.latest(code).unwrap();
            let history = c.history(code).unwrap();
            assert_eq!(latest.run_id, whole.id, "`{code}`");
            assert_eq!(history.last(), Some(&latest));
            let local_one = history.iter().any(|r| r.run_id == local.id);
            assert_eq!(history.len(), 1 + local_one as usize, "`{code}`");
        }

        // Three enterprises with tier A enter the serious list and are classified one by one:
        // each change is logged from the tier the whole run stored (the tier layer).
        let picked: Vec<_> = codes
            .iter()
            .filter(|code| c.latest(code).unwrap().tier == 0)
            .take(3)
            .copied()
            .collect();
        assert_eq!(picked.len(), 3);
        (local, whole, codes, picked)
    })
    .await
    .unwrap();
    let events: Vec<CreditEvent> = picked
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
    let c = app.classifier().clone();
    let auditor = app.auditor();
    let records = app.records().clone();
    tokio::task::spawn_blocking(move || {
        let engine = records.engine().as_ref();
        for code in &picked {
            let one = c.classify_one_blocking(*code, as_of, None, true).unwrap();
            assert_eq!(one.record.tier, 3, "`{code}` on the serious list");
        }
        let changes = c.changes_after(0, 10).unwrap();
        assert_eq!(changes.len(), 3);
        for (_, ch) in &changes {
            assert!(picked.contains(&ch.code));
            assert_eq!((ch.from, ch.to), (0, 3));
        }
        // The next whole run agrees with those newer one-by-one records: no change for them.
        // Enterprises sharing their legal representative may change (relation features); each
        // such change is from the tier of the first whole run.
        let again = run(&c, None);
        let later = c.changes_after(changes[2].0, 100).unwrap();
        assert_eq!(later.len() as u64, again.changed);
        for (seq, ch) in &later {
            assert!(!picked.contains(&ch.code), "`{}`", ch.code);
            let h = c.history(&ch.code).unwrap();
            let of = |run: u64| h.iter().find(|r| r.run_id == run).unwrap().tier;
            assert_eq!((ch.from, ch.to), (of(whole.id), of(again.id)));
            assert_eq!(h.last().unwrap().seq, *seq);
        }
        // Classified once more one by one, still D: the layer (newer) says D too, no change.
        let before = c.changes_after(0, 100).unwrap().len();
        c.classify_one_blocking(picked[0], as_of, None, true)
            .unwrap();
        assert_eq!(c.changes_after(0, 100).unwrap().len(), before);
        for code in &picked {
            assert_eq!(c.latest(code).unwrap().tier, 3);
        }

        // The draw snapshot reads the tiers in the blocks: each enterprise's latest tier.
        let cut = c.cut().unwrap();
        let snap =
            crate::drawsvc::snapshot::candidates(&records, cut, as_of, as_of.year()).unwrap();
        assert_eq!(snap.unclassified, 0);
        assert_eq!(snap.candidates.len(), codes.len());
        for cand in &snap.candidates {
            let latest = c.latest(&cand.credit_code).unwrap();
            assert_eq!(
                tier_of(latest.tier).unwrap(),
                cand.tier,
                "`{}`",
                cand.credit_code
            );
        }

        // Every entry of the log replays, block-stored ones included, and matches.
        let size = auditor.size().unwrap();
        let p = auditor
            .replay_range(0, Some(size), None, None, &mut |_| true)
            .unwrap();
        let stored = local.done + whole.done + again.done + 4;
        assert_eq!((p.replayed, p.matched, p.mismatched), (stored, stored, 0));
        // One record and its proof, through the index of its subject.
        let code = codes[codes.len() / 2];
        let rec = c.latest(&code).unwrap();
        let entry = auditor
            .find(&crate::storage::log::classification_subject(&code, rec.seq))
            .unwrap();
        assert_eq!(auditor.check_included(&entry).unwrap(), Ok(()));

        // Alter one record inside a block behind the service's back: its replay fails on the
        // payload digest.
        let (k, v) = engine
            .scan(&prefix::run_blocks(again.id), None)
            .next()
            .unwrap()
            .unwrap();
        let block = RecordBlock::decode(&v, &"test").unwrap();
        let (code, seq) = (
            crate::domain::CreditCode::from_bytes(block.entries[7].0).unwrap(),
            block.first_seq + 7,
        );
        let mut r: super::ClassificationRecord = decode(block.entries[7].1, &"test").unwrap();
        r.score += 1;
        let altered = encode(&r).unwrap();
        let mut entries = block.entries.clone();
        entries[7].1 = &altered;
        let forged = encode(&RecordBlock {
            first_seq: block.first_seq,
            entries,
        })
        .unwrap();
        engine.apply(vec![Op::Put(k, forged)]).unwrap();
        let report = auditor
            .replay_classification(&code, Some(seq), None)
            .unwrap();
        assert!(!report.matched);
        assert!(!report.digest_matches_log);
    })
    .await
    .unwrap();
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
