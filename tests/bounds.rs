//! Bounded input, per service: requests carrying numbers at and beyond every numeric field's
//! limits (0, 1, the bound, the bound + 1, `u32::MAX`, `i64::MIN`/`MAX`) and very long strings
//! get OK or a clean error (INVALID_ARGUMENT naming the field, or NOT_FOUND and the like for
//! well-formed ids that do not exist), never INTERNAL, UNKNOWN or a dropped connection; after
//! each batch the server still answers a health check and a simple call.
//!
//! Cases come from a hand-rolled deterministic generator (fixed seeds, bounded counts), so a
//! failure names a case that reproduces. Issue 11, section 3: one `CreateDraw` with
//! `min_team_size: 4294967295` used to abort the whole process on a failed allocation.

mod common;

use common::*;
use creditrisk::server::pb;
use pb::access_service_client::AccessServiceClient;
use pb::audit_service_client::AuditServiceClient;
use pb::classification_service_client::ClassificationServiceClient;
use pb::draw_service_client::DrawServiceClient;
use pb::rule_service_client::RuleServiceClient;
use std::collections::HashMap;
use tonic::{Code, Response, Status};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

/// splitmix64, as in `tests/lang_property.rs`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }
    /// A u32 at or around an interesting limit (`bounds` are the field's own limits).
    fn u32(&mut self, bounds: &[u32]) -> u32 {
        let mut edges = vec![
            0,
            1,
            2,
            u32::MAX,
            u32::MAX - 1,
            i32::MAX as u32 + 1,
            1_000_001,
        ];
        for b in bounds {
            edges.extend([b.saturating_sub(1), *b, b.saturating_add(1)]);
        }
        match self.below(5) {
            0 => self.next() as u32,
            _ => edges[self.below(edges.len() as u64) as usize],
        }
    }
    fn u64(&mut self, bounds: &[u64]) -> u64 {
        let mut edges = vec![0, 1, 2, u64::MAX, u64::MAX - 1, i64::MAX as u64, 1 << 32];
        for b in bounds {
            edges.extend([b.saturating_sub(1), *b, b.saturating_add(1)]);
        }
        match self.below(5) {
            0 => self.next(),
            _ => edges[self.below(edges.len() as u64) as usize],
        }
    }
    fn i64(&mut self) -> i64 {
        let edges = [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            i64::MAX,
            i64::MAX - 1,
            253_402_300_800_000, // 10000-01-01 in ms
            1_700_000_000_000,
            4_102_444_800_000, // 2100-01-01 in ms
        ];
        match self.below(5) {
            0 => self.next() as i64,
            _ => edges[self.below(edges.len() as u64) as usize],
        }
    }
    /// A string: empty, ordinary, at and past common length limits, huge, or with odd bytes.
    fn string(&mut self, ordinary: &str) -> String {
        match self.below(9) {
            0 => String::new(),
            1 | 2 => ordinary.to_string(),
            3 => "a".repeat(64),
            4 => "a".repeat(65),
            5 => "x".repeat(201),
            6 => "字".repeat(1001),
            7 => "z".repeat(200_000),
            _ => "a\u{0}b\n\u{202e}".to_string(),
        }
    }
}

/// The answer is OK or a clean refusal; INVALID_ARGUMENT names only fields of `fields` (a
/// violation's field must start with one of them).
fn judge<T>(case: &str, r: Result<Response<T>, Status>, fields: &[&str]) -> Option<T> {
    match r {
        Ok(r) => Some(r.into_inner()),
        Err(s) => {
            let ok = matches!(
                s.code(),
                Code::InvalidArgument
                    | Code::NotFound
                    | Code::AlreadyExists
                    | Code::FailedPrecondition
                    | Code::OutOfRange
            );
            assert!(ok, "{case}: {:?} {}", s.code(), s.message());
            if s.code() == Code::InvalidArgument {
                let v = violations(&s);
                assert!(!v.is_empty(), "{case}: no field named: {}", s.message());
                for (f, d) in &v {
                    assert!(
                        fields.iter().any(|p| f.starts_with(p)),
                        "{case}: unexpected field `{f}`: {d}"
                    );
                }
            }
            None
        }
    }
}

