//! Sessions, CSRF tokens and the login rate limit, all in memory.
//!
//! A session is made when a token is exchanged at the login page. The server keeps the token
//! itself (in memory only, never written anywhere), so every page re-authenticates it exactly
//! as the gRPC access layer does: a token revoked or expired after the login stops working at
//! once. The browser holds only a random session id (32 bytes from the operating system) in an
//! HttpOnly, SameSite=Strict cookie. Each session has its own random CSRF token, which every
//! form carries in a hidden field and every POST must send back.
//!
//! Memory is bounded: at most [`MAX_SESSIONS`] sessions and [`MAX_CLIENTS`] rate-limit
//! entries; expired entries are dropped first, then the oldest. A `std::sync::Mutex` is enough:
//! the critical sections are a few map operations and never await.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most sessions kept at once; a new login beyond it evicts the session closest to expiry.
pub const MAX_SESSIONS: usize = 10_000;
/// How long a session lasts after login, in milliseconds (8 hours: one working day).
pub const SESSION_MS: i64 = 8 * 3600 * 1000;
/// Failed logins allowed per client address per [`LIMIT_WINDOW_MS`].
pub const MAX_FAILURES: u32 = 5;
/// The rate-limit window, in milliseconds.
pub const LIMIT_WINDOW_MS: i64 = 60 * 1000;
/// Most client addresses the rate limiter remembers.
pub const MAX_CLIENTS: usize = 4096;

/// One logged-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The access token exchanged at login (kept in memory only).
    pub token: String,
    /// The form token every POST of this session must carry.
    pub csrf: String,
    /// When the session ends, milliseconds since the Unix epoch.
    pub expires_ms: i64,
}

/// The sessions of one web listener. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps behind, still consistent: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sessions {
    /// Starts a session for `token` at `now_ms`; returns its id and the session.
    pub fn create(&self, token: String, now_ms: i64) -> crate::Result<(String, Session)> {
        let id = random_hex(32)?;
        let session = Session {
            token,
            csrf: random_hex(32)?,
            expires_ms: now_ms + SESSION_MS,
        };
        let mut map = lock(&self.inner);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires_ms > now_ms);
        }
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(k, s)| (s.expires_ms, (*k).clone()))
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session `id`, if any (an expired one is removed).
    pub fn get(&self, id: &str, now_ms: i64) -> Option<Session> {
        let mut map = lock(&self.inner);
        match map.get(id) {
            Some(s) if s.expires_ms > now_ms => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        lock(&self.inner).remove(id);
    }
}

/// Failed logins per client address in a fixed window. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct LoginLimiter {
    inner: Arc<Mutex<HashMap<IpAddr, (i64, u32)>>>,
}

impl LoginLimiter {
    /// True when `ip` has used up its failed attempts in the current window.
    pub fn is_limited(&self, ip: IpAddr, now_ms: i64) -> bool {
        match lock(&self.inner).get(&ip) {
            Some((start, n)) => now_ms - start < LIMIT_WINDOW_MS && *n >= MAX_FAILURES,
            None => false,
        }
    }

    /// Counts one failed login of `ip`.
    pub fn failed(&self, ip: IpAddr, now_ms: i64) {
        let mut map = lock(&self.inner);
        if map.len() >= MAX_CLIENTS && !map.contains_key(&ip) {
            map.retain(|_, (start, _)| now_ms - *start < LIMIT_WINDOW_MS);
            if map.len() >= MAX_CLIENTS {
                // Still full of live entries (many addresses failing at once): forget the
                // oldest window rather than grow.
                if let Some(oldest) = map.iter().min_by_key(|(_, (s, _))| *s).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        let e = map.entry(ip).or_insert((now_ms, 0));
        if now_ms - e.0 >= LIMIT_WINDOW_MS {
            *e = (now_ms, 0);
        }
        e.1 += 1;
    }
}

/// `n` random bytes from the operating system, as lower-case hex.
pub fn random_hex(n: usize) -> crate::Result<String> {
    Ok(hex::encode(crate::os_random(n)?))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time equality of two strings (for CSRF tokens).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Parses `application/x-www-form-urlencoded` text (forms and query strings) into pairs, in
/// order. Malformed escapes are kept as written.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = b
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_cookies_and_limits() {
        assert_eq!(
            parse_form("a=1+2&b=%3Cx%3E&c&d=%zz&e=%4"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "<x>".into()),
                ("c".into(), String::new()),
                ("d".into(), "%zz".into()),
                ("e".into(), "%4".into()),
            ]
        );
        assert_eq!(cookie("x=1; cr_session=abc", "cr_session"), Some("abc"));
        assert_eq!(cookie("x=1", "cr_session"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        let l = LoginLimiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..MAX_FAILURES {
            assert!(!l.is_limited(ip, 0));
            l.failed(ip, 0);
        }
        assert!(l.is_limited(ip, 1));
        assert!(!l.is_limited([127, 0, 0, 2].into(), 1), "per address");
        assert!(!l.is_limited(ip, LIMIT_WINDOW_MS), "a new window");
        let s = Sessions::default();
        let (id, _) = s.create("t".into(), 0).unwrap();
        assert!(s.get(&id, 1).is_some());
        assert!(s.get(&id, SESSION_MS).is_none(), "expired");
    }
}
