//! A tower layer on the tonic server that counts each call by method and gRPC status and
//! times it.
//!
//! Where the status is: a call that fails before any message (every unary error, and every
//! refusal by the access layer) is answered "trailers-only", with `grpc-status` in the response
//! headers; the call is counted when those headers are seen. Any other call sends its status in
//! the trailers at the end of the body, so the body is wrapped and the call is counted when the
//! trailers pass (for a stream, its latency is then the whole stream's duration). A body that
//! ends without trailers counts as `UNKNOWN`; a call whose response future or body is dropped
//! before its status (the client went away) counts as `CANCELLED`.
//!
//! Method labels are only the methods the served descriptor sets declare (plus reflection);
//! any other path is labelled `unknown`, so a client cannot grow the label set.

use super::process::global;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use prost::Message;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

/// The label for a path no served service declares.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Paths of the reflection services, whose descriptors are not in the sets given.
const REFLECTION: [&str; 2] = [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// Wraps a service so each call is counted in [`super::global`]; see the module doc.
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    methods: Arc<HashSet<String>>,
}

impl GrpcMetricsLayer {
    /// A layer that labels calls by the methods of the encoded `FileDescriptorSet`s given
    /// (and the reflection services); a set that does not decode contributes no method.
    pub fn new(descriptor_sets: &[&[u8]]) -> GrpcMetricsLayer {
        let mut methods: HashSet<String> = REFLECTION.iter().map(|s| s.to_string()).collect();
        for bytes in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*bytes) else {
                tracing::warn!("a descriptor set does not decode: its methods are `unknown`");
                continue;
            };
            for file in &set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        let service_name = if package.is_empty() {
                            service.name().to_string()
                        } else {
                            format!("{package}.{}", service.name())
                        };
                        methods.insert(format!("/{service_name}/{}", method.name()));
                    }
                }
            }
        }
        GrpcMetricsLayer {
            methods: Arc::new(methods),
        }
    }

    fn label(&self, path: &str) -> String {
        if self.methods.contains(path) {
            path.to_string()
        } else {
            UNKNOWN_METHOD.to_string()
        }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`GrpcMetricsLayer`].
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    layer: GrpcMetricsLayer,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<Counted<RB>>;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = Call {
            method: self.layer.label(req.uri().path()),
            start: Instant::now(),
            done: false,
        };
        CountedFuture {
            inner: self.inner.call(req),
            call: Some(call),
        }
    }
}

/// A call not yet counted. Dropped uncounted, it counts as `CANCELLED`.
struct Call {
    method: String,
    start: Instant,
    done: bool,
}

impl Call {
    fn finish(mut self, code: &'static str) {
        self.done = true;
        global().call_finished(&self.method, code, self.start.elapsed());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            global().call_finished(&self.method, "CANCELLED", self.start.elapsed());
        }
    }
}

/// The code named by a `grpc-status` value in `headers`, if there is one.
fn status_in(headers: &http::HeaderMap) -> Option<&'static str> {
    let v = headers.get("grpc-status")?;
    let code = v.to_str().ok().and_then(|s| s.trim().parse::<i32>().ok());
    Some(code.map_or("UNKNOWN", code_name))
}

/// The canonical name of gRPC status code `code` (`UNKNOWN` for a number outside 0..=16).
pub fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

pin_project! {
    /// The response future of [`GrpcMetrics`].
    pub struct CountedFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, RB, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
{
    type Output = Result<http::Response<Counted<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(res) => {
                // Trailers-only: the status is in the headers and the body holds nothing more.
                if let Some(code) = status_in(res.headers()) {
                    if let Some(c) = call.take() {
                        c.finish(code);
                    }
                }
                Ok(res.map(|inner| Counted { inner, call }))
            }
            Err(e) => {
                if let Some(c) = call {
                    c.finish("UNKNOWN");
                }
                Err(e)
            }
        })
    }
}

pin_project! {
    /// A response body that counts its call when the trailers with the status pass.
    pub struct Counted<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let code = match &frame {
            Some(Ok(f)) => f.trailers_ref().map(|t| status_in(t).unwrap_or("UNKNOWN")),
            Some(Err(_)) | None => Some("UNKNOWN"),
        };
        if let Some(code) = code {
            if let Some(c) = this.call.take() {
                c.finish(code);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
