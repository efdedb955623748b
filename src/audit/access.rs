//! Access control: bearer tokens stored only as hashes, five roles, and one static policy table
//! that decides which role may call which gRPC method.
//!
//! Why a static table: the README's role table, the server's checks and the access tests all
//! come from [`POLICY`], so they cannot drift apart. It lists full method paths only (no service
//! wildcards): a method added to a proto is denied to everyone until someone writes it here
//! (fail closed). Health and reflection are the only open services ([`OPEN_PREFIXES`]).
//!
//! # Tokens
//!
//! A token is `cr_<id>_<secret>`: `id` is 1 to 64 ASCII letters, digits or `-` (no `_`, so the
//! first `_` after `cr_` ends it), `secret` is 32 random bytes in unpadded base64url (43
//! characters, which may contain `_`). The service keeps a [`TokenRecord`] with
//! `SHA-256(secret bytes)` in hex, never the secret. The id is not secret: it is the `actor` of
//! log entries and may appear in logs; the secret must never be logged.
//!
//! # Failures and what they reveal
//!
//! [`authenticate`] compares the secret's hash in constant time *before* it looks at expiry or
//! revocation, and gives the same [`AuthError::Unknown`] for an unknown id and a wrong secret.
//! So whoever lacks the secret learns nothing (not whether the id exists, is expired or revoked);
//! only the holder of the secret is told that it expired or was revoked. All of these map to
//! UNAUTHENTICATED; [`AuthError::Denied`] (wrong role) maps to PERMISSION_DENIED and names only
//! the caller's own role and the method they called. Timing: an unknown id costs a dummy hash
//! comparison too; the store lookup itself may still differ in time, which is acceptable because
//! ids are not secret.
//!
//! # Policy decisions
//!
//! * Roles are not hierarchical: `admin` is not a superuser and cannot ingest records, plan or
//!   record inspection results; it manages rule sets, the roster and tokens, runs
//!   classifications, and reads everything an auditor reads.
//! * `Classify` and `Reclassify` are admin-only: the role that picks inspection targets
//!   (`planner`) does not also control when classifications are stored. Planners read them.
//! * `auditor` may call every read method except `ListAssignments`, which is an inspector's own
//!   view; auditors see draws through `GetDraw`, `ListDraws` and `ExportDraw`. Listing tokens
//!   (ids, roles, subjects; never secrets) is a read, so auditors may see who holds which role.
//! * `planner` manages inspection items, previews, creates and publishes draws; publishing
//!   (`PublishResults`) records a fact about the planner's own draw, not an inspection result.
//! * `inspector` may call only `ListAssignments` and `RecordResults`; the server also checks
//!   that the assignments asked for are the caller's own ([`Principal::check_subject`]) and that
//!   the caller is among the inspectors of every result it records.
//! * Tokens are issued and revoked by `admin` through `AccessService`; every issue and
//!   revocation is logged in the audit log.
//! * `AuditService` (heads, entries, proofs, replay) is for `auditor` and `admin`: replay only
//!   reads and recomputes, it never stores.
//! * `WarningService`: `planner` and `admin` assess, warn, dispose, close and evaluate group
//!   signals; `admin` uploads and activates warning rule sets; `auditor` reads, back-tests and replays; `inspector` reads; `ingest` nothing.
//!   `ListOverdue` escalates overdue alerts first only for callers who may change alerts.

use crate::audit::error::AuditError;
use crate::audit::json::hex_array;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// What a caller is allowed to do; see the module doc and [`POLICY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Writes enterprise records, events and inspections, and reads records.
    Ingest,
    /// Manages inspection items; previews, creates and publishes draws; reads records, rules,
    /// classifications and draws.
    Planner,
    /// Sees its own assignments and records their results.
    Inspector,
    /// Reads everything, replays and fetches proofs; changes nothing.
    Auditor,
    /// Manages rule sets, the inspector roster and tokens; runs classifications; reads.
    Admin,
}

impl Role {
    /// Every role, in the column order of [`role_table_markdown`].
    pub const ALL: [Role; 5] = [
        Role::Ingest,
        Role::Planner,
        Role::Inspector,
        Role::Auditor,
        Role::Admin,
    ];

