//! The way in for a new deployment: an admin token written to a private file, and in demo mode
//! one ready-made token per role.
//!
//! On a start where no admin token is valid (a new store, or every admin token revoked or
//! expired), the server issues one and writes it to `DATA_DIR/admin.token` (mode 0600). Whoever
//! can read the data directory already holds every record, so this gives nobody more than they
//! have; it only means an operator cannot lock themselves out for good. Each such token gets a
//! new id (`admin`, then `admin-2`, ...), since ids are never reused.
//!
//! The file is written *before* the token is stored: a crash in between leaves a file with a
//! token the store does not know, and the next start simply issues another. The other order
//! could leave a stored admin token whose secret nobody has.
//!
//! Demo tokens (ids `demo-ingest`, `demo-planner`, `demo-inspector`, `demo-auditor`,
//! `demo-admin`) are issued once, when none exists, and written to `DATA_DIR/demo-tokens.env`.
//! Since only hashes are stored they can be shown only on the start that creates them; later
//! starts point at the file.

use super::store::{NewToken, StoredToken, Tokens};
use crate::audit::access::Role;
use crate::error::Result;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file, in the data directory, that receives a new admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The file, in the data directory, that receives the demo tokens.
pub const DEMO_TOKENS_FILE: &str = "demo-tokens.env";
/// The inspector the demo inspector token acts for (in the demo roster, with assignments in
/// demo draws).
pub const DEMO_INSPECTOR: &str = "insp-00000";

/// What [`bootstrap`] did.
pub struct Bootstrap {
    /// The id of a newly issued admin token and the file holding it, if one was issued.
    pub admin: Option<(String, PathBuf)>,
    /// The demo tokens.
    pub demo: DemoTokens,
}

/// The demo tokens of this start. No `Debug`: it holds token strings.
pub enum DemoTokens {
    /// Not in demo mode.
    None,
    /// Issued on this start: `(environment variable, token)` pairs, also written to `file`.
    Created {
        /// `CR_TOKEN_<ROLE>` and the token, one per role.
        tokens: Vec<(String, String)>,
        /// Where they were written.
        file: PathBuf,
    },
    /// Issued on an earlier start; the tokens are in this file (if it was kept).
    Existing(PathBuf),
}

impl Bootstrap {
    /// Prints the demo tokens (or where they are) for the person who started the server. Goes
    /// after the `creditrisk listening on` line, which must stay the first line of standard
    /// output. Write errors are ignored: a script that read only the first line may have closed
    /// the pipe.
    pub fn print_demo(&self, out: &mut dyn Write) {
        let _ = match &self.demo {
            DemoTokens::None => Ok(()),
            DemoTokens::Created { tokens, file } => {
                let mut r = writeln!(
                    out,
                    "demo tokens (shown once; also in `{}`):",
                    file.display()
                );
                for (var, token) in tokens {
                    r = r.and_then(|()| writeln!(out, "{var}={token}"));
                }
                r
            }
            DemoTokens::Existing(file) => writeln!(
                out,
                "demo tokens: see `{}` (issued on the first demo start)",
                file.display()
            ),
        }
        .and_then(|()| out.flush());
    }
}

