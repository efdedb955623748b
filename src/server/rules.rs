//! The `RuleService` and `ClassificationService` handlers.

use super::auth::caller;
use super::convert::{self, code_arg, date_or, files_from};
use super::pb::{
    self, classification_service_server::ClassificationService, rule_service_server::RuleService,
};
use super::status::to_status;
use crate::app::App;
use crate::classify::RuleSets;
use crate::clock;
use crate::error::{Error, Result};
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

type R<T> = std::result::Result<Response<T>, Status>;
type Stream<T> =
    Pin<Box<dyn futures::Stream<Item = std::result::Result<T, Status>> + Send + 'static>>;

/// Serves `creditrisk.v1.RuleService`.
pub struct RuleApi {
    app: App,
}

/// Serves `creditrisk.v1.ClassificationService`.
pub struct ClassificationApi {
    app: App,
}

impl RuleApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        RuleApi { app }
    }
}

impl ClassificationApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        ClassificationApi { app }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| to_status(Error::Internal(format!("task: {e}"))))?
        .map_err(to_status)
}

fn active_hash(rs: &RuleSets) -> Option<String> {
    rs.applicable_blocking(clock::today())
        .ok()
        .map(|r| r.hash().to_string())
}

/// The summary of `set` with its activations and whether it is in force today.
async fn info_of(
    rs: RuleSets,
    set: std::sync::Arc<crate::rules::RuleSet>,
) -> std::result::Result<pb::RuleSetInfo, Status> {
    blocking(move || {
        let acts = rs.activations()?;
        Ok(convert::rule_set_info(
            &set,
            &acts,
            active_hash(&rs).as_deref(),
        ))
    })
    .await
}

#[tonic::async_trait]
impl RuleService for RuleApi {
    #[tracing::instrument(skip_all)]
    async fn validate_rule_set(&self, req: Request<pb::RuleSetFiles>) -> R<pb::ValidationReport> {
        let files = files_from(Some(req.into_inner()), "files").map_err(to_status)?;
        let report = match RuleSets::validate(files) {
            Ok(rs) => pb::ValidationReport {
                ok: true,
                hash: rs.hash().to_string(),
                errors: vec![],
                warnings: rs.warnings.iter().map(convert::rule_error_to).collect(),
                rules: rs.rules.len() as u32,
            },
            Err(errs) => pb::ValidationReport {
                ok: false,
                hash: String::new(),
                errors: errs
                    .iter()
                    .filter(|e| e.severity == crate::rules::Severity::Error)
                    .map(convert::rule_error_to)
                    .collect(),
                warnings: errs
                    .iter()
                    .filter(|e| e.severity != crate::rules::Severity::Error)
                    .map(convert::rule_error_to)
                    .collect(),
                rules: 0,
            },
        };
        Ok(Response::new(report))
    }

    #[tracing::instrument(skip_all)]
    async fn upload_rule_set(&self, req: Request<pb::RuleSetFiles>) -> R<pb::RuleSetInfo> {
        let actor = caller(&req)?.token_id;
        let files = files_from(Some(req.into_inner()), "files").map_err(to_status)?;
        let rs = self.app.classifier().rule_sets().clone();
        let set = rs
            .upload(files, &actor, clock::now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(info_of(rs, set).await?))
    }

