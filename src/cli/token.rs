//! Token commands (admins): `token issue`, `token revoke`, `token list`.

use super::client::{channel, explain, Target};
use crate::audit::access::Role;
use crate::server::{convert, pb};
use pb::access_service_client::AccessServiceClient;
use serde_json::json;

fn info_json(t: &pb::TokenInfo) -> serde_json::Value {
    let role = match t.role() {
        pb::Role::Unspecified => "unspecified",
        pb::Role::Ingest => "ingest",
        pb::Role::Planner => "planner",
        pb::Role::Inspector => "inspector",
        pb::Role::Auditor => "auditor",
        pb::Role::Admin => "admin",
    };
    json!({
        "id": t.id,
        "role": role,
        "subject": t.subject,
        "expires_unix_ms": t.expires_unix_ms,
        "revoked": t.revoked,
        "created_unix_ms": t.created_unix_ms,
        "created_by": t.created_by,
        "revoked_unix_ms": t.revoked_unix_ms,
        "revoked_by": t.revoked_by,
    })
}

/// Issues a token through the server and returns its string (the only copy).
/// `expires_in_days`: `None` never expires.
pub async fn issue_token(
    target: &Target,
    id: &str,
    role: Role,
    subject: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<(String, pb::TokenInfo)> {
    let expires_unix_ms = expires_in_days
        .map(|d| crate::clock::now_ms() + i64::from(d) * 86_400_000)
        .unwrap_or(0);
    let r = AccessServiceClient::new(channel(target).await?)
        .issue_token(pb::IssueTokenRequest {
            id: id.into(),
            role: convert::role_to(role) as i32,
            subject: subject.into(),
            expires_unix_ms,
        })
        .await
        .map_err(explain)?
        .into_inner();
    Ok((r.token, r.info.unwrap_or_default()))
}

/// `token issue`: prints the token alone on standard output (for scripts), and a note on
/// standard error.
pub async fn issue(
    target: &Target,
    id: &str,
    role: Role,
    subject: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<()> {
    let (token, info) = issue_token(target, id, role, subject, expires_in_days).await?;
    println!("{token}");
    eprintln!(
        "{}\nthe token is shown only this once; the server keeps only its hash",
        info_json(&info)
    );
    Ok(())
}

/// `token revoke ID`.
pub async fn revoke(target: &Target, id: &str) -> anyhow::Result<()> {
    let r = AccessServiceClient::new(channel(target).await?)
        .revoke_token(pb::RevokeTokenRequest { id: id.into() })
        .await
        .map_err(explain)?
        .into_inner();
    println!("{}", info_json(&r));
    Ok(())
}

/// `token list`: every token ever issued, as JSON lines (no secrets or hashes).
pub async fn list(target: &Target) -> anyhow::Result<()> {
    let r = AccessServiceClient::new(channel(target).await?)
        .list_tokens(pb::ListTokensRequest {})
        .await
        .map_err(explain)?
        .into_inner();
    for t in &r.tokens {
        println!("{}", info_json(t));
    }
    Ok(())
}