/// The server still answers: a health check and a simple call.
async fn alive(s: &TestServer, after: &str) {
    let mut h = HealthClient::new(s.raw_channel().await);
    let r = h
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    assert!(r.is_ok(), "health check failed after {after}: {r:?}");
    let mut rules = RuleServiceClient::new(s.channel_as(Role::Auditor).await);
    let r = rules.list_rule_sets(pb::ListRuleSetsRequest {}).await;
    assert!(r.is_ok(), "simple call failed after {after}: {r:?}");
}

fn enterprises(n: u64) -> Vec<pb::Enterprise> {
    (0..n).map(synthetic_enterprise).collect()
}

fn inspector(id: &str) -> pb::Inspector {
    pb::Inspector {
        inspector_id: id.into(),
        name: format!("检查员{id}"),
        department: "samr".into(),
        jurisdictions: vec!["510104".into()],
        qualifications: vec![],
        certificate_number: format!("川执{id}"),
        certificate_expiry: "2030-12-31".into(),
        conflict_enterprises: vec![],
        conflict_legal_representatives: vec![],
        active: true,
        seq: 0,
    }
}

fn item(id: &str) -> pb::InspectionItem {
    pb::InspectionItem {
        id: id.into(),
        name: format!("item {id}"),
        basis: "《中华人民共和国食品安全法》第一百一十条".into(),
        departments: vec!["samr".into()],
        kind: pb::ItemKind::Key as i32,
        qualifications: vec![],
        scope: None,
    }
}

fn spec(draw_id: &str) -> pb::DrawSpec {
    pb::DrawSpec {
        draw_id: draw_id.into(),
        item_id: "bounds-item".into(),
        seed: "seed".into(),
        as_of: "2026-11-01".into(),
        inspection_date: "2026-11-10".into(),
        ..Default::default()
    }
}

/// 20 enterprises (unclassified: tier B), 6 inspectors of one department, one item.
async fn draw_setup(s: &TestServer) {
    s.client()
        .await
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: enterprises(20),
        })
        .await
        .unwrap();
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest {
            records: (0..6).map(|i| inspector(&format!("i-{i}"))).collect(),
        })
        .await
        .unwrap();
    DrawServiceClient::new(s.channel_as(Role::Planner).await)
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![item("bounds-item")],
        })
        .await
        .unwrap();
}

