//! Where a store lives, as the operator writes it, and how it is shown: a PostgreSQL URL's
//! password never reaches a log line or an error message.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// A store's location: a sled folder or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A sled database in this folder (the data folder's `db`).
    Sled(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgUrl>),
}

impl Location {
    /// Parses `sled:DIR` or `postgres://user:pass@host:port/db` (also `postgresql://`).
    /// `sled:DIR` names the data folder, whose `db` sub-folder holds the store.
    pub fn parse(s: &str) -> Result<Location> {
        if let Some(dir) = s.strip_prefix("sled:") {
            if dir.is_empty() {
                return Err(Error::invalid(
                    "storage",
                    "`sled:` needs a folder, as in `sled:./data`",
                ));
            }
            return Ok(Location::Sled(PathBuf::from(dir)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return PgUrl::parse(s).map(|u| Location::Postgres(Box::new(u)));
        }
        Err(Error::invalid(
            "storage",
            format!(
                "`{}` is neither `sled:DIR` nor `postgres://user:pass@host:port/db`",
                redact(s)
            ),
        ))
    }
}

/// Shows the folder or the URL without its password.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sled(d) => write!(f, "sled:{}", d.display()),
            Location::Postgres(u) => write!(f, "{u}"),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// A parsed PostgreSQL URL. `Display` and `Debug` show it without the password; only
/// [`PgUrl::config`] holds the password, for connecting.
#[derive(Clone)]
pub struct PgUrl {
    config: tokio_postgres::Config,
    shown: String,
}

impl PartialEq for PgUrl {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
    }
}
impl Eq for PgUrl {}

impl PgUrl {
    /// Parses a `postgres://` URL; the database name is required (a store never goes into a
    /// database chosen by default).
    pub fn parse(s: &str) -> Result<PgUrl> {
        let config: tokio_postgres::Config = s
            .parse()
            .map_err(|e| Error::invalid("storage", format!("cannot parse `{}`: {e}", redact(s))))?;
        let host = host_of(&config);
        let Some(db) = config.get_dbname().map(str::to_string) else {
            return Err(Error::invalid(
                "storage",
                format!("`{}` names no database (add `/DBNAME`)", redact(s)),
            ));
        };
        let user = config.get_user().unwrap_or("").to_string();
        let shown = if user.is_empty() {
            format!("postgres://{host}/{db}")
        } else {
            format!("postgres://{user}@{host}/{db}")
        };
        Ok(PgUrl { config, shown })
    }

    /// The connection settings, password included: for connecting only, never for showing.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// `host:port` (the first host, as connections try it first).
    pub fn host(&self) -> String {
        host_of(&self.config)
    }

    /// The database name.
    pub fn database(&self) -> &str {
        // INVARIANT (named database): `parse` refuses a URL without one.
        self.config.get_dbname().unwrap_or("")
    }

    /// The same server and credentials with another database (tests create one per server).
    pub fn with_database(&self, db: &str) -> PgUrl {
        let mut config = self.config.clone();
        config.dbname(db);
        let user = config.get_user().unwrap_or("");
        let host = host_of(&config);
        let shown = if user.is_empty() {
            format!("postgres://{host}/{db}")
        } else {
            format!("postgres://{user}@{host}/{db}")
        };
        PgUrl { config, shown }
    }
}

fn host_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `s` with the password of a `scheme://user:password@host` URL replaced by `***`, and a
/// `password=` parameter likewise: for showing text that may not even parse.
pub fn redact(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let rest = &out[start..];
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    if let Some(i) = out.find("password=") {
        let from = i + "password=".len();
        let to = out[from..].find(['&', ' ']).map_or(out.len(), |j| from + j);
        out.replace_range(from..to, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        let u = PgUrl::parse("postgres://alice:s3cret@db.example:5433/regulator").unwrap();
        assert_eq!(u.to_string(), "postgres://alice@db.example:5433/regulator");
        assert_eq!(
            format!("{u:?}"),
            "postgres://alice@db.example:5433/regulator"
        );
        assert_eq!(u.host(), "db.example:5433");
        assert_eq!(u.database(), "regulator");
        let l = Location::parse("postgres://alice:s3cret@db.example:5433/regulator").unwrap();
        assert!(!format!("{l} {l:?}").contains("s3cret"));
        assert_eq!(redact("postgres://a:pw@h/d"), "postgres://a:***@h/d");
        assert_eq!(
            redact("postgres://h/d?password=pw&x=1"),
            "postgres://h/d?password=***&x=1"
        );
        assert_eq!(redact("postgres://a@h/d"), "postgres://a@h/d");
    }

    #[test]
    fn bad_locations_are_refused_without_the_password() {
        for bad in [
            "postgres://alice:s3cret@host:notaport/db",
            "postgres://alice:s3cret@host:5432",
            "mysql://alice:s3cret@host/db",
            "sled:",
        ] {
            let e = Location::parse(bad).unwrap_err().to_string();
            assert!(e.contains("storage"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
        assert_eq!(
            Location::parse("sled:/tmp/x").unwrap(),
            Location::Sled("/tmp/x".into())
        );
    }
}

/// The `storage` setting as written in the config file or environment. `Debug` shows it
/// without its password (the config struct may be logged); [`StorageUrl::location`] parses it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct StorageUrl(pub String);

impl StorageUrl {
    /// The location it names.
    pub fn location(&self) -> Result<Location> {
        Location::parse(&self.0)
    }
}

impl std::fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact(&self.0))
    }
}

impl std::str::FromStr for StorageUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<StorageUrl> {
        Location::parse(s)?;
        Ok(StorageUrl(s.to_string()))
    }
}
