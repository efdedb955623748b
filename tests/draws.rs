//! Draws through a real server: a full cycle (items, preview, draw, assignments, results,
//! re-classification from a result, publication, overdue list, public results, export and
//! offline verification), a joint draw across two departments, and unstaffable enterprises.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::classification_service_client::ClassificationServiceClient;
use pb::draw_service_client::DrawServiceClient;
use std::collections::{BTreeMap, BTreeSet};
use tonic::Code;

const AS_OF: &str = "2026-11-01";
const INSPECTION: &str = "2026-11-10";

fn inspector(id: &str, dept: &str, quals: &[&str], conflicts: &[String]) -> pb::Inspector {
    pb::Inspector {
        inspector_id: id.into(),
        name: format!("检查员{id}"),
        department: dept.into(),
        jurisdictions: vec!["510104".into(), "510107".into()],
        qualifications: quals.iter().map(|q| q.to_string()).collect(),
        certificate_number: format!("川执{id}"),
        certificate_expiry: "2030-12-31".into(),
        conflict_enterprises: conflicts.to_vec(),
        conflict_legal_representatives: vec![],
        active: true,
        seq: 0,
    }
}

fn item(id: &str, departments: &[&str], quals: &[&str], industries: &[&str]) -> pb::InspectionItem {
    pb::InspectionItem {
        id: id.into(),
        name: format!("item {id}"),
        basis: "《中华人民共和国食品安全法》第一百一十条".into(),
        departments: departments.iter().map(|d| d.to_string()).collect(),
        kind: pb::ItemKind::Key as i32,
        qualifications: quals.iter().map(|q| q.to_string()).collect(),
        scope: Some(pb::ItemScope {
            industries: industries.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        }),
    }
}

fn spec(draw_id: &str, item_id: &str, seed: &str) -> pb::DrawSpec {
    pb::DrawSpec {
        draw_id: draw_id.into(),
        item_id: item_id.into(),
        seed: seed.into(),
        as_of: AS_OF.into(),
        inspection_date: INSPECTION.into(),
        ..Default::default()
    }
}

/// 200 enterprises in 510104 (half of them catering, H6210), classified as of AS_OF; a roster
/// of 12 food inspectors (one with a declared conflict) and 4 health inspectors.
async fn population(s: &TestServer) -> Vec<String> {
    let mut rec = s.client().await;
    let records: Vec<_> = (0..200)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            if n % 2 == 0 {
                e.industry = "H6210".into();
            }
            e
        })
        .collect();
    let codes: Vec<String> = records.iter().map(|e| e.credit_code.clone()).collect();
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    // Two seriously listed enterprises, so tier D is not empty.
    list_seriously(s, &[0, 2]).await;
    let mut roster: Vec<_> = (0..12)
        .map(|i| {
            let conflicts = if i == 0 {
                codes[..100].to_vec()
            } else {
                vec![]
            };
            inspector(&format!("food-{i:02}"), "samr-food", &["food"], &conflicts)
        })
        .collect();
    roster.extend((0..4).map(|i| inspector(&format!("health-{i}"), "health", &["food"], &[])));
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest { records: roster })
        .await
        .unwrap();
    assert_eq!(reclassify_all(s, AS_OF).await.done, 200);
    codes
}

fn team_of(d: &pb::DrawnEnterprise) -> Vec<String> {
    d.team
        .iter()
        .flat_map(|m| m.inspector_ids.iter().cloned())
        .collect()
}

