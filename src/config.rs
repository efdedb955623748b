//! Service configuration: defaults, then a TOML file, then `CREDITRISK_*` environment variables,
//! then command-line flags (applied by `main`). `creditrisk.example.toml` documents every field.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything `creditrisk serve` can be told.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:50051`.
    pub listen: SocketAddr,
    /// Directory holding the database and the pseudonym key. Default `./data`.
    pub data_dir: PathBuf,
    /// Where the record store lives: `postgres://user:pass@host:port/db` for PostgreSQL
    /// (`docs/postgres.md`), or `sled:DIR` for sled in another folder. Default none: sled in
    /// `data_dir/db`. The keys (`pseudonym.key`, `log-signing.key`) stay in `data_dir` either
    /// way. Never shown with its password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::storage::StorageUrl>,
    /// sled page-cache size in MiB. Default 512.
    pub cache_mb: u64,
    /// Largest gRPC message accepted or sent, in MiB. Default 16.
    pub max_message_mb: usize,
    /// Longest any call may run, in seconds, whatever deadline the client asks for. Default 600.
    pub max_call_seconds: u64,
    /// Calls served concurrently per connection. Default 256.
    pub concurrency_per_connection: usize,
    /// Rule-set folder activated on first start (when no rule set was ever activated).
    /// Default none: the default rule set built into the binary (`creditrisk rules export DIR`
    /// writes it to `DIR/default` to edit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules_dir: Option<PathBuf>,
    /// Folder with the supervision policy (`supervision.toml`), the working-day calendar
    /// (`calendar/*.toml`) that draws use, and the demo's inspection items (`items.toml`).
    /// Default none: the copies built into the binary (`rules export` writes them out too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervision_dir: Option<PathBuf>,
    /// Re-classify an enterprise whenever new events for it are committed. Default true.
    pub auto_reclassify: bool,
    /// Evaluate group warning signals (and escalate overdue alerts) at start and then once a
    /// day, as of today. Default true.
    pub warning_schedule: bool,
    /// Refresh the event segments that batch reads use (`storage::segments`) once this many
    /// events have arrived since the oldest one was written; checked every 30 seconds. 0 turns
    /// the background compaction off. Default 100,000.
    pub compact_after_events: u64,
    /// Load a synthetic population into an empty store on start. Default false.
    pub demo: bool,
    /// Size of the demo population. Default 10,000.
    pub demo_entities: usize,
    /// Seed of the demo population. Default 20231.
    pub demo_seed: u64,
    /// PEM certificate chain the server presents. With `tls_key`, the server speaks TLS only.
    /// Default none: plain text (keep the port on loopback then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificate of the CA that signs client certificates. When set (with `tls_cert` and
    /// `tls_key`), clients must present a certificate it signed (mutual TLS); bearer tokens are
    /// still required. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
    /// Address of the web console (`docs/web.md`): HTTPS with `tls_cert` and `tls_key`, else
    /// plain HTTP. Default none: off, except with `demo`, which turns it on at
    /// [`DEMO_WEB_LISTEN`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_listen: Option<SocketAddr>,
    /// Departments' webhooks for alert steps (`docs/warnings.md`, "Webhooks"). Default none.
    pub webhooks: Vec<WebhookConfig>,
    /// Attempts per webhook delivery, the first included (1 to 20). Default 8.
    pub webhook_max_attempts: u32,
    /// Wait before the first webhook retry, in milliseconds; each later one doubles, up to 10
    /// minutes (1 to 600,000). Default 1,000.
    pub webhook_backoff_ms: u64,
}

/// A department's webhook (`[[webhooks]]`; `warnsvc::webhook` checks and uses it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The department (an id of `rules/routing.toml`).
    pub department: String,
    /// `http://host:port/path` to POST to.
    pub url: String,
    /// Name of the environment variable holding the HMAC secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the HMAC secret (surrounding whitespace ignored).
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
}

/// Where `serve --demo` puts the web console when `web_listen` is not set.
pub const DEMO_WEB_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("./data"),
            storage: None,
            cache_mb: 512,
            max_message_mb: 16,
            max_call_seconds: 600,
            concurrency_per_connection: 256,
            rules_dir: None,
            supervision_dir: None,
            auto_reclassify: true,
            warning_schedule: true,
            compact_after_events: 100_000,
            demo: false,
            demo_entities: 10_000,
            demo_seed: 20231,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            web_listen: None,
            webhooks: Vec::new(),
            webhook_max_attempts: 8,
            webhook_backoff_ms: 1000,
        }
    }
}