/// The case of the issue: one planner request with `min_team_size: 4294967295` used to abort
/// the server (a `Vec` of terabytes); preview and create now refuse it the same way, naming
/// the field and the allowed range.
#[tokio::test]
async fn a_huge_team_size_is_refused_by_preview_and_create_alike() {
    let s = TestServer::start().await;
    draw_setup(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let mut huge = spec("huge-team");
    huge.overrides = Some(pb::PolicyOverrides {
        min_team_size: Some(4_294_967_295),
        ..Default::default()
    });
    let want = (
        "overrides.min_team_size".to_string(),
        "`4294967295` is out of range: min_team_size must be 2 to 20".to_string(),
    );
    let e = draws.preview_draw(huge.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e), std::slice::from_ref(&want));
    let e = draws.create_draw(huge).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e), [want]);
    // Huge ratios, caps and joint shares too.
    let mut many = spec("huge-all");
    many.overrides = Some(pb::PolicyOverrides {
        ratio_per_mille: HashMap::from([("A".to_string(), u32::MAX)]),
        yearly_cap: HashMap::from([("D".to_string(), u32::MAX)]),
        min_interval_days: Some(u32::MAX),
        general_item_max_per_mille: Some(u32::MAX),
        max_assignments_per_inspector: Some(u32::MAX),
        joint_members_per_department: Some(u32::MAX),
        ..Default::default()
    });
    for e in [
        draws.preview_draw(many.clone()).await.unwrap_err(),
        draws.create_draw(many.clone()).await.unwrap_err(),
    ] {
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        let fields: Vec<String> = violations(&e).into_iter().map(|v| v.0).collect();
        assert_eq!(
            fields,
            [
                "overrides.ratio_per_mille.A",
                "overrides.yearly_cap.D",
                "overrides.min_interval_days",
                "overrides.general_item_max_per_mille",
                "overrides.max_assignments_per_inspector",
                "overrides.joint_members_per_department",
            ]
        );
    }
    // A joint draw whose whole team would be too large.
    let mut joint = spec("too-many");
    joint.departments = (0..11).map(|i| format!("d{i}")).collect();
    let e = draws.preview_draw(joint).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e)[0].0, "departments");
    // The same through an item's own departments (no departments in the spec).
    DrawServiceClient::new(s.channel_as(Role::Planner).await)
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![pb::InspectionItem {
                departments: vec!["a".into(), "b".into(), "c".into()],
                ..item("joint-item")
            }],
        })
        .await
        .unwrap();
    let mut joint = spec("joint-30");
    joint.item_id = "joint-item".into();
    joint.overrides = Some(pb::PolicyOverrides {
        joint_members_per_department: Some(10),
        ..Default::default()
    });
    let e = draws.create_draw(joint).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e)[0].0, "departments", "{e:?}");
    // At the limits it works.
    let mut edge = spec("edge-team");
    edge.overrides = Some(pb::PolicyOverrides {
        min_team_size: Some(20),
        max_assignments_per_inspector: Some(10_000),
        ..Default::default()
    });
    draws.preview_draw(edge.clone()).await.unwrap();
    draws.create_draw(edge).await.unwrap();
    alive(&s, "huge team sizes").await;
    s.stop().await;
}

const DRAW_FIELDS: &[&str] = &[
    "overrides.",
    "draw_id",
    "item_id",
    "seed",
    "departments",
    "jurisdictions",
    "page_size",
    "page_token",
    "inspector_id",
];

#[tokio::test]
async fn draw_service_survives_numbers_at_and_past_every_limit() {
    let s = TestServer::start().await;
    draw_setup(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let mut rng = Rng(0xD4A3);
    for batch in 0..4 {
        for case in 0..12 {
            let name = format!("draw batch {batch} case {case}");
            let mut sp = spec(&format!("b{batch}-{case}"));
            if rng.below(4) == 0 {
                sp.draw_id = rng.string("ok-id");
            }
            if rng.below(6) == 0 {
                sp.seed = rng.string("seed");
            }
            if rng.below(6) == 0 {
                sp.item_id = rng.string("bounds-item");
            }
            if rng.below(4) == 0 {
                let n = [0u64, 1, 2, 10, 11, 1000][rng.below(6) as usize];
                sp.departments = (0..n).map(|i| format!("d{i}")).collect();
            }
            if rng.below(8) == 0 {
                sp.jurisdictions = vec![rng.string("510104")];
            }
            let mut o = pb::PolicyOverrides::default();
            for t in ["A", "B", "C", "D", "E"] {
                if rng.below(4) == 0 {
                    o.ratio_per_mille.insert(t.into(), rng.u32(&[1000]));
                }
                if rng.below(4) == 0 {
                    o.yearly_cap.insert(t.into(), rng.u32(&[366]));
                }
            }
            let maybe = |rng: &mut Rng, b: &[u32]| rng.coin().then(|| rng.u32(b));
            o.min_interval_days = maybe(&mut rng, &[3660]);
            o.general_item_max_per_mille = maybe(&mut rng, &[1000]);
            o.min_team_size = maybe(&mut rng, &[2, 20]);
            o.max_assignments_per_inspector = maybe(&mut rng, &[10_000]);
            o.joint_members_per_department = maybe(&mut rng, &[10]);
            sp.overrides = Some(o);
            let r = if rng.coin() {
                judge(&name, draws.preview_draw(sp).await, DRAW_FIELDS).map(|_| ())
            } else {
                judge(&name, draws.create_draw(sp).await, DRAW_FIELDS).map(|_| ())
            };
            let _ = r;
        }
        for case in 0..4 {
            let name = format!("list draws batch {batch} case {case}");
            let r = draws
                .list_draws(pb::ListDrawsRequest {
                    page_size: rng.u32(&[500]),
                    page_token: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("abc")
                    },
                })
                .await;
            judge(&format!("{name} #1"), r, DRAW_FIELDS);
            let r = draws
                .get_draw(pb::GetDrawRequest {
                    draw_id: rng.string("b0-0"),
                })
                .await;
            judge(&format!("{name} #2"), r, DRAW_FIELDS);
        }
        alive(&s, &format!("draw batch {batch}")).await;
    }
    s.stop().await;
}

