//! The `AuditService` handlers.

use super::convert::{self, code_arg, date_or};
use super::pb::{self, audit_service_server::AuditService};
use super::status::to_status;
use crate::app::App;
use crate::error::Error;
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

type R<T> = std::result::Result<Response<T>, Status>;
type Stream<T> =
    Pin<Box<dyn futures::Stream<Item = std::result::Result<T, Status>> + Send + 'static>>;

/// Serves `creditrisk.v1.AuditService`.
pub struct AuditApi {
    app: App,
}

impl AuditApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        AuditApi { app }
    }
}

fn size_or_latest(n: u64) -> Option<u64> {
    (n != 0).then_some(n)
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    #[tracing::instrument(skip_all)]
    async fn get_signed_head(&self, req: Request<pb::GetSignedHeadRequest>) -> R<pb::SignedHead> {
        let size = size_or_latest(req.into_inner().tree_size);
        let h = self
            .app
            .audit_op(move |a| a.head(size))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::head_to(&h)))
    }

    #[tracing::instrument(skip_all)]
    async fn export_public_key(
        &self,
        _req: Request<pb::ExportPublicKeyRequest>,
    ) -> R<pb::PublicKey> {
        let k = self.app.log_public_key();
        Ok(Response::new(pb::PublicKey {
            public_key: hex::encode(k),
            key_id: hex::encode(crate::audit::head::key_id(&k)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_entries(&self, req: Request<pb::GetEntriesRequest>) -> R<pb::GetEntriesResponse> {
        let r = req.into_inner();
        let count = match r.count {
            0 => 100,
            n if n as usize > crate::auditsvc::MAX_ENTRIES => {
                return Err(to_status(Error::invalid(
                    "count",
                    format!(
                        "`{n}` is more than {} entries per call",
                        crate::auditsvc::MAX_ENTRIES
                    ),
                )))
            }
            n => n as usize,
        };
        let (entries, size) = self
            .app
            .audit_op(move |a| Ok((a.entries(r.from_index, count)?, a.size()?)))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetEntriesResponse {
            entries: entries.iter().map(convert::entry_to).collect(),
            tree_size: size,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn find_entry(&self, req: Request<pb::FindEntryRequest>) -> R<pb::LogEntry> {
        let subject = req.into_inner().subject;
        if subject.is_empty() || subject.len() > 1000 {
            return Err(to_status(Error::invalid(
                "subject",
                "must be 1-1000 bytes, e.g. `draw/ID`",
            )));
        }
        let e = self
            .app
            .audit_op(move |a| a.find(&subject))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::entry_to(&e)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_alert_entries(
        &self,
        req: Request<pb::ListAlertEntriesRequest>,
    ) -> R<pb::ListAlertEntriesResponse> {
        let r = req.into_inner();
        let known = ["alert/", "enterprise/", "group/"];
        if r.subject.len() > 1000 || !known.iter().any(|p| r.subject.starts_with(p)) {
            return Err(to_status(Error::invalid(
                "subject",
                format!(
                    "`{}` is not an alert subject: `alert/W1`, `enterprise/CODE` or `group/KEY`",
                    crate::domain::validate::truncate(&r.subject, 60)
                ),
            )));
        }
        if r.count as usize > crate::auditsvc::MAX_ENTRIES {
            return Err(to_status(Error::invalid(
                "count",
                format!(
                    "`{}` is more than {} entries per call",
                    r.count,
                    crate::auditsvc::MAX_ENTRIES
                ),
            )));
        }
        let count = if r.count == 0 { 100 } else { r.count as usize };
        let page = self
            .app
            .audit_op(move |a| a.alert_entries(&r.subject, r.from_index, count))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAlertEntriesResponse {
            entries: page
                .entries
                .iter()
                .map(|(e, proof)| pb::ProvenEntry {
                    entry: Some(convert::entry_to(e)),
                    proof: proof.iter().map(hex::encode).collect(),
                })
                .collect(),
            head: Some(convert::head_to(&page.head)),
            next_from_index: page.next.unwrap_or(0),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_inclusion_proof(
        &self,
        req: Request<pb::InclusionProofRequest>,
    ) -> R<pb::InclusionProof> {
        let r = req.into_inner();
        let (size, proof, leaf) = self
            .app
            .audit_op(move |a| {
                let size = match size_or_latest(r.tree_size) {
                    Some(s) => s,
                    None => a.size()?,
                };
                if size > a.size()? {
                    return Err(Error::invalid(
                        "tree_size",
                        format!("`{size}` is larger than the log"),
                    ));
                }
                let proof = a.inclusion(r.index, size)?;
                Ok((size, proof, a.entry(r.index)?.leaf_hash()))
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::InclusionProof {
            index: r.index,
            tree_size: size,
            hashes: proof.iter().map(hex::encode).collect(),
            leaf_hash: hex::encode(leaf),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_consistency_proof(
        &self,
        req: Request<pb::ConsistencyProofRequest>,
    ) -> R<pb::ConsistencyProof> {
        let r = req.into_inner();
        let (to, proof) = self
            .app
            .audit_op(move |a| {
                let to = match size_or_latest(r.to_size) {
                    Some(s) => s,
                    None => a.size()?,
                };
                if to > a.size()? {
                    return Err(Error::invalid(
                        "to_size",
                        format!("`{to}` is larger than the log"),
                    ));
                }
                Ok((to, a.consistency(r.from_size, to)?))
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ConsistencyProof {
            from_size: r.from_size,
            to_size: to,
            hashes: proof.iter().map(hex::encode).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn replay_classification(
        &self,
        req: Request<pb::ReplayClassificationRequest>,
    ) -> R<pb::ReplayReport> {
        let r = req.into_inner();
        let code = code_arg(&r.credit_code).map_err(to_status)?;
        let as_of = if r.as_of.is_empty() {
            None
        } else {
            Some(date_or(&r.as_of, "as_of", crate::clock::today()).map_err(to_status)?)
        };
        let seq = size_or_latest(r.seq);
        let report = self
            .app
            .audit_op(move |a| a.replay_classification(&code, seq, as_of))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::report_to(&report)))
    }

    #[tracing::instrument(skip_all)]
    async fn replay_draw(&self, req: Request<pb::ReplayDrawRequest>) -> R<pb::ReplayReport> {
        let id = req.into_inner().draw_id;
        crate::domain::validate::check_ident(&id)
            .map_err(|e| to_status(Error::invalid("draw_id", e)))?;
        let report = self
            .app
            .audit_op(move |a| a.replay_draw(&id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::report_to(&report)))
    }

    type ReplayRangeStream = Stream<pb::ReplayProgress>;

    #[tracing::instrument(skip_all)]
    async fn replay_range(
        &self,
        req: Request<pb::ReplayRangeRequest>,
    ) -> R<Self::ReplayRangeStream> {
        let r = req.into_inner();
        let auditor = self.app.auditor();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        // A replay only reads; it stops when the client goes away.
        std::thread::spawn(move || {
            let mut send = |p: &crate::auditsvc::RangeProgress| {
                tx.blocking_send(Ok(convert::range_progress_to(p))).is_ok()
            };
            let to = size_or_latest(r.to_index);
            let from_ms = (r.from_unix_ms != 0).then_some(r.from_unix_ms);
            let to_ms = (r.to_unix_ms != 0).then_some(r.to_unix_ms);
            let head = size_or_latest(r.head_size);
            if let Err(e) =
                auditor.replay_range_against(head, r.from_index, to, from_ms, to_ms, &mut send)
            {
                if !matches!(e, Error::Unavailable(_)) {
                    tracing::error!(error = %e, "range replay failed");
                }
                let _ = tx.blocking_send(Err(to_status(e)));
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
