//! The `WarningService` handlers: parse and bound every field ([`convert`]), run the
//! operation on the blocking pool ([`crate::app::App::warn_op`]), convert the answer.

use super::auth::caller;
use super::convert;
use super::pb::{self, warning_service_server::WarningService};
use super::status::to_status;
use crate::app::App;
use crate::audit::access::Role;
use crate::clock;
use crate::error::Error;
use crate::warnsvc::NewAction;
use std::pin::Pin;
use tonic::{Request, Response, Status};

type R<T> = std::result::Result<Response<T>, Status>;
type Stream<T> =
    Pin<Box<dyn futures::Stream<Item = std::result::Result<T, Status>> + Send + 'static>>;

/// Serves `creditrisk.v1.WarningService`.
pub struct WarningApi {
    app: App,
}

impl WarningApi {
    /// Handlers over `app`.
    pub fn new(app: App) -> Self {
        WarningApi { app }
    }
}

fn alert(a: crate::warnsvc::Alert) -> R<pb::Alert> {
    Ok(Response::new(convert::alert_to(&a, false)))
}

// Department tokens see only their department's alerts: one rule for gRPC and the console.
use crate::warnsvc::alert::{check_scope, department_scope as scope};

impl WarningApi {
    /// One lifecycle step `f(warnings, id, actor)` on alert `id` for caller `me`, on the blocking
    /// pool. A department token acts only on its department's alerts: departments set at `warn`
    /// never change, so the check cannot go stale before the step.
    async fn step(
        &self,
        me: &crate::audit::Principal,
        id: String,
        f: impl FnOnce(&crate::warnsvc::Warnings, &str, &str) -> crate::Result<crate::warnsvc::Alert>
            + Send
            + 'static,
    ) -> R<pb::Alert> {
        let (actor, scope) = (me.token_id.clone(), scope(me));
        alert(
            self.app
                .warn_op(move |w| {
                    if scope.is_some() {
                        check_scope(&w.get(&id)?, &scope)?;
                    }
                    f(w, &id, &actor)
                })
                .await
                .map_err(to_status)?,
        )
    }
}

