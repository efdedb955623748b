//! HTTPS on the console port, with the certificate and key the gRPC port uses (`tls_cert`,
//! `tls_key`): when the server speaks TLS, so does the console, and its cookies are `Secure`.
//!
//! The client CA of mutual TLS (`tls_client_ca`) is not asked of browsers: people log in to
//! the console with their access token (docs/web.md).
//!
//! How connections are accepted: a task accepts TCP connections and runs each TLS handshake in
//! a task of its own (at most [`HANDSHAKE_SECS`] long), handing finished connections to the
//! listener axum serves through a bounded channel, so a slow or silent client never holds up
//! the others' handshakes. Dropping the listener (when the server stops) stops that task.

use crate::error::{Error, Result};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_SECS: u64 = 10;
/// Finished handshakes waiting for the server to take them.
const QUEUE: usize = 64;

/// The console's TLS configuration from PEM files: the certificate chain `cert` and its
/// private key `key` (HTTP/1.1 only, as the console serves).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>> {
    let bad = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
        Error::FailedPrecondition(format!("cannot read the {what} `{}`: {e}", p.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("tls_cert", cert, &e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("tls_cert", cert, &e))?;
    if chain.is_empty() {
        return Err(bad("tls_cert", cert, &"no certificate in the file"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("tls_key", key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::FailedPrecondition(format!("web console tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            Error::FailedPrecondition(format!(
                "the tls_cert `{}` and tls_key `{}` do not make a usable pair: {e}",
                cert.display(),
                key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener whose connections have finished their TLS handshake (see the module doc).
pub struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `config`.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(QUEUE);
        let tls = TlsAcceptor::from(config);
        let acceptor = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // As axum does for plain TCP: out of file descriptors and the like
                        // pass; wait a little rather than spin.
                        tracing::warn!(error = %e, "web console accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let hs =
                        tokio::time::timeout(Duration::from_secs(HANDSHAKE_SECS), tls.accept(tcp))
                            .await;
                    match hs {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "web console tls handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "web console tls handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // INVARIANT: the accepting task holds a sender until it is aborted, which only
            // happens when this listener is dropped; so the channel is never closed while
            // `accept` can be called. Waiting forever is the honest answer if it were.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
