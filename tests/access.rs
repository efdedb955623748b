//! Access control through a real server: every RPC of the protos, called with no, malformed,
//! forged, unknown, expired and revoked credentials and with a token of each of the five roles;
//! each answer is checked against the role table in the README. Also: inspectors see and fill in
//! only their own assignments, token RPCs, and that no token secret reaches the logs.

mod common;

use common::*;
use creditrisk::audit::access::token_parts;
use creditrisk::server::pb;
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use tonic::{Code, Status};

/// Everything the process logs at `debug`, from the first test that asks on.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every method of every service in package `creditrisk.v1`, from the compiled protos.
fn proto_methods() -> BTreeSet<String> {
    let fds = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = BTreeSet::new();
    for f in fds.file {
        if f.package() != "creditrisk.v1" {
            continue;
        }
        for s in &f.service {
            for m in &s.method {
                out.insert(format!("/creditrisk.v1.{}/{}", s.name(), m.name()));
            }
        }
    }
    out
}

/// The role table of the README's "Access control" section: method path to allowed roles.
fn readme_table() -> BTreeMap<String, BTreeSet<Role>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = text
        .split("\n## Access control\n")
        .nth(1)
        .expect("README has an `## Access control` section");
    let mut lines = section.lines().skip_while(|l| !l.starts_with("| Method |"));
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('|')
        .map(|c| c.trim().to_string())
        .collect();
    let roles: Vec<Role> = header[2..header.len() - 1]
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    assert_eq!(roles, Role::ALL);
    let mut table = BTreeMap::new();
    for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        if name.ends_with("(no token)") {
            continue;
        }
        let allowed = roles
            .iter()
            .zip(&cells[2..])
            .filter(|(_, c)| **c == "✓")
            .map(|(r, _)| *r)
            .collect();
        table.insert(format!("/creditrisk.v1.{name}"), allowed);
    }
    table
}

