//! Joint targeted draws from a warning alert (issue 12, "routing and joint supervision").
//!
//! Disposing of a cross-department alert can call for a joint inspection. This module turns
//! what the alert names into an ordinary inspection item and an ordinary draw, so the existing
//! path applies unchanged: snapshot at a cut, exclusions, teams from every department with
//! recusal and the last-team rule, immutable storage with its audit entry, publication and
//! offline verification of the bundle.
//!
//! - The item: id `alert-<alert id>`, a key item (no ratio cap), the departments the routing
//!   file gives (lead first), and as scope either the alert's enterprises
//!   ([`crate::draw::Scope::credit_codes`]) or its group (district and industry prefix).
//! - The draw: for a list of enterprises every eligible one is inspected (ratios 1000‰ by a
//!   per-draw override, recorded like any other); for a group the policy's ratios (and any
//!   group ratio override in force) apply, so the group is sampled like any draw.
//!
//! The warning service builds the [`AlertTarget`] from its stored alert (or from a
//! [`Firing`] with [`AlertTarget::from_firing`]) and calls [`Draws::joint_draw_for_alert`].

use super::service::{DrawSpec, DrawView, Draws};
use crate::domain::validate::check_ident;
use crate::domain::{CreditCode, Date, Violations};
use crate::draw::{InspectionItem, ItemKind, PolicyOverrides, Scope, Tier};
use crate::error::{Error, Result};
use crate::warn::routing::Routing;
use crate::warn::Firing;

/// What a joint targeted draw needs to know of an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertTarget {
    /// The alert's id (it names the item: `alert-<id>`).
    pub alert_id: String,
    /// What the alert is about (the rule's title): the item's name.
    pub title: String,
    /// The enterprises concerned; empty: the group below is the scope.
    pub enterprises: Vec<CreditCode>,
    /// The group's district, if any.
    pub district: Option<String>,
    /// The group's GB/T 4754 industry prefix, if any.
    pub industry: Option<String>,
    /// Participating departments, lead first (1 to 10).
    pub departments: Vec<String>,
    /// Qualifications every inspector must hold (e.g. `general`, `food`).
    pub qualifications: Vec<String>,
}

impl AlertTarget {
    /// The target of a firing: its enterprises, its group's district and industry (division
    /// before section), the departments routing gives it with market regulation's first as
    /// lead when present, and the `general` qualification.
    pub fn from_firing(alert_id: &str, title: &str, f: &Firing, routing: &Routing) -> AlertTarget {
        let dim = |name: &str| {
            f.group
                .iter()
                .find(|(d, _)| d == name)
                .map(|(_, v)| v.clone())
        };
        let mut departments = routing.departments_for(f);
        // The lead: a market-regulation department when one takes part (stable otherwise).
        departments.sort_by_key(|d| {
            routing
                .department(d)
                .is_none_or(|x| x.agency != "market-regulation")
        });
        AlertTarget {
            alert_id: alert_id.to_string(),
            title: title.to_string(),
            enterprises: f.enterprises.clone(),
            district: dim("district"),
            industry: dim("industry_division").or_else(|| dim("industry_section")),
            departments,
            qualifications: vec!["general".to_string()],
        }
    }

    /// The inspection item of the joint draw, checked like any uploaded item.
    pub fn item(&self) -> Result<InspectionItem> {
        let mut v = Violations::new();
        v.parse("target.alert_id", check_ident(&self.alert_id));
        let mut codes = self.enterprises.clone();
        codes.sort_unstable();
        codes.dedup();
        if codes.is_empty() && self.district.is_none() && self.industry.is_none() {
            v.add(
                "target.enterprises",
                "an alert needs enterprises, a district or an industry to draw from",
            );
        }
        if !v.is_empty() {
            return Err(Error::InvalidInput(v.into_vec()));
        }
        let scope = if codes.is_empty() {
            Scope {
                jurisdictions: self.district.iter().cloned().collect(),
                industries: self.industry.iter().cloned().collect(),
                ..Scope::default()
            }
        } else {
            Scope {
                credit_codes: codes,
                ..Scope::default()
            }
        };
        let item = InspectionItem {
            id: format!("alert-{}", self.alert_id),
            name: format!("预警联合检查 {}: {}", self.alert_id, self.title),
            basis: format!(
                "warning alert {} (early warning and joint supervision, Chengdu plan §9.3)",
                self.alert_id
            ),
            departments: self.departments.clone(),
            kind: ItemKind::Key,
            qualifications: self.qualifications.clone(),
            scope,
        };
        item.validate("target", &mut v);
        if v.is_empty() {
            Ok(item)
        } else {
            Err(Error::InvalidInput(v.into_vec()))
        }
    }
}

impl Draws {
    /// Creates the joint targeted draw of an alert through the ordinary draw path: stores the
    /// alert's item (reference data, replaced if it exists), then draws with the target's
    /// departments; a list of enterprises is drawn whole (1000‰ per tier, recorded as a
    /// per-draw override). `seed` `None`: the server makes one. `then` as in
    /// [`Draws::create_with`] (the disposal that records the draw on the alert).
    #[allow(clippy::too_many_arguments)]
    pub fn joint_draw_for_alert(
        &self,
        target: &AlertTarget,
        as_of: Date,
        inspection_date: Date,
        seed: Option<String>,
        actor: &str,
        now_ms: i64,
        then: Option<super::service::ThenJob>,
    ) -> Result<DrawView> {
        let item = target.item()?;
        let whole = !item.scope.credit_codes.is_empty();
        let item_id = item.id.clone();
        self.upsert_items(vec![item])?;
        let mut overrides = PolicyOverrides::default();
        if whole {
            for t in Tier::ALL {
                overrides.ratio_per_mille.insert(t, 1000);
            }
        }
        let spec = DrawSpec {
            draw_id: None,
            item_id,
            seed,
            as_of,
            inspection_date,
            departments: target.departments.clone(),
            jurisdictions: Vec::new(),
            overrides,
        };
        self.create_with(&spec, actor, now_ms, then)
    }
}
