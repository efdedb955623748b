//! `creditrisk serve`: check what a start needs before touching the data folder (the rule files,
//! the TLS files, the listening address, the data-folder lock), then open the store, optionally
//! load the demo population, make sure there is a way in (an admin token; demo tokens), serve
//! gRPC (and the web console, when configured) until SIGINT or SIGTERM, then finish calls in
//! flight and flush.
//!
//! The order is deliberate: a start that cannot succeed (port taken, folder held by another
//! process, bad rule files) fails at once with a message naming the address or folder, and a
//! first start that fails after creating the data folder removes it again, so no half-made
//! folder is left behind. Without `rules_dir` / `supervision_dir` the files built into the
//! binary ([`crate::rules::embedded`]) are used, so the binary works outside the checkout.

use crate::app::App;
use crate::config::Config;
use crate::server::{self, Limits};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The webhooks checked (secrets read from the environment or files) and how they retry;
/// errors name `webhooks[i].field`.
pub fn webhooks(
    config: &Config,
) -> Result<
    (
        Vec<crate::warnsvc::webhook::Webhook>,
        crate::warnsvc::webhook::Delivery,
    ),
    String,
> {
    use crate::warnsvc::webhook::{Delivery, Webhook};
    if !(1..=20).contains(&config.webhook_max_attempts) {
        return Err(format!(
            "webhook_max_attempts: `{}` is outside 1 to 20",
            config.webhook_max_attempts
        ));
    }
    if !(1..=600_000).contains(&config.webhook_backoff_ms) {
        return Err(format!(
            "webhook_backoff_ms: `{}` is outside 1 to 600000",
            config.webhook_backoff_ms
        ));
    }
    let mut hooks = Vec::new();
    for (i, c) in config.webhooks.iter().enumerate() {
        let h = Webhook::from_config(i, c, |k| std::env::var(k).ok())?;
        if hooks.iter().any(|x: &Webhook| x.department == h.department) {
            return Err(format!(
                "webhooks[{i}].department: `{}` has a webhook already",
                h.department
            ));
        }
        hooks.push(h);
    }
    Ok((
        hooks,
        Delivery {
            max_attempts: config.webhook_max_attempts,
            base: std::time::Duration::from_millis(config.webhook_backoff_ms),
            ..Delivery::default()
        },
    ))
}

/// Name of the lock file `serve` holds in the data folder while it runs.
pub const LOCK_FILE: &str = "creditrisk.lock";

/// Runs the service with `config` until a termination signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // 1. Inputs that need no store: rule files and TLS files.
    let (rule_files, rule_source) = match &config.rules_dir {
        Some(dir) => (
            crate::classify::rulesets::read_dir_files(dir)?,
            dir.display().to_string(),
        ),
        None => (
            crate::rules::embedded::rule_set_files(),
            crate::rules::embedded::SOURCE.to_string(),
        ),
    };
    let (policy, calendar) = match &config.supervision_dir {
        Some(dir) => crate::drawsvc::Draws::load_rules(dir)?,
        None => crate::drawsvc::Draws::embedded_rules()?,
    };
    let (hooks, delivery) = webhooks(&config).map_err(anyhow::Error::msg)?;
    let (tls, web_tls) = match config.tls_files().map_err(anyhow::Error::msg)? {
        // The console speaks HTTPS with the same certificate and key (`web::tls`).
        Some((cert, key, ca)) => (
            Some(server::tls_config(cert, key, ca)?),
            Some(crate::web::tls::server_config(cert, key)?),
        ),
        None => (None, None),
    };
    // 2. The addresses, then the data folder's lock.
    let listener = listen(config.listen).await?;
    let web_listener = listen_web(&config).await?;
    let created = !config.data_dir.exists();
    let lock = match lock_data_dir(&config.data_dir) {
        Ok(l) => l,
        Err(e) => {
            remove_if_created(&config.data_dir, created);
            return Err(e);
        }
    };
    // 3. Only now the store and what goes in it.
    let storage = match &config.storage {
        Some(s) => Some(s.location().map_err(|e| anyhow::anyhow!("config: {e}"))?),
        None => None,
    };
    let opened = App::open_at(&config.data_dir, storage.as_ref(), config.cache_mb);
    let (mut app, stopper) = match opened {
        Ok(x) => x,
        Err(e) => {
            drop(lock);
            remove_if_created(&config.data_dir, created);
            return Err(match &storage {
                Some(at) => anyhow::anyhow!("cannot open the store `{at}`: {e}"),
                None => anyhow::anyhow!(
                    "cannot open the data folder `{}`: {e}",
                    config.data_dir.display()
                ),
            });
        }
    };
    app.enable_draws_with(policy, calendar);
    let boot = match prepare(&app, &config, rule_files, &rule_source).await {
        Ok(b) => b,
        Err(e) => {
            drop(app);
            tokio::task::spawn_blocking(move || stopper.close()).await?;
            drop(lock);
            remove_if_created(&config.data_dir, created);
            return Err(e);
        }
    };
    if config.auto_reclassify {
        app.enable_auto_reclassify();
    }
    app.enable_compaction(config.compact_after_events);
    if config.warning_schedule {
        // The built-in warning rules first, so the first evaluation has them.
        app.warnings()
            .ensure_default_rules(crate::clock::now_ms())
            .await?;
        app.enable_warning_schedule();
    }
    app.enable_webhooks(hooks, delivery);
    let addr = listener.local_addr()?;
    // Scripts and tests read this line to find the port when listening on port 0: it stays the
    // first line of standard output.
    announce(&format!("creditrisk listening on {addr}"));
    boot.print_demo(&mut std::io::stdout());
    let store = storage.map_or_else(|| "sled".to_string(), |s| s.to_string());
    tracing::info!(%addr, data_dir = %config.data_dir.display(), %store, tls = tls.is_some(), "serving");
    let limits = Limits {
        max_message_bytes: config.max_message_mb * 1024 * 1024,
        max_call: Duration::from_secs(config.max_call_seconds),
        concurrency_per_connection: config.concurrency_per_connection,
    };
    // One termination signal stops both listeners; each finishes what is in flight.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        termination().await;
        let _ = stop_tx.send(true);
    });
    let web = match web_listener {
        Some(l) => {
            let addr = l.local_addr()?;
            let scheme = if web_tls.is_some() { "https" } else { "http" };
            // Scripts read this line to find the console when `web_listen` has port 0.
            announce(&format!("creditrisk web console on {scheme}://{addr}"));
            tracing::info!(%addr, scheme, "web console serving");
            let router = crate::web::router(
                app.clone(),
                crate::web::Options {
                    secure_cookies: web_tls.is_some(),
                },
            );
            Some(match web_tls {
                Some(cfg) => tokio::spawn(crate::web::serve_tls(l, cfg, router, stopped())),
                None => tokio::spawn(crate::web::serve(l, router, stopped())),
            })
        }
        None => None,
    };
    let result = server::serve_with(listener, app, limits, tls, stopped()).await;
    if let Some(w) = web {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "web console failed"),
            Err(e) => tracing::error!(error = %e, "web console task failed"),
        }
    }
    tracing::info!("stopped accepting calls; flushing storage");
    // The writer drains what was queued by the calls that just finished, then flushes.
    tokio::task::spawn_blocking(move || stopper.close()).await?;
    tracing::info!("storage flushed; bye");
    drop(lock);
    result?;
    Ok(())
}