#[tonic::async_trait]
impl WarningService for WarningApi {
    #[tracing::instrument(skip_all)]
    async fn list_alerts(&self, req: Request<pb::ListAlertsRequest>) -> R<pb::ListAlertsResponse> {
        let scope = scope(&caller(&req)?);
        let r = req.into_inner();
        let mut filter = convert::filter_from(&r).map_err(to_status)?;
        if let Some(d) = scope {
            if filter.department.as_ref().is_some_and(|f| *f != d) {
                return Err(to_status(Error::invalid(
                    "department",
                    format!(
                        "`{}`: this token sees only the alerts notified to `{d}`",
                        r.department
                    ),
                )));
            }
            filter.department = Some(d);
        }
        let limit = convert::page_size(r.page_size, 50, 500).map_err(to_status)?;
        let key = convert::filter_key(&r);
        let after = convert::decode_token(&r.page_token, &key)
            .map_err(to_status)?
            .map(|p| {
                p.parse::<u64>().map_err(|_| {
                    to_status(Error::invalid(
                        "page_token",
                        "is not a page token of this listing",
                    ))
                })
            })
            .transpose()?;
        let page = self
            .app
            .warn_op(move |w| w.list(&filter, after, limit))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAlertsResponse {
            alerts: page
                .items
                .iter()
                .map(|a| convert::alert_to(a, false))
                .collect(),
            next_page_token: page
                .next
                .map(|n| convert::encode_token(&key, &n.to_string()))
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_alert(&self, req: Request<pb::GetAlertRequest>) -> R<pb::Alert> {
        let scope = scope(&caller(&req)?);
        let id = convert::alert_id(&req.into_inner().alert_id)
            .map_err(to_status)?
            .to_string();
        alert(
            self.app
                .warn_op(move |w| {
                    let a = w.get(&id)?;
                    check_scope(&a, &scope)?;
                    Ok(a)
                })
                .await
                .map_err(to_status)?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn assess_alert(&self, req: Request<pb::AssessAlertRequest>) -> R<pb::Alert> {
        let me = caller(&req)?;
        let r = req.into_inner();
        let id = convert::alert_id(&r.alert_id)
            .map_err(to_status)?
            .to_string();
        let confirmed = convert::decision(&r.decision).map_err(to_status)?;
        let reason = convert::text("reason", &r.reason, true).map_err(to_status)?;
        self.step(&me, id, move |w, id, actor| {
            w.assess(id, confirmed, reason, actor, clock::now_ms())
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn warn_alert(&self, req: Request<pb::WarnAlertRequest>) -> R<pb::Alert> {
        let me = caller(&req)?;
        let r = req.into_inner();
        let id = convert::alert_id(&r.alert_id)
            .map_err(to_status)?
            .to_string();
        let departments = convert::departments(&r.departments).map_err(to_status)?;
        self.step(&me, id, move |w, id, actor| {
            w.warn(id, departments, actor, clock::now_ms())
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn dispose_alert(&self, req: Request<pb::DisposeAlertRequest>) -> R<pb::Alert> {
        let me = caller(&req)?;
        let (actor, scope) = (me.token_id.clone(), scope(&me));
        let r = req.into_inner();
        let id = convert::alert_id(&r.alert_id)
            .map_err(to_status)?
            .to_string();
        let kind = convert::action_kind(&r.kind).map_err(to_status)?;
        let deadline = convert::date_req("deadline", &r.deadline).map_err(to_status)?;
        let note = convert::text("note", &r.note, false).map_err(to_status)?;
        let joint = if r.draw {
            Some(joint_request(&self.app, &r, kind).map_err(to_status)?)
        } else {
            for (field, set) in [
                ("inspection_date", !r.inspection_date.is_empty()),
                ("seed", !r.seed.is_empty()),
                ("group_scope", r.group_scope),
                ("draw_as_of", !r.draw_as_of.is_empty()),
            ] {
                if set {
                    return Err(to_status(Error::invalid(
                        field,
                        "is only allowed with `draw`",
                    )));
                }
            }
            None
        };
        let mut action = NewAction {
            kind,
            deadline,
            note,
            draw_id: None,
        };
        alert(
            self.app
                .warn_op(move |w| {
                    let current = w.get(&id)?;
                    // Departments set at `warn` never change, so the check cannot go stale.
                    check_scope(&current, &scope)?;
                    let Some(j) = joint else {
                        return w.dispose(&id, action, &actor, clock::now_ms());
                    };
                    // Checked first so that a refused disposal makes no draw.
                    current.check_disposable()?;
                    // INVARIANT (one draw per disposal): the draw is stored in one job with
                    // its disposal, which is refused, draw and all, if another disposal was
                    // recorded since `current` was read (check-and-set on the action count).
                    let expected = current.actions.len();
                    let (w2, actor2) = (w.clone(), actor.clone());
                    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
                    let out = slot.clone();
                    let then = Box::new(move |draw_id: &str| -> crate::storage::Job {
                        action.draw_id = Some(draw_id.to_string());
                        let step = crate::warnsvc::service::dispose_step(
                            action,
                            Some(expected),
                            &actor2,
                            clock::now_ms(),
                        );
                        match w2.change_job(&id, step) {
                            Ok((job, s)) => {
                                crate::warnsvc::store::put_slot(&out, s);
                                job
                            }
                            Err(e) => Box::new(move |_| Err(e)),
                        }
                    });
                    j.draw(&current, &actor, then)?;
                    let s = crate::warnsvc::store::take_slot(&slot)?;
                    w.committed_change(&s)
                })
                .await
                .map_err(to_status)?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn raise_group_ratio(&self, req: Request<pb::RaiseGroupRatioRequest>) -> R<pb::Alert> {
        let me = caller(&req)?;
        let (actor, scope) = (me.token_id.clone(), scope(&me));
        let r = req.into_inner();
        let id = convert::alert_id(&r.alert_id)
            .map_err(to_status)?
            .to_string();
        let valid_from = convert::date_req("valid_from", &r.valid_from).map_err(to_status)?;
        let valid_until = convert::date_req("valid_until", &r.valid_until).map_err(to_status)?;
        let ratio_per_mille = crate::draw::TierValues {
            a: r.ratio_a,
            b: r.ratio_b,
            c: r.ratio_c,
            d: r.ratio_d,
        };
        let draws = self.app.draws().map_err(to_status)?.clone();
        alert(
            self.app
                .warn_op(move |w| {
                    let a = w.get(&id)?;
                    check_scope(&a, &scope)?;
                    // Checked before the override is stored, and again in the history step.
                    a.check_ratio_basis()?;
                    let dim = |name: &str| {
                        a.group
                            .iter()
                            .find(|(d, _)| d == name)
                            .map(|(_, v)| v.clone())
                    };
                    let ratio = crate::draw::GroupRatio {
                        basis: a.id.clone(),
                        district: dim("district"),
                        industry: dim("industry_division").or_else(|| dim("industry_section")),
                        ratio_per_mille,
                        valid_from,
                        valid_until,
                    };
                    let summary = format!(
                        "group ratio A {} B {} C {} D {} per mille for district `{}` industry `{}`, {valid_from} to {valid_until}",
                        ratio_per_mille.a,
                        ratio_per_mille.b,
                        ratio_per_mille.c,
                        ratio_per_mille.d,
                        ratio.district.as_deref().unwrap_or("any"),
                        ratio.industry.as_deref().unwrap_or("any"),
                    );
                    // INVARIANT (ratio with its step): the override and the alert's `ratio`
                    // step commit in one job, the step first: a refused step stores no
                    // override.
                    let (_, job) = draws.group_ratio_job(ratio, &actor, clock::now_ms())?;
                    w.record_ratio_with(&id, summary, &actor, clock::now_ms(), job)
                })
                .await
                .map_err(to_status)?,
        )
    }

    #[tracing::instrument(skip_all)]
    async fn record_action_outcome(
        &self,
        req: Request<pb::RecordActionOutcomeRequest>,
    ) -> R<pb::Alert> {
        let me = caller(&req)?;
        let r = req.into_inner();
        let id = convert::alert_id(&r.alert_id)
            .map_err(to_status)?
            .to_string();
        if r.action == 0 {
            return Err(to_status(Error::invalid(
                "action",
                "is required: the action's number, from 1",
            )));
        }
        let text = convert::text("outcome", &r.outcome, true).map_err(to_status)?;
        let n = r.action as usize;
        self.step(&me, id, move |w, id, actor| {
            w.record_outcome(id, n, text, clock::today(), actor, clock::now_ms())
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn close_alert(&self, req: Request<pb::CloseAlertRequest>) -> R<pb::Alert> {
        let me = caller(&req)?;
        let r = req.into_inner();
        let id = convert::alert_id(&r.alert_id)
            .map_err(to_status)?
            .to_string();
        let reason = convert::text("reason", &r.reason, false).map_err(to_status)?;
        self.step(&me, id, move |w, id, actor| {
            w.close(id, reason, actor, clock::now_ms())
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_overdue(
        &self,
        req: Request<pb::ListOverdueAlertsRequest>,
    ) -> R<pb::ListAlertsResponse> {
        // Escalation is a change: only roles that may change alerts trigger it; readers see
        // the same overdue list without changing anything.
        let me = caller(&req)?;
        let scope = scope(&me);
        let escalate = matches!(me.role, Role::Admin | Role::Planner);
        let today = clock::today();
        let list = self
            .app
            .warn_op(move |w| {
                if escalate {
                    w.escalate_overdue(today, clock::now_ms())?;
                }
                w.overdue(today)
            })
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAlertsResponse {
            alerts: list
                .iter()
                .filter(|a| check_scope(a, &scope).is_ok())
                .map(|a| convert::alert_to(a, true))
                .collect(),
            next_page_token: String::new(),
        }))
    }

    type WatchAlertsStream = Stream<pb::AlertEvent>;

    #[tracing::instrument(skip_all)]
    async fn watch_alerts(
        &self,
        req: Request<pb::WatchAlertsRequest>,
    ) -> R<Self::WatchAlertsStream> {
        // A department token follows only its department's alerts, by the rule of ListAlerts.
        let scope = scope(&caller(&req)?);
        let r = req.into_inner();
        convert::max_bytes("min_level", &r.min_level, convert::MAX_FILTER_BYTES)
            .map_err(to_status)?;
        let min = convert::level_opt("min_level", &r.min_level).map_err(to_status)?;
        let w = self.app.warnings().clone();
        let (notified, closing) = (w.subscribe(), self.app.classifier().closing());
        let stream = super::follow::follow(
            r.cursor,
            move |after, limit| w.changes_in_scope(after, limit, &scope),
            notified,
            closing,
            move |seq, (ch, visible)| {
                (*visible && min.is_none_or(|m| ch.level >= m))
                    .then(|| convert::alert_event_to(seq, ch))
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all)]
    async fn evaluate_groups(
        &self,
        req: Request<pb::EvaluateGroupsRequest>,
    ) -> R<pb::EvaluateGroupsResponse> {
        let actor = caller(&req)?.token_id;
        let r = req.into_inner();
        let as_of = convert::date_or(&r.as_of, "as_of", clock::today()).map_err(to_status)?;
        let cut = (r.cut != 0).then_some(r.cut);
        let e = self
            .app
            .warn_op(move |w| {
                w.evaluate_groups(as_of, cut, &actor, clock::now_ms(), clock::today())
            })
            .await
            .map_err(to_status)?;
        let ids = |v: &[u64]| v.iter().map(|n| crate::warnsvc::store::id_of(*n)).collect();
        Ok(Response::new(pb::EvaluateGroupsResponse {
            rule_set: e.rule_set,
            as_of: e.as_of.to_string(),
            cut: e.cut,
            facts: e.facts,
            raised: ids(&e.fired.raised),
            updated: ids(&e.fired.updated),
            unchanged: ids(&e.fired.unchanged),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn backtest_warnings(
        &self,
        req: Request<pb::BacktestWarningsRequest>,
    ) -> R<pb::BacktestWarningsResponse> {
        let r = req.into_inner();
        let from = convert::month("from_month", &r.from_month).map_err(to_status)?;
        let to = convert::month("to_month", &r.to_month).map_err(to_status)?;
        let months = (to.0 - from.0) * 12 + to.1 as i32 - from.1 as i32 + 1;
        if months < 1 {
            return Err(to_status(Error::invalid(
                "to_month",
                format!("`{}` is before from_month `{}`", r.to_month, r.from_month),
            )));
        }
        convert::in_range("months", months, 1..=convert::MAX_BACKTEST_MONTHS)
            .map_err(|_| {
                Error::invalid(
                    "to_month",
                    format!(
                        "`{}` is {months} months from `{}`: a back-test covers at most {}",
                        r.to_month,
                        r.from_month,
                        convert::MAX_BACKTEST_MONTHS
                    ),
                )
            })
            .map_err(to_status)?;
        let source = if !r.files.is_empty() {
            convert::rule_files("files", r.files.iter()).map_err(to_status)?;
            crate::warnsvc::RuleSource::Files(r.files.into_iter().collect())
        } else if !r.rule_set.is_empty() {
            convert::max_bytes("rule_set", &r.rule_set, convert::MAX_ID_BYTES)
                .map_err(to_status)?;
            crate::warnsvc::RuleSource::Stored(r.rule_set)
        } else {
            crate::warnsvc::RuleSource::InForce
        };
        let bt = self
            .app
            .warn_op(move |w| w.backtest(source, from, to))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::BacktestWarningsResponse {
            rule_set: bt.rule_set,
            months: bt
                .months
                .into_iter()
                .map(|m| pb::BacktestMonth {
                    month: m.month,
                    counts: m
                        .counts
                        .into_iter()
                        .map(|((rule_id, level), count)| pb::BacktestCount {
                            rule_id,
                            level: level.as_str().into(),
                            count,
                        })
                        .collect(),
                    fired: m.fired,
                    tiers_run: m.tiers_run.unwrap_or(0),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn replay_alert(
        &self,
        req: Request<pb::ReplayAlertRequest>,
    ) -> R<pb::ReplayAlertResponse> {
        let id = convert::alert_id(&req.into_inner().alert_id)
            .map_err(to_status)?
            .to_string();
        let rep = self
            .app
            .warn_op(move |w| w.replay(&id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ReplayAlertResponse {
            verdict: if rep.differing.is_empty() {
                "MATCH".into()
            } else {
                "MISMATCH".into()
            },
            differing_keys: rep.differing,
            stored: rep.stored.into_iter().collect(),
            recomputed: rep.recomputed.into_iter().collect(),
            detail: rep.detail,
        }))
    }

    type ExportAlertStream = Stream<pb::AlertExportChunk>;

    #[tracing::instrument(skip_all)]
    async fn export_alert(
        &self,
        req: Request<pb::ExportAlertRequest>,
    ) -> R<Self::ExportAlertStream> {
        let scope = scope(&caller(&req)?);
        let id = convert::alert_id(&req.into_inner().alert_id)
            .map_err(to_status)?
            .to_string();
        let json = self
            .app
            .warn_op(move |w| {
                let e = w.export(&id, &scope)?;
                serde_json::to_vec_pretty(&e)
                    .map_err(|e| Error::Internal(format!("alert export of `{id}`: {e}")))
            })
            .await
            .map_err(to_status)?;
        // Chunks well under the message limit, however many facts the group has.
        const CHUNK: usize = 1 << 20;
        let chunks: Vec<_> = json
            .chunks(CHUNK)
            .map(|c| Ok(pb::AlertExportChunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    #[tracing::instrument(skip_all)]
    async fn upload_warning_rule_set(
        &self,
        req: Request<pb::UploadWarningRuleSetRequest>,
    ) -> R<pb::WarningRuleSetInfo> {
        let actor = caller(&req)?.token_id;
        let files = req.into_inner().files;
        convert::rule_files("files", files.iter()).map_err(to_status)?;
        let set = self
            .app
            .warnings()
            .rule_sets()
            .upload(files.into_iter().collect(), &actor, clock::now_ms())
            .await
            .map_err(to_status)?;
        Ok(Response::new(rule_set_info(&set)))
    }

    #[tracing::instrument(skip_all)]
    async fn activate_warning_rule_set(
        &self,
        req: Request<pb::ActivateWarningRuleSetRequest>,
    ) -> R<pb::WarningRuleSetInfo> {
        let actor = caller(&req)?.token_id;
        let hash = req.into_inner().hash;
        convert::max_bytes("hash", &hash, convert::MAX_ID_BYTES).map_err(to_status)?;
        let rs = self.app.warnings().rule_sets();
        rs.activate(&hash, &actor, clock::now_ms())
            .await
            .map_err(to_status)?;
        let set = rs.get(&hash).await.map_err(to_status)?;
        Ok(Response::new(rule_set_info(&set)))
    }
}

fn rule_set_info(set: &crate::warn::WarningRuleSet) -> pb::WarningRuleSetInfo {
    pb::WarningRuleSetInfo {
        hash: set.hash().to_string(),
        name: set.name().to_string(),
        effective_from: set.effective_from().to_string(),
        rule_ids: set.rule_ids().into_iter().map(str::to_string).collect(),
    }
}

/// What `DisposeAlert` with `draw` asks for, checked before the alert is read.
struct JointRequest {
    draws: crate::drawsvc::Draws,
    inspection_date: crate::domain::Date,
    as_of: Option<crate::domain::Date>,
    seed: Option<String>,
    group_scope: bool,
}

/// Checks the draw fields of a `DisposeAlert` request with `draw` set.
fn joint_request(
    app: &App,
    r: &pb::DisposeAlertRequest,
    kind: crate::warnsvc::alert::ActionKind,
) -> crate::Result<JointRequest> {
    use crate::warnsvc::alert::ActionKind;
    if !matches!(
        kind,
        ActionKind::JointInspection | ActionKind::TargetedInspection
    ) {
        return Err(Error::invalid(
            "draw",
            format!(
                "a draw is made only for `joint-inspection` or `targeted-inspection`, not `{}`",
                kind.as_str()
            ),
        ));
    }
    let inspection_date = convert::date_req("inspection_date", &r.inspection_date)?;
    if r.seed.len() > 128 {
        return Err(Error::invalid(
            "seed",
            format!("is {} bytes; at most 128", r.seed.len()),
        ));
    }
    Ok(JointRequest {
        draws: app.draws()?.clone(),
        inspection_date,
        as_of: if r.draw_as_of.is_empty() {
            None
        } else {
            Some(convert::date_req("draw_as_of", &r.draw_as_of)?)
        },
        seed: (!r.seed.is_empty()).then(|| r.seed.clone()),
        group_scope: r.group_scope,
    })
}

impl JointRequest {
    /// Makes the joint targeted draw of `a` (as of the requested date, else the alert's
    /// evaluation date) and returns its id.
    fn draw(
        self,
        a: &crate::warnsvc::Alert,
        actor: &str,
        then: crate::drawsvc::service::ThenJob,
    ) -> crate::Result<String> {
        use crate::drawsvc::AlertTarget;
        let as_of = self.as_of.unwrap_or(a.basis.as_of);
        let d = self.inspection_date;
        if d < as_of || d > as_of.add_days(366) {
            return Err(Error::invalid(
                "inspection_date",
                format!(
                    "`{d}` must fall between the draw's records date `{as_of}` and 366 days after it"
                ),
            ));
        }
        if self.group_scope && a.group.is_empty() {
            return Err(Error::invalid(
                "group_scope",
                format!("alert `{}` is not a group alert", a.id),
            ));
        }
        let routing = crate::warn::routing::Routing::built_in().map_err(|e| {
            Error::Internal(format!("the built-in routing file does not load: {e:?}"))
        })?;
        let firing = crate::warn::Firing {
            rule_id: a.rule_id.clone(),
            subject: a.subject.clone(),
            level: a.level,
            evidence: a.evidence.clone(),
            enterprises: if self.group_scope {
                Vec::new()
            } else {
                a.enterprises.clone()
            },
            sectors: a.sectors.clone(),
            group: a.group.clone(),
        };
        let target = AlertTarget::from_firing(&a.id, &a.rule_id, &firing, &routing);
        let view = self.draws.joint_draw_for_alert(
            &target,
            as_of,
            d,
            self.seed,
            actor,
            clock::now_ms(),
            Some(then),
        )?;
        Ok(view.record.draw_id)
    }
}
