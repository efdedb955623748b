//! Webhook push (issue 12's optional push): each department with a configured webhook is sent
//! the steps of the alerts notified to it, as JSON, signed with HMAC-SHA256.
//!
//! **Durable outbox.** Every step of an alert that has been warned (its `departments` set) is
//! written to the outbox ([`Key::WebhookOutbox`], by change number) by the writer job that makes
//! the step ([`super::store`]), so a step the caller was told about is in the outbox after any
//! crash. Delivery never touches that job: one background task per configured department reads
//! the outbox after its cursor ([`Key::WebhookCursor`]), posts each row naming its department,
//! and moves the cursor (a small writer job) once the row is delivered or its attempts are used
//! up. A restart starts again after the cursor: a row may be delivered twice (after a crash
//! between the delivery and the cursor's commit), never lost; receivers de-duplicate by the
//! `x-creditrisk-delivery` header (`<department>/<change number>`).
//!
//! **Which steps.** A row carries the departments the alert was notified to *at that step*,
//! so a department receives its alerts' steps from the `warn` step on (the steps before it
//! were not yet its business); a department without a webhook receives nothing, and its rows
//! stay in the outbox for when one is configured.
//!
//! **Signature.** `x-creditrisk-signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>." ||
//! body)>`, signed afresh for each attempt; receivers recompute it and refuse old timestamps.
//! The secret comes from an environment variable or a file named in the configuration and is
//! never logged ([`Secret`]'s `Debug` prints nothing of it).
//!
//! **Retries.** A failed attempt (connection error, timeout, any status but 2xx) is retried
//! after [`backoff`]: `base`, `2 base`, `4 base`, ... capped at [`MAX_BACKOFF`], at most
//! `max_attempts` attempts in all; then the row is given up, logged at `error` with the
//! department, alert and change number, and the cursor moves on (a dead endpoint must not hold
//! back its department's later alerts forever). Each department has its own task, so a slow
//! endpoint delays only its own department.
//!
//! For simplicity, only `http://` endpoints are supported (no TLS client here yet): keep them
//! on the regulators' internal network; the signature gives integrity and authenticity, not
//! confidentiality.

use super::store::{self, AlertChange};
use super::Warnings;
use crate::config::WebhookConfig;
use crate::error::{Error, Result};
use crate::storage::codec::decode;
use crate::storage::keys::{prefix, trailing_seq};
use crate::storage::{Key, WriteOutcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One outbox row: an alert step and the departments the alert was notified to then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// Departments notified (the alert's `departments` after the step).
    pub departments: Vec<String>,
    /// The step, as the change log has it.
    pub event: AlertChange,
}

/// An HMAC secret. Its `Debug` form hides it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// At least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(bytes: Vec<u8>) -> std::result::Result<Secret, String> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "is {} bytes; at least {MIN_SECRET_BYTES}",
                bytes.len()
            ));
        }
        Ok(Secret(bytes))
    }
}

/// Shortest HMAC secret accepted.
pub const MIN_SECRET_BYTES: usize = 16;

/// A checked webhook: department, endpoint and secret.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// The department.
    pub department: String,
    /// Host and port to connect to.
    pub authority: String,
    /// The full URL (for the request line and logs; it holds no secret).
    pub url: http::Uri,
    /// The HMAC secret.
    pub secret: Secret,
}

impl Webhook {
    /// Checks `c` (`webhooks[i]` in errors): a known department, an `http://` URL, a secret
    /// from exactly one of `secret_env` (read through `env`) and `secret_file`.
    pub fn from_config(
        i: usize,
        c: &WebhookConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Webhook, String> {
        let at = |field: &str, msg: String| format!("webhooks[{i}].{field}: {msg}");
        super::alert::check_department(&c.department).map_err(|e| at("department", e))?;
        let url: http::Uri = c
            .url
            .parse()
            .map_err(|e| at("url", format!("`{}` is not a URL: {e}", c.url)))?;
        if url.scheme_str() != Some("http") {
            return Err(at(
                "url",
                format!(
                    "`{}`: only `http://` endpoints are supported (no TLS client yet)",
                    c.url
                ),
            ));
        }
        let authority = match url.authority() {
            Some(a) if a.port_u16().is_some() => a.to_string(),
            Some(a) => format!("{}:80", a.host()),
            None => return Err(at("url", format!("`{}` names no host", c.url))),
        };
        let bytes = match (&c.secret_env, &c.secret_file) {
            (Some(name), None) => env(name)
                .ok_or_else(|| {
                    at(
                        "secret_env",
                        format!("the environment variable `{name}` is not set"),
                    )
                })?
                .into_bytes(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| at("secret_file", format!("`{}`: {e}", path.display())))?
                .trim()
                .as_bytes()
                .to_vec(),
            _ => {
                return Err(at(
                    "secret_env",
                    "name exactly one of `secret_env` and `secret_file`".into(),
                ))
            }
        };
        let secret = Secret::new(bytes).map_err(|e| at("secret", format!("the secret {e}")))?;
        Ok(Webhook {
            department: c.department.clone(),
            authority,
            url,
            secret,
        })
    }
}

/// How deliveries are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Attempts per row, the first included (at least 1).
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles, up to [`MAX_BACKOFF`].
    pub base: Duration,
    /// Longest one attempt may take (connect, send, answer).
    pub timeout: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            max_attempts: 8,
            base: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The wait before attempt `attempt` (from 1 for the first retry): `base * 2^(attempt - 1)`,
/// at most [`MAX_BACKOFF`].
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// The JSON body for `department` of outbox row `seq`: the alert event (the fields of
/// `AlertEvent` in `warnings.proto`, `cursor` being the change number), with the delivery id
/// and department.
pub fn body(department: &str, seq: u64, e: &AlertChange) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        delivery: String,
        department: &'a str,
        cursor: u64,
        alert_id: String,
        action: &'a str,
        state: &'a str,
        level: &'a str,
        rule_id: &'a str,
        subject: &'a str,
        at_unix_ms: i64,
    }
    let b = Body {
        delivery: delivery_id(department, seq),
        department,
        cursor: seq,
        alert_id: store::id_of(e.alert),
        action: &e.action,
        state: e.state.as_str(),
        level: e.level.as_str(),
        rule_id: &e.rule_id,
        subject: &e.subject,
        at_unix_ms: e.at_ms,
    };
    // INVARIANT (serializable): a struct of strings and integers always serializes.
    serde_json::to_vec(&b).unwrap_or_default()
}

