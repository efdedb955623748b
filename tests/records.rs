//! RecordService through a real server: round trips, validation, idempotency, atomicity,
//! pagination, bulk streaming, health and reflection.

mod common;

use common::*;
use creditrisk::server::pb;
use tonic::Code;

async fn seed_enterprises(
    c: &mut pb::record_service_client::RecordServiceClient<AuthChannel>,
    n: u64,
) {
    let records = (0..n).map(synthetic_enterprise).collect();
    c.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
}

#[tokio::test]
async fn enterprise_round_trip_pseudonym_and_idempotency() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let mut e = synthetic_enterprise(1);
    e.legal_representative = "510104199001011234".into();
    let r = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![e.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.accepted, r.duplicates), (1, 0));
    let got = c
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: e.credit_code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name, e.name);
    assert_eq!(got.industry, "F5211");
    assert_eq!(got.registered_capital_yuan, 1_000_000);
    assert_eq!(got.seq, r.seqs[0]);
    assert!(
        got.legal_representative.starts_with("lr:"),
        "{}",
        got.legal_representative
    );
    assert!(!got.legal_representative.contains("1990"));
    assert!(got.warnings.is_empty());

    // The same record again is a no-op; so is the record read back (pseudonym kept).
    let again = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![e.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (again.accepted, again.duplicates, again.seqs.clone()),
        (0, 1, r.seqs.clone())
    );
    let mut back = got.clone();
    back.seq = 0;
    back.warnings.clear();
    let same = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![back.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.duplicates, 1);

    // A change is a new version with a new seq.
    back.status = pb::EnterpriseStatus::Revoked as i32;
    let upd = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![back],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(upd.accepted, 1);
    assert!(upd.seqs[0] > r.seqs[0]);
    let got2 = c
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: e.credit_code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got2.status, pb::EnterpriseStatus::Revoked as i32);

    let missing = c
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: synthetic_code(99).to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains(&synthetic_code(99).to_string()));
    s.stop().await;
}

