//! Draws: items, specs, draw records, assignments, results.

use super::records::{code, date, kind_from, kind_to, opt, result_codes};
use crate::domain::{Date, Violations};
use crate::draw::{
    DepartmentMembers, InspectionItem, ItemKind, PolicyOverrides, Preview, Rounding, Scope,
    TeamOutcome, Tier, TierCount,
};
use crate::drawsvc::ResultInput;
use crate::drawsvc::{Assignment, DrawPreview, DrawSpec, DrawView, OverdueEntry, PublicResult};
use crate::error::{Error, Result};
use crate::server::pb;
use std::collections::BTreeMap;

/// An inspection item from proto; problems are collected under `at`.
pub fn item_from(p: pb::InspectionItem, at: &str, v: &mut Violations) -> Option<InspectionItem> {
    let kind = match pb::ItemKind::try_from(p.kind) {
        Ok(pb::ItemKind::Key) => Some(ItemKind::Key),
        Ok(pb::ItemKind::General) => Some(ItemKind::General),
        _ if p.kind == 0 => {
            v.add(format!("{at}.kind"), "is required (key or general)");
            None
        }
        _ => {
            v.add(
                format!("{at}.kind"),
                format!("`{}` is not an item kind", p.kind),
            );
            None
        }
    };
    let scope = p.scope.unwrap_or_default();
    let mut kinds = Vec::new();
    for (i, k) in scope.entity_kinds.iter().enumerate() {
        match kind_from(*k) {
            Some(k) => kinds.push(k),
            None => v.add(
                format!("{at}.scope.entity_kinds[{i}]"),
                format!("`{k}` is not an entity kind"),
            ),
        }
    }
    Some(InspectionItem {
        id: p.id,
        name: p.name,
        basis: p.basis,
        departments: p.departments,
        kind: kind?,
        qualifications: p.qualifications,
        scope: Scope {
            jurisdictions: scope.jurisdictions,
            industries: scope.industries,
            entity_kinds: kinds,
            licence_kinds: scope.licence_kinds,
            // Targeted items (by credit code) are made by the service, not sent.
            credit_codes: Vec::new(),
        },
    })
}

/// An inspection item to proto.
pub fn item_to(i: &InspectionItem) -> pb::InspectionItem {
    pb::InspectionItem {
        id: i.id.clone(),
        name: i.name.clone(),
        basis: i.basis.clone(),
        departments: i.departments.clone(),
        kind: match i.kind {
            ItemKind::Key => pb::ItemKind::Key,
            ItemKind::General => pb::ItemKind::General,
        } as i32,
        qualifications: i.qualifications.clone(),
        scope: Some(pb::ItemScope {
            jurisdictions: i.scope.jurisdictions.clone(),
            industries: i.scope.industries.clone(),
            entity_kinds: i
                .scope
                .entity_kinds
                .iter()
                .map(|k| kind_to(*k) as i32)
                .collect(),
            licence_kinds: i.scope.licence_kinds.clone(),
        }),
    }
}

fn tier_map(
    v: &mut Violations,
    field: &str,
    m: &std::collections::HashMap<String, u32>,
) -> BTreeMap<Tier, u32> {
    let mut out = BTreeMap::new();
    // Sorted, so that violations come out in a stable order.
    let sorted: BTreeMap<&String, &u32> = m.iter().collect();
    for (k, n) in sorted {
        if let Some(t) = v.parse(&format!("{field}.{k}"), Tier::parse(k)) {
            out.insert(t, *n);
        }
    }
    out
}

fn overrides_from(p: Option<pb::PolicyOverrides>, v: &mut Violations) -> PolicyOverrides {
    let Some(p) = p else {
        return PolicyOverrides::default();
    };
    let rounding = match p.rounding.as_deref() {
        None => None,
        Some("ceil") => Some(Rounding::Ceil),
        Some("floor") => Some(Rounding::Floor),
        Some("half-up") => Some(Rounding::HalfUp),
        Some(other) => {
            v.add(
                "overrides.rounding",
                format!("`{other}` is not a rounding (ceil, floor or half-up)"),
            );
            None
        }
    };
    PolicyOverrides {
        ratio_per_mille: tier_map(v, "overrides.ratio_per_mille", &p.ratio_per_mille),
        yearly_cap: tier_map(v, "overrides.yearly_cap", &p.yearly_cap),
        min_interval_days: p.min_interval_days,
        rounding,
        general_item_max_per_mille: p.general_item_max_per_mille,
        min_team_size: p.min_team_size,
        max_assignments_per_inspector: p.max_assignments_per_inspector,
        joint_members_per_department: p.joint_members_per_department,
    }
}

