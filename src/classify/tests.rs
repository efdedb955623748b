//! Batch reads through event segments give exactly what the event keys give.

use super::inputs::{gather_range, RepIndex, Shares, Sources};
use crate::storage::{segments, EventSegments};

#[tokio::test]
async fn batch_inputs_and_simulation_are_the_same_with_and_without_segments() {
    let (app, stopper) = crate::app::test_app().await;
    let rules = crate::app::default_rules_dir();
    // Enough enterprises for three segments; most events before the compaction, the rest
    // after it, and some enterprises changed after it too.
    let data = crate::demo::generate(2_500, 11);
    app.upsert_enterprises(data.enterprises.clone())
        .await
        .unwrap();
    app.upsert_inspectors(data.inspectors.clone(), "test")
        .await
        .unwrap();
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
