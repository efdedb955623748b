//! Token records in the store, under [`Key::Token`], written through the single writer.
//!
//! Token ids are never reused: a revoked record is kept (marked revoked), and issuing an id
//! that was ever stored is a conflict. So a token id in an old log entry names one token
//! forever.
//!
//! Lookups are point reads of the engine, made inline by the access layer on every call. There
//! is no cache: a sled read of a hot key is a few microseconds from its page cache, and without
//! a cache a revocation takes effect on the very next call.

use crate::audit::access::{issue_token, valid_token_id, IssuedToken, Role, TokenRecord};
use crate::domain::{FieldViolation, Violations};
use crate::error::{Error, Result};
use crate::storage::codec::{decode, encode};
use crate::storage::keys::prefix;
use crate::storage::{Job, Key, Records, Tx, WriteOutcome, Writer};
use serde::{Deserialize, Serialize};

/// Longest subject accepted, in characters.
pub const MAX_SUBJECT: usize = 128;

/// What is stored for a token: its record (with the secret's hash, never the secret) and who
/// issued and revoked it, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The record [`crate::audit::access::authenticate`] checks.
    pub record: TokenRecord,
    /// When it was issued, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The token id of whoever issued it (`system` for bootstrap tokens).
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
    /// The token id of whoever revoked it, if anyone did.
    pub revoked_by: Option<String>,
}

/// What an admin asks for when issuing a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// The token id: 1 to 64 ASCII letters, digits or `-`; never used before.
    pub id: String,
    /// The role granted.
    pub role: Role,
    /// The inspector id for an inspector token (required); free text otherwise.
    pub subject: String,
    /// Expiry in milliseconds since the Unix epoch; must be in the future. `None`: never.
    pub expires_unix_ms: Option<i64>,
}

impl NewToken {
    /// Checks every field against `now_ms`, collecting all violations.
    pub fn check(&self, now_ms: i64) -> Result<()> {
        let mut v = Violations::new();
        if !valid_token_id(&self.id) {
            v.add(
                "id",
                format!(
                    "`{}` is not a token id: 1 to 64 ASCII letters, digits or `-`",
                    crate::domain::validate::truncate(&self.id, 70).escape_default()
                ),
            );
        }
        if self.role == Role::Inspector {
            // An inspector token acts for one inspector of the roster. The roster may be filled
            // later than the token is issued, so the id is only checked for its form.
            v.ident("subject", &self.subject);
        } else {
            v.text("subject", &self.subject, false, MAX_SUBJECT);
        }
        if let Some(t) = self.expires_unix_ms {
            if t <= now_ms {
                v.add(
                    "expires_unix_ms",
                    format!("`{t}` is not in the future (now is {now_ms})"),
                );
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidInput(v.into_vec()))
        }
    }

    /// Checks the request and makes the token with 32 bytes of operating-system randomness.
    /// Nothing is stored yet (see [`Tokens::insert`]).
    pub fn mint(&self, now_ms: i64) -> Result<IssuedToken> {
        self.check(now_ms)?;
        let bytes = crate::os_random(32)?;
        let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::Internal("the operating system gave too few random bytes".into())
        })?;
        issue_token(
            &self.id,
            self.role,
            &self.subject,
            self.expires_unix_ms,
            secret,
        )
        .map_err(|e| Error::invalid("id", e.to_string()))
    }
}

/// The token store: cheap to clone, safe to share.
#[derive(Clone)]
pub struct Tokens {
    records: Records,
    writer: Writer,
}

impl Tokens {
    /// Tokens kept in `records`' engine, written through `writer`.
    pub fn new(records: Records, writer: Writer) -> Tokens {
        Tokens { records, writer }
    }

    /// Issues a token: checks, mints and stores it. The returned string is the only copy of the
    /// secret; the caller shows it once and never logs it. `Conflict` if the id was ever used.
    pub async fn issue(
        &self,
        new: &NewToken,
        by: &str,
        now_ms: i64,
    ) -> Result<(IssuedToken, StoredToken)> {
        let issued = new.mint(now_ms)?;
        let stored = StoredToken {
            record: issued.record.clone(),
            created_ms: now_ms,
            created_by: by.to_string(),
            revoked_ms: None,
            revoked_by: None,
        };
        self.insert(vec![stored.clone()]).await?;
        Ok((issued, stored))
    }