    /// The lower-case name used in configs, token records and the README.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Planner => "planner",
            Role::Inspector => "inspector",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    /// Parses a lower-case role name.
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

/// Method path prefixes that need no token: gRPC health checking and server reflection.
pub const OPEN_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

use Role::{Admin, Auditor, Ingest, Inspector, Planner};

const RECORD_READ: &[Role] = &[Ingest, Planner, Auditor, Admin];
const INGEST: &[Role] = &[Ingest];
const ROSTER_READ: &[Role] = &[Planner, Auditor, Admin];
const ADMIN: &[Role] = &[Admin];
const READ: &[Role] = &[Planner, Auditor, Admin];
const PLANNER: &[Role] = &[Planner];
const INSPECTOR: &[Role] = &[Inspector];
const AUDIT: &[Role] = &[Auditor, Admin];
const ALERT_READ: &[Role] = &[Planner, Inspector, Auditor, Admin];
const ALERT_WRITE: &[Role] = &[Planner, Admin];
const ALERT_BACKTEST: &[Role] = &[Planner, Auditor, Admin];

/// Which roles may call each gRPC method, by full method path. Anything not listed (and not
/// under [`OPEN_PREFIXES`]) is denied to every role.
pub const POLICY: &[(&str, &[Role])] = &[
    // Records: ingest writes and reads them; the roster is the admin's.
    ("/creditrisk.v1.RecordService/UpsertEnterprises", INGEST),
    ("/creditrisk.v1.RecordService/GetEnterprise", RECORD_READ),
    ("/creditrisk.v1.RecordService/ListEnterprises", RECORD_READ),
    ("/creditrisk.v1.RecordService/AppendEvents", INGEST),
    ("/creditrisk.v1.RecordService/BulkAppendEvents", INGEST),
    ("/creditrisk.v1.RecordService/ListEvents", RECORD_READ),
    ("/creditrisk.v1.RecordService/UpsertInspectors", ADMIN),
    ("/creditrisk.v1.RecordService/ListInspectors", ROSTER_READ),
    ("/creditrisk.v1.RecordService/RecordInspections", INGEST),
    // Rule sets: the admin's.
    ("/creditrisk.v1.RuleService/ValidateRuleSet", ADMIN),
    ("/creditrisk.v1.RuleService/UploadRuleSet", ADMIN),
    ("/creditrisk.v1.RuleService/ActivateRuleSet", ADMIN),
    ("/creditrisk.v1.RuleService/ListRuleSets", READ),
    ("/creditrisk.v1.RuleService/GetRuleSet", READ),
    // Classifications: stored by the admin, read by planners and auditors.
    ("/creditrisk.v1.ClassificationService/Classify", ADMIN),
    (
        "/creditrisk.v1.ClassificationService/GetClassification",
        READ,
    ),
    (
        "/creditrisk.v1.ClassificationService/ListClassifications",
        READ,
    ),
    ("/creditrisk.v1.ClassificationService/Explain", READ),
    ("/creditrisk.v1.ClassificationService/Reclassify", ADMIN),
    ("/creditrisk.v1.ClassificationService/Simulate", READ),
    (
        "/creditrisk.v1.ClassificationService/WatchTierChanges",
        READ,
    ),
    ("/creditrisk.v1.ClassificationService/ReportTiers", READ),
    // Draws: planners make and publish them, inspectors see and fill in their own part.
    ("/creditrisk.v1.DrawService/UpsertItems", PLANNER),
    ("/creditrisk.v1.DrawService/ListItems", READ),
    ("/creditrisk.v1.DrawService/PreviewDraw", PLANNER),
    ("/creditrisk.v1.DrawService/CreateDraw", PLANNER),
    ("/creditrisk.v1.DrawService/GetDraw", READ),
    ("/creditrisk.v1.DrawService/ListDraws", READ),
    ("/creditrisk.v1.DrawService/ListAssignments", INSPECTOR),
    ("/creditrisk.v1.DrawService/RecordResults", INSPECTOR),
    ("/creditrisk.v1.DrawService/PublishResults", PLANNER),
    ("/creditrisk.v1.DrawService/ListOverdue", READ),
    ("/creditrisk.v1.DrawService/PublicResults", READ),
    ("/creditrisk.v1.DrawService/ExportDraw", READ),
    // Tokens: issued and revoked by admins; auditors may see who holds which role.
    ("/creditrisk.v1.AccessService/IssueToken", ADMIN),
    ("/creditrisk.v1.AccessService/RevokeToken", ADMIN),
    ("/creditrisk.v1.AccessService/ListTokens", AUDIT),
    // Audit: proofs and replay for auditors (and admins); tokens for admins.
    ("/creditrisk.v1.AuditService/GetSignedHead", AUDIT),
    ("/creditrisk.v1.AuditService/GetInclusionProof", AUDIT),
    ("/creditrisk.v1.AuditService/GetConsistencyProof", AUDIT),
    ("/creditrisk.v1.AuditService/ReplayClassification", AUDIT),
    ("/creditrisk.v1.AuditService/ReplayDraw", AUDIT),
    ("/creditrisk.v1.AuditService/ReplayRange", AUDIT),
    ("/creditrisk.v1.AuditService/ExportPublicKey", AUDIT),
    ("/creditrisk.v1.AuditService/GetEntries", AUDIT),
    ("/creditrisk.v1.AuditService/FindEntry", AUDIT),
    ("/creditrisk.v1.AuditService/ListAlertEntries", AUDIT),
    // Early warning: planners and admins take alerts through their lifecycle and evaluate;
    // auditors read, back-test and replay; inspectors read; ingest nothing.
    ("/creditrisk.v1.WarningService/ListAlerts", ALERT_READ),
    ("/creditrisk.v1.WarningService/GetAlert", ALERT_READ),
    ("/creditrisk.v1.WarningService/AssessAlert", ALERT_WRITE),
    ("/creditrisk.v1.WarningService/WarnAlert", ALERT_WRITE),
    ("/creditrisk.v1.WarningService/DisposeAlert", ALERT_WRITE),
    (
        "/creditrisk.v1.WarningService/RecordActionOutcome",
        ALERT_WRITE,
    ),
    ("/creditrisk.v1.WarningService/CloseAlert", ALERT_WRITE),
    ("/creditrisk.v1.WarningService/RaiseGroupRatio", ALERT_WRITE),
    ("/creditrisk.v1.WarningService/ListOverdue", ALERT_READ),
    ("/creditrisk.v1.WarningService/WatchAlerts", ALERT_READ),
    ("/creditrisk.v1.WarningService/EvaluateGroups", ALERT_WRITE),
    (
        "/creditrisk.v1.WarningService/BacktestWarnings",
        ALERT_BACKTEST,
    ),
    ("/creditrisk.v1.WarningService/ReplayAlert", AUDIT),
    ("/creditrisk.v1.WarningService/ExportAlert", ALERT_READ),
    ("/creditrisk.v1.WarningService/UploadWarningRuleSet", ADMIN),
    (
        "/creditrisk.v1.WarningService/ActivateWarningRuleSet",
        ADMIN,
    ),
];

/// What the service stores for a token: everything but the secret, whose SHA-256 it keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token id (the `<id>` of `cr_<id>_<secret>`), unique; not secret.
    pub id: String,
    /// The role granted.
    pub role: Role,
    /// What the token acts for: the inspector id for inspector tokens, free text otherwise.
    pub subject: String,
    /// Lowercase hex of SHA-256 of the 32 secret bytes.
    pub secret_hash: String,
    /// Expiry in milliseconds since the Unix epoch (exclusive: invalid from that instant);
    /// `None` never expires.
    pub expires_unix_ms: Option<i64>,
    /// Whether an admin revoked it. Revoked records are kept so the id is never reused.
    pub revoked: bool,
}