#[tokio::test]
async fn full_cycle_draw_results_publication_and_export() {
    let s = TestServer::start().await;
    let codes = population(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let mut cls = ClassificationServiceClient::new(s.channel_as(Role::Planner).await);

    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![item("food-2026", &["samr-food"], &["food"], &["H62"])],
        })
        .await
        .unwrap();
    // A bad item names its field.
    let bad = draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![item("bad item", &["samr-food"], &["food"], &["H62"])],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        violations(&bad).iter().any(|(f, _)| f == "records[0].id"),
        "{bad:?}"
    );

    // Dry run: counts per tier, nothing stored.
    let preview = draws
        .preview_draw(spec("", "food-2026", "dice 3-1-4-1-5"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(preview.total_candidates, 200);
    assert_eq!(preview.out_of_scope, 100, "only catering is in scope");
    assert_eq!(preview.unclassified, 0);
    let in_scope: u64 = preview.tiers.iter().map(|t| t.candidates).sum();
    assert_eq!(in_scope, 100);
    let k: u64 = preview.tiers.iter().map(|t| t.k).sum();
    assert!(k > 0);
    let listed = draws
        .list_draws(pb::ListDrawsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.draws.is_empty(), "a preview stores nothing");

    // The draw.
    let d = draws
        .create_draw(spec("food-2026-11", "food-2026", "dice 3-1-4-1-5"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.seed_source, "caller");
    assert_eq!(
        d.selected_count, k,
        "the draw takes what the preview announced"
    );
    assert_eq!(d.selected.len() as u64, k);
    assert_eq!(d.tiers, preview.tiers);
    assert_eq!(d.unstaffed_count, 0);
    let d_tier = d.tiers.iter().find(|t| t.tier == "D").unwrap();
    assert_eq!(
        d_tier.candidates, 2,
        "the two listed catering enterprises are D"
    );
    for e in &d.selected {
        let team = team_of(e);
        assert!(team.len() >= 2, "teams have at least 2 members: {e:?}");
        let n = codes.iter().position(|c| *c == e.credit_code).unwrap();
        if n < 100 {
            assert!(
                !team.contains(&"food-00".to_string()),
                "conflict declared: {e:?}"
            );
        }
        assert!(!e.name.is_empty() && !e.address.is_empty());
    }
    // The record is stored and read back identically; the id cannot be reused.
    let got = draws
        .get_draw(pb::GetDrawRequest {
            draw_id: "food-2026-11".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, d);
    let again = draws
        .create_draw(spec("food-2026-11", "food-2026", "another seed"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    // The same inputs under another id give the same selection (determinism).
    let twin = draws
        .create_draw(spec("food-2026-11-twin", "food-2026", "dice 3-1-4-1-5"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(twin.selected, d.selected);
    assert_eq!(twin.candidate_digest, d.candidate_digest);
    // A server-made seed is recorded as such.
    let auto = draws
        .create_draw(spec("", "food-2026", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(auto.seed_source, "server");
    assert_eq!(auto.seed.len(), 32);
    assert!(auto.draw_id.starts_with("draw-20261101-"));

    // Assignments of the first member of the first team.
    let first = &d.selected[0];
    let member = team_of(first)[0].clone();
    // The inspector's own view, with a token acting for that inspector.
    let mut inspector = DrawServiceClient::new(s.inspector_channel(&member).await);
    let mine = inspector
        .list_assignments(pb::ListAssignmentsRequest {
            inspector_id: member.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(mine
        .assignments
        .iter()
        .any(|a| a.draw_id == "food-2026-11" && a.credit_code == first.credit_code));
    let a = mine
        .assignments
        .iter()
        .find(|a| a.draw_id == "food-2026-11" && a.credit_code == first.credit_code)
        .unwrap();
    assert_eq!(a.inspection_date, INSPECTION);
    assert!(a.inspection_id.is_empty());
    assert!(!a.publication_deadline.is_empty());

    // Results: wrong inspector and undrawn enterprise are rejected with their fields.
    let not_drawn = codes
        .iter()
        .find(|c| !d.selected.iter().any(|e| e.credit_code == **c))
        .unwrap();
    let err = inspector
        .record_results(pb::RecordResultsRequest {
            draw_id: "food-2026-11".into(),
            results: vec![
                pb::DrawResult {
                    credit_code: first.credit_code.clone(),
                    inspection_id: String::new(),
                    date: INSPECTION.into(),
                    inspector_ids: vec!["health-3".into(), member.clone()],
                    result_codes: vec!["8".into()],
                },
                pb::DrawResult {
                    credit_code: not_drawn.clone(),
                    inspection_id: String::new(),
                    date: INSPECTION.into(),
                    inspector_ids: team_of(first),
                    result_codes: vec!["1".into()],
                },
            ],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: BTreeSet<String> = violations(&err).into_iter().map(|(f, _)| f).collect();
    assert!(fields.contains("results[0].inspector_ids[0]"), "{err:?}");
    assert!(fields.contains("results[1].credit_code"), "{err:?}");

    let before = cls
        .get_classification(pb::GetClassificationRequest {
            credit_code: first.credit_code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let ok = inspector
        .record_results(pb::RecordResultsRequest {
            draw_id: "food-2026-11".into(),
            results: vec![pb::DrawResult {
                credit_code: first.credit_code.clone(),
                inspection_id: String::new(),
                date: INSPECTION.into(),
                inspector_ids: team_of(first),
                result_codes: vec!["8".into()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.accepted, 1);
    let result_seq = ok.seqs[0];
    // The result is an inspection event of the enterprise, linked to the draw.
    let mut rec = s.client().await;
    let evs = rec
        .list_events(pb::ListEventsRequest {
            credit_code: first.credit_code.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ins = evs
        .events
        .iter()
        .find(|e| e.seq == result_seq)
        .expect("the result is in the credit record");
    assert_eq!(ins.event_id, format!("food-2026-11/{}", first.credit_code));
    match &ins.body {
        Some(pb::credit_event::Body::Inspection(i)) => {
            assert_eq!(i.draw_id, "food-2026-11");
            assert_eq!(i.result_codes, vec!["8".to_string()]);
        }
        other => panic!("not an inspection: {other:?}"),
    }
    // Re-sending is a no-op; the result triggers a re-classification that reads it.
    let dup = inspector
        .record_results(pb::RecordResultsRequest {
            draw_id: "food-2026-11".into(),
            results: vec![pb::DrawResult {
                credit_code: first.credit_code.clone(),
                inspection_id: String::new(),
                date: INSPECTION.into(),
                inspector_ids: team_of(first),
                result_codes: vec!["8".into()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((dup.accepted, dup.duplicates), (0, 1));
    let mut after = before.clone();
    for _ in 0..200 {
        after = cls
            .get_classification(pb::GetClassificationRequest {
                credit_code: first.credit_code.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if after.data_seq >= result_seq {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        after.data_seq >= result_seq,
        "re-classified from the result: {after:?}"
    );
    assert!(
        after
            .fired
            .iter()
            .any(|f| f.rule_id == "inspections.refused"),
        "the refusal counts: {after:?}"
    );
    assert!(after.score < before.score);

    // Publication, public list, overdue list.
    let late = draws
        .publish_results(pb::PublishResultsRequest {
            draw_id: "food-2026-11".into(),
            credit_codes: vec![not_drawn.clone()],
            published_on: "2026-11-12".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        late.code(),
        Code::InvalidArgument,
        "no result recorded: {late:?}"
    );
    draws
        .publish_results(pb::PublishResultsRequest {
            draw_id: "food-2026-11".into(),
            credit_codes: vec![first.credit_code.clone()],
            published_on: "2026-11-12".into(),
        })
        .await
        .unwrap();
    let public = draws
        .public_results(pb::GetDrawRequest {
            draw_id: "food-2026-11".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.results.len(), 1);
    assert_eq!(public.results[0].published_on, "2026-11-12");
    assert_eq!(public.results[0].result_codes, vec!["8".to_string()]);
    let overdue = draws
        .list_overdue(pb::ListOverdueRequest {
            today: "2026-12-31".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let of_draw: Vec<_> = overdue
        .overdue
        .iter()
        .filter(|o| o.draw_id == "food-2026-11")
        .collect();
    assert_eq!(
        of_draw.len() as u64,
        k - 1,
        "all but the published one: {of_draw:?}"
    );
    assert!(of_draw.iter().all(|o| o.inspection_id.is_empty()));
    let early = draws
        .list_overdue(pb::ListOverdueRequest {
            today: "2026-11-20".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(early.overdue.is_empty(), "nothing is due yet: {early:?}");

    // Export: the bundle verifies offline; one changed byte does not.
    let files = export_files(&s, "food-2026-11", "").await;
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        vec![
            "bundle.json",
            "excluded.csv",
            "inspection-list.xlsx",
            "selected.csv"
        ]
    );
    let json = String::from_utf8(files["bundle.json"].clone()).unwrap();
    let report = creditrisk::draw::verify_bundle(&json).unwrap();
    assert_eq!(report.selected as u64, k);
    assert_eq!(report.candidate_digest, d.candidate_digest);
    let tampered = json.replacen(&first.credit_code, &not_drawn.to_string(), 1);
    assert!(creditrisk::draw::verify_bundle(&tampered).is_err());
    assert!(files["inspection-list.xlsx"].starts_with(b"PK"));
    let csv = String::from_utf8(files["selected.csv"].clone()).unwrap();
    assert_eq!(csv.lines().count() as u64, k + 1);
    s.stop().await;
}

#[tokio::test]
async fn joint_draw_and_unstaffable_enterprises() {
    let s = TestServer::start().await;
    population(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![
                item("joint-2026", &["samr-food", "health"], &["food"], &["H62"]),
                item("radiation-2026", &["samr-food"], &["radiation"], &[]),
            ],
        })
        .await
        .unwrap();
    let d = draws
        .create_draw(spec("joint-1", "joint-2026", "joint seed"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.departments, vec!["samr-food", "health"]);
    assert!(!d.selected.is_empty());
    let mut health_load: BTreeMap<String, u32> = BTreeMap::new();
    for e in &d.selected {
        if !e.unstaffed_reason.is_empty() {
            continue;
        }
        let depts: Vec<&str> = e.team.iter().map(|m| m.department.as_str()).collect();
        assert_eq!(depts, vec!["samr-food", "health"], "{e:?}");
        assert!(e.team.iter().all(|m| !m.inspector_ids.is_empty()));
        for id in &e.team[1].inspector_ids {
            assert!(id.starts_with("health-"));
            *health_load.entry(id.clone()).or_default() += 1;
        }
    }
    assert!(
        health_load.values().all(|n| *n <= 20),
        "workload cap: {health_load:?}"
    );

    // Nobody holds the qualification: every drawn enterprise is reported, none dropped.
    let u = draws
        .create_draw(spec("radiation-1", "radiation-2026", "seed"))
        .await
        .unwrap()
        .into_inner();
    assert!(u.selected_count > 0);
    assert_eq!(u.unstaffed_count, u.selected_count);
    for e in &u.selected {
        assert!(e.team.is_empty());
        assert!(e.unstaffed_reason.contains("radiation"), "{e:?}");
    }
    // Unknown items and malformed dates name the field.
    let err = draws
        .create_draw(pb::DrawSpec {
            inspection_date: "2026-13-01".into(),
            ..spec("x", "nope", "seed")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        violations(&err).iter().any(|(f, _)| f == "inspection_date"),
        "{err:?}"
    );
    let err = draws
        .create_draw(spec("x", "nope", "seed"))
        .await
        .unwrap_err();
    assert!(
        violations(&err).iter().any(|(f, _)| f == "item_id"),
        "{err:?}"
    );
    s.stop().await;
}

/// The command line against the real binary serving the demo: items, preview, create, export,
/// then `draw verify` accepts the exported bundle and rejects it with one byte changed.
#[test]
fn command_line_draw_export_and_verify() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_creditrisk"));
    let root = env!("CARGO_MANIFEST_DIR");
    // The child server inherits these: it finds the rules wherever the test runs.
    std::env::set_var("CREDITRISK_RULES_DIR", format!("{root}/rules/default"));
    std::env::set_var("CREDITRISK_SUPERVISION_DIR", format!("{root}/rules"));
    let dir = tempfile::tempdir().unwrap();
    let server = creditrisk::cli::bench::ServerProcess::start_exe(
        exe,
        &dir.path().join("data"),
        &["--demo", "--demo-entities", "3000"],
    )
    .unwrap();
    // The demo start wrote one token per role; planners run draws.
    let env = std::fs::read_to_string(dir.path().join("data/demo-tokens.env")).unwrap();
    let token_of = |role: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("CR_TOKEN_{role}=")))
            .unwrap()
            .to_string()
    };
    let (planner, auditor) = (token_of("PLANNER"), token_of("AUDITOR"));
    let run_as = |token: &str, args: &[&str]| {
        let out = std::process::Command::new(exe)
            .args(args)
            .args(["--server", &server.url])
            .env("CREDITRISK_TOKEN", token)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let run = |args: &[&str]| run_as(&planner, args);
    let audit = |args: &[&str]| run_as(&auditor, args);
    let items = run(&["draw", "items", "list"]);
    assert!(items.contains("food-business-2026"), "{items}");
    let spec = [
        "--item",
        "annual-report-2026",
        "--as-of",
        "2026-11-01",
        "--inspection-date",
        "2026-11-16",
        "--seed",
        "42-17-5",
    ];
    // An auditor saves the head before the draw.
    let saved = dir.path().join("head.json");
    audit(&["audit", "head", "--out", saved.to_str().unwrap()]);
    let preview = run(&[&["draw", "preview"][..], &spec].concat());
    let p: serde_json::Value = serde_json::from_str(preview.lines().next().unwrap()).unwrap();
    assert_eq!(p["total_candidates"], 3000);
    let created = run(&[&["draw", "create", "--id", "cli-1"][..], &spec].concat());
    let summary: serde_json::Value = serde_json::from_str(created.lines().next().unwrap()).unwrap();
    let selected = summary["selected"].as_u64().unwrap();
    assert!(selected > 0);
    assert_eq!(created.lines().count() as u64, selected + 1);
    assert!(
        summary["unstaffed"].as_u64().unwrap() < selected,
        "the demo roster staffs most teams: {summary}"
    );
    let out = dir.path().join("export");
    run(&["draw", "export", "cli-1", "--out", out.to_str().unwrap()]);
    for f in [
        "bundle.json",
        "selected.csv",
        "excluded.csv",
        "inspection-list.xlsx",
    ] {
        assert!(out.join(f).exists(), "{f} written");
    }
    let verify = |path: &std::path::Path| {
        std::process::Command::new(exe)
            .args(["draw", "verify"])
            .arg(path)
            .output()
            .unwrap()
    };
    let ok = verify(&out.join("bundle.json"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // One changed byte inside a ticket digit.
    let mut bytes = std::fs::read(out.join("bundle.json")).unwrap();
    let at = String::from_utf8_lossy(&bytes)
        .find("\"ticket\": \"0.")
        .unwrap()
        + 14;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(out.join("tampered.json"), &bytes).unwrap();
    let bad = verify(&out.join("tampered.json"));
    assert!(!bad.status.success(), "a changed byte must not verify");

    // The auditor's side: the log extends the saved head and includes the draw, offline.
    let bundle = dir.path().join("audit.json");
    audit(&[
        "audit",
        "bundle",
        "--saved-head",
        saved.to_str().unwrap(),
        "--subject",
        "draw/cli-1",
        "--entry",
        "0",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    let key: serde_json::Value =
        serde_json::from_str(audit(&["audit", "public-key"]).trim()).unwrap();
    let key = key["public_key"].as_str().unwrap().to_string();
    let audit_verify = |path: &std::path::Path| {
        std::process::Command::new(exe)
            .args(["audit", "verify"])
            .arg(path)
            .args(["--public-key", &key])
            .output()
            .unwrap()
    };
    let ok = audit_verify(&bundle);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let text = std::fs::read_to_string(&bundle).unwrap();
    let forged = text.replacen(
        "\"subject\": \"draw/cli-1\"",
        "\"subject\": \"draw/cli-2\"",
        1,
    );
    assert_ne!(forged, text);
    std::fs::write(dir.path().join("forged.json"), forged).unwrap();
    let bad = audit_verify(&dir.path().join("forged.json"));
    assert!(!bad.status.success(), "a changed entry must not verify");
    // Replays through the command line.
    let r = audit(&["audit", "replay", "draw", "cli-1"]);
    assert!(r.contains("\"MATCH\""), "{r}");
    let r = audit(&["audit", "replay", "range"]);
    let last: serde_json::Value =
        serde_json::from_str(r.lines().find(|l| l.contains("\"finished\":true")).unwrap()).unwrap();
    assert_eq!(last["mismatched"], 0);
    assert!(last["replayed"].as_u64().unwrap() >= 3001, "{last}");
    server.stop().unwrap();
}

/// A stored tier altered behind the service's back (directly in sled) makes the export refuse
/// with DATA_LOSS: the rebuilt snapshot no longer gives the stored draw.
#[tokio::test]
async fn export_refuses_a_draw_whose_inputs_were_altered() {
    use creditrisk::storage::{engine::Op, keys::prefix};
    let s = TestServer::start().await;
    population(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![item("food-2026", &["samr-food"], &["food"], &["H62"])],
        })
        .await
        .unwrap();
    draws
        .create_draw(spec("d1", "food-2026", "seed"))
        .await
        .unwrap();
    assert_eq!(export_files(&s, "d1", "").await.len(), 4);
    let dir = s.stop().await;

    // Change one tier the draw read: the population's run (as of the draw's date) stored its
    // tiers in blocks of fixed-width entries (version byte, first seq, then code and tier).
    {
        let engine = common::open_engine(dir.path());
        let (k, mut v) = engine
            .scan(&prefix::all_run_tiers(), None)
            .next()
            .expect("the population's run stored tier blocks")
            .unwrap();
        v[1 + 8 + 18] = (v[1 + 8 + 18] + 1) % 4;
        engine.apply(vec![Op::Put(k, v)]).unwrap();
        engine.flush().unwrap();
    }
    let s = TestServer::start_in(dir, Default::default()).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let err = draws
        .export_draw(pb::ExportDrawRequest {
            draw_id: "d1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DataLoss, "{err:?}");
    assert!(err.message().contains("candidate digest"), "{err:?}");
    // The stored record itself is still served.
    draws
        .get_draw(pb::GetDrawRequest {
            draw_id: "d1".into(),
        })
        .await
        .unwrap();
    s.stop().await;
}
