//! `creditrisk serve`: open the store, optionally load the demo population, make sure there is a
//! way in (an admin token; demo tokens), serve until SIGINT or SIGTERM, then finish calls in
//! flight and flush.

use crate::app::App;
use crate::config::Config;
use crate::server::{self, Limits};
use std::time::Duration;

/// Runs the service with `config` until a termination signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (mut app, stopper) = App::open(&config.data_dir, config.cache_mb)?;
    app.classifier()
        .rule_sets()
        .ensure_default(&config.rules_dir, crate::clock::now_ms())
        .await?;
    app.enable_draws(&config.supervision_dir)?;
    if config.demo {
        crate::cli::import::load_demo_if_empty(
            &app,
            config.demo_entities,
            config.demo_seed,
            &config.supervision_dir.join("items.toml"),
        )
        .await?;
    }
    if config.auto_reclassify {
        app.enable_auto_reclassify();
    }
    app.enable_compaction(config.compact_after_events);
    let boot = crate::access::bootstrap(
        app.tokens(),
        &config.data_dir,
        config.demo,
        crate::clock::now_ms(),
    )
    .await?;
    let tls = match config.tls_files().map_err(anyhow::Error::msg)? {
        Some((cert, key, ca)) => Some(server::tls_config(cert, key, ca)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Scripts and tests read this line to find the port when listening on port 0: it stays the
    // first line of standard output.
    println!("creditrisk listening on {addr}");
    boot.print_demo(&mut std::io::stdout());
    tracing::info!(%addr, data_dir = %config.data_dir.display(), tls = tls.is_some(), "serving");
    let limits = Limits {
        max_message_bytes: config.max_message_mb * 1024 * 1024,
        max_call: Duration::from_secs(config.max_call_seconds),
        concurrency_per_connection: config.concurrency_per_connection,
    };
    let result = server::serve_with(listener, app, limits, tls, termination()).await;
    tracing::info!("stopped accepting calls; flushing storage");
    // The writer drains what was queued by the calls that just finished, then flushes.
    tokio::task::spawn_blocking(move || stopper.close()).await?;
    tracing::info!("storage flushed; bye");
    result?;
    Ok(())
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