const RECORD_FIELDS: &[&str] = &[
    "page_size",
    "page_token",
    "jurisdiction",
    "industry_section",
    "tier",
    "kind",
    "status",
    "credit_code",
    "department",
    "records[",
];

#[tokio::test]
async fn record_service_survives_numbers_at_and_past_every_limit() {
    let s = TestServer::start().await;
    let mut ingest = s.client().await;
    let mut admin = s.client_as(Role::Admin).await;
    let mut rng = Rng(0x5EC0);
    for batch in 0..3 {
        for case in 0..8 {
            let name = format!("records batch {batch} case {case}");
            let r = ingest
                .list_enterprises(pb::ListEnterprisesRequest {
                    page_size: rng.u32(&[1000]),
                    page_token: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("x")
                    },
                    jurisdiction: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("510104")
                    },
                    industry_section: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("F")
                    },
                    kind: rng.u32(&[]) as i32,
                    status: rng.u32(&[]) as i32,
                    tier: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("D")
                    },
                })
                .await;
            judge(&format!("{name} #3"), r, RECORD_FIELDS);
            let r = ingest
                .list_events(pb::ListEventsRequest {
                    credit_code: rng.string(&synthetic_code(1).to_string()),
                    page_size: rng.u32(&[1000]),
                    page_token: String::new(),
                })
                .await;
            judge(&format!("{name} #4"), r, RECORD_FIELDS);
            let r = admin
                .list_inspectors(pb::ListInspectorsRequest {
                    page_size: rng.u32(&[1000]),
                    page_token: String::new(),
                    department: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("samr")
                    },
                    jurisdiction: String::new(),
                    active_only: rng.coin(),
                })
                .await;
            judge(&format!("{name} #5"), r, RECORD_FIELDS);
            // Money amounts and years at the ends of their types.
            let mut e = synthetic_enterprise(batch * 100 + case);
            e.registered_capital_yuan = rng.i64();
            let r = ingest
                .upsert_enterprises(pb::UpsertEnterprisesRequest { records: vec![e] })
                .await;
            judge(&format!("{name} #6"), r, RECORD_FIELDS);
            let mut ev = synthetic_event("bounds", batch * 100 + case, case);
            ev.body = Some(match rng.below(3) {
                0 => pb::credit_event::Body::Penalty(pb::Penalty {
                    amount_yuan: rng.i64(),
                    ..Default::default()
                }),
                1 => pb::credit_event::Body::TaxGrade(pb::TaxCreditGrade {
                    year: rng.u32(&[1900, 2100]),
                    grade: 1,
                }),
                _ => pb::credit_event::Body::AnnualReport(pb::AnnualReport {
                    year: rng.u32(&[1900, 2100]),
                    ..Default::default()
                }),
            });
            let r = ingest
                .append_events(pb::AppendEventsRequest { records: vec![ev] })
                .await;
            judge(&format!("{name} #7"), r, RECORD_FIELDS);
        }
        alive(&s, &format!("records batch {batch}")).await;
    }
    s.stop().await;
}

