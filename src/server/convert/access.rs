//! Access tokens: issue requests, roles and token records (never secrets or hashes).

use crate::access::{NewToken, StoredToken};
use crate::audit::access::Role;
use crate::error::{Error, Result};
use crate::server::pb;

/// A role from proto; unspecified or unknown values are invalid `field`.
pub fn role_from(r: i32, field: &str) -> Result<Role> {
    match pb::Role::try_from(r) {
        Ok(pb::Role::Ingest) => Ok(Role::Ingest),
        Ok(pb::Role::Planner) => Ok(Role::Planner),
        Ok(pb::Role::Inspector) => Ok(Role::Inspector),
        Ok(pb::Role::Auditor) => Ok(Role::Auditor),
        Ok(pb::Role::Admin) => Ok(Role::Admin),
        Ok(pb::Role::Unspecified) => Err(Error::invalid(
            field,
            "is required (ingest, planner, inspector, auditor or admin)",
        )),
        Err(_) => Err(Error::invalid(field, format!("`{r}` is not a role"))),
    }
}

/// A role to proto.
pub fn role_to(r: Role) -> pb::Role {
    match r {
        Role::Ingest => pb::Role::Ingest,
        Role::Planner => pb::Role::Planner,
        Role::Inspector => pb::Role::Inspector,
        Role::Auditor => pb::Role::Auditor,
        Role::Admin => pb::Role::Admin,
    }
}

/// An issue request from proto (the fields are checked by [`NewToken::check`]).
pub fn new_token_from(p: pb::IssueTokenRequest) -> Result<NewToken> {
    Ok(NewToken {
        role: role_from(p.role, "role")?,
        id: p.id,
        subject: p.subject,
        expires_unix_ms: (p.expires_unix_ms != 0).then_some(p.expires_unix_ms),
    })
}

/// A stored token to proto: everything but the secret's hash.
pub fn token_to(t: &StoredToken) -> pb::TokenInfo {
    pb::TokenInfo {
        id: t.record.id.clone(),
        role: role_to(t.record.role) as i32,
        subject: t.record.subject.clone(),
        expires_unix_ms: t.record.expires_unix_ms.unwrap_or(0),
        revoked: t.record.revoked,
        created_unix_ms: t.created_ms,
        created_by: t.created_by.clone(),
        revoked_unix_ms: t.revoked_ms.unwrap_or(0),
        revoked_by: t.revoked_by.clone().unwrap_or_default(),
    }
}