/// A draw spec from proto; `today` fills an empty as-of date.
pub fn spec_from(p: pb::DrawSpec, today: Date) -> Result<DrawSpec> {
    let mut v = Violations::new();
    let as_of = if p.as_of.is_empty() {
        Some(today)
    } else {
        v.parse("as_of", Date::parse(&p.as_of))
    };
    let inspection_date = date(&mut v, "inspection_date".into(), &p.inspection_date);
    let overrides = overrides_from(p.overrides, &mut v);
    match (as_of, inspection_date) {
        (Some(as_of), Some(inspection_date)) if v.is_empty() => Ok(DrawSpec {
            draw_id: opt(p.draw_id),
            item_id: p.item_id,
            seed: opt(p.seed),
            as_of,
            inspection_date,
            departments: p.departments,
            jurisdictions: p.jurisdictions,
            overrides,
        }),
        _ => Err(Error::InvalidInput(v.into_vec())),
    }
}

fn tier_count_to(t: &TierCount) -> pb::TierCount {
    pb::TierCount {
        tier: t.tier.as_str().into(),
        candidates: t.candidates,
        excluded: t.excluded,
        eligible: t.eligible,
        per_mille: t.per_mille,
        k: t.k,
    }
}

/// A preview to proto.
pub fn preview_to(p: &DrawPreview) -> pb::DrawPreview {
    let Preview {
        total_candidates,
        out_of_scope,
        tiers,
        ..
    } = &p.preview;
    pb::DrawPreview {
        total_candidates: *total_candidates,
        out_of_scope: *out_of_scope,
        tiers: tiers.iter().map(tier_count_to).collect(),
        cut: p.cut,
        unclassified: p.unclassified,
    }
}

fn team_to(o: &TeamOutcome) -> (Vec<pb::DepartmentMembers>, String) {
    match o {
        TeamOutcome::Staffed { departments } => {
            (departments.iter().map(members_to).collect(), String::new())
        }
        TeamOutcome::Unstaffed { reason } => (Vec::new(), reason.clone()),
    }
}

fn members_to(d: &DepartmentMembers) -> pb::DepartmentMembers {
    pb::DepartmentMembers {
        department: d.department.clone(),
        inspector_ids: d.members.clone(),
    }
}

/// A stored draw to proto; `full` adds the lists and the record JSON, `info` names and
/// addresses of the selected enterprises.
pub fn draw_to(
    d: &DrawView,
    full: bool,
    info: &BTreeMap<crate::domain::CreditCode, crate::draw::EnterpriseInfo>,
) -> pb::Draw {
    let r = &d.record;
    let unstaffed = r
        .teams
        .iter()
        .filter(|t| matches!(t.outcome, TeamOutcome::Unstaffed { .. }))
        .count() as u64;
    let mut out = pb::Draw {
        draw_id: r.draw_id.clone(),
        algorithm: r.algorithm.clone(),
        item_id: r.item.id.clone(),
        seed: r.seed.clone(),
        seed_source: match r.seed_source {
            crate::draw::SeedSource::Caller => "caller",
            crate::draw::SeedSource::Server => "server",
        }
        .into(),
        as_of: r.as_of.to_string(),
        inspection_date: r.inspection_date.to_string(),
        departments: r.departments.clone(),
        candidate_digest: r.candidate_digest.clone(),
        roster_digest: r.roster_digest.clone(),
        total_candidates: r.total_candidates,
        out_of_scope: r.out_of_scope,
        tiers: r.tiers.iter().map(tier_count_to).collect(),
        selected: Vec::new(),
        exclusions: Vec::new(),
        selected_count: r.selected.len() as u64,
        unstaffed_count: unstaffed,
        publication_deadline: d.publication_deadline.to_string(),
        cut: d.stored.cut,
        created_ms: d.stored.created_ms,
        created_by: d.stored.created_by.clone(),
        unclassified: d.stored.unclassified,
        record_json: String::new(),
    };
    if full {
        out.selected = r
            .selected
            .iter()
            .zip(&r.teams)
            .map(|(s, t)| {
                let (team, unstaffed_reason) = team_to(&t.outcome);
                let i = info.get(&s.credit_code).cloned().unwrap_or_default();
                pb::DrawnEnterprise {
                    credit_code: s.credit_code.to_string(),
                    tier: s.tier.as_str().into(),
                    ticket: s.ticket.clone(),
                    team,
                    unstaffed_reason,
                    name: i.name,
                    address: i.address,
                }
            })
            .collect();
        out.exclusions = r
            .exclusions
            .iter()
            .map(|e| pb::Exclusion {
                credit_code: e.credit_code.to_string(),
                tier: e.tier.as_str().into(),
                reason: e.reason.as_str().into(),
            })
            .collect();
        out.record_json = d.stored.record_json.clone();
    }
    out
}