    /// Stores minted tokens in one atomic commit; `Conflict` (and nothing stored) if any id was
    /// ever used.
    pub async fn insert(&self, tokens: Vec<StoredToken>) -> Result<()> {
        self.writer.submit(insert_job(tokens)).await.map(|_| ())
    }

    /// Revokes a token, recording who and when; revoking a revoked token changes nothing.
    /// `NotFound` if the id was never issued. Returns the record as stored afterwards.
    pub async fn revoke(&self, id: &str, by: &str, now_ms: i64) -> Result<StoredToken> {
        let (job_id, by) = (id.to_string(), by.to_string());
        self.writer
            .submit(Box::new(move |tx: &mut Tx<'_>| {
                let Some(v) = tx.get(&Key::Token(&job_id))? else {
                    return Err(Error::NotFound(format!("token `{job_id}`")));
                };
                let mut t: StoredToken = decode(&v, &format_args!("token `{job_id}`"))?;
                if t.record.revoked {
                    return Ok(WriteOutcome {
                        duplicates: 1,
                        ..Default::default()
                    });
                }
                t.record.revoked = true;
                t.revoked_ms = Some(now_ms);
                t.revoked_by = Some(by.clone());
                let value = encode(&t)?;
                tx.log(&crate::storage::log::entry(
                    crate::audit::EntryKind::TokenChange,
                    now_ms,
                    &by,
                    format!("token/{job_id}/revoked"),
                    &value,
                    &[("change", "revoked".to_string())],
                ))?;
                tx.put(&Key::Token(&job_id), value);
                Ok(WriteOutcome {
                    accepted: 1,
                    ..Default::default()
                })
            }))
            .await?;
        self.get(id)?
            .ok_or_else(|| Error::Internal(format!("token `{id}` vanished after its revocation")))
    }

    /// The stored token with this id. Blocking (a point read).
    pub fn get(&self, id: &str) -> Result<Option<StoredToken>> {
        self.records
            .engine()
            .get(&Key::Token(id).encode())?
            .map(|v| decode(&v, &format_args!("token `{id}`")))
            .transpose()
    }

    /// The record to authenticate a presented token against. Blocking (a point read); an id
    /// that is not a valid token id is never looked up.
    pub fn lookup(&self, id: &str) -> Result<Option<TokenRecord>> {
        if !valid_token_id(id) {
            return Ok(None);
        }
        Ok(self.get(id)?.map(|t| t.record))
    }

    /// Every token ever issued, revoked ones included, in id order. Blocking (a scan; tokens
    /// are few).
    pub fn list(&self) -> Result<Vec<StoredToken>> {
        self.records
            .engine()
            .scan(&prefix::tokens(), None)
            .map(|kv| {
                let (_, v) = kv?;
                decode(&v, &"token")
            })
            .collect()
    }

    /// Whether some admin token is neither revoked nor expired at `now_ms`. Blocking.
    pub fn has_valid_admin(&self, now_ms: i64) -> Result<bool> {
        Ok(self.list()?.iter().any(|t| {
            t.record.role == Role::Admin
                && !t.record.revoked
                && t.record.expires_unix_ms.is_none_or(|e| now_ms < e)
        }))
    }
}

