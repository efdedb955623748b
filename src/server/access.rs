//! The `AccessService` handlers: issue, revoke and list tokens (admins only, by the policy).
//! A token string appears in exactly one place, the `IssueToken` response; it is never logged.

use super::auth::caller;
use super::convert;
use super::pb::{self, access_service_server::AccessService};
use super::status::to_status;
use crate::app::App;
use crate::clock;
use crate::error::Error;
use tonic::{Request, Response, Status};

type R<T> = std::result::Result<Response<T>, Status>;

/// Serves `creditrisk.v1.AccessService`.
pub struct AccessApi {
    app: App,
}

impl AccessApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        AccessApi { app }
    }
}

#[tonic::async_trait]
impl AccessService for AccessApi {
    #[tracing::instrument(skip_all)]
    async fn issue_token(&self, req: Request<pb::IssueTokenRequest>) -> R<pb::IssueTokenResponse> {
        let by = caller(&req)?.token_id;
        let new = convert::new_token_from(req.into_inner()).map_err(to_status)?;
        let (issued, stored) = self
            .app
            .tokens()
            .issue(&new, &by, clock::now_ms())
            .await
            .map_err(to_status)?;
        // A valid id has no `_`, so even a mistyped whole token cannot reach the log here.
        tracing::info!(token_id = %stored.record.id, role = %stored.record.role, "token issued");
        Ok(Response::new(pb::IssueTokenResponse {
            token: issued.token,
            info: Some(convert::token_to(&stored)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_token(&self, req: Request<pb::RevokeTokenRequest>) -> R<pb::TokenInfo> {
        let by = caller(&req)?.token_id;
        let id = req.into_inner().id;
        if !crate::audit::access::valid_token_id(&id) {
            return Err(to_status(Error::invalid(
                "id",
                format!("`{}` is not a token id", super::convert::echo(&id)),
            )));
        }
        let t = self
            .app
            .tokens()
            .revoke(&id, &by, clock::now_ms())
            .await
            .map_err(to_status)?;
        tracing::info!(token_id = %t.record.id, "token revoked");
        Ok(Response::new(convert::token_to(&t)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_tokens(&self, _req: Request<pb::ListTokensRequest>) -> R<pb::ListTokensResponse> {
        let tokens = self.app.tokens().clone();
        let list = tokio::task::spawn_blocking(move || tokens.list())
            .await
            .map_err(|e| to_status(Error::Internal(format!("token list task failed: {e}"))))?
            .map_err(to_status)?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: list.iter().map(convert::token_to).collect(),
        }))
    }
}
