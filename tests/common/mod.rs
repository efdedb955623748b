//! A real server on 127.0.0.1:0 over a temporary data directory, and its generated client.
#![allow(dead_code)]

use creditrisk::app::App;
use creditrisk::server::{self, pb, Limits};
use pb::record_service_client::RecordServiceClient;
use tonic::transport::Channel;

pub struct TestServer {
    pub url: String,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
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
        // After a stop in this same process, background tasks of the old server (the automatic
        // re-classifier, ended watch streams) may still hold the database for a moment: sled's
        // file lock is released when the last handle drops. Wait for it, boundedly.
        let mut tries = 0;
        let (mut app, stopper) = loop {
            match App::open(dir.path(), 64) {
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server::serve(listener, app, limits, async {
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
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub async fn client(&self) -> RecordServiceClient<Channel> {
        let ch = Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        RecordServiceClient::new(ch)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
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

pub fn violations(s: &tonic::Status) -> Vec<(String, String)> {
    creditrisk::server::status::violations_of(s)
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

#[allow(unused_imports)]
pub use creditrisk::cli::bench::{synthetic_code, synthetic_enterprise, synthetic_event};
