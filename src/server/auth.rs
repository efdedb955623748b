//! The access check on every call: a tower layer around the whole router.
//!
//! Why a layer and not a tonic interceptor: an interceptor does not see which method is called,
//! and the policy is by method. The layer sees the HTTP request, whose path is the full gRPC
//! method (`/creditrisk.v1.RecordService/AppendEvents`).
//!
//! For each call: methods under [`OPEN_PREFIXES`](crate::audit::access::OPEN_PREFIXES) (health,
//! reflection) pass. Otherwise the `authorization` header is read, the bearer token
//! authenticated against the token store and the clock, and the caller's role checked against
//! [`POLICY`](crate::audit::access::POLICY). A refusal is answered at once with
//! UNAUTHENTICATED or PERMISSION_DENIED (through [`to_status`], like every other error) and the
//! service is never called; its message says nothing about stored data. An accepted call
//! carries its [`Principal`] in the request extensions, where handlers find it with [`caller`],
//! and the call's tracing span records the caller's token id (never the token).
//!
//! The token lookup is a sled point read made inline, on the runtime thread that polls the
//! connection. It may block on disk in principle, but the token records are few and hot in the
//! page cache, so it costs microseconds; a hop to the blocking pool would cost more than it
//! saves on every call.

use super::status::to_status;
use crate::access::Tokens;
use crate::audit::access::{authenticate, authorize, bearer_token, is_open, Principal};
use crate::error::Error;
use futures::future::Either;
use std::task::{Context, Poll};
use tonic::Status;

/// Wraps a service with the access check; see the module doc.
#[derive(Clone)]
pub struct AuthLayer {
    tokens: Tokens,
}

impl AuthLayer {
    /// Checks callers against `tokens`.
    pub fn new(tokens: Tokens) -> AuthLayer {
        AuthLayer { tokens }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Authenticated<S> {
        Authenticated {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// A service that is called only for authenticated and authorized callers.
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    tokens: Tokens,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Authenticated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    RB: Default,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = Either<std::future::Ready<Result<http::Response<RB>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let method = req.uri().path();
        if is_open(method) {
            return Either::Right(self.inner.call(req));
        }
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("?"));
        let checked = identify(&self.tokens, header, crate::clock::now_ms()).and_then(|p| {
            // Known from here on, so a refusal for the role is logged with its caller too.
            tracing::Span::current().record("caller", tracing::field::display(&p.token_id));
            authorize(&p, method)?;
            Ok(p)
        });
        match checked {
            Ok(p) => {
                req.extensions_mut().insert(p);
                Either::Right(self.inner.call(req))
            }
            Err(e) => {
                // The reason names no secret: at most the caller's role and the method.
                tracing::info!(reason = %e, "refused");
                Either::Left(std::future::ready(Ok(to_status(e).into_http())))
            }
        }
    }
}

/// Authenticates the `authorization` header value (`None` when absent; a value that is not
/// visible ASCII should be passed as something malformed) and authorizes `method`.
pub fn check(
    tokens: &Tokens,
    header: Option<&str>,
    method: &str,
    now_ms: i64,
) -> Result<Principal, Error> {
    let principal = identify(tokens, header, now_ms)?;
    authorize(&principal, method)?;
    Ok(principal)
}

/// Authenticates the `authorization` header value against the token store at `now_ms` (also
/// what the web console runs for its sessions: one way to authenticate).
pub fn identify(tokens: &Tokens, header: Option<&str>, now_ms: i64) -> Result<Principal, Error> {
    let token = bearer_token(header)?;
    let failed = std::cell::RefCell::new(None);
    let lookup = |id: &str| match tokens.lookup(id) {
        Ok(r) => r,
        Err(e) => {
            *failed.borrow_mut() = Some(e);
            None
        }
    };
    let result = authenticate(token, lookup, now_ms);
    // A storage failure is not a bad token: say so (INTERNAL) instead of UNAUTHENTICATED.
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    Ok(result?)
}

/// The authenticated caller of a request, put there by the access layer. INTERNAL if it is
/// missing, which means the layer was not installed (fail closed).
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Principal, Status> {
    req.extensions().get::<Principal>().cloned().ok_or_else(|| {
        to_status(Error::Internal(
            "no authenticated caller: the access layer is not installed".into(),
        ))
    })
}
