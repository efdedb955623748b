//! The `DrawService` handlers.

use super::auth::caller;
use super::convert;
use super::pb::{self, draw_service_server::DrawService};
use super::status::to_status;
use crate::app::App;
use crate::clock;
use crate::domain::validate::check_ident;
use crate::domain::Lang;
use crate::error::Error;
use std::collections::BTreeMap;
use std::pin::Pin;
use tonic::{Request, Response, Status};

type R<T> = std::result::Result<Response<T>, Status>;
type Stream<T> =
    Pin<Box<dyn futures::Stream<Item = std::result::Result<T, Status>> + Send + 'static>>;

/// Size of one streamed file chunk (well under the default message limit).
const CHUNK: usize = 1024 * 1024;

/// Serves `creditrisk.v1.DrawService`.
pub struct DrawApi {
    app: App,
}

impl DrawApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        DrawApi { app }
    }
}

fn draw_id(s: &str) -> std::result::Result<String, Status> {
    check_ident(s)
        .map(|_| s.to_string())
        .map_err(|e| to_status(Error::invalid("draw_id", e)))
}

#[tonic::async_trait]
impl DrawService for DrawApi {
    #[tracing::instrument(skip_all)]
    async fn upsert_items(&self, req: Request<pb::UpsertItemsRequest>) -> R<pb::WriteSummary> {
        let items =
            convert::batch(req.into_inner().records, convert::item_from).map_err(to_status)?;
        let out = self
            .app
            .draw_op(move |d| d.upsert_items(items))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_items(&self, _req: Request<pb::ListItemsRequest>) -> R<pb::ListItemsResponse> {
        let items = self.app.draw_op(|d| d.items()).await.map_err(to_status)?;
        Ok(Response::new(pb::ListItemsResponse {
            items: items.iter().map(convert::item_to).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn preview_draw(&self, req: Request<pb::DrawSpec>) -> R<pb::DrawPreview> {
        let spec = convert::spec_from(req.into_inner(), clock::today()).map_err(to_status)?;
        let p = self
            .app
            .draw_op(move |d| d.preview(&spec))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::preview_to(&p)))
    }

    #[tracing::instrument(skip_all)]
    async fn create_draw(&self, req: Request<pb::DrawSpec>) -> R<pb::Draw> {
        let actor = caller(&req)?.token_id;
        let spec = convert::spec_from(req.into_inner(), clock::today()).map_err(to_status)?;
        let view = self
            .app
            .draw_op(move |d| {
                let v = d.create(&spec, &actor, clock::now_ms())?;
                let info = d.selected_info(&v)?;
                Ok((v, info))
            })
            .await
            .map_err(to_status)?;
        tracing::info!(draw_id = %view.0.record.draw_id, selected = view.0.record.selected.len(), "draw stored");
        Ok(Response::new(convert::draw_to(&view.0, true, &view.1)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_draw(&self, req: Request<pb::GetDrawRequest>) -> R<pb::Draw> {
        let id = draw_id(&req.into_inner().draw_id)?;
        let (view, info) = self
            .app
            .draw_op(move |d| {
                let v = d.get(&id)?;
                let info = d.selected_info(&v)?;
                Ok((v, info))
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::draw_to(&view, true, &info)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_draws(&self, req: Request<pb::ListDrawsRequest>) -> R<pb::ListDrawsResponse> {
        let r = req.into_inner();
        let limit = convert::page_size(r.page_size, 50, 500).map_err(to_status)?;
        let after = convert::decode_token(&r.page_token, "draws").map_err(to_status)?;
        let page = self
            .app
            .draw_op(move |d| d.list(after.as_deref(), limit))
            .await
            .map_err(to_status)?;
        let none = BTreeMap::new();
        Ok(Response::new(pb::ListDrawsResponse {
            draws: page
                .items
                .iter()
                .map(|d| convert::draw_to(d, false, &none))
                .collect(),
            next_page_token: page
                .next
                .map(|id| convert::encode_token("draws", &id))
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_assignments(
        &self,
        req: Request<pb::ListAssignmentsRequest>,
    ) -> R<pb::ListAssignmentsResponse> {
        let me = caller(&req)?;
        let mut id = req.into_inner().inspector_id;
        if id.is_empty() {
            // An inspector asking for "my assignments".
            id = me.subject.clone();
        }
        check_ident(&id).map_err(|e| to_status(Error::invalid("inspector_id", e)))?;
        // Only the inspector's own assignments (the policy lets only inspectors call this).
        me.check_subject(&id).map_err(|e| to_status(e.into()))?;
        let list = self
            .app
            .draw_op(move |d| d.assignments(&id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAssignmentsResponse {
            assignments: list.iter().map(convert::assignment_to).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record_results(&self, req: Request<pb::RecordResultsRequest>) -> R<pb::WriteSummary> {
        let me = caller(&req)?;
        let r = req.into_inner();
        // An inspector records only results of inspections they took part in; the draw service
        // then checks that every listed inspector is on the enterprise's team.
        for res in &r.results {
            if !res
                .inspector_ids
                .iter()
                .any(|i| me.check_subject(i).is_ok())
            {
                return Err(to_status(crate::audit::AuthError::NotYours.into()));
            }
        }
        let id = draw_id(&r.draw_id)?;
        let results = convert::results_from(r.results).map_err(to_status)?;
        let out = self
            .app
            .record_results(id, results, &me.token_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }

    #[tracing::instrument(skip_all)]
    async fn publish_results(
        &self,
        req: Request<pb::PublishResultsRequest>,
    ) -> R<pb::WriteSummary> {
        let actor = caller(&req)?.token_id;
        let r = req.into_inner();
        let id = draw_id(&r.draw_id)?;
        let codes = convert::codes_from(&r.credit_codes).map_err(to_status)?;
        let on =
            convert::date_or(&r.published_on, "published_on", clock::today()).map_err(to_status)?;
        let out = self
            .app
            .draw_op(move |d| d.publish(&id, codes, on, &actor, clock::now_ms()))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::summary_to(out)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_overdue(
        &self,
        req: Request<pb::ListOverdueRequest>,
    ) -> R<pb::ListOverdueResponse> {
        let today = convert::date_or(&req.into_inner().today, "today", clock::today())
            .map_err(to_status)?;
        let list = self
            .app
            .draw_op(move |d| d.overdue(today))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListOverdueResponse {
            overdue: list.iter().map(convert::overdue_to).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn public_results(
        &self,
        req: Request<pb::GetDrawRequest>,
    ) -> R<pb::PublicResultsResponse> {
        let id = draw_id(&req.into_inner().draw_id)?;
        let (view, list) = self
            .app
            .draw_op(move |d| d.public_results(&id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::PublicResultsResponse {
            draw_id: view.record.draw_id.clone(),
            results: list
                .iter()
                .map(|r| convert::public_result_to(&view, r))
                .collect(),
        }))
    }

    type ExportDrawStream = Stream<pb::FileChunk>;

    #[tracing::instrument(skip_all)]
    async fn export_draw(&self, req: Request<pb::ExportDrawRequest>) -> R<Self::ExportDrawStream> {
        let req = req.into_inner();
        let id = draw_id(&req.draw_id)?;
        let lang = Lang::parse(&req.lang).map_err(|e| to_status(Error::invalid("lang", e)))?;
        let export = self
            .app
            .draw_op(move |d| d.export(&id, lang))
            .await
            .map_err(to_status)?;
        let files: Vec<(&'static str, Vec<u8>)> = vec![
            ("bundle.json", export.bundle.json.into_bytes()),
            ("selected.csv", export.bundle.csv_selected.into_bytes()),
            ("excluded.csv", export.bundle.csv_excluded.into_bytes()),
            ("inspection-list.xlsx", export.xlsx),
        ];
        let mut chunks = Vec::new();
        for (name, data) in files {
            if data.is_empty() {
                chunks.push(Ok(pb::FileChunk {
                    file: name.into(),
                    data: Vec::new(),
                    last: true,
                }));
                continue;
            }
            let n = data.len().div_ceil(CHUNK);
            for (i, part) in data.chunks(CHUNK).enumerate() {
                chunks.push(Ok(pb::FileChunk {
                    file: name.into(),
                    data: part.to_vec(),
                    last: i + 1 == n,
                }));
            }
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}