#[tokio::test]
async fn wrong_check_character_and_legacy_codes() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let mut e = synthetic_enterprise(2);
    e.credit_code = "91350100M0001TGQXM".into();
    let err = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![e.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].0, "records[0].credit_code");
    assert!(
        v[0].1.contains("`91350100M0001TGQXM`") && v[0].1.contains("legacy"),
        "{}",
        v[0].1
    );

    e.legacy_code = true;
    c.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: vec![e.clone()],
    })
    .await
    .unwrap();
    let got = c
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: e.credit_code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(got.legacy_code);
    assert!(
        got.warnings.iter().any(|w| w.contains("legacy")),
        "{:?}",
        got.warnings
    );
    let listed = c
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed
        .enterprises
        .iter()
        .all(|x| x.warnings.iter().any(|w| w.contains("legacy"))));

    // Events may name the registered legacy code, but not an unregistered wrong one.
    let mut ev = synthetic_event("legacy", 1, 0);
    ev.credit_code = e.credit_code.clone();
    c.append_events(pb::AppendEventsRequest { records: vec![ev] })
        .await
        .unwrap();
    let mut bad = synthetic_event("legacy", 2, 0);
    bad.credit_code = "91510100054946627X".into();
    let err = c
        .append_events(pb::AppendEventsRequest { records: vec![bad] })
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "records[0].credit_code");

    // A valid code marked legacy is simply not legacy.
    let mut ok = synthetic_enterprise(3);
    ok.legacy_code = true;
    c.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: vec![ok.clone()],
    })
    .await
    .unwrap();
    let got = c
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: ok.credit_code,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!got.legacy_code && got.warnings.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn events_idempotent_conflicting_and_atomic() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    seed_enterprises(&mut c, 3).await;
    let batch: Vec<_> = (0..5).map(|i| synthetic_event("ev", i, i % 3)).collect();
    let r = c
        .append_events(pb::AppendEventsRequest {
            records: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.accepted, r.duplicates), (5, 0));
    assert!(r.seqs.windows(2).all(|w| w[0] < w[1]));

    let again = c
        .append_events(pb::AppendEventsRequest {
            records: batch.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.accepted, again.duplicates), (0, 5));
    assert_eq!(again.seqs, r.seqs);

    // Same id, other content: conflict, and the new event in the same batch is not written.
    let mut changed = batch[1].clone();
    changed.effective_date = "2020-01-01".into();
    let fresh = synthetic_event("ev", 100, 0);
    let err = c
        .append_events(pb::AppendEventsRequest {
            records: vec![fresh.clone(), changed],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(violations(&err)[0].0, "records[1].event_id");
    let evs = c
        .list_events(pb::ListEventsRequest {
            credit_code: synthetic_code(0).to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(evs.iter().all(|e| e.event_id != "ev-100"));
    assert_eq!(
        evs.iter()
            .find(|e| e.event_id == "ev-3")
            .unwrap()
            .effective_date,
        batch[3].effective_date
    );

    // One bad record rejects the whole batch; every problem is named.
    let mut bad = synthetic_event("atomic", 2, 1);
    if let Some(pb::credit_event::Body::Penalty(p)) = bad.body.as_mut() {
        p.amount_yuan = -5;
    } else {
        bad.body = Some(pb::credit_event::Body::Penalty(pb::Penalty {
            decision_number: "x".into(),
            amount_yuan: -5,
            severity: pb::PenaltySeverity::General as i32,
            kind: "fine".into(),
        }));
    }
    let mut bad_date = synthetic_event("atomic", 3, 1);
    bad_date.effective_date = "2023-02-30".into();
    let good = synthetic_event("atomic", 1, 1);
    let err = c
        .append_events(pb::AppendEventsRequest {
            records: vec![good, bad, bad_date],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = violations(&err);
    assert!(
        v.iter()
            .any(|(f, d)| f == "records[2].effective_date" && d.contains("`2023-02-30`")),
        "{v:?}"
    );
    let err2 = c
        .append_events(pb::AppendEventsRequest {
            records: vec![synthetic_event("atomic", 1, 1), {
                let mut b = synthetic_event("atomic", 2, 1);
                b.body = Some(pb::credit_event::Body::Penalty(pb::Penalty {
                    decision_number: "x".into(),
                    amount_yuan: -5,
                    severity: pb::PenaltySeverity::General as i32,
                    kind: "fine".into(),
                }));
                b
            }],
        })
        .await
        .unwrap_err();
    let v2 = violations(&err2);
    assert!(
        v2.iter()
            .any(|(f, d)| f == "records[1].penalty.amount_yuan" && d.contains("`-5`")),
        "{v2:?}"
    );
    let evs = c
        .list_events(pb::ListEventsRequest {
            credit_code: synthetic_code(1).to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        evs.iter().all(|e| !e.event_id.starts_with("atomic")),
        "nothing of a rejected batch is readable"
    );

    // Unknown enterprise, missing body, unknown repaired event.
    let mut orphan = synthetic_event("orphan", 1, 0);
    orphan.credit_code = synthetic_code(500).to_string();
    let mut nobody = synthetic_event("nobody", 1, 0);
    nobody.body = None;
    let err = c
        .append_events(pb::AppendEventsRequest {
            records: vec![nobody],
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "records[0].body");
    let err = c
        .append_events(pb::AppendEventsRequest {
            records: vec![orphan],
        })
        .await
        .unwrap_err();
    assert!(violations(&err)[0].1.contains("no enterprise"));
    let mut repair = synthetic_event("repair", 1, 0);
    repair.body = Some(pb::credit_event::Body::CreditRepair(pb::CreditRepair {
        repairs_event_id: "does-not-exist".into(),
        class: pb::RepairClass::Minor as i32,
    }));
    let err = c
        .append_events(pb::AppendEventsRequest {
            records: vec![repair.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&err)[0].0,
        "records[0].credit_repair.repairs_event_id"
    );
    repair.body = Some(pb::credit_event::Body::CreditRepair(pb::CreditRepair {
        repairs_event_id: "ev-0".into(),
        class: pb::RepairClass::Minor as i32,
    }));
    c.append_events(pb::AppendEventsRequest {
        records: vec![repair],
    })
    .await
    .unwrap();
    s.stop().await;
}

#[tokio::test]
async fn every_event_kind_round_trips() {
    use pb::credit_event::Body as B;
    let s = TestServer::start().await;
    let mut c = s.client().await;
    seed_enterprises(&mut c, 1).await;
    // The roster is the admin's.
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest {
            records: vec![pb::Inspector {
                inspector_id: "insp-1".into(),
                name: "张三".into(),
                department: "samr-chengdu".into(),
                jurisdictions: vec!["510104".into()],
                qualifications: vec!["food".into()],
                certificate_number: "CD-0001".into(),
                certificate_expiry: "2028-12-31".into(),
                active: true,
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    let bodies = vec![
        B::Penalty(pb::Penalty {
            decision_number: "d-1".into(),
            amount_yuan: 30000,
            severity: pb::PenaltySeverity::Serious as i32,
            kind: "fine".into(),
        }),
        B::AbnormalListEntry(pb::AbnormalListEntry {
            ground: pb::AbnormalGround::Unreachable as i32,
        }),
        B::AbnormalListExit(pb::AbnormalListExit {}),
        B::SeriousListEntry(pb::SeriousListEntry {
            reason: "heavy fine".into(),
        }),
        B::SeriousListExit(pb::SeriousListExit {}),
        B::SpotCheck(pb::SpotCheck {
            passed: false,
            product_category: "dairy".into(),
        }),
        B::Complaint(pb::Complaint { verified: true }),
        B::Honour(pb::Honour {
            kind: "quality-award".into(),
        }),
        B::TaxGrade(pb::TaxCreditGrade {
            year: 2024,
            grade: pb::TaxGrade::M as i32,
        }),
        B::AnnualReport(pb::AnnualReport {
            year: 2024,
            filed_on: "2025-05-20".into(),
        }),
        B::CreditRepair(pb::CreditRepair {
            repairs_event_id: "k-0".into(),
            class: pb::RepairClass::General as i32,
        }),
        B::LicenceGranted(pb::Licence {
            kind: "food".into(),
        }),
        B::LicenceRevoked(pb::Licence {
            kind: "food".into(),
        }),
        B::Inspection(pb::InspectionResult {
            item_id: "item-1".into(),
            inspector_ids: vec!["insp-1".into()],
            result_codes: vec!["A".into(), "4".into()],
            draw_id: "draw-1".into(),
        }),
    ];
    let records: Vec<_> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| pb::CreditEvent {
            event_id: format!("k-{i}"),
            credit_code: synthetic_code(0).to_string(),
            effective_date: "2025-06-01".into(),
            source_department: "samr-chengdu".into(),
            body: Some(b),
            seq: 0,
        })
        .collect();
    c.append_events(pb::AppendEventsRequest {
        records: records.clone(),
    })
    .await
    .unwrap();
    let got = c
        .list_events(pb::ListEventsRequest {
            credit_code: synthetic_code(0).to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(got.len(), records.len());
    for (g, r) in got.iter().zip(&records) {
        let mut g = g.clone();
        assert!(g.seq > 0);
        g.seq = 0;
        let mut r = r.clone();
        if let Some(B::Inspection(i)) = r.body.as_mut() {
            i.result_codes.sort(); // a set: returned in canonical order
            i.result_codes = vec!["4".into(), "A".into()];
        }
        assert_eq!(g, r);
    }

    // Inspections through RecordInspections: unknown inspector rejected; valid ones stored as events.
    let insp = pb::Inspection {
        inspection_id: "ins-1".into(),
        credit_code: synthetic_code(0).to_string(),
        item_id: "item-1".into(),
        date: "2025-07-01".into(),
        department: "samr-chengdu".into(),
        inspector_ids: vec!["insp-1".into(), "ghost".into()],
        result_codes: vec!["1".into()],
        draw_id: String::new(),
    };
    let err = c
        .record_inspections(pb::RecordInspectionsRequest {
            records: vec![insp.clone()],
        })
        .await
        .unwrap_err();
    let v = violations(&err);
    assert_eq!(v[0].0, "records[0].inspector_ids[1]", "{v:?}");
    let mut bad_code = insp.clone();
    bad_code.result_codes = vec!["2".into()];
    let err = c
        .record_inspections(pb::RecordInspectionsRequest {
            records: vec![bad_code],
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "records[0].result_codes[0]");
    let mut ok = insp;
    ok.inspector_ids = vec!["insp-1".into()];
    c.record_inspections(pb::RecordInspectionsRequest { records: vec![ok] })
        .await
        .unwrap();
    let got = c
        .list_events(pb::ListEventsRequest {
            credit_code: synthetic_code(0).to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(got.last().unwrap().event_id, "ins-1");
    s.stop().await;
}

#[tokio::test]
async fn pagination_and_filters() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let records: Vec<_> = (0..250)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            if n % 5 == 0 {
                e.jurisdiction = "chengdu-hitech".into();
                e.industry = "C1391".into();
            }
            e
        })
        .collect();
    c.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    let mut all = Vec::new();
    let mut req = pb::ListEnterprisesRequest {
        page_size: 100,
        ..Default::default()
    };
    let mut pages = 0;
    loop {
        let r = c.list_enterprises(req.clone()).await.unwrap().into_inner();
        pages += 1;
        all.extend(r.enterprises.into_iter().map(|e| e.credit_code));
        if r.next_page_token.is_empty() {
            break;
        }
        req.page_token = r.next_page_token;
    }
    assert_eq!(all.len(), 250);
    assert!(pages >= 3);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "credit-code order, no repeats");

    let mut zone = Vec::new();
    let mut req = pb::ListEnterprisesRequest {
        page_size: 7,
        jurisdiction: "chengdu-hitech".into(),
        ..Default::default()
    };
    loop {
        let r = c.list_enterprises(req.clone()).await.unwrap().into_inner();
        assert!(r
            .enterprises
            .iter()
            .all(|e| e.jurisdiction == "chengdu-hitech"));
        zone.extend(r.enterprises);
        if r.next_page_token.is_empty() {
            break;
        }
        req.page_token = r.next_page_token;
    }
    assert_eq!(zone.len(), 50);
    let c_section = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 1000,
            industry_section: "C".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c_section.enterprises.len(), 50);
    let active = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 1000,
            status: pb::EnterpriseStatus::Revoked as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(active.enterprises.is_empty());

    // A token is bound to its filters; nonsense tokens and sizes are named.
    let first = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 10,
            page_token: first.next_page_token,
            jurisdiction: "510104".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violations(&err)[0].0, "page_token");
    let err = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_token: "garbage!".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&err)[0].0, "page_token");
    let err = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(violations(&err)[0].1.contains("`5000`"));

    // Events paginate too.
    let evs: Vec<_> = (0..25).map(|i| synthetic_event("p", i, 0)).collect();
    c.append_events(pb::AppendEventsRequest { records: evs })
        .await
        .unwrap();
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let r = c
            .list_events(pb::ListEventsRequest {
                credit_code: synthetic_code(0).to_string(),
                page_size: 10,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(r.events.iter().map(|e| e.seq));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(ids.len(), 25);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    s.stop().await;
}

#[tokio::test]
async fn bulk_stream_acknowledges_each_chunk_in_order() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    seed_enterprises(&mut c, 10).await;
    let mut chunks = Vec::new();
    for k in 0..12u64 {
        let mut recs: Vec<_> = (0..100)
            .map(|i| synthetic_event("bulk", k * 100 + i, i % 10))
            .collect();
        if k == 5 {
            recs[42].effective_date = "not-a-date".into();
        }
        chunks.push(pb::AppendEventsRequest { records: recs });
    }
    let acks: Vec<pb::ChunkAck> = {
        let mut stream = c
            .bulk_append_events(futures::stream::iter(chunks))
            .await
            .unwrap()
            .into_inner();
        let mut v = Vec::new();
        while let Some(a) = stream.message().await.unwrap() {
            v.push(a);
        }
        v
    };
    assert_eq!(acks.len(), 12);
    for (i, a) in acks.iter().enumerate() {
        assert_eq!(a.chunk, i as u64);
        if i == 5 {
            assert!(!a.ok);
            assert_eq!(a.error_code, Code::InvalidArgument as i32);
            assert_eq!(a.violations[0].field, "records[42].effective_date");
        } else {
            assert!(a.ok, "{a:?}");
            assert_eq!(a.summary.as_ref().unwrap().accepted, 100);
        }
    }
    let mut total = 0;
    for n in 0..10 {
        let mut token = String::new();
        loop {
            let r = c
                .list_events(pb::ListEventsRequest {
                    credit_code: synthetic_code(n).to_string(),
                    page_size: 1000,
                    page_token: token,
                })
                .await
                .unwrap()
                .into_inner();
            assert!(r
                .events
                .iter()
                .all(|e| !(500..600).contains(&e.event_id[5..].parse::<u64>().unwrap())));
            total += r.events.len();
            if r.next_page_token.is_empty() {
                break;
            }
            token = r.next_page_token;
        }
    }
    assert_eq!(total, 1100);
    s.stop().await;
}

#[tokio::test]
async fn inspectors_upsert_list_and_validate() {
    let s = TestServer::start().await;
    let mut c = s.client_as(Role::Admin).await;
    let mk = |i: u32, dept: &str, active: bool| pb::Inspector {
        inspector_id: format!("insp-{i:03}"),
        name: format!("检查员{i}"),
        department: dept.into(),
        jurisdictions: vec![if i.is_multiple_of(2) {
            "510104".into()
        } else {
            "510105".into()
        }],
        qualifications: vec!["general".into()],
        certificate_number: format!("CD-{i}"),
        certificate_expiry: "2027-06-30".into(),
        conflict_enterprises: vec![synthetic_code(i as u64).to_string()],
        conflict_legal_representatives: vec!["510104198001010011".into()],
        active,
        seq: 0,
    };
    let recs: Vec<_> = (0..30)
        .map(|i| {
            mk(
                i,
                if i < 20 {
                    "samr-chengdu"
                } else {
                    "health-chengdu"
                },
                i % 10 != 0,
            )
        })
        .collect();
    c.upsert_inspectors(pb::UpsertInspectorsRequest { records: recs })
        .await
        .unwrap();
    let r = c
        .list_inspectors(pb::ListInspectorsRequest {
            department: "samr-chengdu".into(),
            jurisdiction: "510104".into(),
            active_only: true,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.inspectors.len(), 8); // even ids below 20, minus 0 and 10
    assert!(r
        .inspectors
        .iter()
        .all(|i| i.conflict_legal_representatives[0].starts_with("lr:")));
    let mut bad = mk(99, "samr-chengdu", true);
    bad.jurisdictions = vec!["chengdu".into()];
    bad.certificate_expiry = "2027-13-01".into();
    let err = c
        .upsert_inspectors(pb::UpsertInspectorsRequest {
            records: vec![mk(98, "x", true), bad],
        })
        .await
        .unwrap_err();
    let fields: Vec<_> = violations(&err).into_iter().map(|v| v.0).collect();
    assert_eq!(fields, ["records[1].certificate_expiry"]);
    s.stop().await;
}

#[tokio::test]
async fn health_reflection_and_message_limit() {
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let s = TestServer::start_with(creditrisk::server::Limits {
        max_message_bytes: 64 * 1024,
        ..Default::default()
    })
    .await;
    // Health and reflection need no token.
    let ch = s.raw_channel().await;
    let mut h = HealthClient::new(ch.clone());
    let r = h
        .check(HealthCheckRequest {
            service: "creditrisk.v1.RecordService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, 1, "SERVING");

    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let mut refl = ServerReflectionClient::new(ch.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = refl
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let msg = resp.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("{msg:?}")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"creditrisk.v1.RecordService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
    // The services themselves do.
    let err = pb::record_service_client::RecordServiceClient::new(ch)
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    let mut c = s.client().await;
    let mut e = synthetic_enterprise(1);
    e.address = "x".repeat(100 * 1024);
    let err = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest { records: vec![e] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    s.stop().await;
}

#[tokio::test]
async fn data_survive_a_clean_restart() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    seed_enterprises(&mut c, 5).await;
    let evs: Vec<_> = (0..50).map(|i| synthetic_event("r", i, i % 5)).collect();
    let first = c
        .append_events(pb::AppendEventsRequest {
            records: evs.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    drop(c);
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, Default::default()).await;
    let mut c = s.client().await;
    let again = c
        .append_events(pb::AppendEventsRequest { records: evs })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.duplicates, 50);
    assert_eq!(again.seqs, first.seqs);
    let more = c
        .append_events(pb::AppendEventsRequest {
            records: vec![synthetic_event("r", 99, 0)],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        more.seqs[0] > *first.seqs.iter().max().unwrap(),
        "seq numbers continue after a restart"
    );
    s.stop().await;
}
