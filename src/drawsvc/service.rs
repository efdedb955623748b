//! The draw service: the operations of planners and inspectors, in domain terms, over the store.
//! Every method here blocks (it reads sled); the application calls them on tokio's blocking
//! pool.

use super::snapshot::{self, Candidates};
use super::store::{self, StoredDraw, StoredGroupRatio, StoredPublication, StoredResult};
use crate::domain::validate::check_ident;
use crate::domain::{CreditCode, Date, EventBody, Inspection, Lang, ResultCode, Violations};
use crate::draw::{
    bundle, run_draw, xlsx, Bundle, Calendar, DrawRecord, DrawRequest, GroupRatio, InspectionItem,
    ListInput, PendingResult, PolicyOverrides, Preview, SeedSource, SupervisionPolicy, TeamOutcome,
};
use crate::error::{Error, Result};
use crate::storage::codec::decode;
use crate::storage::keys::{code_in, prefix};
use crate::storage::{Job, Key, Page, Records, WriteOutcome, Writer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// A job stored in one commit with a draw, made from the draw's id (see
/// [`Draws::create_with`]).
pub type ThenJob = Box<dyn FnOnce(&str) -> Job + Send>;

/// What a planner asks for; see `DrawSpec` in `proto/creditrisk/v1/draws.proto`.
#[derive(Clone, Debug)]
pub struct DrawSpec {
    /// Id of the draw; `None`: the server makes one.
    pub draw_id: Option<String>,
    /// The inspection item.
    pub item_id: String,
    /// The seed; `None`: the server makes one from the operating system's randomness.
    pub seed: Option<String>,
    /// Snapshot date.
    pub as_of: Date,
    /// Planned inspection date.
    pub inspection_date: Date,
    /// Participating departments, lead first; empty: the item's.
    pub departments: Vec<String>,
    /// Narrows the item's jurisdictions; empty: the item's scope.
    pub jurisdictions: Vec<String>,
    /// Per-draw policy changes.
    pub overrides: PolicyOverrides,
}

/// A dry run's answer.
#[derive(Clone, Debug)]
pub struct DrawPreview {
    /// Counts per tier.
    pub preview: Preview,
    /// Snapshot cut.
    pub cut: u64,
    /// Unclassified enterprises (counted as tier B).
    pub unclassified: u64,
}

/// A stored draw with its parsed record.
#[derive(Clone, Debug)]
pub struct DrawView {
    /// As stored.
    pub stored: StoredDraw,
    /// Parsed.
    pub record: DrawRecord,
    /// Last day to publish the results of inspections on the planned date.
    pub publication_deadline: Date,
}

/// One assignment of an inspector.
#[derive(Clone, Debug)]
pub struct Assignment {
    /// The draw.
    pub draw: Arc<DrawView>,
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Name at the draw's cut.
    pub name: String,
    /// Address at the draw's cut.
    pub address: String,
    /// The recorded result and its result codes, if any.
    pub result: Option<(StoredResult, Vec<ResultCode>)>,
    /// Publication date, if published.
    pub published_on: Option<Date>,
}

/// A result as an inspector submits it against a draw.
#[derive(Clone, Debug)]
pub struct ResultInput {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Inspection id; `None`: `DRAW_ID/CREDIT_CODE`.
    pub inspection_id: Option<String>,
    /// Date of the inspection.
    pub date: Date,
    /// Team members who inspected.
    pub inspector_ids: Vec<String>,
    /// Result codes.
    pub result_codes: BTreeSet<ResultCode>,
}

/// An overdue publication, or a drawn enterprise still without a result after the deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueEntry {
    /// The draw.
    pub draw_id: String,
    /// The enterprise.
    pub credit_code: CreditCode,
    /// The inspection, when a result is recorded.
    pub inspection_id: Option<String>,
    /// Inspection date (the planned one when no result is recorded).
    pub inspection_date: Date,
    /// Last day to publish.
    pub deadline: Date,
    /// Late publication date, if published.
    pub published_on: Option<Date>,
}

/// One line of a draw's public result list.
#[derive(Clone, Debug)]
pub struct PublicResult {
    /// The enterprise.
    pub credit_code: CreditCode,
    /// Its name.
    pub name: String,
    /// Inspection date.
    pub date: Date,
    /// Result codes.
    pub result_codes: Vec<ResultCode>,
    /// Publication date, if published.
    pub published_on: Option<Date>,
}