/// `<department>/<change number>`: the same for every attempt of a row, so receivers can
/// de-duplicate.
pub fn delivery_id(department: &str, seq: u64) -> String {
    format!("{department}/{seq}")
}

/// The `x-creditrisk-signature` value for `body` sent at `t_ms`.
pub fn signature(secret: &Secret, t_ms: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(&secret.0) {
        Ok(m) => m,
        Err(_) => unreachable!("hmac takes keys of any length"),
    };
    mac.update(format!("{t_ms}.").as_bytes());
    mac.update(body);
    format!("t={t_ms},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Rows per outbox read.
const BATCH: usize = 100;

impl Warnings {
    /// The outbox rows after change number `after` naming `department`, at most `limit`, and
    /// the last change number looked at (rows of other departments are passed over).
    pub fn outbox_after(
        &self,
        department: &str,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, OutboxRow)>, u64)> {
        let start = Key::WebhookOutbox(after).encode();
        let mut out = Vec::new();
        let mut last = after;
        for kv in self
            .records()
            .engine()
            .scan(&prefix::webhook_outbox(), Some(&start))
        {
            let (k, v) = kv?;
            let seq = trailing_seq(&k).ok_or_else(|| Error::Corrupt("outbox key".into()))?;
            let row: OutboxRow = decode(&v, &format_args!("webhook outbox row {seq}"))?;
            last = seq;
            if row.departments.iter().any(|d| d == department) {
                out.push((seq, row));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok((out, last))
    }

    /// `department`'s delivery cursor (0 before its first delivery).
    pub fn webhook_cursor(&self, department: &str) -> Result<u64> {
        match self
            .records()
            .engine()
            .get(&Key::WebhookCursor(department).encode())?
        {
            None => Ok(0),
            Some(v) => Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(
                |_| Error::Corrupt(format!("webhook cursor of `{department}`")),
            )?)),
        }
    }

    /// Moves `department`'s delivery cursor to `seq` (never backwards), durably.
    pub async fn set_webhook_cursor(&self, department: &str, seq: u64) -> Result<()> {
        let d = department.to_string();
        self.writer()
            .submit(Box::new(move |tx| {
                let key = Key::WebhookCursor(&d);
                let old = match tx.get(&key)? {
                    Some(v) => u64::from_be_bytes(v.as_slice().try_into().unwrap_or([0; 8])),
                    None => 0,
                };
                if seq > old {
                    tx.put(&key, seq.to_be_bytes().to_vec());
                }
                Ok(WriteOutcome {
                    accepted: 1,
                    ..Default::default()
                })
            }))
            .await?;
        Ok(())
    }
}

/// Starts one delivery task per webhook (inside the tokio runtime); each ends when `closing`
/// resolves.
pub fn spawn_all<F>(warnings: &Warnings, hooks: Vec<Webhook>, delivery: Delivery, closing: F)
where
    F: Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
{
    for hook in hooks {
        tracing::info!(department = %hook.department, url = %hook.url, "webhook delivery on");
        tokio::spawn(deliver_loop(warnings.clone(), hook, delivery, closing()));
    }
}

async fn deliver_loop(
    w: Warnings,
    hook: Webhook,
    delivery: Delivery,
    closing: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(closing);
    let mut notified = w.subscribe();
    let d = hook.department.clone();
    let mut pos = {
        let (w, dd) = (w.clone(), d.clone());
        match tokio::task::spawn_blocking(move || w.webhook_cursor(&dd)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::error!(department = %d, error = %e, "webhook delivery stopped: cursor unreadable");
                return;
            }
            Err(_) => return,
        }
    };
    loop {
        let read = {
            let (w, d) = (w.clone(), d.clone());
            tokio::task::spawn_blocking(move || w.outbox_after(&d, pos, BATCH)).await
        };
        let (rows, last) = match read {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                tracing::error!(department = %d, error = %e, "webhook outbox unreadable");
                (Vec::new(), pos)
            }
            Err(_) => return,
        };
        let idle = rows.is_empty() && last == pos;
        for (seq, row) in rows {
            let delivered = tokio::select! {
                ok = deliver(&hook, delivery, seq, &row.event) => ok,
                _ = &mut closing => return, // the cursor stays: delivered again after a restart
            };
            if !delivered {
                tracing::error!(
                    department = %d,
                    alert = %store::id_of(row.event.alert),
                    change = seq,
                    attempts = delivery.max_attempts,
                    "webhook delivery given up"
                );
            }
            if let Err(e) = w.set_webhook_cursor(&d, seq).await {
                tracing::error!(department = %d, error = %e, "webhook cursor not stored");
                return;
            }
        }
        pos = last;
        if idle {
            tokio::select! {
                r = notified.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = &mut closing => return,
            }
        }
    }
}