impl Config {
    /// Defaults, overridden by the file (if given) and then by the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, String> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read config `{}`: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("config `{}`: {e}", p.display()))?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    /// Applies `CREDITRISK_<FIELD>` variables read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        fn parse<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String>
        where
            T::Err: std::fmt::Display,
        {
            v.parse()
                .map_err(|e| format!("environment variable {k}=`{v}`: {e}"))
        }
        macro_rules! env {
            ($field:ident, $name:literal) => {
                if let Some(v) = get($name) {
                    self.$field = parse($name, &v)?;
                }
            };
        }
        env!(listen, "CREDITRISK_LISTEN");
        env!(data_dir, "CREDITRISK_DATA_DIR");
        env!(cache_mb, "CREDITRISK_CACHE_MB");
        // The store's location: an empty value means the default (sled in `data_dir`). Errors
        // never repeat the value, which may hold a password.
        if let Some(v) = get("CREDITRISK_STORAGE") {
            self.storage = if v.is_empty() {
                None
            } else {
                Some(
                    v.parse()
                        .map_err(|e| format!("environment variable CREDITRISK_STORAGE: {e}"))?,
                )
            };
        }
        env!(max_message_mb, "CREDITRISK_MAX_MESSAGE_MB");
        env!(max_call_seconds, "CREDITRISK_MAX_CALL_SECONDS");
        env!(
            concurrency_per_connection,
            "CREDITRISK_CONCURRENCY_PER_CONNECTION"
        );
        env!(auto_reclassify, "CREDITRISK_AUTO_RECLASSIFY");
        env!(warning_schedule, "CREDITRISK_WARNING_SCHEDULE");
        env!(compact_after_events, "CREDITRISK_COMPACT_AFTER_EVENTS");
        env!(demo, "CREDITRISK_DEMO");
        env!(demo_entities, "CREDITRISK_DEMO_ENTITIES");
        env!(demo_seed, "CREDITRISK_DEMO_SEED");
        env!(webhook_max_attempts, "CREDITRISK_WEBHOOK_MAX_ATTEMPTS");
        env!(webhook_backoff_ms, "CREDITRISK_WEBHOOK_BACKOFF_MS");
        // The web console's address: an empty value turns it off.
        if let Some(v) = get("CREDITRISK_WEB_LISTEN") {
            self.web_listen = if v.is_empty() {
                None
            } else {
                Some(parse("CREDITRISK_WEB_LISTEN", &v)?)
            };
        }
        // Optional paths: an empty value unsets them.
        for (field, name) in [
            (&mut self.rules_dir, "CREDITRISK_RULES_DIR"),
            (&mut self.supervision_dir, "CREDITRISK_SUPERVISION_DIR"),
            (&mut self.tls_cert, "CREDITRISK_TLS_CERT"),
            (&mut self.tls_key, "CREDITRISK_TLS_KEY"),
            (&mut self.tls_client_ca, "CREDITRISK_TLS_CLIENT_CA"),
        ] {
            if let Some(v) = get(name) {
                *field = (!v.is_empty()).then(|| PathBuf::from(v));
            }
        }
        Ok(())
    }

    /// The TLS files as `(cert, key, client CA)`, `None` for plain text. A certificate without
    /// its key (or the reverse), or a client CA without both, is an error.
    #[allow(clippy::type_complexity)]
    pub fn tls_files(&self) -> Result<Option<(&Path, &Path, Option<&Path>)>, String> {
        match (&self.tls_cert, &self.tls_key, &self.tls_client_ca) {
            (Some(c), Some(k), ca) => Ok(Some((c, k, ca.as_deref()))),
            (None, None, None) => Ok(None),
            (None, None, Some(_)) => Err("`tls_client_ca` needs `tls_cert` and `tls_key`".into()),
            _ => Err("`tls_cert` and `tls_key` go together: set both or neither".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:6000\"\ncache_mb = 64").unwrap();
        assert_eq!(c.cache_mb, 64);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        c.apply_env(|k| (k == "CREDITRISK_CACHE_MB").then(|| "128".to_string()))
            .unwrap();
        assert_eq!(c.cache_mb, 128);
        assert_eq!(c.listen.port(), 6000);
        let err = c
            .apply_env(|k| (k == "CREDITRISK_LISTEN").then(|| "nowhere".to_string()))
            .unwrap_err();
        assert!(err.contains("CREDITRISK_LISTEN=`nowhere`"), "{err}");
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        assert_eq!(c.tls_files(), Ok(None));
        c.apply_env(|k| (k == "CREDITRISK_TLS_CERT").then(|| "c.pem".to_string()))
            .unwrap();
        assert!(c.tls_files().is_err(), "a certificate needs its key");
        c.apply_env(|k| (k == "CREDITRISK_WEB_LISTEN").then(|| "127.0.0.1:0".to_string()))
            .unwrap();
        assert_eq!(c.web_listen, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        c.apply_env(|k| (k == "CREDITRISK_WEB_LISTEN").then(String::new))
            .unwrap();
        assert_eq!(c.web_listen, None);
        c.tls_key = Some("k.pem".into());
        assert_eq!(
            c.tls_files(),
            Ok(Some((Path::new("c.pem"), Path::new("k.pem"), None)))
        );
    }

    #[test]
    fn example_config_parses_and_matches_defaults() {
        let text = include_str!("../creditrisk.example.toml");
        let c: Config = toml::from_str(text).unwrap();
        assert_eq!(c, Config::default());
    }
}