/// A newly issued token: the string to hand to the caller once, and the record to store.
/// `Debug` does not show the token string.
#[derive(Clone)]
pub struct IssuedToken {
    /// `cr_<id>_<secret>`: show it once, never store or log it.
    pub token: String,
    /// What to store.
    pub record: TokenRecord,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// Whether `id` is a valid token id: 1 to 64 ASCII letters, digits or `-`.
pub fn valid_token_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn secret_hash(secret: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Makes a token from caller-supplied random bytes (the service reads them from
/// `/dev/urandom`). Fails if `id` is not a [`valid_token_id`].
pub fn issue_token(
    id: &str,
    role: Role,
    subject: &str,
    expires_unix_ms: Option<i64>,
    secret: [u8; 32],
) -> Result<IssuedToken, AuditError> {
    if !valid_token_id(id) {
        return Err(AuditError::InvalidTokenId(id.to_string()));
    }
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    Ok(IssuedToken {
        token: format!("cr_{id}_{encoded}"),
        record: TokenRecord {
            id: id.to_string(),
            role,
            subject: subject.to_string(),
            secret_hash: hex::encode(secret_hash(&secret)),
            expires_unix_ms,
            revoked: false,
        },
    })
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token id: what log entries record as `actor`.
    pub token_id: String,
    /// The role granted.
    pub role: Role,
    /// What the token acts for (the inspector id for inspector tokens).
    pub subject: String,
}

impl Principal {
    /// For inspector-scoped calls: succeeds only if the caller is an inspector acting for
    /// `inspector_id`. The server calls it with the inspector of the assignment concerned.
    pub fn check_subject(&self, inspector_id: &str) -> Result<(), AuthError> {
        if self.role == Role::Inspector && self.subject == inspector_id {
            Ok(())
        } else {
            Err(AuthError::NotYours)
        }
    }
}

/// Why a call was refused. `Missing`, `Malformed`, `Unknown`, `Expired` and `Revoked` map to
/// UNAUTHENTICATED; `Denied` and `NotYours` to PERMISSION_DENIED (see [`AuthError::is_denial`]).
/// Messages reveal nothing a caller without the secret does not already know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials were presented.
    #[error("missing bearer token")]
    Missing,
    /// The credentials are not of the form `Bearer cr_<id>_<secret>`.
    #[error("malformed bearer token")]
    Malformed,
    /// Unknown token id or wrong secret: deliberately indistinguishable.
    #[error("invalid bearer token")]
    Unknown,
    /// The token is valid but expired (only told to the holder of the secret).
    #[error("bearer token has expired")]
    Expired,
    /// The token is valid but revoked (only told to the holder of the secret).
    #[error("bearer token has been revoked")]
    Revoked,
    /// The caller's role may not call this method (or the method is unknown).
    #[error("role `{role}` may not call `{method}`")]
    Denied {
        /// The caller's role.
        role: Role,
        /// The method called, as the caller sent it.
        method: String,
    },
    /// An inspector asked for another inspector's assignment.
    #[error("the assignment belongs to another inspector")]
    NotYours,
}

impl AuthError {
    /// True for PERMISSION_DENIED (authenticated but not allowed), false for UNAUTHENTICATED.
    pub fn is_denial(&self) -> bool {
        matches!(self, AuthError::Denied { .. } | AuthError::NotYours)
    }
}

/// Extracts the token from an `authorization` header value `Bearer <token>` (scheme
/// case-insensitive, RFC 6750). `None` or an empty value is [`AuthError::Missing`].
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.map(str::trim).unwrap_or("");
    if value.is_empty() || value.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(AuthError::Missing)
            } else {
                Ok(token)
            }
        }
        _ => Err(AuthError::Malformed),
    }
}