/// Posts outbox row `seq` to `hook`, retrying with [`backoff`]; true once a 2xx answer came.
async fn deliver(hook: &Webhook, delivery: Delivery, seq: u64, e: &AlertChange) -> bool {
    let body = body(&hook.department, seq, e);
    for attempt in 0..delivery.max_attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(backoff(delivery.base, attempt)).await;
        }
        let sig = signature(&hook.secret, crate::clock::now_ms(), &body);
        let id = delivery_id(&hook.department, seq);
        match tokio::time::timeout(delivery.timeout, post(hook, &id, &sig, body.clone())).await {
            Ok(Ok(status)) if status.is_success() => return true,
            Ok(Ok(status)) => {
                tracing::warn!(department = %hook.department, change = seq, attempt = attempt + 1, status = status.as_u16(), "webhook refused")
            }
            Ok(Err(err)) => {
                tracing::warn!(department = %hook.department, change = seq, attempt = attempt + 1, error = %err, "webhook failed")
            }
            Err(_) => {
                tracing::warn!(department = %hook.department, change = seq, attempt = attempt + 1, "webhook timed out")
            }
        }
    }
    false
}

/// One HTTP/1.1 POST; the answer's status.
async fn post(
    hook: &Webhook,
    delivery: &str,
    signature: &str,
    body: Vec<u8>,
) -> std::result::Result<http::StatusCode, String> {
    let stream = tokio::net::TcpStream::connect(&hook.authority)
        .await
        .map_err(|e| format!("connect `{}`: {e}", hook.authority))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let path = hook
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let req = http::Request::post(path)
        .header(http::header::HOST, &hook.authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-creditrisk-delivery", delivery)
        .header("x-creditrisk-signature", signature)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let answer = sender.send_request(req).await.map_err(|e| e.to_string());
    driver.abort();
    Ok(answer?.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let waits: Vec<u64> = (1..=12).map(|a| backoff(base, a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(base, u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        let s = Secret::new(b"0123456789abcdef".to_vec()).unwrap();
        let sig = signature(&s, 1_700_000_000_000, b"{}");
        // HMAC-SHA256(key, "1700000000000.{}"), computed with Python's hmac module.
        assert_eq!(
            sig,
            "t=1700000000000,v1=cd08d6ce62dd5fb4489d9aff87256f4aa94716385a04d368cd6ac41d5516bc4b"
        );
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert!(Secret::new(b"short".to_vec()).is_err());
    }

    #[test]
    fn configs_are_checked_naming_the_field() {
        let c = |url: &str, env: Option<&str>, file: Option<&str>| WebhookConfig {
            department: "health-chengdu".into(),
            url: url.into(),
            secret_env: env.map(str::to_string),
            secret_file: file.map(Into::into),
        };
        let env = |k: &str| (k == "S").then(|| "a-long-enough-secret".to_string());
        let h = Webhook::from_config(0, &c("http://127.0.0.1:9/x", Some("S"), None), env).unwrap();
        assert_eq!(h.authority, "127.0.0.1:9");
        let e = Webhook::from_config(2, &c("https://x:1/", Some("S"), None), env).unwrap_err();
        assert!(e.starts_with("webhooks[2].url: "), "{e}");
        let e = Webhook::from_config(0, &c("http://x:1/", Some("T"), None), env).unwrap_err();
        assert!(e.contains("`T` is not set"), "{e}");
        let e = Webhook::from_config(0, &c("http://x:1/", None, None), env).unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
        let mut bad = c("http://x:1/", Some("S"), None);
        bad.department = "nobody".into();
        let e = Webhook::from_config(0, &bad, env).unwrap_err();
        assert!(e.starts_with("webhooks[0].department: "), "{e}");
        assert!(!format!("{h:?}").contains("a-long-enough-secret"));
    }
}