const RULE_FIELDS: &[&str] = &[
    "hash",
    "files",
    "candidate",
    "as_of",
    "scope",
    "max_changes",
    "credit_code",
    "page_size",
    "page_token",
    "run_id",
    "cursor",
    "jurisdiction",
    "direction",
];

#[tokio::test]
async fn rule_and_classification_services_survive_numbers_at_and_past_every_limit() {
    let s = TestServer::start().await;
    s.client()
        .await
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: enterprises(5),
        })
        .await
        .unwrap();
    let mut rules = RuleServiceClient::new(s.channel_as(Role::Admin).await);
    let mut cls = ClassificationServiceClient::new(s.channel_as(Role::Admin).await);
    let current = rules
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .unwrap()
        .into_inner()
        .rule_sets
        .into_iter()
        .next()
        .map(|r| r.hash)
        .unwrap_or_default();
    let files = rules
        .get_rule_set(pb::GetRuleSetRequest {
            hash: current.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut rng = Rng(0x2A1E);
    for batch in 0..3 {
        for case in 0..5 {
            let name = format!("rules batch {batch} case {case}");
            let r = rules
                .get_rule_set(pb::GetRuleSetRequest {
                    hash: rng.string(&current),
                })
                .await;
            judge(&format!("{name} #8"), r, RULE_FIELDS);
            let r = rules
                .activate_rule_set(pb::ActivateRuleSetRequest {
                    hash: rng.string(&current),
                })
                .await;
            judge(&format!("{name} #9"), r, RULE_FIELDS);
            let mut odd = files.clone();
            odd.hash = String::new();
            if rng.coin() {
                odd.files.insert(rng.string("extra.toml"), rng.string(""));
            }
            let r = rules.validate_rule_set(odd.clone()).await;
            judge(&format!("{name} #10"), r, RULE_FIELDS);
            let r = cls
                .simulate(pb::SimulateRequest {
                    candidate: Some(odd),
                    scope: rng.coin().then(|| pb::Scope {
                        jurisdiction: rng.string("510104"),
                    }),
                    as_of: if rng.coin() {
                        String::new()
                    } else {
                        rng.string("2026-01-01")
                    },
                    max_changes: rng.u32(&[10_000]),
                })
                .await;
            judge(&format!("{name} #11"), r, RULE_FIELDS);
            let r = cls
                .list_classifications(pb::ListClassificationsRequest {
                    credit_code: synthetic_code(1).to_string(),
                    page_size: rng.u32(&[500]),
                    page_token: String::new(),
                })
                .await;
            judge(&format!("{name} #12"), r, RULE_FIELDS);
            // An unknown run id: refused before any work (or not found).
            let r = cls
                .reclassify(pb::ReclassifyRequest {
                    scope: None,
                    as_of: String::new(),
                    run_id: rng.u64(&[]).max(1 << 40),
                })
                .await;
            if let Some(mut stream) = judge(&format!("{name} #13"), r, RULE_FIELDS) {
                let m = stream.message().await;
                if let Err(e) = m {
                    judge::<()>(&name, Err(e), RULE_FIELDS);
                }
            }
        }
        alive(&s, &format!("rules batch {batch}")).await;
    }
    s.stop().await;
}

const ACCESS_FIELDS: &[&str] = &["id", "role", "subject", "expires_unix_ms"];

#[tokio::test]
async fn access_service_survives_numbers_at_and_past_every_limit() {
    let s = TestServer::start().await;
    let mut access = AccessServiceClient::new(s.channel_as(Role::Admin).await);
    let mut rng = Rng(0xACCE);
    for batch in 0..3 {
        for case in 0..10 {
            let name = format!("access batch {batch} case {case}");
            let req = pb::IssueTokenRequest {
                id: if rng.coin() {
                    format!("b{batch}-{case}")
                } else {
                    rng.string("tok")
                },
                role: [0, 1, 2, 3, 4, 5, 6, -1, i32::MAX][rng.below(9) as usize],
                subject: rng.string("someone"),
                expires_unix_ms: rng.i64(),
            };
            let r = access.issue_token(req).await;
            judge(&format!("{name} #14"), r, ACCESS_FIELDS);
            let r = access
                .revoke_token(pb::RevokeTokenRequest {
                    id: rng.string("nope"),
                })
                .await;
            judge(&format!("{name} #15"), r, ACCESS_FIELDS);
        }
        alive(&s, &format!("access batch {batch}")).await;
    }
    s.stop().await;
}

const AUDIT_FIELDS: &[&str] = &[
    "tree_size",
    "from_index",
    "to_index",
    "count",
    "index",
    "from_size",
    "to_size",
    "seq",
    "credit_code",
    "as_of",
    "subject",
    "draw_id",
    "from_unix_ms",
    "to_unix_ms",
];

#[tokio::test]
async fn audit_service_survives_numbers_at_and_past_every_limit() {
    let s = TestServer::start().await;
    // A few log entries to have a tree.
    s.client()
        .await
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: enterprises(3),
        })
        .await
        .unwrap();
    let mut audit = AuditServiceClient::new(s.channel_as(Role::Auditor).await);
    let size = audit
        .get_signed_head(pb::GetSignedHeadRequest { tree_size: 0 })
        .await
        .map(|h| h.into_inner().tree_size)
        .unwrap_or(0);
    let mut rng = Rng(0xA0D1);
    let sizes = [size, 1000];
    for batch in 0..3 {
        for case in 0..8 {
            let name = format!("audit batch {batch} case {case}");
            let r = audit
                .get_signed_head(pb::GetSignedHeadRequest {
                    tree_size: rng.u64(&sizes),
                })
                .await;
            judge(&format!("{name} #16"), r, AUDIT_FIELDS);
            let r = audit
                .get_entries(pb::GetEntriesRequest {
                    from_index: rng.u64(&sizes),
                    count: rng.u32(&[1000]),
                })
                .await;
            judge(&format!("{name} #17"), r, AUDIT_FIELDS);
            let r = audit
                .get_inclusion_proof(pb::InclusionProofRequest {
                    index: rng.u64(&sizes),
                    tree_size: rng.u64(&sizes),
                })
                .await;
            judge(&format!("{name} #18"), r, AUDIT_FIELDS);
            let r = audit
                .get_consistency_proof(pb::ConsistencyProofRequest {
                    from_size: rng.u64(&sizes),
                    to_size: rng.u64(&sizes),
                })
                .await;
            judge(&format!("{name} #19"), r, AUDIT_FIELDS);
            let r = audit
                .find_entry(pb::FindEntryRequest {
                    subject: rng.string("draw/x"),
                })
                .await;
            judge(&format!("{name} #20"), r, AUDIT_FIELDS);
            let r = audit
                .replay_classification(pb::ReplayClassificationRequest {
                    credit_code: synthetic_code(1).to_string(),
                    seq: rng.u64(&sizes),
                    as_of: String::new(),
                })
                .await;
            judge(&format!("{name} #21"), r, AUDIT_FIELDS);
            let r = audit
                .replay_range(pb::ReplayRangeRequest {
                    from_index: rng.u64(&sizes),
                    to_index: rng.u64(&sizes),
                    from_unix_ms: rng.i64(),
                    to_unix_ms: rng.i64(),
                    head_size: rng.u64(&sizes),
                })
                .await;
            if let Some(mut stream) = judge(&format!("{name} #22"), r, AUDIT_FIELDS) {
                loop {
                    match stream.message().await {
                        Ok(Some(p)) if !p.finished => continue,
                        Ok(_) => break,
                        Err(e) => {
                            judge::<()>(&name, Err(e), AUDIT_FIELDS);
                            break;
                        }
                    }
                }
            }
        }
        alive(&s, &format!("audit batch {batch}")).await;
    }
    s.stop().await;
}
