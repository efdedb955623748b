//! A real server on 127.0.0.1:0 over a temporary data directory, its generated clients, and a
//! token for every role (issued through the library, not the network).
#![allow(dead_code)]

pub mod web;

use creditrisk::access::{NewToken, Tokens};
use creditrisk::app::App;
pub use creditrisk::audit::access::Role;
pub use creditrisk::cli::client::{AuthChannel, Bearer};
use creditrisk::server::{self, pb, Limits};
use pb::record_service_client::RecordServiceClient;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Where a test's store lives: with `CREDITRISK_TEST_POSTGRES` set (a PostgreSQL server URL),
/// a database of its own per data folder, kept across restarts on the same folder; otherwise
/// `None`, sled in the folder. Every suite runs on either through this one switch.
pub fn storage_for(dir: &std::path::Path) -> Option<creditrisk::storage::Location> {
    let (server, _) = test_postgres()?;
    let db = creditrisk::storage::postgres::admin::database_for_dir(&server, dir)
        .unwrap_or_else(|e| panic!("CREDITRISK_TEST_POSTGRES: {e}"));
    Some(creditrisk::storage::Location::Postgres(Box::new(db)))
}

/// The test server's URL, parsed and as written.
fn test_postgres() -> Option<(creditrisk::storage::PgUrl, String)> {
    let raw = std::env::var(creditrisk::storage::postgres::admin::TEST_SERVER_VAR).ok()?;
    let url = creditrisk::storage::PgUrl::parse(&raw)
        .unwrap_or_else(|e| panic!("CREDITRISK_TEST_POSTGRES: {e}"));
    Some((url, raw))
}

/// Opens the app on the test store of `dir` (see [`storage_for`]).
pub fn open_app(
    dir: &std::path::Path,
    cache_mb: u64,
) -> creditrisk::error::Result<(App, creditrisk::app::Stopper)> {
    App::open_at(dir, storage_for(dir).as_ref(), cache_mb)
}

/// The engine of a stopped test server's store (to alter it behind the service's back).
pub fn open_engine(dir: &std::path::Path) -> std::sync::Arc<dyn creditrisk::storage::Engine> {
    let at =
        storage_for(dir).unwrap_or_else(|| creditrisk::storage::Location::Sled(dir.to_path_buf()));
    creditrisk::storage::open_engine(&at, 16 << 20).unwrap()
}

/// The `--storage` arguments for a server process on `dir`: none on sled.
pub fn storage_args(dir: &std::path::Path) -> Vec<String> {
    let Some((_, raw)) = test_postgres() else {
        return vec![];
    };
    let Some(creditrisk::storage::Location::Postgres(db)) = storage_for(dir) else {
        unreachable!("a test PostgreSQL server gives a PostgreSQL location");
    };
    // The server's URL as written, with the folder's database instead of its own.
    let (base, _) = raw
        .split_once('?')
        .map_or((raw.as_str(), ""), |(b, q)| (b, q));
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    vec!["--storage".into(), format!("{server}/{}", db.database())]
}

/// Starts the real binary on `dir` (the crash tests' launcher), on the test store.
pub fn start_process(
    dir: &std::path::Path,
    extra: &[&str],
) -> anyhow::Result<creditrisk::cli::bench::ServerProcess> {
    let storage = storage_args(dir);
    let mut args: Vec<&str> = storage.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    creditrisk::cli::bench::ServerProcess::start_exe(exe(), dir, &args)
}

/// The inspector id of the inspector token made at start.
pub const INSPECTOR: &str = "insp-test";