/// Splits `cr_<id>_<secret>` into the id and the encoded secret, as text. The id holds no `_`
/// but the secret (URL-safe base64) may, so the split is at the first `_` after the prefix.
pub fn token_parts(token: &str) -> Option<(&str, &str)> {
    token.strip_prefix("cr_")?.split_once('_')
}

/// Splits `cr_<id>_<secret>` into the id and the 32 secret bytes.
fn parse_token(presented: &str) -> Result<(&str, [u8; 32]), AuthError> {
    let (id, secret) = token_parts(presented).ok_or(AuthError::Malformed)?;
    if !valid_token_id(id) || secret.len() != 43 {
        return Err(AuthError::Malformed);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(secret)
        .map_err(|_| AuthError::Malformed)?;
    let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| AuthError::Malformed)?;
    Ok((id, secret))
}

/// Compares two digests in time independent of where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // black_box keeps the optimizer from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// Authenticates a presented token (`cr_<id>_<secret>`, without the `Bearer ` scheme; see
/// [`bearer_token`]). `lookup` returns the stored record for an id; `now_ms` is the current
/// time. Checks, in order: present, well-formed, known id and matching secret (one error for
/// both), not revoked, not expired.
pub fn authenticate(
    presented: &str,
    lookup: impl Fn(&str) -> Option<TokenRecord>,
    now_ms: i64,
) -> Result<Principal, AuthError> {
    if presented.is_empty() {
        return Err(AuthError::Missing);
    }
    let (id, secret) = parse_token(presented)?;
    let presented_hash = secret_hash(&secret);
    let record = lookup(id);
    // A record whose stored hash is not 64 hex digits is corrupt; it can match nothing
    // (fail closed), and it still costs a comparison like every other path.
    let stored = record
        .as_ref()
        .and_then(|r| hex_array::<32>(&r.secret_hash, "secret_hash").ok());
    let matches = constant_time_eq(&presented_hash, &stored.unwrap_or([0u8; 32]));
    let record = match record {
        Some(r) if matches && stored.is_some() && r.id == id => r,
        _ => return Err(AuthError::Unknown),
    };
    if record.revoked {
        return Err(AuthError::Revoked);
    }
    if record.expires_unix_ms.is_some_and(|t| now_ms >= t) {
        return Err(AuthError::Expired);
    }
    Ok(Principal {
        token_id: record.id,
        role: record.role,
        subject: record.subject,
    })
}

/// Whether `method` (a full gRPC path) needs no token at all.
pub fn is_open(method: &str) -> bool {
    OPEN_PREFIXES.iter().any(|p| method.starts_with(p))
}

/// The roles allowed to call `method`, or `None` if it is not in [`POLICY`].
pub fn allowed_roles(method: &str) -> Option<&'static [Role]> {
    POLICY.iter().find(|(m, _)| *m == method).map(|(_, r)| *r)
}

