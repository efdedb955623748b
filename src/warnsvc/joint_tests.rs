//! Alert steps stored with the draw service's writes in one job: a group ratio override with
//! its alert's `ratio` step (both or neither), and a joint draw with its disposal (refused,
//! draw and all, when another disposal was recorded after the alert was read).

use super::alert::{ActionKind, Basis, NewFiring};
use super::service::{dispose_step, NewAction};
use crate::domain::Date;
use crate::draw::{GroupRatio, TierValues};
use crate::warn::Level;
use std::collections::BTreeMap;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn group_firing() -> NewFiring {
    NewFiring {
        rule_id: "group.spot-check-failure-rate".into(),
        subject: "group/district=510104;product_category=bakery".into(),
        level: Level::Orange,
        evidence: BTreeMap::from([("rate_permille".to_string(), "417".to_string())]),
        enterprises: vec![crate::cli::bench::synthetic_code(1)],
        sectors: vec!["food".into()],
        group: vec![
            ("district".into(), "510104".into()),
            ("product_category".into(), "bakery".into()),
        ],
        district: Some("510104".into()),
        routed: vec!["samr-chengdu-food".into()],
        cross_department: false,
        basis: Basis {
            rule_set: "h".into(),
            as_of: d("2026-11-30"),
            cut: 1,
            classification_seq: None,
            previous_tier: None,
            tiers: BTreeMap::new(),
            tiers_run: None,
        },
    }
}

fn ratio() -> GroupRatio {
    GroupRatio {
        basis: "W1".into(),
        district: Some("510104".into()),
        industry: None,
        ratio_per_mille: TierValues {
            a: 300,
            b: 500,
            c: 800,
            d: 1000,
        },
        valid_from: d("2026-12-01"),
        valid_until: d("2027-02-28"),
    }
}

fn action(note: &str, draw_id: Option<String>) -> NewAction {
    NewAction {
        kind: ActionKind::JointInspection,
        deadline: d("2026-12-31"),
        note: note.into(),
        draw_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ratio_and_its_step_and_a_draw_and_its_disposal_are_each_one_write() {
    let (mut app, stopper) = crate::app::test_app().await;
    app.enable_draws(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
        .unwrap();
    let w = app.warnings().clone();
    let draws = app.draws().unwrap().clone();
    tokio::task::spawn_blocking(move || {
        let fired = w
            .fire(vec![group_firing()], "system", 1, d("2026-12-01"))
            .unwrap();
        assert_eq!(fired.raised, [1]);
        let ratio_steps = |w: &super::Warnings| {
            let a = w.get("W1").unwrap();
            a.history.iter().filter(|t| t.action == "ratio").count()
        };

        // A refused step (the alert is not confirmed) stores no override.
        let (_, job) = draws.group_ratio_job(ratio(), "p", 2).unwrap();
        let e = w
            .record_ratio_with("W1", "raise".into(), "p", 2, job)
            .unwrap_err();
        assert!(matches!(e, crate::Error::FailedPrecondition(_)), "{e:?}");
        assert!(draws.group_ratios().unwrap().is_empty());
        assert_eq!(ratio_steps(&w), 0);

        // Confirmed: the override and the step, together.
        w.assess("W1", true, "real".into(), "p", 3).unwrap();
        let (_, job) = draws.group_ratio_job(ratio(), "p", 4).unwrap();
        let a = w
            .record_ratio_with("W1", "raise".into(), "p", 4, job)
            .unwrap();
        assert_eq!(a.history.last().unwrap().action, "ratio");
        let stored = draws.group_ratios().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].ratio.basis, "W1");
        assert_eq!(ratio_steps(&w), 1);

        // A refused override (one per alert) takes its step back with it.
        let (_, job) = draws.group_ratio_job(ratio(), "p", 5).unwrap();
        let e = w
            .record_ratio_with("W1", "again".into(), "p", 5, job)
            .unwrap_err();
        assert!(matches!(e, crate::Error::Conflict(_)), "{e:?}");
        assert_eq!(draws.group_ratios().unwrap().len(), 1);
        assert_eq!(ratio_steps(&w), 1, "the step of the refused override is not stored");

        // A disposal with a draw after another disposal was recorded since the alert was
        // read: refused, and its draw not stored.
        w.warn("W1", vec!["samr-chengdu-food".into()], "p", 6)
            .unwrap();
        let read = w.get("W1").unwrap();
        w.dispose("W1", action("meanwhile", None), "p", 7).unwrap();
        let routing = crate::warn::routing::Routing::built_in().unwrap();
        let firing = crate::warn::Firing {
            rule_id: read.rule_id.clone(),
            subject: read.subject.clone(),
            level: read.level,
            evidence: read.evidence.clone(),
            enterprises: read.enterprises.clone(),
            sectors: read.sectors.clone(),
            group: read.group.clone(),
        };
        let target = crate::drawsvc::AlertTarget::from_firing("W1", "t", &firing, &routing);
        let attempt = |expected: usize, at: i64| {
            let w2 = w.clone();
            let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
            let out = slot.clone();
            let then = Box::new(move |draw_id: &str| -> crate::storage::Job {
                let step = dispose_step(
                    action("with a draw", Some(draw_id.into())),
                    Some(expected),
                    "p",
                    at,
                );
                let (job, s) = w2.change_job("W1", step).unwrap();
                super::store::put_slot(&out, s);
                job
            });
            let r = draws.joint_draw_for_alert(
                &target,
                d("2026-11-30"),
                d("2026-12-02"),
                Some(format!("seed {at}")),
                "p",
                at,
                Some(then),
            );
            (r, slot)
        };
        let (r, _) = attempt(read.actions.len(), 8);
        let Err(e) = r else {
            panic!("a stale disposal is refused")
        };
        assert!(matches!(e, crate::Error::FailedPrecondition(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "failed precondition: alert `W1` is `disposing`: another disposal was recorded while this one's draw \
             was made (it had 0 actions, now 1); this draw was not stored"
        );
        assert!(draws.list(None, 10).unwrap().items.is_empty(), "no draw stored");
        assert_eq!(w.get("W1").unwrap().actions.len(), 1);

        // Read afresh, it goes through: one draw, on the new action.
        let (r, slot) = attempt(1, 9);
        let view = r.unwrap();
        let a = w
            .committed_change(&super::store::take_slot(&slot).unwrap())
            .unwrap();
        assert_eq!(a.actions.len(), 2);
        assert_eq!(
            a.actions[1].draw_id.as_deref(),
            Some(view.record.draw_id.as_str())
        );
        let stored = draws.list(None, 10).unwrap().items;
        assert_eq!(stored.len(), 1);
    })
    .await
    .unwrap();
    drop(app);
    tokio::task::spawn_blocking(move || stopper.close())
        .await
        .unwrap();
}