    #[tracing::instrument(skip_all, fields(hash = %req.get_ref().hash))]
    async fn activate_rule_set(
        &self,
        req: Request<pb::ActivateRuleSetRequest>,
    ) -> R<pb::RuleSetInfo> {
        let actor = caller(&req)?.token_id;
        let hash = req.into_inner().hash;
        convert::max_bytes("hash", &hash, convert::MAX_ID_BYTES).map_err(to_status)?;
        let rs = self.app.classifier().rule_sets().clone();
        rs.activate(&hash, &actor, clock::now_ms())
            .await
            .map_err(to_status)?;
        let set = rs.get(&hash).await.map_err(to_status)?;
        Ok(Response::new(info_of(rs, set).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_rule_sets(
        &self,
        _req: Request<pb::ListRuleSetsRequest>,
    ) -> R<pb::ListRuleSetsResponse> {
        let rs = self.app.classifier().rule_sets().clone();
        let list = blocking(move || {
            let acts = rs.activations()?;
            let active = active_hash(&rs);
            rs.hashes()?
                .iter()
                .map(|h| {
                    Ok(convert::rule_set_info(
                        &*rs.get_blocking(h)?,
                        &acts,
                        active.as_deref(),
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
        Ok(Response::new(pb::ListRuleSetsResponse { rule_sets: list }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_rule_set(&self, req: Request<pb::GetRuleSetRequest>) -> R<pb::RuleSetFiles> {
        let hash = req.into_inner().hash;
        convert::max_bytes("hash", &hash, convert::MAX_ID_BYTES).map_err(to_status)?;
        let rs = self.app.classifier().rule_sets().clone();
        let h = hash.clone();
        let files = blocking(move || rs.files(&h)).await?;
        Ok(Response::new(pb::RuleSetFiles {
            files: files.into_iter().collect(),
            hash,
        }))
    }
}

#[tonic::async_trait]
impl ClassificationService for ClassificationApi {
    #[tracing::instrument(skip_all)]
    async fn classify(&self, req: Request<pb::ClassifyRequest>) -> R<pb::Classification> {
        let r = req.into_inner();
        let code = code_arg(&r.credit_code).map_err(to_status)?;
        let as_of = date_or(&r.as_of, "as_of", clock::today()).map_err(to_status)?;
        let candidate = match r.candidate {
            Some(f) => Some(std::sync::Arc::new(
                RuleSets::validate(files_from(Some(f), "candidate.files").map_err(to_status)?)
                    .map_err(|e| to_status(crate::classify::rulesets::rule_errors(&e)))?,
            )),
            None => None,
        };
        let c = self.app.classifier().clone();
        let store = candidate.is_none();
        let out = blocking(move || c.classify_one_blocking(code, as_of, candidate, store)).await?;
        Ok(Response::new(convert::classification_to(&out)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_classification(
        &self,
        req: Request<pb::GetClassificationRequest>,
    ) -> R<pb::Classification> {
        let code = code_arg(&req.get_ref().credit_code).map_err(to_status)?;
        let c = self.app.classifier().clone();
        let out = blocking(move || c.expand(c.latest(&code)?)).await?;
        Ok(Response::new(convert::classification_to(&out)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_classifications(
        &self,
        req: Request<pb::ListClassificationsRequest>,
    ) -> R<pb::ListClassificationsResponse> {
        let r = req.into_inner();
        let code = code_arg(&r.credit_code).map_err(to_status)?;
        let limit = convert::page_size(r.page_size, 50, 500).map_err(to_status)?;
        let fkey = format!("classifications:{code}");
        let before = convert::decode_token(&r.page_token, &fkey)
            .map_err(to_status)?
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| to_status(Error::invalid("page_token", "is damaged")))
            })
            .transpose()?;
        let c = self.app.classifier().clone();
        let (items, next) = blocking(move || {
            let mut all = c.history(&code)?;
            all.reverse();
            let start = before.map_or(0, |b| {
                all.iter().position(|r| r.seq < b).unwrap_or(all.len())
            });
            let page: Vec<_> = all.into_iter().skip(start).take(limit + 1).collect();
            let more = page.len() > limit;
            let mut out = Vec::new();
            for r in page.into_iter().take(limit) {
                out.push(convert::classification_to(&c.expand(r)?));
            }
            let next = if more {
                out.last().map(|x| x.seq)
            } else {
                None
            };
            Ok((out, next))
        })
        .await?;
        Ok(Response::new(pb::ListClassificationsResponse {
            classifications: items,
            next_page_token: next
                .map(|s| convert::encode_token(&fkey, &s.to_string()))
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn explain(&self, req: Request<pb::GetClassificationRequest>) -> R<pb::Explanation> {
        let code = code_arg(&req.get_ref().credit_code).map_err(to_status)?;
        let c = self.app.classifier().clone();
        let (cl, e) = blocking(move || c.explain_latest(&code)).await?;
        Ok(Response::new(convert::explanation_to(&cl, &e)))
    }

    type ReclassifyStream = Stream<pb::ReclassifyProgress>;

    #[tracing::instrument(skip_all)]
    async fn reclassify(&self, req: Request<pb::ReclassifyRequest>) -> R<Self::ReclassifyStream> {
        let r = req.into_inner();
        let c = self.app.classifier().clone();
        let state = if r.run_id != 0 {
            let id = r.run_id;
            let c2 = c.clone();
            blocking(move || c2.run(id)).await?
        } else {
            let as_of = date_or(&r.as_of, "as_of", clock::today()).map_err(to_status)?;
            let jurisdiction = r.scope.map(|s| s.jurisdiction).filter(|j| !j.is_empty());
            let c2 = c.clone();
            blocking(move || c2.start_run(jurisdiction, as_of, clock::now_ms())).await?
        };
        let resumed = r.run_id != 0;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        // The run goes on to the end even if the client stops listening: it is the server's job.
        std::thread::spawn(move || {
            let mut send = |s: &crate::classify::RunState| {
                let _ = tx.blocking_send(Ok(convert::progress_to(s, resumed)));
            };
            if let Err(e) = c.execute_run(state, &mut send) {
                tracing::error!(error = %e, "re-classification run failed");
                let _ = tx.blocking_send(Err(to_status(e)));
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    #[tracing::instrument(skip_all)]
    async fn simulate(&self, req: Request<pb::SimulateRequest>) -> R<pb::SimulateResponse> {
        let r = req.into_inner();
        let files = files_from(r.candidate, "candidate.files").map_err(to_status)?;
        let candidate = RuleSets::validate(files)
            .map_err(|e| to_status(crate::classify::rulesets::rule_errors(&e)))?;
        let as_of = date_or(&r.as_of, "as_of", clock::today()).map_err(to_status)?;
        let jurisdiction = r.scope.map(|s| s.jurisdiction).filter(|j| !j.is_empty());
        let max = convert::or_default(
            "max_changes",
            r.max_changes,
            convert::DEFAULT_CHANGES,
            convert::MAX_CHANGES,
        )
        .map_err(to_status)? as usize;
        let c = self.app.classifier().clone();
        let (sim, current, cand_hash) = blocking(move || {
            let (sim, current) =
                c.simulate_scope(jurisdiction.as_deref(), &candidate, as_of, max)?;
            Ok((
                sim,
                current.hash().to_string(),
                candidate.hash().to_string(),
            ))
        })
        .await?;
        Ok(Response::new(pb::SimulateResponse {
            matrix: sim.matrix.iter().flatten().copied().collect(),
            enterprises: sim.enterprises,
            changed: sim.changed,
            changes: sim
                .changes
                .iter()
                .map(|(c, f, t)| pb::TierMove {
                    credit_code: c.to_string(),
                    from: f.as_str().into(),
                    to: t.as_str().into(),
                })
                .collect(),
            current_rule_set_hash: current,
            candidate_rule_set_hash: cand_hash,
        }))
    }

    type WatchTierChangesStream = Stream<pb::TierChange>;

    #[tracing::instrument(skip_all)]
    async fn report_tiers(
        &self,
        req: Request<pb::ReportTiersRequest>,
    ) -> R<pb::ReportTiersResponse> {
        let run = Some(req.into_inner().run_id).filter(|id| *id != 0);
        let c = self.app.classifier().clone();
        let report = blocking(move || c.tier_report(run)).await?;
        Ok(Response::new(convert::tier_report_to(&report)))
    }

    #[tracing::instrument(skip_all)]
    async fn watch_tier_changes(
        &self,
        req: Request<pb::WatchTierChangesRequest>,
    ) -> R<Self::WatchTierChangesStream> {
        let r = req.into_inner();
        convert::max_bytes("direction", &r.direction, convert::MAX_FILTER_BYTES)
            .and_then(|_| {
                convert::max_bytes("jurisdiction", &r.jurisdiction, convert::MAX_FILTER_BYTES)
            })
            .map_err(to_status)?;
        let direction = match r.direction.as_str() {
            "" | "any" => 0i8,
            "worse" => 1,
            "better" => -1,
            other => {
                return Err(to_status(Error::invalid(
                    "direction",
                    format!(
                        "`{}` is not one of `any`, `worse`, `better`",
                        convert::echo(other)
                    ),
                )))
            }
        };
        let jurisdiction = (!r.jurisdiction.is_empty()).then_some(r.jurisdiction);
        let c = self.app.classifier().clone();
        let (notified, closing) = (c.subscribe(), c.closing());
        let stream = super::follow::follow(
            r.cursor,
            move |after, limit| c.changes_after(after, limit),
            notified,
            closing,
            move |seq, ch| {
                let dir = (ch.to as i8 - ch.from as i8).signum();
                let keep = jurisdiction.as_ref().is_none_or(|j| *j == ch.jurisdiction)
                    && (direction == 0 || dir == direction);
                keep.then(|| convert::tier_change_to(seq, ch))
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}
