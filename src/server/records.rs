//! The `RecordService` gRPC handlers: convert, call the application, convert back.

use super::convert::{self, parse_batch};
use super::pb::{self, record_service_server::RecordService};
use super::status::to_status;
use crate::app::App;
use crate::domain::{CreditCode, Violations};
use crate::error::Error;
use crate::storage::{EnterpriseFilter, InspectorFilter};
use futures::stream::{FuturesOrdered, StreamExt};
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Chunks of a bulk stream that may wait for durability at once (pipelining lets the writer
/// group-commit several chunks with one flush).
pub const BULK_IN_FLIGHT: usize = 32;

/// Serves `creditrisk.v1.RecordService`.
pub struct RecordApi {
    app: App,
}

impl RecordApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        RecordApi { app }
    }
}

type R<T> = Result<Response<T>, Status>;

fn code_arg(s: &str) -> Result<CreditCode, Status> {
    let mut v = Violations::new();
    match convert::code(&mut v, "credit_code".into(), s) {
        Some(c) => Ok(c),
        None => Err(to_status(Error::InvalidInput(v.into_vec()))),
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

#[tonic::async_trait]
impl RecordService for RecordApi {
    #[tracing::instrument(skip_all, fields(records = req.get_ref().records.len()))]
    async fn upsert_enterprises(
        &self,
        req: Request<pb::UpsertEnterprisesRequest>,
    ) -> R<pb::WriteSummary> {
        let items = parse_batch(req.into_inner().records, convert::enterprise_checked);
        let out = self
            .app
            .upsert_enterprise_batch(items)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_enterprise(&self, req: Request<pb::GetEnterpriseRequest>) -> R<pb::Enterprise> {
        let code = code_arg(&req.get_ref().credit_code)?;
        let e = self.app.enterprise(code).await.map_err(to_status)?;
        Ok(Response::new(convert::enterprise_version_to(&e)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_enterprises(
        &self,
        req: Request<pb::ListEnterprisesRequest>,
    ) -> R<pb::ListEnterprisesResponse> {
        let r = req.into_inner();
        let mut v = Violations::new();
        let kind = match r.kind {
            0 => None,
            k => convert::kind_from(k).or_else(|| {
                v.add("kind", format!("`{k}` is not an entity kind"));
                None
            }),
        };
        let status = match r.status {
            0 => None,
            s => convert::status_from(s).or_else(|| {
                v.add("status", format!("`{s}` is not a status"));
                None
            }),
        };
        let tier = convert::tier_filter(&r.tier).unwrap_or_else(|e| {
            v.add("tier", e);
            None
        });
        if !v.is_empty() {
            return Err(to_status(Error::InvalidInput(v.into_vec())));
        }
        let filter = EnterpriseFilter {
            jurisdiction: opt(&r.jurisdiction),
            industry_section: opt(&r.industry_section),
            kind,
            status,
        };
        let fkey = format!("{filter:?} tier={tier:?}");
        let limit = convert::page_size(r.page_size, 100, 1000).map_err(to_status)?;
        let after = convert::decode_token(&r.page_token, &fkey)
            .map_err(to_status)?
            .map(|p| CreditCode::parse(&p).map_err(|e| to_status(Error::invalid("page_token", e))))
            .transpose()?;
        // Each listed enterprise carries its current tier (`classify::report`).
        let c = self.app.classifier().clone();
        let page =
            tokio::task::spawn_blocking(move || c.list_with_tiers(&filter, tier, after, limit))
                .await
                .map_err(|e| to_status(Error::Internal(format!("task: {e}"))))?
                .map_err(to_status)?;
        Ok(Response::new(pb::ListEnterprisesResponse {
            enterprises: page
                .items
                .iter()
                .map(|(e, t)| pb::Enterprise {
                    tier: t
                        .map(|b| crate::classify::service::tier_letter(b).to_string())
                        .unwrap_or_default(),
                    ..convert::enterprise_version_to(e)
                })
                .collect(),
            next_page_token: page
                .next
                .map(|c| convert::encode_token(&fkey, c.as_str()))
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all, fields(records = req.get_ref().records.len()))]
    async fn append_events(&self, req: Request<pb::AppendEventsRequest>) -> R<pb::WriteSummary> {
        let items = parse_batch(req.into_inner().records, convert::event_checked);
        let out = self
            .app
            .append_event_batch(items)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }

    type BulkAppendEventsStream =
        Pin<Box<dyn futures::Stream<Item = Result<pb::ChunkAck, Status>> + Send + 'static>>;

    #[tracing::instrument(skip_all)]
    async fn bulk_append_events(
        &self,
        req: Request<Streaming<pb::AppendEventsRequest>>,
    ) -> R<Self::BulkAppendEventsStream> {
        let mut inbound = req.into_inner();
        let app = self.app.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(BULK_IN_FLIGHT);
        tokio::spawn(async move {
            let mut pending = FuturesOrdered::new();
            let mut chunk = 0u64;
            let mut input_open = true;
            loop {
                tokio::select! {
                    msg = inbound.next(), if input_open && pending.len() < BULK_IN_FLIGHT => {
                        match msg {
                            Some(Ok(m)) => {
                                // Chunks are handed to the writer in stream order, so a chunk may
                                // refer to events of an earlier one.
                                pending.push_back(app_chunk(&app, chunk, m).await);
                                chunk += 1;
                            }
                            Some(Err(status)) => {
                                tracing::warn!(%status, "bulk stream broken by the client");
                                input_open = false;
                            }
                            None => input_open = false,
                        }
                    }
                    Some(ack) = pending.next(), if !pending.is_empty() => {
                        if tx.send(Ok(ack)).await.is_err() {
                            return; // the client went away
                        }
                    }
                    else => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    #[tracing::instrument(skip_all)]
    async fn list_events(&self, req: Request<pb::ListEventsRequest>) -> R<pb::ListEventsResponse> {
        let r = req.into_inner();
        let code = code_arg(&r.credit_code)?;
        let limit = convert::page_size(r.page_size, 100, 1000).map_err(to_status)?;
        let fkey = format!("events:{code}");
        let after = convert::decode_token(&r.page_token, &fkey)
            .map_err(to_status)?
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| to_status(Error::invalid("page_token", "is damaged")))
            })
            .transpose()?;
        let page = self
            .app
            .events(code, after, limit)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListEventsResponse {
            events: page.items.iter().map(convert::stored_event_to).collect(),
            next_page_token: page
                .next
                .map(|s| convert::encode_token(&fkey, &s.to_string()))
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all, fields(records = req.get_ref().records.len()))]
    async fn upsert_inspectors(
        &self,
        req: Request<pb::UpsertInspectorsRequest>,
    ) -> R<pb::WriteSummary> {
        let actor = super::auth::caller(&req)?.token_id;
        let items = parse_batch(req.into_inner().records, convert::inspector_checked);
        let out = self
            .app
            .upsert_inspector_batch(items, &actor)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_inspectors(
        &self,
        req: Request<pb::ListInspectorsRequest>,
    ) -> R<pb::ListInspectorsResponse> {
        let r = req.into_inner();
        let filter = InspectorFilter {
            department: opt(&r.department),
            jurisdiction: opt(&r.jurisdiction),
            active_only: r.active_only,
        };
        let fkey = format!("{filter:?}");
        let limit = convert::page_size(r.page_size, 100, 1000).map_err(to_status)?;
        let after = convert::decode_token(&r.page_token, &fkey).map_err(to_status)?;
        let page = self
            .app
            .list_inspectors(filter, after, limit)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListInspectorsResponse {
            inspectors: page.items.iter().map(convert::inspector_to).collect(),
            next_page_token: page
                .next
                .map(|id| convert::encode_token(&fkey, &id))
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all, fields(records = req.get_ref().records.len()))]
    async fn record_inspections(
        &self,
        req: Request<pb::RecordInspectionsRequest>,
    ) -> R<pb::WriteSummary> {
        let items = parse_batch(req.into_inner().records, convert::inspection_checked);
        let out = self
            .app
            .record_inspection_batch(items)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }
}

type AckFuture = Pin<Box<dyn std::future::Future<Output = pb::ChunkAck> + Send>>;

/// Converts and enqueues one chunk; the returned future resolves to its acknowledgement.
async fn app_chunk(app: &App, chunk: u64, m: pb::AppendEventsRequest) -> AckFuture {
    let queued = app
        .enqueue_event_batch(parse_batch(m.records, convert::event_checked))
        .await;
    match queued {
        Ok(reply) => Box::pin(async move { ack(chunk, reply.await) }),
        Err(e) => Box::pin(std::future::ready(ack(chunk, Err(e)))),
    }
}

fn ack(chunk: u64, r: crate::Result<crate::storage::WriteOutcome>) -> pb::ChunkAck {
    match r {
        Ok(out) => pb::ChunkAck {
            chunk,
            ok: true,
            summary: Some(convert::summary_to(out)),
            ..Default::default()
        },
        Err(e) => {
            let violations = match &e {
                Error::InvalidInput(v) | Error::Conflict(v) => convert::violations_to(v),
                _ => Vec::new(),
            };
            let status = to_status(e);
            pb::ChunkAck {
                chunk,
                ok: false,
                summary: None,
                error_code: status.code() as i32,
                error_message: status.message().to_string(),
                violations,
            }
        }
    }
}