/// Issues an admin token if none is valid, and the demo tokens if `demo` and they do not exist
/// yet; writes them to files in `data_dir` (see the module doc). Logs token ids and file paths,
/// never secrets.
pub async fn bootstrap(
    tokens: &Tokens,
    data_dir: &Path,
    demo: bool,
    now_ms: i64,
) -> Result<Bootstrap> {
    let t = tokens.clone();
    let (has_admin, existing) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::Error>((t.has_valid_admin(now_ms)?, t.list()?))
    })
    .await
    .map_err(|e| crate::Error::Internal(format!("token read task failed: {e}")))??;
    let taken = |id: &str| existing.iter().any(|t| t.record.id == id);

    let admin = if has_admin {
        None
    } else {
        let id = std::iter::once("admin".to_string())
            .chain((2..).map(|n| format!("admin-{n}")))
            .find(|id| !taken(id))
            .unwrap_or_else(|| unreachable!("an endless sequence of ids has an unused one"));
        let new = NewToken {
            id: id.clone(),
            role: Role::Admin,
            subject: "bootstrap".into(),
            expires_unix_ms: None,
        };
        let issued = new.mint(now_ms)?;
        let path = data_dir.join(ADMIN_TOKEN_FILE);
        write_private(&path, format!("{}\n", issued.token).as_bytes())?;
        tokens.insert(vec![stored(issued.record, now_ms)]).await?;
        tracing::info!(token_id = %id, file = %path.display(), "issued an admin token");
        Some((id, path))
    };

    let file = data_dir.join(DEMO_TOKENS_FILE);
    let demo = if !demo {
        DemoTokens::None
    } else if taken("demo-admin") {
        DemoTokens::Existing(file)
    } else {
        let mut minted = Vec::new();
        let mut pairs = Vec::new();
        for role in Role::ALL {
            let new = NewToken {
                id: format!("demo-{role}"),
                role,
                subject: match role {
                    Role::Inspector => DEMO_INSPECTOR.to_string(),
                    _ => "demo".to_string(),
                },
                expires_unix_ms: None,
            };
            let issued = new.mint(now_ms)?;
            pairs.push((
                format!("CR_TOKEN_{}", role.as_str().to_uppercase()),
                issued.token,
            ));
            minted.push(stored(issued.record, now_ms));
        }
        let mut text = String::from(
            "# creditrisk demo tokens, one per role. The server keeps only their hashes: this \
             file is the only copy.\n",
        );
        for (var, token) in &pairs {
            text.push_str(&format!("{var}={token}\n"));
        }
        write_private(&file, text.as_bytes())?;
        tokens.insert(minted).await?;
        tracing::info!(file = %file.display(), "issued the demo tokens");
        DemoTokens::Created {
            tokens: pairs,
            file,
        }
    };
    Ok(Bootstrap { admin, demo })
}

fn stored(record: crate::audit::TokenRecord, now_ms: i64) -> StoredToken {
    StoredToken {
        record,
        created_ms: now_ms,
        created_by: "system".into(),
        revoked_ms: None,
        revoked_by: None,
    }
}

/// Writes `bytes` to `path` atomically and privately: a temporary file created with mode 0600,
/// flushed to disk, then renamed over `path`, and the directory synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // Makes the rename itself durable; not all platforms can open a directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryEngine, Records, Writer};
    use std::sync::Arc;

    #[tokio::test]
    async fn first_start_issues_admin_and_demo_tokens_once() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(Arc::new(MemoryEngine::default())).unwrap();
        let (writer, thread) =
            Writer::start(records.clone(), crate::audit::Signer::from_seed([3; 32])).unwrap();
        let t = Tokens::new(records, writer);

        let b = bootstrap(&t, dir.path(), true, 1000).await.unwrap();
        let (id, path) = b.admin.clone().unwrap();
        assert_eq!(id, "admin");
        let token = std::fs::read_to_string(&path).unwrap();
        assert!(token.starts_with("cr_admin_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let p = crate::audit::authenticate(token.trim(), |id: &str| t.lookup(id).unwrap(), 2000)
            .unwrap();
        assert_eq!(p.role, Role::Admin);
        let DemoTokens::Created { tokens, .. } = &b.demo else {
            panic!("demo tokens not created")
        };
        assert_eq!(tokens.len(), 5);
        let env = std::fs::read_to_string(dir.path().join(DEMO_TOKENS_FILE)).unwrap();
        for (var, token) in tokens {
            assert!(env.contains(&format!("{var}={token}\n")));
        }
        assert!(env.contains("CR_TOKEN_PLANNER=cr_demo-planner_"));
        let insp = t.get("demo-inspector").unwrap().unwrap();
        assert_eq!(insp.record.subject, DEMO_INSPECTOR);
        let mut out = Vec::new();
        b.print_demo(&mut out);
        let printed = String::from_utf8(out).unwrap();
        assert!(printed.contains("CR_TOKEN_ADMIN=cr_demo-admin_"));

        // Second start: nothing new; the demo tokens are only pointed at.
        let b = bootstrap(&t, dir.path(), true, 3000).await.unwrap();
        assert!(b.admin.is_none());
        let mut out = Vec::new();
        b.print_demo(&mut out);
        let printed = String::from_utf8(out).unwrap();
        assert!(printed.contains(DEMO_TOKENS_FILE) && !printed.contains("cr_"));
        assert_eq!(t.list().unwrap().len(), 6);

        // Every admin token revoked: the next start issues a new one under a new id.
        for a in ["admin", "demo-admin"] {
            t.revoke(a, "test", 4000).await.unwrap();
        }
        let b = bootstrap(&t, dir.path(), false, 5000).await.unwrap();
        assert_eq!(b.admin.unwrap().0, "admin-2");
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("cr_admin-2_"));
        drop(thread);
    }
}