/// Allows the call if `principal`'s role is listed for `method` in [`POLICY`]; everything else,
/// including unknown methods, is [`AuthError::Denied`]. Open methods need no principal: check
/// [`is_open`] first.
pub fn authorize(principal: &Principal, method: &str) -> Result<(), AuthError> {
    match allowed_roles(method) {
        Some(roles) if roles.contains(&principal.role) => Ok(()),
        _ => Err(AuthError::Denied {
            role: principal.role,
            method: method.to_string(),
        }),
    }
}

/// The role table for the README, generated from [`POLICY`] and [`OPEN_PREFIXES`]: one row per
/// method, one column per role, `✓` where allowed.
pub fn role_table_markdown() -> String {
    let mut out = String::from("| Method |");
    for r in Role::ALL {
        out.push_str(&format!(" {r} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&":-:|".repeat(Role::ALL.len()));
    out.push('\n');
    for (method, roles) in POLICY {
        let name = method.strip_prefix("/creditrisk.v1.").unwrap_or(method);
        out.push_str(&format!("| `{name}` |"));
        for r in Role::ALL {
            out.push_str(if roles.contains(&r) { " ✓ |" } else { "  |" });
        }
        out.push('\n');
    }
    for prefix in OPEN_PREFIXES {
        let service = prefix.trim_matches('/');
        out.push_str(&format!("| `{service}/*` (no token) |"));
        out.push_str(&" ✓ |".repeat(Role::ALL.len()));
        out.push('\n');
    }
    out.push_str(
        "\nMethods are gRPC paths under `/creditrisk.v1.`; any other method is denied to every \
         role.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    const NOW: i64 = 1_700_000_000_000;

    /// The services and methods of the lead's protos, classified independently of POLICY.
    /// (service, method, expected roles as a string).
    const MODEL: &[(&str, &str, &str)] = &[
        ("RecordService", "UpsertEnterprises", "ingest"),
        ("RecordService", "AppendEvents", "ingest"),
        ("RecordService", "BulkAppendEvents", "ingest"),
        ("RecordService", "RecordInspections", "ingest"),
        ("RecordService", "UpsertInspectors", "admin"),
        (
            "RecordService",
            "GetEnterprise",
            "ingest planner auditor admin",
        ),
        (
            "RecordService",
            "ListEnterprises",
            "ingest planner auditor admin",
        ),
        (
            "RecordService",
            "ListEvents",
            "ingest planner auditor admin",
        ),
        ("RecordService", "ListInspectors", "planner auditor admin"),
        ("RuleService", "ValidateRuleSet", "admin"),
        ("RuleService", "UploadRuleSet", "admin"),
        ("RuleService", "ActivateRuleSet", "admin"),
        ("RuleService", "ListRuleSets", "planner auditor admin"),
        ("RuleService", "GetRuleSet", "planner auditor admin"),
        ("ClassificationService", "Classify", "admin"),
        ("ClassificationService", "Reclassify", "admin"),
        (
            "ClassificationService",
            "GetClassification",
            "planner auditor admin",
        ),
        (
            "ClassificationService",
            "ListClassifications",
            "planner auditor admin",
        ),
        ("ClassificationService", "Explain", "planner auditor admin"),
        ("ClassificationService", "Simulate", "planner auditor admin"),
        (
            "ClassificationService",
            "WatchTierChanges",
            "planner auditor admin",
        ),
        (
            "ClassificationService",
            "ReportTiers",
            "planner auditor admin",
        ),
        ("DrawService", "UpsertItems", "planner"),
        ("DrawService", "ListItems", "planner auditor admin"),
        ("DrawService", "PreviewDraw", "planner"),
        ("DrawService", "CreateDraw", "planner"),
        ("DrawService", "GetDraw", "planner auditor admin"),
        ("DrawService", "ListDraws", "planner auditor admin"),
        ("DrawService", "ListAssignments", "inspector"),
        ("DrawService", "RecordResults", "inspector"),
        ("DrawService", "PublishResults", "planner"),
        ("DrawService", "ListOverdue", "planner auditor admin"),
        ("DrawService", "PublicResults", "planner auditor admin"),
        ("DrawService", "ExportDraw", "planner auditor admin"),
        ("AccessService", "IssueToken", "admin"),
        ("AccessService", "RevokeToken", "admin"),
        ("AccessService", "ListTokens", "auditor admin"),
        ("AuditService", "GetSignedHead", "auditor admin"),
        ("AuditService", "GetInclusionProof", "auditor admin"),
        ("AuditService", "GetConsistencyProof", "auditor admin"),
        ("AuditService", "ReplayClassification", "auditor admin"),
        ("AuditService", "ReplayDraw", "auditor admin"),
        ("AuditService", "ReplayRange", "auditor admin"),
        ("AuditService", "ExportPublicKey", "auditor admin"),
        ("AuditService", "GetEntries", "auditor admin"),
        ("AuditService", "FindEntry", "auditor admin"),
        ("AuditService", "ListAlertEntries", "auditor admin"),
        (
            "WarningService",
            "ListAlerts",
            "planner inspector auditor admin",
        ),
        (
            "WarningService",
            "GetAlert",
            "planner inspector auditor admin",
        ),
        ("WarningService", "AssessAlert", "planner admin"),
        ("WarningService", "WarnAlert", "planner admin"),
        ("WarningService", "DisposeAlert", "planner admin"),
        ("WarningService", "RecordActionOutcome", "planner admin"),
        ("WarningService", "CloseAlert", "planner admin"),
        ("WarningService", "RaiseGroupRatio", "planner admin"),
        (
            "WarningService",
            "ListOverdue",
            "planner inspector auditor admin",
        ),
        (
            "WarningService",
            "WatchAlerts",
            "planner inspector auditor admin",
        ),
        ("WarningService", "EvaluateGroups", "planner admin"),
        (
            "WarningService",
            "BacktestWarnings",
            "planner auditor admin",
        ),
        ("WarningService", "ReplayAlert", "auditor admin"),
        (
            "WarningService",
            "ExportAlert",
            "planner inspector auditor admin",
        ),
        ("WarningService", "UploadWarningRuleSet", "admin"),
        ("WarningService", "ActivateWarningRuleSet", "admin"),
    ];

    /// Methods that change state: the auditor must be denied every one of them.
    const WRITES: &[&str] = &[
        "UpsertEnterprises",
        "AppendEvents",
        "BulkAppendEvents",
        "RecordInspections",
        "UpsertInspectors",
        "ValidateRuleSet",
        "UploadRuleSet",
        "ActivateRuleSet",
        "Classify",
        "Reclassify",
        "UpsertItems",
        "PreviewDraw",
        "CreateDraw",
        "RecordResults",
        "PublishResults",
        "IssueToken",
        "RevokeToken",
        "AssessAlert",
        "WarnAlert",
        "DisposeAlert",
        "RecordActionOutcome",
        "CloseAlert",
        "RaiseGroupRatio",
        "EvaluateGroups",
        "UploadWarningRuleSet",
        "ActivateWarningRuleSet",
    ];

    fn principal(role: Role) -> Principal {
        Principal {
            token_id: format!("t-{role}"),
            role,
            subject: "insp-1".into(),
        }
    }

    fn store<'a>(
        records: impl IntoIterator<Item = &'a TokenRecord>,
    ) -> BTreeMap<String, TokenRecord> {
        records
            .into_iter()
            .map(|r| (r.id.clone(), r.clone()))
            .collect()
    }

    fn issue(id: &str, role: Role, seed: u8) -> IssuedToken {
        issue_token(id, role, "insp-1", None, [seed; 32]).expect("issue")
    }

    #[test]
    fn every_method_times_every_role() {
        let mut listed = BTreeSet::new();
        for (service, method, roles) in MODEL {
            let path = format!("/creditrisk.v1.{service}/{method}");
            listed.insert(path.clone());
            let want: BTreeSet<&str> = roles.split(' ').collect();
            assert!(!is_open(&path));
            for role in Role::ALL {
                let got = authorize(&principal(role), &path);
                assert_eq!(
                    got.is_ok(),
                    want.contains(role.as_str()),
                    "{role} calling {path}: {got:?}"
                );
                if let Err(e) = got {
                    assert!(e.is_denial());
                    assert_eq!(
                        e.to_string(),
                        format!("role `{role}` may not call `{path}`")
                    );
                }
            }
            // Auditor reads everything except an inspector's own view, changes nothing.
            let auditor_ok = authorize(&principal(Role::Auditor), &path).is_ok();
            let write = WRITES.contains(method);
            assert_eq!(auditor_ok, !write && *method != "ListAssignments", "{path}");
        }
        let policy: BTreeSet<String> = POLICY.iter().map(|(m, _)| m.to_string()).collect();
        assert_eq!(policy, listed, "POLICY and the model list the same methods");
        assert_eq!(POLICY.len(), listed.len(), "no duplicates in POLICY");
    }

    #[test]
    fn unknown_methods_are_denied_and_open_ones_recognised() {
        for method in [
            "",
            "/",
            "/creditrisk.v1.RecordService/",
            "/creditrisk.v1.RecordService/DeleteEverything",
            "/creditrisk.v1.recordservice/AppendEvents",
            "/creditrisk.v1.RecordService/AppendEvents/",
            "creditrisk.v1.RecordService/AppendEvents",
            "/creditrisk.v2.AuditService/IssueToken",
        ] {
            for role in Role::ALL {
                assert!(
                    authorize(&principal(role), method).is_err(),
                    "{role} {method}"
                );
            }
        }
        assert!(is_open("/grpc.health.v1.Health/Check"));
        assert!(is_open("/grpc.health.v1.Health/Watch"));
        assert!(is_open(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(is_open(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_open("/grpc.health.v1.HealthX/Check"));
        assert!(!is_open("/creditrisk.v1.AuditService/ExportPublicKey"));
    }

    #[test]
    fn role_table_lists_every_method_and_matches_policy() {
        let table = role_table_markdown();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "| Method | ingest | planner | inspector | auditor | admin |"
        );
        for (method, roles) in POLICY {
            let name = method.trim_start_matches("/creditrisk.v1.");
            let row = lines
                .iter()
                .find(|l| l.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("{name} missing"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            for (i, role) in Role::ALL.into_iter().enumerate() {
                assert_eq!(cells[2 + i] == "✓", roles.contains(&role), "{row}");
            }
        }
        for p in OPEN_PREFIXES {
            assert!(table.contains(p.trim_matches('/')), "{p}");
        }
        assert_eq!(lines.len(), 2 + POLICY.len() + OPEN_PREFIXES.len() + 2);
    }

    #[test]
    fn docs_embed_the_current_role_table() {
        // docs/audit.md (copied along with src/audit/) must show the table POLICY produces.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md");
        let doc = std::fs::read_to_string(path).expect("read docs/audit.md");
        assert!(
            doc.contains(&role_table_markdown()),
            "docs/audit.md is stale: paste the output of `role_table_markdown()`"
        );
    }

    #[test]
    fn readme_embeds_the_current_role_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let doc = std::fs::read_to_string(path).expect("read README.md");
        let section = doc
            .split("\n## Access control\n")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has an `## Access control` section");
        assert!(
            section.contains(&role_table_markdown()),
            "README.md is stale: paste the output of `role_table_markdown()` under Access control"
        );
        assert_eq!(
            doc.matches("| Method | ingest |").count(),
            1,
            "one role table"
        );
    }

    #[test]
    fn issue_and_authenticate() {
        let t = issue("ops-1", Role::Auditor, 5);
        assert!(t.token.starts_with("cr_ops-1_"));
        assert_eq!(t.token.len(), "cr_ops-1_".len() + 43);
        assert_eq!(t.record.secret_hash, hex::encode(Sha256::digest([5u8; 32])));
        assert!(!format!("{t:?}").contains(&t.token));
        assert!(!t.token.contains(&t.record.secret_hash));
        let db = store([&t.record]);
        let p = authenticate(&t.token, |id| db.get(id).cloned(), NOW).expect("ok");
        assert_eq!(
            p,
            Principal {
                token_id: "ops-1".into(),
                role: Role::Auditor,
                subject: "insp-1".into()
            }
        );
        // The record round-trips through serde (as the server stores it).
        let json = serde_json::to_string(&t.record).expect("json");
        assert!(json.contains("\"role\":\"auditor\""));
        assert_eq!(
            serde_json::from_str::<TokenRecord>(&json).expect("parse"),
            t.record
        );
    }

    #[test]
    fn secrets_with_underscores_parse() {
        // 0xff bytes encode to `_` in base64url.
        let t = issue_token("a", Role::Admin, "", None, [0xff; 32]).expect("issue");
        assert!(t.token["cr_a_".len()..].contains('_'));
        let (id, secret) = token_parts(&t.token).expect("parts");
        assert_eq!((id, secret.len()), ("a", 43));
        let db = store([&t.record]);
        authenticate(&t.token, |id| db.get(id).cloned(), NOW).expect("ok");
    }

    #[test]
    fn missing_malformed_forged_expired_revoked() {
        let good = issue("good", Role::Planner, 1);
        let expired = issue_token("old", Role::Planner, "", Some(NOW), [2; 32]).expect("i");
        let later = issue_token("later", Role::Planner, "", Some(NOW + 1), [3; 32]).expect("i");
        let mut revoked = issue("gone", Role::Admin, 4);
        revoked.record.revoked = true;
        let mut corrupt = issue("corrupt", Role::Admin, 6);
        corrupt.record.secret_hash = "not hex".into();
        let db = store([
            &good.record,
            &expired.record,
            &later.record,
            &revoked.record,
            &corrupt.record,
        ]);
        let auth = |t: &str| authenticate(t, |id| db.get(id).cloned(), NOW);

        assert_eq!(auth(""), Err(AuthError::Missing));
        let b64 = |b: [u8; 32]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let secret = b64([1; 32]);
        for bad in [
            "x".to_string(),
            "cr_".to_string(),
            "cr_good".to_string(),
            format!("cr__{secret}"),
            format!("CR_good_{secret}"),
            format!("cr_good_{}", &secret[..42]),
            format!("cr_good_{secret}A"),
            format!("cr_good_{}=", &secret[..42]),
            format!("cr_go.od_{secret}"),
            format!("cr_{}_{secret}", "a".repeat(65)),
            format!("cr_good_{}", "!".repeat(43)),
            format!("Bearer cr_good_{secret}"),
        ] {
            assert_eq!(auth(&bad), Err(AuthError::Malformed), "{bad}");
        }
        // Forged: right id, wrong secret; unknown id with a valid-looking secret.
        assert_eq!(
            auth(&format!("cr_good_{}", b64([9; 32]))),
            Err(AuthError::Unknown)
        );
        assert_eq!(
            auth(&format!("cr_nobody_{secret}")),
            Err(AuthError::Unknown)
        );
        // Someone else's secret under this id.
        assert_eq!(
            auth(&format!("cr_good_{}", b64([4; 32]))),
            Err(AuthError::Unknown)
        );
        // Expired/revoked are only revealed with the right secret.
        assert_eq!(auth(&expired.token), Err(AuthError::Expired));
        assert_eq!(
            auth(&format!("cr_old_{}", b64([9; 32]))),
            Err(AuthError::Unknown)
        );
        assert!(auth(&later.token).is_ok(), "expiry is exclusive");
        assert_eq!(auth(&revoked.token), Err(AuthError::Revoked));
        assert_eq!(
            auth(&format!("cr_gone_{}", b64([9; 32]))),
            Err(AuthError::Unknown)
        );
        // A corrupt stored hash matches nothing, not even the all-zero digest path.
        assert_eq!(auth(&corrupt.token), Err(AuthError::Unknown));
        // A lookup that returns a record for another id is not trusted.
        let confused = |_: &str| Some(good.record.clone());
        let other = format!("cr_other_{}", b64([1; 32]));
        assert_eq!(authenticate(&other, confused, NOW), Err(AuthError::Unknown));
        assert!(auth(&good.token).is_ok());
        for e in [
            AuthError::Missing,
            AuthError::Malformed,
            AuthError::Unknown,
            AuthError::Expired,
            AuthError::Revoked,
        ] {
            assert!(!e.is_denial());
            let m = e.to_string();
            assert_eq!(m, m.to_lowercase());
            assert!(!m.ends_with('.'));
        }
        assert!(AuthError::NotYours.is_denial());
    }

    #[test]
    fn unknown_token_and_wrong_secret_are_indistinguishable() {
        let good = issue("good", Role::Planner, 1);
        let db = store([&good.record]);
        let wrong_secret = format!(
            "cr_good_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([2u8; 32])
        );
        let unknown_id = format!(
            "cr_stranger_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 32])
        );
        let a = authenticate(&wrong_secret, |id| db.get(id).cloned(), NOW).expect_err("a");
        let b = authenticate(&unknown_id, |id| db.get(id).cloned(), NOW).expect_err("b");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(a.to_string(), "invalid bearer token");
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer cr_a_b")), Ok("cr_a_b"));
        assert_eq!(bearer_token(Some("bearer  cr_a_b ")), Ok("cr_a_b"));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::Malformed));
        assert_eq!(bearer_token(Some("cr_a_b")), Err(AuthError::Malformed));
    }

    #[test]
    fn subject_check_for_inspectors() {
        let p = principal(Role::Inspector);
        assert_eq!(p.check_subject("insp-1"), Ok(()));
        assert_eq!(p.check_subject("insp-2"), Err(AuthError::NotYours));
        assert_eq!(p.check_subject(""), Err(AuthError::NotYours));
        // Same subject text but not an inspector token.
        assert_eq!(
            principal(Role::Admin).check_subject("insp-1"),
            Err(AuthError::NotYours)
        );
    }

    #[test]
    fn roles_parse_and_ids_validate() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("root".parse::<Role>(), Err("unknown role `root`".into()));
        assert!(issue_token("has_underscore", Role::Admin, "", None, [0; 32]).is_err());
        assert!(issue_token("", Role::Admin, "", None, [0; 32]).is_err());
        assert!(valid_token_id(&"a".repeat(64)));
        assert!(!valid_token_id(&"a".repeat(65)));
    }
}