/// The exported files of a draw.
#[derive(Clone, Debug)]
pub struct Export {
    /// The publication bundle.
    pub bundle: Bundle,
    /// The inspection list for people.
    pub xlsx: Vec<u8>,
}

/// Draw operations over the store. Cheap to clone.
#[derive(Clone)]
pub struct Draws {
    records: Records,
    writer: Writer,
    policy: Arc<SupervisionPolicy>,
    calendar: Arc<Calendar>,
}

/// Most results or publications per call.
pub const MAX_RESULTS: usize = 10_000;

impl Draws {
    /// Serves draws with the given policy file and calendar.
    pub fn new(
        records: Records,
        writer: Writer,
        policy: SupervisionPolicy,
        calendar: Calendar,
    ) -> Draws {
        Draws {
            records,
            writer,
            policy: Arc::new(policy),
            calendar: Arc::new(calendar),
        }
    }

    /// Loads `supervision.toml` and `calendar/*.toml` from `dir` (normally `rules/`).
    pub fn load_rules(dir: &Path) -> Result<(SupervisionPolicy, Calendar)> {
        let policy_path = dir.join("supervision.toml");
        let text = std::fs::read_to_string(&policy_path).map_err(|e| {
            Error::FailedPrecondition(format!("cannot read `{}`: {e}", policy_path.display()))
        })?;
        let policy_name = policy_path.display().to_string();
        let cal_dir = dir.join("calendar");
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&cal_dir).map_err(|e| {
            Error::FailedPrecondition(format!("cannot read `{}`: {e}", cal_dir.display()))
        })?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "toml") {
                files.push((path.display().to_string(), std::fs::read_to_string(&path)?));
            }
        }
        files.sort();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Self::parse_rules((&policy_name, &text), &refs)
    }

    /// The supervision policy and calendar built into the binary
    /// ([`crate::rules::embedded`]), used when no folder is configured.
    pub fn embedded_rules() -> Result<(SupervisionPolicy, Calendar)> {
        let cal = crate::rules::embedded::calendar();
        Self::parse_rules(crate::rules::embedded::supervision(), &cal)
    }

    /// Parses a supervision policy and calendar year files, each given as `(name, text)`.
    pub fn parse_rules(
        (policy_name, policy_text): (&str, &str),
        calendar: &[(&str, &str)],
    ) -> Result<(SupervisionPolicy, Calendar)> {
        let policy = SupervisionPolicy::from_toml(policy_name, policy_text)?;
        Ok((policy, Calendar::from_files(calendar)?))
    }

    /// Parses an item list file (`[[item]]` tables, see `rules/items.toml`) and checks every
    /// item; `file` names it in errors.
    pub fn parse_items(file: &str, text: &str) -> Result<Vec<InspectionItem>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ItemFile {
            item: Vec<InspectionItem>,
        }
        let f: ItemFile =
            toml::from_str(text).map_err(|e| Error::invalid(file, format!("cannot parse: {e}")))?;
        let mut v = Violations::new();
        for (i, item) in f.item.iter().enumerate() {
            item.validate(&format!("{file}: item[{i}]"), &mut v);
        }
        if v.is_empty() {
            Ok(f.item)
        } else {
            Err(Error::InvalidInput(v.into_vec()))
        }
    }

    /// The store this service reads.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The policy file in force.
    pub fn policy(&self) -> &SupervisionPolicy {
        &self.policy
    }

    /// The calendar in force.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Creates or replaces inspection items; atomic.
    pub fn upsert_items(&self, items: Vec<InspectionItem>) -> Result<WriteOutcome> {
        if items.is_empty() || items.len() > MAX_RESULTS {
            return Err(Error::invalid(
                "records",
                format!(
                    "send between 1 and {MAX_RESULTS} items, not {}",
                    items.len()
                ),
            ));
        }
        let mut v = Violations::new();
        for (i, item) in items.iter().enumerate() {
            item.validate(&format!("records[{i}]"), &mut v);
            if items[..i].iter().any(|o| o.id == item.id) {
                v.add(
                    format!("records[{i}].id"),
                    format!("`{}` appears twice in the batch", item.id),
                );
            }
        }
        if !v.is_empty() {
            return Err(Error::InvalidInput(v.into_vec()));
        }
        self.writer.submit_blocking(store::upsert_items(items))
    }

    /// One item, or `NotFound`.
    pub fn item(&self, id: &str) -> Result<InspectionItem> {
        let v = self
            .records
            .engine()
            .get(&Key::Item(id).encode())?
            .ok_or_else(|| Error::NotFound(format!("inspection item `{id}`")))?;
        decode(&v, &format_args!("inspection item `{id}`"))
    }

    /// Every item, ascending id.
    pub fn items(&self) -> Result<Vec<InspectionItem>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&prefix::items(), None) {
            let (_, v) = kv?;
            out.push(decode(&v, &"inspection item")?);
        }
        Ok(out)
    }

    /// Records a group ratio override (differentiated supervision): every field checked
    /// (`INVALID_ARGUMENT` naming `group_ratio.*`), no ratio below the policy's, at most
    /// [`crate::draw::policy::bounds::GROUP_RATIOS`] overrides valid on any one day
    /// (`FAILED_PRECONDITION`), one per basis (`CONFLICT`). Draws whose inspection date falls
    /// in its validity apply it and show it in their record.
    pub fn record_group_ratio(
        &self,
        ratio: GroupRatio,
        actor: &str,
        now_ms: i64,
    ) -> Result<StoredGroupRatio> {
        let (stored, job) = self.group_ratio_job(ratio, actor, now_ms)?;
        self.writer.submit_blocking(job)?;
        Ok(stored)
    }

    /// The checked group ratio and the writer job that stores it, for a caller that commits
    /// it with other writes (the alert it rests on) in one job.
    pub fn group_ratio_job(
        &self,
        ratio: GroupRatio,
        actor: &str,
        now_ms: i64,
    ) -> Result<(StoredGroupRatio, Job)> {
        let mut v = Violations::new();
        ratio.validate("group_ratio", Some(&self.policy.ratio_per_mille), &mut v);
        if !v.is_empty() {
            return Err(Error::InvalidInput(v.into_vec()));
        }
        let max = crate::draw::policy::bounds::GROUP_RATIOS;
        let stored = self.group_ratios()?;
        let overlapping = stored
            .iter()
            .filter(|s| {
                s.ratio.valid_from <= ratio.valid_until && ratio.valid_from <= s.ratio.valid_until
            })
            .count();
        if overlapping >= max {
            return Err(Error::FailedPrecondition(format!(
                "{overlapping} group ratios are already valid between `{}` and `{}`: at most {max} apply to one draw",
                ratio.valid_from, ratio.valid_until
            )));
        }
        let stored = StoredGroupRatio {
            ratio,
            recorded_ms: now_ms,
            recorded_by: actor.to_string(),
        };
        let job = store::store_group_ratio(stored.clone());
        Ok((stored, job))
    }

    /// Every recorded group ratio override, ascending basis.
    pub fn group_ratios(&self) -> Result<Vec<StoredGroupRatio>> {
        let mut out = Vec::new();
        for kv in self.records.engine().scan(&prefix::group_ratios(), None) {
            let (_, v) = kv?;
            out.push(decode(&v, &"group ratio")?);
        }
        Ok(out)
    }

    /// The policy file's policy with the group ratios valid on `day` (ascending basis).
    fn policy_on(&self, day: Date) -> Result<SupervisionPolicy> {
        let ratios: Vec<GroupRatio> = self.group_ratios()?.into_iter().map(|s| s.ratio).collect();
        Ok(self.policy.with_group_ratios(&ratios, day)?)
    }

    /// Resolves a spec into a draw request (item, seed, id), checking every field.
    fn request(&self, spec: &DrawSpec) -> Result<DrawRequest> {
        let mut v = Violations::new();
        let item = match check_ident(&spec.item_id) {
            Err(m) => {
                v.add("item_id", m);
                None
            }
            Ok(_) => match self.item(&spec.item_id) {
                Ok(i) => Some(i),
                Err(Error::NotFound(_)) => {
                    v.add(
                        "item_id",
                        format!("no inspection item `{}` is stored", spec.item_id),
                    );
                    None
                }
                Err(e) => return Err(e),
            },
        };
        if let Some(id) = &spec.draw_id {
            v.parse("draw_id", check_ident(id));
        }
        if let Some(seed) = &spec.seed {
            if seed.is_empty() || seed.len() > 200 || seed.chars().any(char::is_control) {
                v.add(
                    "seed",
                    "must be 1-200 characters without control characters".to_string(),
                );
            }
        }
        // Bounds first, the same for preview and create: the policy after the overrides, the
        // team size it makes with these departments, and the list lengths (issue 11).
        let mut policy = None;
        match self.policy.with_overrides(&spec.overrides) {
            Ok(p) => policy = Some(p),
            Err(crate::draw::DrawError::Invalid(bad)) => {
                bad.into_iter().for_each(|f| v.add(f.field, f.description))
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(p) = &policy {
            if !spec.departments.is_empty() {
                p.check_departments(spec.departments.len(), &mut v);
            }
        }
        let max_j = crate::draw::item::MAX_SCOPE_ENTRIES;
        if spec.jurisdictions.len() > max_j {
            v.add(
                "jurisdictions",
                format!(
                    "`{}` entries is out of range: jurisdictions may list 0 to {max_j}",
                    spec.jurisdictions.len()
                ),
            );
        }
        if !v.is_empty() {
            return Err(Error::InvalidInput(v.into_vec()));
        }
        for (i, d) in spec.departments.iter().enumerate() {
            v.parse(&format!("departments[{i}]"), check_ident(d));
        }
        for (i, j) in spec.jurisdictions.iter().enumerate() {
            v.parse(
                &format!("jurisdictions[{i}]"),
                crate::domain::validate::check_jurisdiction(j),
            );
        }
        let Some(mut item) = item else {
            return Err(Error::InvalidInput(v.into_vec()));
        };
        for (i, j) in spec.jurisdictions.iter().enumerate() {
            if !item.scope.jurisdictions.is_empty() && !item.scope.jurisdictions.contains(j) {
                v.add(
                    format!("jurisdictions[{i}]"),
                    format!("`{j}` is outside the scope of item `{}`", item.id),
                );
            }
        }
        if !v.is_empty() {
            return Err(Error::InvalidInput(v.into_vec()));
        }
        if !spec.jurisdictions.is_empty() {
            item.scope.jurisdictions = spec.jurisdictions.clone();
        }
        let departments = if spec.departments.is_empty() {
            item.departments.clone()
        } else {
            spec.departments.clone()
        };
        if let (Some(p), true) = (&policy, spec.departments.is_empty()) {
            // The item's departments (at most ten, checked when stored) with this policy.
            p.check_departments(departments.len(), &mut v);
            if !v.is_empty() {
                return Err(Error::InvalidInput(v.into_vec()));
            }
        }
        let (seed, seed_source) = match &spec.seed {
            Some(s) => (s.clone(), SeedSource::Caller),
            None => (hex::encode(crate::os_random(16)?), SeedSource::Server),
        };
        let draw_id = match &spec.draw_id {
            Some(id) => id.clone(),
            None => format!(
                "draw-{}-{}",
                spec.as_of.to_string().replace('-', ""),
                hex::encode(crate::os_random(4)?)
            ),
        };
        Ok(DrawRequest {
            draw_id,
            item,
            seed,
            seed_source,
            as_of: spec.as_of,
            inspection_date: spec.inspection_date,
            departments,
            overrides: spec.overrides.clone(),
        })
    }

    /// The current snapshot cut.
    fn cut(&self) -> Result<u64> {
        Ok(self.records.next_seq()?.saturating_sub(1))
    }

    /// Dry run: the counts per tier, nothing stored.
    pub fn preview(&self, spec: &DrawSpec) -> Result<DrawPreview> {
        let req = self.request(spec)?;
        let policy = self
            .policy_on(req.inspection_date)?
            .with_overrides(&req.overrides)?;
        let cut = self.cut()?;
        let snap = snapshot::candidates(&self.records, cut, req.as_of, req.inspection_date.year())?;
        let preview =
            crate::draw::preview(&req.item, &policy, req.inspection_date, &snap.candidates)?;
        Ok(DrawPreview {
            preview,
            cut,
            unclassified: snap.unclassified,
        })
    }

    /// Draws and stores; `actor` and `now_ms` are recorded.
    pub fn create(&self, spec: &DrawSpec, actor: &str, now_ms: i64) -> Result<DrawView> {
        self.create_with(spec, actor, now_ms, None)
    }

    /// [`Draws::create`], storing the draw in one writer job with `then`'s job (given the
    /// draw's id), which runs first: when it fails (a check-and-set on what the draw is for,
    /// see [`crate::warnsvc::service::dispose_step`]) the draw is not stored and its error is
    /// the answer.
    pub fn create_with(
        &self,
        spec: &DrawSpec,
        actor: &str,
        now_ms: i64,
        then: Option<ThenJob>,
    ) -> Result<DrawView> {
        let req = self.request(spec)?;
        if self
            .records
            .engine()
            .get(&Key::Draw(&req.draw_id).encode())?
            .is_some()
        {
            return Err(Error::Conflict(vec![crate::domain::FieldViolation {
                field: "draw_id".into(),
                description: format!(
                    "a draw `{}` is already stored; draws are never replaced",
                    req.draw_id
                ),
            }]));
        }
        let cut = self.cut()?;
        let Candidates {
            candidates,
            unclassified,
        } = snapshot::candidates(&self.records, cut, req.as_of, req.inspection_date.year())?;
        let roster = snapshot::roster(&self.records, cut)?;
        // Group ratios valid on the inspection date enter the record's policy.
        let policy = self.policy_on(req.inspection_date)?;
        let record = run_draw(&req, &policy, &candidates, &roster)?;
        let stored = StoredDraw {
            record_json: record.to_json(),
            cut,
            unclassified,
            created_ms: now_ms,
            created_by: actor.to_string(),
        };
        let job = store::store_draw(stored.clone(), record.clone());
        let job: Job = match then {
            None => job,
            Some(then) => {
                let first = then(&record.draw_id);
                Box::new(move |tx| {
                    first(tx)?;
                    job(tx)
                })
            }
        };
        self.writer.submit_blocking(job)?;
        self.view(stored, record)
    }

    fn view(&self, stored: StoredDraw, record: DrawRecord) -> Result<DrawView> {
        let publication_deadline = self.calendar.publication_deadline(record.inspection_date)?;
        Ok(DrawView {
            stored,
            record,
            publication_deadline,
        })
    }

    /// One stored draw, or `NotFound`.
    pub fn get(&self, draw_id: &str) -> Result<DrawView> {
        let v = self
            .records
            .engine()
            .get(&Key::Draw(draw_id).encode())?
            .ok_or_else(|| Error::NotFound(format!("draw `{draw_id}`")))?;
        let stored: StoredDraw = decode(&v, &format_args!("draw `{draw_id}`"))?;
        let record = stored.record()?;
        if record.draw_id != draw_id {
            return Err(Error::Corrupt(format!(
                "draw `{draw_id}` holds the record of `{}`",
                record.draw_id
            )));
        }
        self.view(stored, record)
    }

    /// Stored draws after `after` in id order, at most `limit`.
    pub fn list(&self, after: Option<&str>, limit: usize) -> Result<Page<DrawView, String>> {
        let after_key = after.map(|a| Key::Draw(a).encode());
        let mut items = Vec::new();
        let mut next = None;
        for kv in self
            .records
            .engine()
            .scan(&prefix::draws(), after_key.as_deref())
        {
            let (_, v) = kv?;
            let stored: StoredDraw = decode(&v, &"draw")?;
            let record = stored.record()?;
            if items.len() == limit {
                next = items.last().map(|d: &DrawView| d.record.draw_id.clone());
                break;
            }
            items.push(self.view(stored, record)?);
        }
        Ok(Page { items, next })
    }

    /// Every assignment of `inspector_id`, by draw then enterprise.
    pub fn assignments(&self, inspector_id: &str) -> Result<Vec<Assignment>> {
        let engine = self.records.engine();
        let mut draws: BTreeMap<String, Arc<DrawView>> = BTreeMap::new();
        let mut out = Vec::new();
        let pre = prefix::assignments_of(inspector_id);
        for kv in engine.scan(&pre, None) {
            let (k, _) = kv?;
            let rest = &k[pre.len()..];
            let bad = || Error::Corrupt(format!("malformed assignment key {}", hex::encode(&k)));
            let nul = rest.iter().position(|b| *b == 0).ok_or_else(bad)?;
            let draw_id = std::str::from_utf8(&rest[..nul]).map_err(|_| bad())?;
            let code = code_in(&k).ok_or_else(bad)?;
            let draw = match draws.get(draw_id) {
                Some(d) => d.clone(),
                None => {
                    let d = Arc::new(self.get(draw_id)?);
                    draws.insert(draw_id.to_string(), d.clone());
                    d
                }
            };
            let info = snapshot::enterprise_info(&self.records, [code], draw.stored.cut)?;
            let info = info.get(&code).cloned().unwrap_or_default();
            out.push(Assignment {
                credit_code: code,
                name: info.name,
                address: info.address,
                result: self.result_of(draw_id, code)?,
                published_on: self.publication_of(draw_id, code)?.map(|p| p.published_on),
                draw,
            });
        }
        Ok(out)
    }

    /// The result recorded for `code` in `draw_id`, with its codes.
    fn result_of(
        &self,
        draw_id: &str,
        code: CreditCode,
    ) -> Result<Option<(StoredResult, Vec<ResultCode>)>> {
        let Some(v) = self
            .records
            .engine()
            .get(&Key::DrawResult(draw_id, code).encode())?
        else {
            return Ok(None);
        };
        let r: StoredResult = decode(&v, &format_args!("result of `{code}` in `{draw_id}`"))?;
        let ev = self.records.event(&r.inspection_id)?.ok_or_else(|| {
            Error::Corrupt(format!(
                "result of `{code}` in `{draw_id}` names a missing inspection `{}`",
                r.inspection_id
            ))
        })?;
        let codes = match ev.event.body {
            EventBody::Inspection { result_codes, .. } => result_codes.into_iter().collect(),
            _ => {
                return Err(Error::Corrupt(format!(
                    "event `{}` is not an inspection",
                    r.inspection_id
                )))
            }
        };
        Ok(Some((r, codes)))
    }

    fn publication_of(&self, draw_id: &str, code: CreditCode) -> Result<Option<StoredPublication>> {
        self.records
            .engine()
            .get(&Key::Publication(draw_id, code).encode())?
            .map(|v| decode(&v, &format_args!("publication of `{code}` in `{draw_id}`")))
            .transpose()
    }

    /// Checks results against their draw and turns them into inspections; atomic.
    pub fn record_results(
        &self,
        draw_id: &str,
        results: Vec<ResultInput>,
        actor: &str,
        now_ms: i64,
    ) -> Result<(WriteOutcome, Vec<CreditCode>)> {
        if results.is_empty() || results.len() > MAX_RESULTS {
            return Err(Error::invalid(
                "results",
                format!(
                    "send between 1 and {MAX_RESULTS} results, not {}",
                    results.len()
                ),
            ));
        }
        let draw = self.get(draw_id)?;
        let rec = &draw.record;
        let teams: BTreeMap<CreditCode, &TeamOutcome> = rec
            .teams
            .iter()
            .map(|t| (t.credit_code, &t.outcome))
            .collect();
        let mut v = Violations::new();
        let mut inspections = Vec::with_capacity(results.len());
        for (i, r) in results.into_iter().enumerate() {
            let at = |f: &str| format!("results[{i}].{f}");
            let code = r.credit_code;
            match teams.get(&code) {
                None => v.add(
                    at("credit_code"),
                    format!("`{code}` was not drawn in `{draw_id}`"),
                ),
                Some(TeamOutcome::Unstaffed { .. }) => v.add(
                    at("credit_code"),
                    format!("`{code}` has no team in `{draw_id}` (unstaffed)"),
                ),
                Some(TeamOutcome::Staffed { departments }) => {
                    let team: BTreeSet<&str> = departments
                        .iter()
                        .flat_map(|d| d.members.iter().map(String::as_str))
                        .collect();
                    for (j, id) in r.inspector_ids.iter().enumerate() {
                        if !team.contains(id.as_str()) {
                            v.add(
                                at(&format!("inspector_ids[{j}]")),
                                format!("`{id}` is not on the team of `{code}` in `{draw_id}`"),
                            );
                        }
                    }
                    let distinct: BTreeSet<&String> = r.inspector_ids.iter().collect();
                    let min = rec.policy.min_team_size as usize;
                    if distinct.len() < min {
                        v.add(
                            at("inspector_ids"),
                            format!(
                                "{} distinct inspectors; an inspection needs at least {min}",
                                distinct.len()
                            ),
                        );
                    }
                }
            }
            if r.date < rec.as_of {
                v.add(
                    at("date"),
                    format!(
                        "`{}` is before the draw's as-of date `{}`",
                        r.date, rec.as_of
                    ),
                );
            }
            if inspections
                .iter()
                .any(|x: &Inspection| x.credit_code == code)
            {
                v.add(
                    at("credit_code"),
                    format!("`{code}` appears twice in the batch"),
                );
            }
            let ins = Inspection {
                inspection_id: r
                    .inspection_id
                    .unwrap_or_else(|| format!("{draw_id}/{code}")),
                credit_code: code,
                item_id: rec.item.id.clone(),
                date: r.date,
                department: rec.departments.first().cloned().unwrap_or_default(),
                inspector_ids: r.inspector_ids,
                result_codes: r.result_codes,
                draw_id: Some(draw_id.to_string()),
            };
            ins.clone()
                .into_event()
                .validate(&format!("results[{i}]"), &mut v);
            inspections.push(ins);
        }
        if !v.is_empty() {
            return Err(crate::ingest::rename_inspection_paths(Error::InvalidInput(
                v.into_vec(),
            )));
        }
        let codes = inspections.iter().map(|x| x.credit_code).collect();
        let out = self.writer.submit_blocking(store::record_results(
            draw_id.to_string(),
            inspections,
            actor.to_string(),
            now_ms,
        ))?;
        Ok((out, codes))
    }

    /// Marks results as published on `published_on`; atomic.
    pub fn publish(
        &self,
        draw_id: &str,
        codes: Vec<CreditCode>,
        published_on: Date,
        actor: &str,
        now_ms: i64,
    ) -> Result<WriteOutcome> {
        if codes.is_empty() || codes.len() > MAX_RESULTS {
            return Err(Error::invalid(
                "credit_codes",
                format!(
                    "send between 1 and {MAX_RESULTS} codes, not {}",
                    codes.len()
                ),
            ));
        }
        self.get(draw_id)?;
        for (i, code) in codes.iter().enumerate() {
            if let Some((r, _)) = self.result_of(draw_id, *code)? {
                if published_on < r.date {
                    return Err(Error::invalid(
                        "published_on",
                        format!(
                            "`{published_on}` is before the inspection of `{code}` (credit_codes[{i}]) on `{}`",
                            r.date
                        ),
                    ));
                }
            }
        }
        self.writer.submit_blocking(store::publish(
            draw_id.to_string(),
            codes,
            StoredPublication {
                published_on,
                recorded_ms: now_ms,
                recorded_by: actor.to_string(),
            },
        ))
    }

    /// Overdue publications as of `today`, over every draw: results unpublished after their
    /// deadline or published late, and staffed drawn enterprises still without a result after
    /// the deadline of the planned inspection date. Ordered by deadline, draw, enterprise.
    pub fn overdue(&self, today: Date) -> Result<Vec<OverdueEntry>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list(after.as_deref(), 256)?;
            for d in &page.items {
                let id = d.record.draw_id.as_str();
                let mut pending = Vec::new();
                let mut missing = Vec::new();
                for t in &d.record.teams {
                    if !matches!(t.outcome, TeamOutcome::Staffed { .. }) {
                        continue;
                    }
                    let key = Key::DrawResult(id, t.credit_code).encode();
                    match self.records.engine().get(&key)? {
                        Some(v) => {
                            let r: StoredResult = decode(&v, &"draw result")?;
                            pending.push(PendingResult {
                                inspection_id: r.inspection_id,
                                credit_code: t.credit_code,
                                inspection_date: r.date,
                                published_on: self
                                    .publication_of(id, t.credit_code)?
                                    .map(|p| p.published_on),
                            });
                        }
                        None => missing.push(t.credit_code),
                    }
                }
                for o in self.calendar.overdue(&pending, today)? {
                    out.push(OverdueEntry {
                        draw_id: id.to_string(),
                        credit_code: o.credit_code,
                        inspection_id: Some(o.inspection_id),
                        inspection_date: o.inspection_date,
                        deadline: o.deadline,
                        published_on: o.published_on,
                    });
                }
                if today > d.publication_deadline {
                    for code in missing {
                        out.push(OverdueEntry {
                            draw_id: id.to_string(),
                            credit_code: code,
                            inspection_id: None,
                            inspection_date: d.record.inspection_date,
                            deadline: d.publication_deadline,
                            published_on: None,
                        });
                    }
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        out.sort_by(|a, b| {
            (a.deadline, &a.draw_id, a.credit_code).cmp(&(b.deadline, &b.draw_id, b.credit_code))
        });
        Ok(out)
    }

    /// The public result list of a draw: every recorded result, in draw order.
    pub fn public_results(&self, draw_id: &str) -> Result<(DrawView, Vec<PublicResult>)> {
        let draw = self.get(draw_id)?;
        let mut out = Vec::new();
        for s in &draw.record.selected {
            if let Some((r, codes)) = self.result_of(draw_id, s.credit_code)? {
                let info =
                    snapshot::enterprise_info(&self.records, [s.credit_code], draw.stored.cut)?;
                out.push(PublicResult {
                    credit_code: s.credit_code,
                    name: info
                        .get(&s.credit_code)
                        .map(|i| i.name.clone())
                        .unwrap_or_default(),
                    date: r.date,
                    result_codes: codes,
                    published_on: self
                        .publication_of(draw_id, s.credit_code)?
                        .map(|p| p.published_on),
                });
            }
        }
        Ok((draw, out))
    }

    /// Names and addresses of a draw's selected enterprises, at its cut.
    pub fn selected_info(
        &self,
        draw: &DrawView,
    ) -> Result<BTreeMap<CreditCode, crate::draw::EnterpriseInfo>> {
        snapshot::enterprise_info(
            &self.records,
            draw.record.selected.iter().map(|s| s.credit_code),
            draw.stored.cut,
        )
    }

    /// Rebuilds the snapshots a draw read (at its recorded cut) and re-runs the draw from its
    /// recorded request and policy: the replayed record and the rebuilt snapshots.
    pub fn replay(
        &self,
        draw: &DrawView,
    ) -> Result<(
        DrawRecord,
        Vec<crate::draw::Candidate>,
        Vec<crate::draw::RosterEntry>,
    )> {
        let rec = &draw.record;
        let snap = snapshot::candidates(
            &self.records,
            draw.stored.cut,
            rec.as_of,
            rec.inspection_date.year(),
        )?;
        let roster = snapshot::roster(&self.records, draw.stored.cut)?;
        let again = run_draw(&rec.request(), &rec.policy, &snap.candidates, &roster)?;
        Ok((again, snap.candidates, roster))
    }

    /// [`Draws::replay`], then compares with the stored record byte for byte: `Corrupt`
    /// (naming the first differing part) when the store no longer gives the same draw.
    pub fn rebuild(
        &self,
        draw: &DrawView,
    ) -> Result<(Vec<crate::draw::Candidate>, Vec<crate::draw::RosterEntry>)> {
        let rec = &draw.record;
        let (again, candidates, roster) = self.replay(draw)?;
        if again.to_json() != draw.stored.record_json {
            let what = if again.candidate_digest != rec.candidate_digest {
                "candidate digest"
            } else if again.roster_digest != rec.roster_digest {
                "roster digest"
            } else if again.selected != rec.selected {
                "selected enterprises"
            } else if again.teams != rec.teams {
                "teams"
            } else {
                "record"
            };
            return Err(Error::Corrupt(format!(
                "draw `{}` no longer replays from the stored records: the {what} differs",
                rec.draw_id
            )));
        }
        Ok((candidates, roster))
    }

    /// The publication bundle and the XLSX list (headers and words in `lang`), after checking
    /// that the draw still replays. Team members are named as the roster had them at the
    /// draw's cut.
    pub fn export(&self, draw_id: &str, lang: Lang) -> Result<Export> {
        let draw = self.get(draw_id)?;
        let (candidates, roster) = self.rebuild(&draw)?;
        let info = self.selected_info(&draw)?;
        let b = bundle(&draw.record, &candidates, &roster, &self.calendar, &info)?;
        let members: BTreeSet<&str> = draw.record.teams.iter().flat_map(|t| t.members()).collect();
        let inspector_names: BTreeMap<String, String> =
            snapshot::inspectors(&self.records, draw.stored.cut)?
                .into_iter()
                .filter(|i| members.contains(i.inspector_id.as_str()))
                .map(|i| (i.inspector_id, i.name))
                .collect();
        let x = xlsx(&ListInput {
            record: &draw.record,
            candidates: &candidates,
            info: &info,
            inspector_names: &inspector_names,
            publication_deadline: draw.publication_deadline,
            lang,
        })?;
        Ok(Export { bundle: b, xlsx: x })
    }
}