/// Calls `method` with a minimal request (carrying `code`, a stored credit code, where the
/// request has one). `None` for a method no client here knows.
async fn call(method: &str, ch: AuthChannel, code: &str) -> Option<Result<(), Status>> {
    use pb::access_service_client::AccessServiceClient as Acc;
    use pb::audit_service_client::AuditServiceClient as Aud;
    use pb::classification_service_client::ClassificationServiceClient as Cls;
    use pb::draw_service_client::DrawServiceClient as Draw;
    use pb::record_service_client::RecordServiceClient as Rec;
    use pb::rule_service_client::RuleServiceClient as Rule;
    use pb::warning_service_client::WarningServiceClient as Warn;
    let code = code.to_string();
    let draw = || pb::GetDrawRequest {
        draw_id: "d-1".into(),
    };
    let r = match method.strip_prefix("/creditrisk.v1.")? {
        "RecordService/UpsertEnterprises" => Rec::new(ch)
            .upsert_enterprises(pb::UpsertEnterprisesRequest::default())
            .await
            .map(drop),
        "RecordService/GetEnterprise" => Rec::new(ch)
            .get_enterprise(pb::GetEnterpriseRequest { credit_code: code })
            .await
            .map(drop),
        "RecordService/ListEnterprises" => Rec::new(ch)
            .list_enterprises(pb::ListEnterprisesRequest::default())
            .await
            .map(drop),
        "RecordService/AppendEvents" => Rec::new(ch)
            .append_events(pb::AppendEventsRequest::default())
            .await
            .map(drop),
        "RecordService/BulkAppendEvents" => Rec::new(ch)
            .bulk_append_events(futures::stream::iter(Vec::<pb::AppendEventsRequest>::new()))
            .await
            .map(drop),
        "RecordService/ListEvents" => Rec::new(ch)
            .list_events(pb::ListEventsRequest {
                credit_code: code,
                ..Default::default()
            })
            .await
            .map(drop),
        "RecordService/UpsertInspectors" => Rec::new(ch)
            .upsert_inspectors(pb::UpsertInspectorsRequest::default())
            .await
            .map(drop),
        "RecordService/ListInspectors" => Rec::new(ch)
            .list_inspectors(pb::ListInspectorsRequest::default())
            .await
            .map(drop),
        "RecordService/RecordInspections" => Rec::new(ch)
            .record_inspections(pb::RecordInspectionsRequest::default())
            .await
            .map(drop),
        "RuleService/ValidateRuleSet" => Rule::new(ch)
            .validate_rule_set(pb::RuleSetFiles::default())
            .await
            .map(drop),
        "RuleService/UploadRuleSet" => Rule::new(ch)
            .upload_rule_set(pb::RuleSetFiles::default())
            .await
            .map(drop),
        "RuleService/ActivateRuleSet" => Rule::new(ch)
            .activate_rule_set(pb::ActivateRuleSetRequest::default())
            .await
            .map(drop),
        "RuleService/ListRuleSets" => Rule::new(ch)
            .list_rule_sets(pb::ListRuleSetsRequest::default())
            .await
            .map(drop),
        "RuleService/GetRuleSet" => Rule::new(ch)
            .get_rule_set(pb::GetRuleSetRequest::default())
            .await
            .map(drop),
        "ClassificationService/Classify" => Cls::new(ch)
            .classify(pb::ClassifyRequest {
                credit_code: code,
                as_of: "1999-13-01".into(),
                candidate: None,
            })
            .await
            .map(drop),
        "ClassificationService/GetClassification" => Cls::new(ch)
            .get_classification(pb::GetClassificationRequest { credit_code: code })
            .await
            .map(drop),
        "ClassificationService/ListClassifications" => Cls::new(ch)
            .list_classifications(pb::ListClassificationsRequest {
                credit_code: code,
                ..Default::default()
            })
            .await
            .map(drop),
        "ClassificationService/Explain" => Cls::new(ch)
            .explain(pb::GetClassificationRequest { credit_code: code })
            .await
            .map(drop),
        "ClassificationService/Reclassify" => Cls::new(ch)
            .reclassify(pb::ReclassifyRequest {
                run_id: 424_242,
                ..Default::default()
            })
            .await
            .map(drop),
        "ClassificationService/Simulate" => Cls::new(ch)
            .simulate(pb::SimulateRequest::default())
            .await
            .map(drop),
        "ClassificationService/WatchTierChanges" => Cls::new(ch)
            .watch_tier_changes(pb::WatchTierChangesRequest::default())
            .await
            .map(drop),
        "ClassificationService/ReportTiers" => Cls::new(ch)
            .report_tiers(pb::ReportTiersRequest::default())
            .await
            .map(drop),
        "DrawService/UpsertItems" => Draw::new(ch)
            .upsert_items(pb::UpsertItemsRequest::default())
            .await
            .map(drop),
        "DrawService/ListItems" => Draw::new(ch)
            .list_items(pb::ListItemsRequest::default())
            .await
            .map(drop),
        "DrawService/PreviewDraw" => Draw::new(ch)
            .preview_draw(pb::DrawSpec::default())
            .await
            .map(drop),
        "DrawService/CreateDraw" => Draw::new(ch)
            .create_draw(pb::DrawSpec::default())
            .await
            .map(drop),
        "DrawService/GetDraw" => Draw::new(ch).get_draw(draw()).await.map(drop),
        "DrawService/ListDraws" => Draw::new(ch)
            .list_draws(pb::ListDrawsRequest::default())
            .await
            .map(drop),
        "DrawService/ListAssignments" => Draw::new(ch)
            .list_assignments(pb::ListAssignmentsRequest {
                inspector_id: INSPECTOR.into(),
            })
            .await
            .map(drop),
        "DrawService/RecordResults" => Draw::new(ch)
            .record_results(pb::RecordResultsRequest::default())
            .await
            .map(drop),
        "DrawService/PublishResults" => Draw::new(ch)
            .publish_results(pb::PublishResultsRequest {
                draw_id: "d-1".into(),
                credit_codes: vec![code],
                published_on: String::new(),
            })
            .await
            .map(drop),
        "DrawService/ListOverdue" => Draw::new(ch)
            .list_overdue(pb::ListOverdueRequest::default())
            .await
            .map(drop),
        "DrawService/PublicResults" => Draw::new(ch).public_results(draw()).await.map(drop),
        "DrawService/ExportDraw" => Draw::new(ch)
            .export_draw(pb::ExportDrawRequest {
                draw_id: "d-1".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "AccessService/IssueToken" => Acc::new(ch)
            .issue_token(pb::IssueTokenRequest::default())
            .await
            .map(drop),
        "AccessService/RevokeToken" => Acc::new(ch)
            .revoke_token(pb::RevokeTokenRequest::default())
            .await
            .map(drop),
        "AccessService/ListTokens" => Acc::new(ch)
            .list_tokens(pb::ListTokensRequest::default())
            .await
            .map(drop),
        "AuditService/GetSignedHead" => Aud::new(ch)
            .get_signed_head(pb::GetSignedHeadRequest::default())
            .await
            .map(drop),
        "AuditService/ExportPublicKey" => Aud::new(ch)
            .export_public_key(pb::ExportPublicKeyRequest {})
            .await
            .map(drop),
        "AuditService/GetEntries" => Aud::new(ch)
            .get_entries(pb::GetEntriesRequest::default())
            .await
            .map(drop),
        "AuditService/FindEntry" => Aud::new(ch)
            .find_entry(pb::FindEntryRequest {
                subject: "draw/d-1".into(),
            })
            .await
            .map(drop),
        "AuditService/ListAlertEntries" => Aud::new(ch)
            .list_alert_entries(pb::ListAlertEntriesRequest {
                subject: "alert/W1".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "AuditService/GetInclusionProof" => Aud::new(ch)
            .get_inclusion_proof(pb::InclusionProofRequest::default())
            .await
            .map(drop),
        "AuditService/GetConsistencyProof" => Aud::new(ch)
            .get_consistency_proof(pb::ConsistencyProofRequest {
                from_size: 1,
                to_size: 0,
            })
            .await
            .map(drop),
        "AuditService/ReplayClassification" => Aud::new(ch)
            .replay_classification(pb::ReplayClassificationRequest {
                credit_code: code,
                ..Default::default()
            })
            .await
            .map(drop),
        "AuditService/ReplayDraw" => Aud::new(ch)
            .replay_draw(pb::ReplayDrawRequest {
                draw_id: "d-1".into(),
            })
            .await
            .map(drop),
        "AuditService/ReplayRange" => Aud::new(ch)
            .replay_range(pb::ReplayRangeRequest::default())
            .await
            .map(drop),
        "WarningService/ListAlerts" => Warn::new(ch)
            .list_alerts(pb::ListAlertsRequest::default())
            .await
            .map(drop),
        "WarningService/GetAlert" => Warn::new(ch)
            .get_alert(pb::GetAlertRequest {
                alert_id: "W1".into(),
            })
            .await
            .map(drop),
        "WarningService/AssessAlert" => Warn::new(ch)
            .assess_alert(pb::AssessAlertRequest {
                alert_id: "W1".into(),
                decision: "confirmed".into(),
                reason: "r".into(),
            })
            .await
            .map(drop),
        "WarningService/WarnAlert" => Warn::new(ch)
            .warn_alert(pb::WarnAlertRequest {
                alert_id: "W1".into(),
                departments: vec!["health-chengdu".into()],
            })
            .await
            .map(drop),
        "WarningService/DisposeAlert" => Warn::new(ch)
            .dispose_alert(pb::DisposeAlertRequest {
                alert_id: "W1".into(),
                kind: "interview".into(),
                deadline: "2026-12-31".into(),
                note: String::new(),
                ..Default::default()
            })
            .await
            .map(drop),
        "WarningService/RecordActionOutcome" => Warn::new(ch)
            .record_action_outcome(pb::RecordActionOutcomeRequest {
                alert_id: "W1".into(),
                action: 1,
                outcome: "o".into(),
            })
            .await
            .map(drop),
        "WarningService/CloseAlert" => Warn::new(ch)
            .close_alert(pb::CloseAlertRequest {
                alert_id: "W1".into(),
                reason: String::new(),
            })
            .await
            .map(drop),
        "WarningService/RaiseGroupRatio" => Warn::new(ch)
            .raise_group_ratio(pb::RaiseGroupRatioRequest {
                alert_id: "W1".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "WarningService/ListOverdue" => Warn::new(ch)
            .list_overdue(pb::ListOverdueAlertsRequest {})
            .await
            .map(drop),
        "WarningService/WatchAlerts" => Warn::new(ch)
            .watch_alerts(pb::WatchAlertsRequest::default())
            .await
            .map(drop),
        "WarningService/EvaluateGroups" => Warn::new(ch)
            .evaluate_groups(pb::EvaluateGroupsRequest {
                as_of: "2026-11-30".into(),
                cut: 0,
            })
            .await
            .map(drop),
        "WarningService/BacktestWarnings" => Warn::new(ch)
            .backtest_warnings(pb::BacktestWarningsRequest {
                from_month: "2026-11".into(),
                to_month: "2026-11".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "WarningService/ReplayAlert" => Warn::new(ch)
            .replay_alert(pb::ReplayAlertRequest {
                alert_id: "W1".into(),
            })
            .await
            .map(drop),
        "WarningService/ExportAlert" => Warn::new(ch)
            .export_alert(pb::ExportAlertRequest {
                alert_id: "W1".into(),
            })
            .await
            .map(drop),
        "WarningService/UploadWarningRuleSet" => Warn::new(ch)
            .upload_warning_rule_set(pb::UploadWarningRuleSetRequest::default())
            .await
            .map(drop),
        "WarningService/ActivateWarningRuleSet" => Warn::new(ch)
            .activate_warning_rule_set(pb::ActivateWarningRuleSetRequest {
                hash: "0".repeat(64),
            })
            .await
            .map(drop),
        _ => return None,
    };
    Some(r)
}

/// `token` with another secret of the same form.
fn forge(token: &str) -> String {
    let (id, _) = token_parts(token).unwrap();
    format!("cr_{id}_{}", "A".repeat(43))
}

fn token_id(token: &str) -> &str {
    token_parts(token).unwrap().0
}

/// The secret part of a token. Not `rsplit_once('_')`: base64url secrets may contain `_`.
fn secret_of(token: &str) -> &str {
    token_parts(token).unwrap().1
}

#[tokio::test]
async fn every_rpc_with_every_credential_matches_the_readme_table() {
    let _ = logs();
    let s = TestServer::start().await;
    s.client()
        .await
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![synthetic_enterprise(7)],
        })
        .await
        .unwrap();
    let code = synthetic_code(7).to_string();

    // The README's table covers every RPC of the protos, and nothing else.
    let table = readme_table();
    let methods = proto_methods();
    assert!(methods.len() >= 36, "{methods:?}");
    for m in &methods {
        assert!(
            table.contains_key(m),
            "{m} is missing from the README table"
        );
        let ch = s.channel_with(None).await;
        assert!(
            call(m, ch, &code).await.is_some(),
            "{m}: no call in this test"
        );
    }
    for m in table.keys() {
        assert!(methods.contains(m), "{m} is in the README but in no proto");
    }

    // Bad credentials: UNAUTHENTICATED everywhere, with a message that names nothing stored.
    let now = creditrisk::clock::now_ms();
    let admin = s.tokens[&Role::Admin].clone();
    let expired = issue(&s.store, Role::Admin, "", Some(now - 1000), now - 2000).await;
    let revoked = issue(&s.store, Role::Admin, "", None, now).await;
    s.store
        .revoke(token_id(&revoked), "test", now)
        .await
        .unwrap();
    let bad = [
        ("none", None, "missing bearer token"),
        (
            "malformed",
            Some("not-a-token".to_string()),
            "malformed bearer token",
        ),
        ("forged", Some(forge(&admin)), "invalid bearer token"),
        (
            "unknown id",
            Some(forge("cr_nobody_x")),
            "invalid bearer token",
        ),
        ("expired", Some(expired), "bearer token has expired"),
        ("revoked", Some(revoked), "bearer token has been revoked"),
    ];
    for (what, token, message) in bad {
        let ch = s.channel_with(token.as_deref()).await;
        for m in &methods {
            let err = call(m, ch.clone(), &code)
                .await
                .unwrap()
                .expect_err(&format!("{what} credentials calling {m}"));
            assert_eq!(err.code(), Code::Unauthenticated, "{what} {m}: {err:?}");
            assert_eq!(err.message(), message, "{what} {m}");
            assert!(!err.message().contains(&code));
        }
    }

    // Each role: allowed methods pass the check, the others are PERMISSION_DENIED.
    for role in Role::ALL {
        let ch = s.channel_as(role).await;
        for m in &methods {
            let allowed = table[m].contains(&role);
            match call(m, ch.clone(), &code).await.unwrap() {
                Err(e) if !allowed => {
                    assert_eq!(e.code(), Code::PermissionDenied, "{role} {m}: {e:?}");
                    assert_eq!(e.message(), format!("role `{role}` may not call `{m}`"));
                }
                Err(e) => assert!(
                    !matches!(e.code(), Code::Unauthenticated | Code::PermissionDenied),
                    "{role} may call {m}: {e:?}"
                ),
                Ok(()) => assert!(allowed, "{role} got through to {m}"),
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn inspectors_see_and_record_only_their_own_assignments() {
    let _ = logs();
    let s = TestServer::start().await;
    let mut mine =
        pb::draw_service_client::DrawServiceClient::new(s.channel_as(Role::Inspector).await);
    let own = mine
        .list_assignments(pb::ListAssignmentsRequest {
            inspector_id: INSPECTOR.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(own.assignments.is_empty());
    // An empty id means "mine".
    mine.list_assignments(pb::ListAssignmentsRequest::default())
        .await
        .unwrap();
    let err = mine
        .list_assignments(pb::ListAssignmentsRequest {
            inspector_id: "someone-else".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(err.message(), "the assignment belongs to another inspector");
    let result = |inspectors: &[&str]| pb::RecordResultsRequest {
        draw_id: "d-1".into(),
        results: vec![pb::DrawResult {
            credit_code: synthetic_code(1).to_string(),
            inspection_id: String::new(),
            date: "2026-11-16".into(),
            inspector_ids: inspectors.iter().map(|s| s.to_string()).collect(),
            result_codes: vec!["1".into()],
        }],
    };
    let err = mine
        .record_results(result(&["someone-else", "another"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(!err.message().contains(&synthetic_code(1).to_string()));
    // Among the inspectors: past the access check (the draw does not exist).
    let err = mine
        .record_results(result(&["someone-else", INSPECTOR]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    s.stop().await;
}

#[tokio::test]
async fn tokens_issued_revoked_listed_and_never_logged() {
    let buf = logs();
    let s = TestServer::start().await;
    let mut acc =
        pb::access_service_client::AccessServiceClient::new(s.channel_as(Role::Admin).await);
    let r = acc
        .issue_token(pb::IssueTokenRequest {
            id: "ops-planner".into(),
            role: pb::Role::Planner as i32,
            subject: "ops".into(),
            expires_unix_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let token = r.token.clone();
    assert!(token.starts_with("cr_ops-planner_"));
    let info = r.info.unwrap();
    assert_eq!(info.created_by, token_id(&s.tokens[&Role::Admin]));
    assert_eq!(info.role, pb::Role::Planner as i32);

    // The new token works, as a planner.
    let ch = s.channel_with(Some(&token)).await;
    let mut draws = pb::draw_service_client::DrawServiceClient::new(ch.clone());
    draws.list_items(pb::ListItemsRequest {}).await.unwrap();
    let err = pb::record_service_client::RecordServiceClient::new(ch.clone())
        .upsert_enterprises(pb::UpsertEnterprisesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Ids are never reused; bad requests name their fields.
    let err = acc
        .issue_token(pb::IssueTokenRequest {
            id: "ops-planner".into(),
            role: pb::Role::Admin as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    let err = acc
        .issue_token(pb::IssueTokenRequest {
            id: "x".into(),
            role: pb::Role::Inspector as i32,
            subject: String::new(),
            expires_unix_ms: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&err).into_iter().map(|v| v.0).collect();
    assert_eq!(fields, ["subject", "expires_unix_ms"]);

    // The list shows no secrets and no hashes.
    let list = acc
        .list_tokens(pb::ListTokensRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(list.tokens.iter().any(|t| t.id == "ops-planner"));
    let stored = s.store.get("ops-planner").unwrap().unwrap();
    let listed = format!("{list:?}");
    assert!(!listed.contains(&stored.record.secret_hash));
    let secret = secret_of(&token);
    assert!(!listed.contains(secret));
    // Auditors may see the list too, but not change it.
    let mut aud =
        pb::access_service_client::AccessServiceClient::new(s.channel_as(Role::Auditor).await);
    aud.list_tokens(pb::ListTokensRequest {}).await.unwrap();
    let err = aud
        .revoke_token(pb::RevokeTokenRequest {
            id: "ops-planner".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Revoked: refused from the next call on.
    let rev = acc
        .revoke_token(pb::RevokeTokenRequest {
            id: "ops-planner".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(rev.revoked);
    assert_eq!(rev.revoked_by, token_id(&s.tokens[&Role::Admin]));
    let err = draws.list_items(pb::ListItemsRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "bearer token has been revoked");
    let err = acc
        .revoke_token(pb::RevokeTokenRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut secrets: Vec<String> = s.tokens.values().cloned().collect();
    secrets.push(token);
    let admin_id = token_id(&s.tokens[&Role::Admin]).to_string();
    s.stop().await;

    // The log names callers by token id, and holds no secret of any token used here.
    let text = String::from_utf8_lossy(&buf.lock().unwrap()).to_string();
    assert!(
        text.contains(&format!("caller={admin_id}")),
        "the caller is logged: {}",
        text.lines()
            .filter(|l| l.contains("answered"))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for t in &secrets {
        let secret = secret_of(t);
        assert!(!text.contains(secret), "a token secret was logged");
    }
}