/// An assignment to proto.
pub fn assignment_to(a: &Assignment) -> pb::Assignment {
    let r = &a.draw.record;
    let team = r
        .teams
        .iter()
        .find(|t| t.credit_code == a.credit_code)
        .map(|t| team_to(&t.outcome).0)
        .unwrap_or_default();
    let (inspection_id, codes) = match &a.result {
        Some((res, codes)) => (
            res.inspection_id.clone(),
            codes.iter().map(|c| c.as_str().to_string()).collect(),
        ),
        None => (String::new(), Vec::new()),
    };
    pb::Assignment {
        draw_id: r.draw_id.clone(),
        item_id: r.item.id.clone(),
        item_name: r.item.name.clone(),
        credit_code: a.credit_code.to_string(),
        name: a.name.clone(),
        address: a.address.clone(),
        inspection_date: r.inspection_date.to_string(),
        publication_deadline: a.draw.publication_deadline.to_string(),
        team,
        inspection_id,
        result_codes: codes,
        published_on: a.published_on.map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// Results from proto, named `results[i].field`.
pub fn results_from(p: Vec<pb::DrawResult>) -> Result<Vec<ResultInput>> {
    let mut v = Violations::new();
    let mut out = Vec::with_capacity(p.len());
    for (i, r) in p.into_iter().enumerate() {
        let at = format!("results[{i}]");
        let c = code(&mut v, format!("{at}.credit_code"), &r.credit_code);
        let d = date(&mut v, format!("{at}.date"), &r.date);
        let codes = result_codes(&mut v, &at, &r.result_codes);
        if let (Some(credit_code), Some(date)) = (c, d) {
            out.push(ResultInput {
                credit_code,
                inspection_id: opt(r.inspection_id),
                date,
                inspector_ids: r.inspector_ids,
                result_codes: codes,
            });
        }
    }
    if v.is_empty() {
        Ok(out)
    } else {
        Err(Error::InvalidInput(v.into_vec()))
    }
}

/// Credit codes from proto, named `credit_codes[i]`.
pub fn codes_from(p: &[String]) -> Result<Vec<crate::domain::CreditCode>> {
    let mut v = Violations::new();
    let out: Vec<_> = p
        .iter()
        .enumerate()
        .filter_map(|(i, s)| code(&mut v, format!("credit_codes[{i}]"), s))
        .collect();
    if v.is_empty() {
        Ok(out)
    } else {
        Err(Error::InvalidInput(v.into_vec()))
    }
}

/// An overdue entry to proto.
pub fn overdue_to(o: &OverdueEntry) -> pb::OverdueResult {
    pb::OverdueResult {
        draw_id: o.draw_id.clone(),
        credit_code: o.credit_code.to_string(),
        inspection_id: o.inspection_id.clone().unwrap_or_default(),
        inspection_date: o.inspection_date.to_string(),
        deadline: o.deadline.to_string(),
        published_on: o.published_on.map(|d| d.to_string()).unwrap_or_default(),
    }
}

/// A public result line to proto.
pub fn public_result_to(d: &DrawView, r: &PublicResult) -> pb::PublicResult {
    pb::PublicResult {
        credit_code: r.credit_code.to_string(),
        name: r.name.clone(),
        item_id: d.record.item.id.clone(),
        item_name: d.record.item.name.clone(),
        inspection_date: r.date.to_string(),
        result_codes: r
            .result_codes
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        published_on: r.published_on.map(|d| d.to_string()).unwrap_or_default(),
    }
}
