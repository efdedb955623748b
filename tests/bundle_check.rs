//! Bundles exported by a real server, checked by the independent Python checker
//! `tools/verify_bundle.py` (issue 11): an ordinary draw, a joint draw where the lead department
//! falls short for some enterprises, a draw that hits the workload cap, and a draw under a group
//! ratio override raised by a confirmed warning alert (issue 12). The bundles are
//! written to `$CREDITRISK_BUNDLE_DIR` when set (CI runs the checker on them again), else to a
//! temporary directory. Forged bundles (a member swapped for another department's inspector, an
//! inspector over the cap, a ticket trimmed to 9 digits) must be rejected, naming the problem.
//! Without `python3` or `consistent_sampler` the Python part prints `SKIPPED: <reason>`.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::draw_service_client::DrawServiceClient;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const AS_OF: &str = "2026-11-01";
const INSPECTION: &str = "2026-11-10";
const FOOD: &str = "samr-food";
const HEALTH: &str = "health";

fn inspector(id: &str, dept: &str, juris: &[&str], conflicts: &[String]) -> pb::Inspector {
    pb::Inspector {
        inspector_id: id.into(),
        name: format!("检查员{id}"),
        department: dept.into(),
        jurisdictions: juris.iter().map(|j| j.to_string()).collect(),
        qualifications: vec!["food".into()],
        certificate_number: format!("川执{id}"),
        certificate_expiry: "2030-12-31".into(),
        conflict_enterprises: conflicts.to_vec(),
        conflict_legal_representatives: vec![],
        active: true,
        seq: 0,
    }
}

fn item(id: &str, departments: &[&str]) -> pb::InspectionItem {
    pb::InspectionItem {
        id: id.into(),
        name: format!("item {id}"),
        basis: "《中华人民共和国食品安全法》第一百一十条".into(),
        departments: departments.iter().map(|d| d.to_string()).collect(),
        kind: pb::ItemKind::Key as i32,
        qualifications: vec!["food".into()],
        scope: Some(pb::ItemScope {
            industries: vec!["H62".into()],
            ..Default::default()
        }),
    }
}

fn spec(draw_id: &str, item_id: &str, overrides: pb::PolicyOverrides) -> pb::DrawSpec {
    pb::DrawSpec {
        draw_id: draw_id.into(),
        item_id: item_id.into(),
        seed: format!("{draw_id} dice 4-1-6"),
        as_of: AS_OF.into(),
        inspection_date: INSPECTION.into(),
        overrides: Some(overrides),
        ..Default::default()
    }
}

fn all_tiers(per_mille: u32) -> std::collections::HashMap<String, u32> {
    ["A", "B", "C", "D"]
        .iter()
        .map(|t| (t.to_string(), per_mille))
        .collect()
}

/// 200 enterprises, half of them catering (H6210); every fifth in 510106, the rest in 510104;
/// two on the serious list (tier D). Roster: eight food inspectors for 510104 (one with declared
/// conflicts), a single one for 510106, four health inspectors for both.
async fn population(s: &TestServer) {
    let records: Vec<_> = (0..200)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            if n % 2 == 0 {
                e.industry = "H6210".into();
            }
            if n % 5 == 1 {
                e.jurisdiction = "510106".into();
            }
            e
        })
        .collect();
    let codes: Vec<String> = records.iter().map(|e| e.credit_code.clone()).collect();
    let mut rec = s.client().await;
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    list_seriously(s, &[0, 2]).await;
    let mut roster: Vec<_> = (0..8)
        .map(|i| {
            let conflicts = if i == 0 { codes[..60].to_vec() } else { vec![] };
            inspector(&format!("food-{i:02}"), FOOD, &["510104"], &conflicts)
        })
        .collect();
    roster.push(inspector("food-solo", FOOD, &["510106"], &[]));
    roster.extend(
        (0..4).map(|i| inspector(&format!("health-{i}"), HEALTH, &["510104", "510106"], &[])),
    );
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest { records: roster })
        .await
        .unwrap();
    assert_eq!(reclassify_all(s, AS_OF).await.done, 200);
}