fn insert_job(tokens: Vec<StoredToken>) -> Job {
    Box::new(move |tx: &mut Tx<'_>| {
        let mut taken = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if tx.contains(&Key::Token(&t.record.id))? {
                taken.push(FieldViolation {
                    field: if tokens.len() == 1 {
                        "id".to_string()
                    } else {
                        format!("tokens[{i}].id")
                    },
                    description: format!(
                        "a token `{}` was already issued; token ids are never reused",
                        t.record.id
                    ),
                });
            }
        }
        if !taken.is_empty() {
            return Err(Error::Conflict(taken));
        }
        for t in &tokens {
            let value = encode(t)?;
            tx.log(&crate::storage::log::entry(
                crate::audit::EntryKind::TokenChange,
                t.created_ms,
                &t.created_by,
                format!("token/{}/issued", t.record.id),
                &value,
                &[
                    ("change", "issued".to_string()),
                    ("role", t.record.role.as_str().to_string()),
                ],
            ))?;
            tx.put(&Key::Token(&t.record.id), value);
        }
        Ok(WriteOutcome {
            accepted: tokens.len() as u32,
            ..Default::default()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::access::authenticate;
    use crate::storage::MemoryEngine;
    use std::sync::Arc;

    const NOW: i64 = 1_700_000_000_000;

    fn tokens() -> (Tokens, crate::storage::WriterThread) {
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let (writer, thread) =
            Writer::start(records.clone(), crate::audit::Signer::from_seed([3; 32])).unwrap();
        (Tokens::new(records, writer), thread)
    }

    fn new(id: &str, role: Role, subject: &str) -> NewToken {
        NewToken {
            id: id.into(),
            role,
            subject: subject.into(),
            expires_unix_ms: None,
        }
    }

    #[tokio::test]
    async fn issue_authenticate_revoke_and_ids_never_reused() {
        let (t, thread) = tokens();
        let (issued, stored) = t
            .issue(&new("p1", Role::Planner, ""), "admin", NOW)
            .await
            .unwrap();
        assert_eq!(stored.created_by, "admin");
        // The store holds the hash, never the secret.
        let raw = t
            .records
            .engine()
            .get(&Key::Token("p1").encode())
            .unwrap()
            .unwrap();
        let secret = crate::audit::access::token_parts(&issued.token)
            .unwrap()
            .1
            .to_string();
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
        assert_eq!(t.get("p1").unwrap().unwrap().record.secret_hash.len(), 64);

        let lookup = |id: &str| t.lookup(id).unwrap();
        let p = authenticate(&issued.token, lookup, NOW).unwrap();
        assert_eq!((p.token_id.as_str(), p.role), ("p1", Role::Planner));

        let err = t
            .issue(&new("p1", Role::Admin, ""), "admin", NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err}");

        let r = t.revoke("p1", "admin", NOW + 5).await.unwrap();
        assert!(r.record.revoked);
        assert_eq!(r.revoked_ms, Some(NOW + 5));
        // Idempotent, and the first revocation's facts are kept.
        let again = t.revoke("p1", "other", NOW + 9).await.unwrap();
        assert_eq!(again, r);
        assert_eq!(
            authenticate(&issued.token, |id: &str| t.lookup(id).unwrap(), NOW),
            Err(crate::audit::AuthError::Revoked)
        );
        let err = t
            .issue(&new("p1", Role::Planner, ""), "admin", NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "revoked ids stay taken");
        assert!(matches!(
            t.revoke("nobody", "admin", NOW).await,
            Err(Error::NotFound(_))
        ));
        assert_eq!(t.list().unwrap().len(), 1);
        drop(thread);
    }

    #[tokio::test]
    async fn requests_are_checked() {
        let (t, thread) = tokens();
        let bad = NewToken {
            id: "has_underscore".into(),
            role: Role::Inspector,
            subject: String::new(),
            expires_unix_ms: Some(NOW),
        };
        match t.issue(&bad, "admin", NOW).await.unwrap_err() {
            Error::InvalidInput(v) => {
                let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(fields, ["id", "subject", "expires_unix_ms"]);
            }
            e => panic!("{e}"),
        }
        assert!(t.list().unwrap().is_empty());
        drop(thread);
    }

    #[tokio::test]
    async fn valid_admin_means_unrevoked_and_unexpired() {
        let (t, thread) = tokens();
        assert!(!t.has_valid_admin(NOW).unwrap());
        let mut a = new("a", Role::Admin, "");
        a.expires_unix_ms = Some(NOW + 10);
        t.issue(&a, "system", NOW).await.unwrap();
        t.issue(&new("p", Role::Planner, ""), "system", NOW)
            .await
            .unwrap();
        assert!(t.has_valid_admin(NOW + 9).unwrap());
        assert!(!t.has_valid_admin(NOW + 10).unwrap());
        t.issue(&new("b", Role::Admin, ""), "a", NOW).await.unwrap();
        assert!(t.has_valid_admin(NOW + 10).unwrap());
        t.revoke("b", "a", NOW).await.unwrap();
        assert!(!t.has_valid_admin(NOW + 10).unwrap());
        drop(thread);
    }
}
