//! The gRPC server: the only layer that sees both domain and generated proto types.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests start a real server on
//! `127.0.0.1:0` and stop it cleanly. Every call gets a tracing span with its method and, once
//! authenticated, its caller's token id; its outcome (gRPC status, latency) is logged when it
//! ends, and counted and timed in the Prometheus metrics ([`crate::metrics::GrpcMetricsLayer`]).
//! Every call but health and reflection (served as v1 and v1alpha) passes the access
//! check of [`auth`] first.
//! With a certificate and key the server speaks TLS, and with a client CA too it requires client
//! certificates signed by it (mutual TLS); bearer tokens are required either way.

pub mod access;
pub mod audit;
pub mod auth;
pub mod codec;
pub mod convert;
pub mod draws;
pub mod follow;
pub mod pb;
pub mod records;
pub mod rules;
pub mod status;
pub mod warnings;

use crate::app::App;
use crate::error::{Error, Result};
use pb::access_service_server::AccessServiceServer;
use pb::audit_service_server::AuditServiceServer;
use pb::classification_service_server::ClassificationServiceServer;
use pb::draw_service_server::DrawServiceServer;
use pb::record_service_server::RecordServiceServer;
use pb::rule_service_server::RuleServiceServer;
use pb::warning_service_server::WarningServiceServer;
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tower_http::classify::GrpcFailureClass;
use tower_http::trace::TraceLayer;

/// Limits the server enforces.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest message accepted or sent, in bytes.
    pub max_message_bytes: usize,
    /// Longest a call may run, whatever the client's deadline.
    pub max_call: Duration,
    /// Calls in flight per connection.
    pub concurrency_per_connection: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_call: Duration::from_secs(600),
            concurrency_per_connection: 256,
        }
    }
}

/// The TLS settings from PEM files: the server's certificate chain and key, and optionally the
/// CA whose certificates clients must present (mutual TLS).
pub fn tls_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerTlsConfig> {
    let read = |p: &Path, what: &str| {
        std::fs::read(p).map_err(|e| {
            Error::FailedPrecondition(format!("cannot read the {what} `{}`: {e}", p.display()))
        })
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
        read(cert, "tls_cert")?,
        read(key, "tls_key")?,
    ));
    if let Some(ca) = client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca, "tls_client_ca")?));
    }
    Ok(tls)
}

/// Serves every creditrisk service, gRPC health checking and server reflection on `listener`
/// in plain text until `shutdown` resolves; see [`serve_with`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    serve_with(listener, app, limits, None, shutdown).await
}

/// Serves every creditrisk service, gRPC health checking and server reflection on `listener`
/// (over TLS if `tls` is given) until `shutdown` resolves; then stops accepting, lets calls in
/// flight finish and returns. The caller closes the store afterwards.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: App,
    limits: Limits,
    tls: Option<ServerTlsConfig>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    // The built-in warning rule set is in force from the first start unless another was
    // activated (a no-op afterwards).
    app.warnings()
        .ensure_default_rules(crate::clock::now_ms())
        .await?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<RecordServiceServer<records::RecordApi>>()
        .await;
    health
        .set_serving::<RuleServiceServer<rules::RuleApi>>()
        .await;
    health
        .set_serving::<ClassificationServiceServer<rules::ClassificationApi>>()
        .await;
    health
        .set_serving::<DrawServiceServer<draws::DrawApi>>()
        .await;
    health
        .set_serving::<AuditServiceServer<audit::AuditApi>>()
        .await;
    health
        .set_serving::<AccessServiceServer<access::AccessApi>>()
        .await;
    health
        .set_serving::<WarningServiceServer<warnings::WarningApi>>()
        .await;
    // Reflection in both versions: v1 for current tools, v1alpha for those that speak only it
    // (Python's grpcio-reflection, older grpcurl, Postman, evans).
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|e| Error::Internal(format!("reflection v1alpha: {e}")))?;
    let max = limits.max_message_bytes;
    let app_for_shutdown = app.classifier().clone();
    let rule_api = RuleServiceServer::new(rules::RuleApi::new(app.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let class_api = ClassificationServiceServer::new(rules::ClassificationApi::new(app.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let draw_api = DrawServiceServer::new(draws::DrawApi::new(app.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let audit_api = AuditServiceServer::new(audit::AuditApi::new(app.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let access_api = AccessServiceServer::new(access::AccessApi::new(app.clone()));
    let warning_api = WarningServiceServer::new(warnings::WarningApi::new(app.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let auth = auth::AuthLayer::new(app.tokens().clone());
    let metrics = crate::metrics::GrpcMetricsLayer::new(&[
        pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ]);
    let records = RecordServiceServer::new(records::RecordApi::new(app))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);

    let trace = TraceLayer::new_for_grpc()
        .make_span_with(
            // Only the method, and the caller's token id once the access layer knows it: never
            // headers, which carry the bearer token.
            |req: &http::Request<_>| {
                tracing::info_span!(
                    "call",
                    method = %req.uri().path(),
                    caller = tracing::field::Empty
                )
            },
        )
        .on_request(())
        .on_response(
            |res: &http::Response<_>, latency: Duration, _span: &tracing::Span| {
                // A unary error is answered "trailers-only": the status is in the headers.
                let code = res
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0");
                tracing::info!(
                    grpc.code = code,
                    latency_us = latency.as_micros() as u64,
                    "answered"
                );
            },
        )
        .on_failure(
            |class: GrpcFailureClass, latency: Duration, _span: &tracing::Span| {
                tracing::warn!(failure = %class, latency_us = latency.as_micros() as u64, "failed");
            },
        );

    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let classifier = app_for_shutdown;
    let shutdown = async move {
        shutdown.await;
        // Calls in flight finish; endless streams (tier-change watchers) are ended now.
        classifier.close_streams();
    };
    let mut builder = Server::builder()
        .timeout(limits.max_call)
        .concurrency_limit_per_connection(limits.concurrency_per_connection);
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| Error::FailedPrecondition(format!("tls: {e}")))?;
    }
    builder
        // The trace layer is outside the access check, so refusals are logged like any answer.
        .layer(trace)
        // Metrics outside the access check too, so refusals are counted by their status.
        .layer(metrics)
        .layer(auth)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(records)
        .add_service(rule_api)
        .add_service(class_api)
        .add_service(draw_api)
        .add_service(audit_api)
        .add_service(access_api)
        .add_service(warning_api)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| Error::Unavailable(format!("server: {e}")))
}