/// Makes token ids unique across restarts within one test process (ids are never reused).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct TestServer {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// A token per role; the inspector's acts for [`INSPECTOR`].
    pub tokens: BTreeMap<Role, String>,
    /// The store's tokens, to issue more (or odd ones) directly.
    pub store: Tokens,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Issues a token through the library; `now_ms` is the issue time (a past time makes an
/// already expired token possible with `expires_unix_ms`).
pub async fn issue(
    store: &Tokens,
    role: Role,
    subject: &str,
    expires_unix_ms: Option<i64>,
    now_ms: i64,
) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let new = NewToken {
        id: format!("t-{role}-{n}"),
        role,
        subject: subject.into(),
        expires_unix_ms,
    };
    store.issue(&new, "test", now_ms).await.unwrap().0.token
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, limits).await
    }

    pub async fn start_in(dir: tempfile::TempDir, limits: Limits) -> TestServer {
        Self::start_full(dir, limits, None).await
    }

    /// Serves over TLS (the URL is then `https://127.0.0.1:PORT`).
    pub async fn start_tls(tls: tonic::transport::ServerTlsConfig) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        Self::start_full(dir, Limits::default(), Some(tls)).await
    }

    pub async fn start_full(
        dir: tempfile::TempDir,
        limits: Limits,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> TestServer {
        Self::start_setup(dir, limits, tls, |_| {}).await
    }

    /// [`TestServer::start_full`], calling `setup` on the app before serving (e.g. to turn on
    /// webhooks).
    pub async fn start_setup(
        dir: tempfile::TempDir,
        limits: Limits,
        tls: Option<tonic::transport::ServerTlsConfig>,
        setup: impl FnOnce(&App),
    ) -> TestServer {
        // After a stop in this same process, background tasks of the old server (the automatic
        // re-classifier, ended watch streams) may still hold the database for a moment: sled's
        // file lock is released when the last handle drops. Wait for it, boundedly.
        let mut tries = 0;
        let (mut app, stopper) = loop {
            match open_app(dir.path(), 64) {
                Ok(x) => break x,
                Err(e) if tries < 100 && e.to_string().contains("could not acquire lock") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot open the store: {e}"),
            }
        };
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/default");
        app.classifier()
            .rule_sets()
            .ensure_default(&rules, 0)
            .await
            .unwrap();
        app.enable_draws(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
            .unwrap();
        app.enable_auto_reclassify();
        setup(&app);
        let store = app.tokens().clone();
        let mut tokens = BTreeMap::new();
        for role in Role::ALL {
            let subject = if role == Role::Inspector {
                INSPECTOR
            } else {
                "test"
            };
            let t = issue(&store, role, subject, None, creditrisk::clock::now_ms()).await;
            tokens.insert(role, t);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server::serve_with(listener, app, limits, tls, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
            tokio::task::spawn_blocking(move || stopper.close())
                .await
                .unwrap();
        });
        TestServer {
            url,
            dir,
            tokens,
            store,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The record client as `ingest`.
    pub async fn client(&self) -> RecordServiceClient<AuthChannel> {
        self.client_as(Role::Ingest).await
    }

    /// The record client as `role`.
    pub async fn client_as(&self, role: Role) -> RecordServiceClient<AuthChannel> {
        RecordServiceClient::new(self.channel_as(role).await)
    }

    /// A command-line target as `role`.
    pub fn target(&self, role: Role) -> creditrisk::cli::client::Target {
        creditrisk::cli::client::Target::new(&self.url, Some(self.tokens[&role].clone()))
    }

    /// A channel without credentials.
    pub async fn raw_channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// A channel sending `token` (or no token).
    pub async fn channel_with(&self, token: Option<&str>) -> AuthChannel {
        InterceptedService::new(self.raw_channel().await, Bearer::new(token).unwrap())
    }

    /// A channel sending the token of `role`.
    pub async fn channel_as(&self, role: Role) -> AuthChannel {
        self.channel_with(Some(&self.tokens[&role])).await
    }

    /// A channel with a new inspector token acting for `inspector_id`.
    pub async fn inspector_channel(&self, inspector_id: &str) -> AuthChannel {
        let t = issue(
            &self.store,
            Role::Inspector,
            inspector_id,
            None,
            creditrisk::clock::now_ms(),
        )
        .await;
        self.channel_with(Some(&t)).await
    }

    /// Stops the server and waits until the store is flushed and closed.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        self.dir
    }
}

/// The `creditrisk` binary cargo built for these tests (for tests that spawn and kill it).
pub fn exe() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_creditrisk"))
}

/// A channel to the server at `url` that sends `token`.
pub async fn channel(url: &str, token: &str) -> AuthChannel {
    creditrisk::cli::client::channel(&creditrisk::cli::client::Target::new(
        url,
        Some(token.to_string()),
    ))
    .await
    .unwrap()
}

pub fn violations(s: &tonic::Status) -> Vec<(String, String)> {
    creditrisk::server::status::violations_of(s)
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

#[allow(unused_imports)]
pub use creditrisk::cli::bench::{synthetic_code, synthetic_enterprise, synthetic_event};

/// Puts the synthetic enterprises numbered `ns` on the serious list (effective 2026-05-01), so
/// tier D is not empty; event ids are `serious-N`.
pub async fn list_seriously(s: &TestServer, ns: &[u64]) {
    s.client()
        .await
        .append_events(pb::AppendEventsRequest {
            records: ns
                .iter()
                .map(|n| pb::CreditEvent {
                    event_id: format!("serious-{n}"),
                    credit_code: synthetic_code(*n).to_string(),
                    effective_date: "2026-05-01".into(),
                    source_department: "samr-chengdu".into(),
                    body: Some(pb::credit_event::Body::SeriousListEntry(
                        pb::SeriousListEntry {
                            reason: "fraud".into(),
                        },
                    )),
                    seq: 0,
                })
                .collect(),
        })
        .await
        .unwrap();
}

/// Re-classifies the whole population as of `as_of` through a channel sending `token` (an
/// admin's), following the run to its end; returns the last progress message.
pub async fn reclassify_all_with(url: &str, token: &str, as_of: &str) -> pb::ReclassifyProgress {
    let mut cls = pb::classification_service_client::ClassificationServiceClient::new(
        channel(url, token).await,
    );
    let mut stream = cls
        .reclassify(pb::ReclassifyRequest {
            scope: None,
            as_of: as_of.into(),
            run_id: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(p) = stream.message().await.unwrap() {
        last = Some(p);
    }
    let last = last.expect("the run sent no progress");
    assert!(last.finished, "the run stopped before its end: {last:?}");
    last
}

/// [`reclassify_all_with`] as this server's admin.
pub async fn reclassify_all(s: &TestServer, as_of: &str) -> pb::ReclassifyProgress {
    reclassify_all_with(&s.url, &s.tokens[&Role::Admin], as_of).await
}

/// Exports draw `id` as the planner, with the inspector's list in `lang` (empty: the default);
/// every exported file by name.
pub async fn export_files(s: &TestServer, id: &str, lang: &str) -> BTreeMap<String, Vec<u8>> {
    let mut draws =
        pb::draw_service_client::DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let mut stream = draws
        .export_draw(pb::ExportDrawRequest {
            draw_id: id.into(),
            lang: lang.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    while let Some(c) = stream.message().await.unwrap() {
        files.entry(c.file).or_default().extend(c.data);
    }
    files
}