/// A bakery spot-check cluster in 510104 (5 of 12 failed in October) evaluated as of AS_OF,
/// confirmed, and its group's ratios raised over the inspection date; returns the alert id.
async fn group_ratio_from_an_alert(s: &TestServer) -> String {
    use pb::warning_service_client::WarningServiceClient;
    // Enterprises 3..=15 except 6 and 11 (in 510106): twelve in 510104.
    let ns: Vec<u64> = (3..=16).filter(|n| n % 5 != 1).take(12).collect();
    let records = ns
        .iter()
        .enumerate()
        .map(|(i, n)| pb::CreditEvent {
            event_id: format!("bakery-{n}"),
            credit_code: synthetic_code(*n).to_string(),
            effective_date: format!("2026-10-{:02}", 2 + i),
            source_department: "samr-chengdu".into(),
            body: Some(pb::credit_event::Body::SpotCheck(pb::SpotCheck {
                passed: i >= 5,
                product_category: "bakery".into(),
            })),
            seq: 0,
        })
        .collect();
    s.client()
        .await
        .append_events(pb::AppendEventsRequest { records })
        .await
        .unwrap();
    let mut w = WarningServiceClient::new(s.channel_as(Role::Planner).await);
    w.evaluate_groups(pb::EvaluateGroupsRequest {
        as_of: AS_OF.into(),
        cut: 0,
    })
    .await
    .unwrap();
    let alerts = w
        .list_alerts(pb::ListAlertsRequest {
            rule_id: "group.spot-check-failure-rate".into(),
            district: "510104".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let id = alerts.first().expect("the bakery cluster fires").id.clone();
    w.assess_alert(pb::AssessAlertRequest {
        alert_id: id.clone(),
        decision: "confirmed".into(),
        reason: "bakery cluster".into(),
    })
    .await
    .unwrap();
    w.raise_group_ratio(pb::RaiseGroupRatioRequest {
        alert_id: id.clone(),
        ratio_a: 300,
        ratio_b: 500,
        ratio_c: 800,
        ratio_d: 1000,
        valid_from: "2026-11-01".into(),
        valid_until: "2026-11-30".into(),
    })
    .await
    .unwrap();
    id
}

/// `Err(reason)` when the checker cannot run here.
fn python_ready() -> Result<(), String> {
    match Command::new("python3")
        .args(["-c", "import consistent_sampler"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "consistent_sampler not importable by python3 ({}); install it with \
             `python3 -m pip install consistent-sampler==1.0.10`",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run python3: {e}")),
    }
}

/// Runs the checker on `files`; returns (exit code, stdout + stderr).
fn checker(files: &[PathBuf]) -> (i32, String) {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/verify_bundle.py"))
        .args(files)
        .output()
        .expect("run python3 tools/verify_bundle.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn staffed(team: &Value) -> bool {
    team["outcome"]["status"] == "staffed"
}

fn members(team: &Value) -> Vec<String> {
    team["outcome"]["departments"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .flat_map(|d| d["members"].as_array().unwrap().iter())
                .map(|m| m.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn exported_bundles_pass_the_independent_python_checker() {
    let s = TestServer::start().await;
    population(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![
                item("food-2026", &[FOOD]),
                item("joint-2026", &[FOOD, HEALTH]),
            ],
        })
        .await
        .unwrap();
    // Ordinary draw, the policy file as it is.
    draws
        .create_draw(spec("ordinary-1", "food-2026", Default::default()))
        .await
        .unwrap();
    // Joint draw where the lead falls short in 510106: two members per department and a team
    // of three make the lead send two, and 510106 has one food inspector.
    let joint = draws
        .create_draw(spec(
            "joint-short-lead",
            "joint-2026",
            pb::PolicyOverrides {
                ratio_per_mille: all_tiers(1000),
                min_team_size: Some(3),
                joint_members_per_department: Some(2),
                max_assignments_per_inspector: Some(1000),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // The Rust side of the scenario: some lead-short enterprises, and enterprises staffed after
    // the first of them, each member of the department it is listed for.
    let first_short = joint
        .selected
        .iter()
        .position(|e| {
            e.unstaffed_reason
                .starts_with(&format!("department `{FOOD}`"))
        })
        .expect("the lead falls short somewhere");
    let after: Vec<_> = joint.selected[first_short..]
        .iter()
        .filter(|e| e.unstaffed_reason.is_empty())
        .collect();
    assert!(!after.is_empty(), "nobody staffed after the short lead");
    for e in after {
        let depts: Vec<&str> = e.team.iter().map(|m| m.department.as_str()).collect();
        assert_eq!(depts, [FOOD, HEALTH]);
        assert!(
            e.team[0]
                .inspector_ids
                .iter()
                .all(|m| m.starts_with("food-")),
            "{e:?}"
        );
        assert!(
            e.team[1]
                .inspector_ids
                .iter()
                .all(|m| m.starts_with("health-")),
            "{e:?}"
        );
    }
    // Workload cap hit: two visits per inspector cannot staff all the catering enterprises.
    let capped = draws
        .create_draw(spec(
            "cap-hit",
            "food-2026",
            pb::PolicyOverrides {
                ratio_per_mille: all_tiers(1000),
                max_assignments_per_inspector: Some(2),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(capped
        .selected
        .iter()
        .any(|e| e.unstaffed_reason.contains("reached the workload cap of 2")));
    // Differentiated supervision: a confirmed group alert raises 510104's ratios, and a draw
    // there applies the group ratio override (after the draws above, which it must not touch).
    let basis = group_ratio_from_an_alert(&s).await;
    let raised = draws
        .create_draw(spec("group-ratio", "food-2026", Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        serde_json::from_str::<Value>(&raised.record_json)
            .unwrap()
            .to_string()
            .contains(&format!("\"basis\":\"{basis}\"")),
        "the override is in the record: {}",
        raised.record_json
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("CREDITRISK_BUNDLE_DIR") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().join("bundles"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let mut docs = BTreeMap::new();
    for id in ["ordinary-1", "joint-short-lead", "cap-hit", "group-ratio"] {
        let json = export_files(&s, id, "")
            .await
            .remove("bundle.json")
            .expect("bundle.json exported");
        let path = dir.join(format!("{id}.json"));
        std::fs::write(&path, &json).unwrap();
        files.push(path);
        docs.insert(id, serde_json::from_slice::<Value>(&json).unwrap());
    }
    s.stop().await;
    println!("bundles written to {}", dir.display());

    if let Err(why) = python_ready() {
        println!("SKIPPED: the independent Python checker did not run: {why}");
        return;
    }
    let (code, out) = checker(&files);
    println!("{out}");
    assert_eq!(
        code, 0,
        "the checker rejects a bundle the server exported:\n{out}"
    );
    assert_eq!(out.matches(": OK: ").count(), 4, "{out}");
    assert!(out.contains("lead department short)"), "{out}");

    // Forgeries, written outside the bundle directory (CI checks that one expecting success).
    let forged = |name: &str, doc: &Value| {
        let path = tmp.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
        checker(&[path])
    };
    // 1. A food member swapped for a health inspector not on the team.
    let mut doc = docs["joint-short-lead"].clone();
    let teams = doc["record"]["teams"].as_array_mut().unwrap();
    let (i, t) = teams
        .iter_mut()
        .enumerate()
        .find(|(_, t)| staffed(t))
        .unwrap();
    let on_team = members(t);
    let stranger = (0..4)
        .map(|n| format!("health-{n}"))
        .find(|h| !on_team.contains(h))
        .unwrap();
    t["outcome"]["departments"][0]["members"][0] = Value::from(stranger.clone());
    let code_i = t["credit_code"].as_str().unwrap().to_string();
    let (code, out) = forged("swapped.json", &doc);
    assert_eq!(code, 1, "{out}");
    let want = format!(
        "record.teams[{i}] {code_i}: departments[0].members[0] = `{stranger}`: belongs to department `{HEALTH}`, listed for `{FOOD}`"
    );
    assert!(out.contains(&want), "wanted {want}\n{out}");

    // 2. An inspector already at the cap added to one more team.
    let mut doc = docs["cap-hit"].clone();
    let teams = doc["record"]["teams"].as_array_mut().unwrap();
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    let mut forged_at = None;
    for (i, t) in teams.iter().enumerate() {
        if !staffed(t) {
            continue;
        }
        let ms = members(t);
        if let Some(full) = load.iter().find(|(m, n)| **n == 2 && !ms.contains(m)) {
            forged_at = Some((i, full.0.clone()));
            break;
        }
        for m in ms {
            *load.entry(m).or_default() += 1;
        }
    }
    let (i, busy) = forged_at.expect("a staffed team after some inspector reached the cap");
    teams[i]["outcome"]["departments"][0]["members"][1] = Value::from(busy.clone());
    let (code, out) = forged("over-cap.json", &doc);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "members[1] = `{busy}`: already on 2 teams of this draw: the workload cap is 2"
        )),
        "{out}"
    );

    // 3. A ticket trimmed to the package's default 9 digits is not the full ticket.
    let mut doc = docs["ordinary-1"].clone();
    let t = doc["record"]["selected"][0]["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    doc["record"]["selected"][0]["ticket"] = Value::from(t[..11].to_string());
    let (code, out) = forged("trimmed.json", &doc);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("record.selected[0]") && out.contains(&format!("the full ticket is `{t}`")),
        "{out}"
    );
}