/// Activates the default rule set on first start, loads the demo population if asked, and
/// makes sure there is an admin token (and demo tokens).
async fn prepare(
    app: &App,
    config: &Config,
    rule_files: BTreeMap<String, String>,
    rule_source: &str,
) -> anyhow::Result<crate::access::Bootstrap> {
    app.classifier()
        .rule_sets()
        .ensure_default_files(rule_files, rule_source, crate::clock::now_ms())
        .await?;
    if config.demo {
        let items = config
            .supervision_dir
            .as_ref()
            .map(|d| d.join("items.toml"));
        crate::cli::import::load_demo_if_empty(
            app,
            config.demo_entities,
            config.demo_seed,
            items.as_deref(),
        )
        .await?;
    }
    Ok(crate::access::bootstrap(
        app.tokens(),
        &config.data_dir,
        config.demo,
        crate::clock::now_ms(),
    )
    .await?)
}

/// Binds `addr`, with an error naming it.
async fn listen(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on `{addr}`: address in use")
        } else {
            anyhow::anyhow!("cannot listen on `{addr}`: {e}")
        }
    })
}

/// Binds the web console's address, if any: `web_listen`, or with `demo` and none set,
/// [`DEMO_WEB_LISTEN`](crate::config::DEMO_WEB_LISTEN). A configured address that cannot be
/// bound stops the start; the demo's implied one only logs a warning (several demo servers on
/// one machine, as in the tests, then share without a console).
async fn listen_web(config: &Config) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    match (config.web_listen, config.demo) {
        (Some(addr), _) => Ok(Some(listen(addr).await?)),
        (None, true) => match listen(crate::config::DEMO_WEB_LISTEN).await {
            Ok(l) => Ok(Some(l)),
            Err(e) => {
                tracing::warn!(error = %e, "demo web console not started");
                Ok(None)
            }
        },
        (None, false) => Ok(None),
    }
}

/// Creates `dir` if needed and takes the exclusive lock on its [`LOCK_FILE`], held until the
/// returned file is dropped (or the process ends), so two servers never share a data folder.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the data folder `{}`: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open `{}`: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "data folder `{}` is in use by another creditrisk process (it holds `{LOCK_FILE}`)",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow::anyhow!(
            "cannot lock the data folder `{}`: {e}",
            dir.display()
        )),
    }
}

/// Removes `dir` when this start created it (a failed first start leaves nothing behind).
fn remove_if_created(dir: &Path, created: bool) {
    if created {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the data folder this start created");
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn termination() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

/// Writes one line for scripts to standard output. A server must not stop because whoever started
/// it stopped reading (a closed pipe makes `println!` panic), so write errors are ignored.
fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
