//! The supervision policy: how many enterprises of each tier a draw takes, how often one
//! enterprise may be inspected, and how teams are formed.
//!
//! Every number an auditor replays is an integer: ratios are per-mille (‰) and `k` is computed
//! with exact integer arithmetic under a named rounding rule, so there is no floating point
//! anywhere between the policy file and the drawn list. The policy lives in
//! `rules/supervision.toml` (defaults from the published numbers quoted in `DOMAIN.md`); a draw
//! may override single fields with [`PolicyOverrides`], and the record stores the policy after
//! the overrides, so a re-run never needs the file.
//!
//! Differentiated supervision (issue 12): a policy may also carry [`GroupRatio`]s, recorded
//! overrides that raise the ratios for one group of enterprises (a district and/or an industry
//! prefix) while they are valid, each with its basis (the warning alert that justified it). The
//! draw service adds the ones valid on the inspection date before drawing, so the record's
//! policy holds them and a replay or an offline check needs nothing else.

use super::error::DrawError;
use super::tier::Tier;
use crate::domain::Violations;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One value per tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierValues {
    /// Tier A.
    #[serde(rename = "A")]
    pub a: u32,
    /// Tier B.
    #[serde(rename = "B")]
    pub b: u32,
    /// Tier C.
    #[serde(rename = "C")]
    pub c: u32,
    /// Tier D.
    #[serde(rename = "D")]
    pub d: u32,
}

impl TierValues {
    /// The value for `tier`.
    pub fn get(&self, tier: Tier) -> u32 {
        match tier {
            Tier::A => self.a,
            Tier::B => self.b,
            Tier::C => self.c,
            Tier::D => self.d,
        }
    }

    fn set(&mut self, tier: Tier, value: u32) {
        match tier {
            Tier::A => self.a = value,
            Tier::B => self.b = value,
            Tier::C => self.c = value,
            Tier::D => self.d = value,
        }
    }
}

/// How `ratio × eligible` becomes a whole number of enterprises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// Round up: any eligible tier with a non-zero ratio gets at least one inspection.
    Ceil,
    /// Round down.
    Floor,
    /// Round to nearest, halves up.
    HalfUp,
}

impl Rounding {
    /// `round(per_mille × n / 1000)`, exactly, never more than `n`.
    pub fn apply(self, per_mille: u32, n: u64) -> u64 {
        let x = u64::from(per_mille.min(1000)) * n;
        let k = match self {
            Rounding::Ceil => x.div_ceil(1000),
            Rounding::Floor => x / 1000,
            Rounding::HalfUp => (x + 500) / 1000,
        };
        k.min(n)
    }
}

/// The allowed range of every number of the policy, for the policy file and for per-draw
/// overrides alike ([`SupervisionPolicy::validate`]).
///
/// They keep every allocation of a draw proportional to its data: a team is at most
/// `TEAM_SIZE.end()` (20) members whatever the departments (so team buffers are at most 20 ×
/// the drawn enterprises), and no number reaches an arithmetic overflow.
pub mod bounds {
    use crate::domain::Violations;
    use std::ops::RangeInclusive;

    /// Ratios, in per mille: none to all.
    pub const PER_MILLE: RangeInclusive<u32> = 0..=1000;
    /// Yearly caps: 0 (never drawn) to one inspection a day.
    pub const YEARLY_CAP: RangeInclusive<u32> = 0..=366;
    /// Days between two inspections of one item on one enterprise: up to ten years.
    pub const INTERVAL_DAYS: RangeInclusive<u32> = 0..=3660;
    /// Members of one team (DOMAIN.md: at least 2), in all departments together.
    pub const TEAM_SIZE: RangeInclusive<u32> = 2..=20;
    /// Enterprises one inspector is sent to in one draw.
    pub const ASSIGNMENTS_PER_INSPECTOR: RangeInclusive<u32> = 1..=10_000;
    /// Members each department sends in a joint draw.
    pub const JOINT_MEMBERS: RangeInclusive<u32> = 1..=10;
    /// Departments taking part in one draw (and listed on one item).
    pub const DEPARTMENTS: RangeInclusive<u32> = 1..=10;
    /// Characters of the policy's version label.
    pub const MAX_VERSION_CHARS: usize = 64;
    /// Group ratio overrides one draw applies.
    pub const GROUP_RATIOS: usize = 10;
    /// Days one group ratio override may stay valid.
    pub const GROUP_RATIO_DAYS: i32 = 366;

    /// Adds "`VALUE` is out of range: NAME must be LO to HI" under `PATH.NAME` when `value`
    /// is outside `allowed`.
    pub fn range(
        v: &mut Violations,
        path: &str,
        name: &str,
        value: u32,
        allowed: RangeInclusive<u32>,
    ) {
        if !allowed.contains(&value) {
            v.add(
                format!("{path}.{name}"),
                format!(
                    "`{value}` is out of range: {} must be {} to {}",
                    name.split('.').next().unwrap_or(name),
                    allowed.start(),
                    allowed.end()
                ),
            );
        }
    }
}

/// The supervision policy, as in `rules/supervision.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionPolicy {
    /// Version label of the policy, recorded with every draw.
    pub version: String,
    /// Share of the eligible enterprises of each tier drawn, in per-mille (0..=1000).
    pub ratio_per_mille: TierValues,
    /// At most this many double-random inspections per enterprise per calendar year, by tier:
    /// an enterprise with `inspections_this_year >= cap` is excluded (`yearly-cap`).
    pub yearly_cap: TierValues,
    /// Days that must pass between two inspections of the same item on the same enterprise,
    /// counted from the last inspection to the new inspection date.
    pub min_interval_days: u32,
    /// Rounding of `ratio × eligible`.
    pub rounding: Rounding,
    /// For general items the tier ratio is capped at this per-mille; key items are not capped.
    pub general_item_max_per_mille: u32,
    /// Smallest team (DOMAIN.md: at least 2 inspectors per inspection).
    pub min_team_size: u32,
    /// An inspector is assigned to at most this many enterprises in one draw.
    pub max_assignments_per_inspector: u32,
    /// In a joint draw, members each non-lead department supplies; the lead department supplies
    /// at least as many and enough more to reach `min_team_size`.
    pub joint_members_per_department: u32,
    /// Differentiated supervision: raised ratios for groups of enterprises, in the order they
    /// were recorded (a candidate takes the first that matches and is valid on the inspection
    /// date). Absent from files and records without any, so older records read unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_ratios: Vec<GroupRatio>,
}

/// A recorded ratio override for one group of enterprises (differentiated supervision).
///
/// A candidate belongs to the group when its jurisdiction equals `district` (if given) and its
/// GB/T 4754 industry starts with `industry` (if given); the override applies to draws whose
/// inspection date lies in `valid_from..=valid_until`. In the group, the tier's ratio is the
/// larger of the policy's and the override's, capped for general items like any ratio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRatio {
    /// Why: the id of the confirmed warning alert this override rests on.
    pub basis: String,
    /// Jurisdiction (GB/T 2260 division or zone id) of the group; `None`: any.
    #[serde(default)]
    pub district: Option<String>,
    /// GB/T 4754 prefix (section letter, or letter and digits) of the group; `None`: any.
    #[serde(default)]
    pub industry: Option<String>,
    /// Raised ratios, per mille, by tier.
    pub ratio_per_mille: TierValues,
    /// First day the override applies (inspection date).
    pub valid_from: crate::domain::Date,
    /// Last day the override applies.
    pub valid_until: crate::domain::Date,
}

impl GroupRatio {
    /// True when `c` belongs to the group (validity aside).
    pub fn matches(&self, c: &super::candidate::Candidate) -> bool {
        self.district.as_ref().is_none_or(|d| *d == c.jurisdiction)
            && self
                .industry
                .as_ref()
                .is_none_or(|p| c.industry.starts_with(p.as_str()))
    }

    /// True when the override applies to an inspection on `day`.
    pub fn valid_on(&self, day: crate::domain::Date) -> bool {
        self.valid_from <= day && day <= self.valid_until
    }

    /// Checks the fields under `path`: a basis, a group (district and/or industry), ratios in
    /// range and, when `base` is given (when the override is recorded), none below it (an
    /// override only raises), a validity of 1 to [`bounds::GROUP_RATIO_DAYS`] days. A policy
    /// checks its group ratios without a base: per-draw overrides may raise the base above a
    /// group's ratio, which then simply has no effect (the larger ratio applies).
    pub fn validate(&self, path: &str, base: Option<&TierValues>, v: &mut Violations) {
        use crate::domain::validate::{check_ident, check_jurisdiction};
        v.parse(&format!("{path}.basis"), check_ident(&self.basis));
        if self.district.is_none() && self.industry.is_none() {
            v.add(
                format!("{path}.district"),
                "a group needs a district, an industry or both",
            );
        }
        if let Some(d) = &self.district {
            v.parse(&format!("{path}.district"), check_jurisdiction(d));
        }
        if let Some(p) = &self.industry {
            let b = p.as_bytes();
            let ok = !b.is_empty()
                && b.len() <= 5
                && (b'A'..=b'T').contains(&b[0])
                && b[1..].iter().all(u8::is_ascii_digit);
            if !ok {
                v.add(
                    format!("{path}.industry"),
                    format!("`{p}` is not a GB/T 4754 prefix (a letter A-T, then up to 4 digits)"),
                );
            }
        }
        for t in Tier::ALL {
            let f = format!("ratio_per_mille.{t}");
            let r = self.ratio_per_mille.get(t);
            bounds::range(v, path, &f, r, bounds::PER_MILLE);
            if let Some(b) = base.filter(|b| bounds::PER_MILLE.contains(&r) && r < b.get(t)) {
                v.add(
                    format!("{path}.{f}"),
                    format!(
                        "`{r}` is below the policy's {}: an override only raises ratios",
                        b.get(t)
                    ),
                );
            }
        }
        let days = self.valid_until.days() - self.valid_from.days() + 1;
        if !(1..=bounds::GROUP_RATIO_DAYS).contains(&days) {
            v.add(
                format!("{path}.valid_until"),
                format!(
                    "`{}` is out of range: an override is valid 1 to {} days from `{}`",
                    self.valid_until,
                    bounds::GROUP_RATIO_DAYS,
                    self.valid_from
                ),
            );
        }
    }
}

/// Per-draw changes to the policy; absent fields keep the file's value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    /// Ratios to replace, by tier.
    #[serde(default)]
    pub ratio_per_mille: BTreeMap<Tier, u32>,
    /// Yearly caps to replace, by tier.
    #[serde(default)]
    pub yearly_cap: BTreeMap<Tier, u32>,
    /// Replaces `min_interval_days`.
    #[serde(default)]
    pub min_interval_days: Option<u32>,
    /// Replaces `rounding`.
    #[serde(default)]
    pub rounding: Option<Rounding>,
    /// Replaces `general_item_max_per_mille`.
    #[serde(default)]
    pub general_item_max_per_mille: Option<u32>,
    /// Replaces `min_team_size`.
    #[serde(default)]
    pub min_team_size: Option<u32>,
    /// Replaces `max_assignments_per_inspector`.
    #[serde(default)]
    pub max_assignments_per_inspector: Option<u32>,
    /// Replaces `joint_members_per_department`.
    #[serde(default)]
    pub joint_members_per_department: Option<u32>,
}

impl SupervisionPolicy {
    /// Parses and validates a policy file; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<SupervisionPolicy, DrawError> {
        let p: SupervisionPolicy = toml::from_str(text).map_err(|e| DrawError::RuleFile {
            file: file.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let mut v = Violations::new();
        p.validate("policy", &mut v);
        if !v.is_empty() {
            return Err(DrawError::RuleFile {
                file: file.to_string(),
                message: v
                    .into_vec()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        Ok(p)
    }

    /// Checks the ranges of every field under `path` against the [`bounds`]: the file loader
    /// and the per-draw overrides (preview and create alike) call this, so one rule decides.
    /// A violation reads "`VALUE` is out of range: FIELD must be LO to HI".
    pub fn validate(&self, path: &str, v: &mut Violations) {
        use bounds::*;
        v.text(
            &format!("{path}.version"),
            &self.version,
            true,
            MAX_VERSION_CHARS,
        );
        for t in Tier::ALL {
            let f = format!("ratio_per_mille.{t}");
            range(v, path, &f, self.ratio_per_mille.get(t), PER_MILLE);
        }
        for t in Tier::ALL {
            let f = format!("yearly_cap.{t}");
            range(v, path, &f, self.yearly_cap.get(t), YEARLY_CAP);
        }
        range(
            v,
            path,
            "min_interval_days",
            self.min_interval_days,
            INTERVAL_DAYS,
        );
        range(
            v,
            path,
            "general_item_max_per_mille",
            self.general_item_max_per_mille,
            PER_MILLE,
        );
        range(v, path, "min_team_size", self.min_team_size, TEAM_SIZE);
        range(
            v,
            path,
            "max_assignments_per_inspector",
            self.max_assignments_per_inspector,
            ASSIGNMENTS_PER_INSPECTOR,
        );
        range(
            v,
            path,
            "joint_members_per_department",
            self.joint_members_per_department,
            JOINT_MEMBERS,
        );
        if self.group_ratios.len() > GROUP_RATIOS {
            v.add(
                format!("{path}.group_ratios"),
                format!(
                    "`{}` entries is out of range: group_ratios may list 0 to {GROUP_RATIOS}",
                    self.group_ratios.len()
                ),
            );
        }
        for (i, g) in self.group_ratios.iter().enumerate() {
            g.validate(&format!("{path}.group_ratios[{i}]"), None, v);
        }
    }

    /// The policy with `ratios` appended to its group ratios (those valid on `day` only),
    /// validated again: what the draw service hands the draw, and what the record keeps.
    pub fn with_group_ratios(
        &self,
        ratios: &[GroupRatio],
        day: crate::domain::Date,
    ) -> Result<SupervisionPolicy, DrawError> {
        let mut p = self.clone();
        p.group_ratios
            .extend(ratios.iter().filter(|g| g.valid_on(day)).cloned());
        let mut v = Violations::new();
        p.validate("policy", &mut v);
        if v.is_empty() {
            Ok(p)
        } else {
            Err(DrawError::Invalid(v.into_vec()))
        }
    }

    /// The stratum of a candidate in a draw on `day`: 0 outside every valid group ratio, else
    /// 1 + the index of the first valid group ratio it matches.
    pub fn stratum(&self, c: &super::candidate::Candidate, day: crate::domain::Date) -> usize {
        self.group_ratios
            .iter()
            .position(|g| g.valid_on(day) && g.matches(c))
            .map_or(0, |i| i + 1)
    }

    /// The ratio for `tier` in `stratum` (see [`Self::stratum`]) for an item of kind `key`
    /// (true) or general: in a group, the larger of the policy's and the group's ratio; capped
    /// for general items.
    pub fn stratum_per_mille(&self, stratum: usize, tier: Tier, key_item: bool) -> u32 {
        let base = self.ratio_per_mille.get(tier);
        let r = match stratum
            .checked_sub(1)
            .and_then(|i| self.group_ratios.get(i))
        {
            Some(g) => base.max(g.ratio_per_mille.get(tier)),
            None => base,
        };
        if key_item {
            r
        } else {
            r.min(self.general_item_max_per_mille)
        }
    }

    /// Checks that a draw with `departments` participating departments (the lead first) makes
    /// teams of at most [`bounds::TEAM_SIZE`] members: one department sends `min_team_size`;
    /// a joint draw sends `max(joint × departments, min_team_size)` in all (see
    /// `draw::assign`). Problems are named `departments`.
    pub fn check_departments(&self, departments: usize, v: &mut Violations) {
        use bounds::*;
        let max = *DEPARTMENTS.end() as usize;
        if departments > max {
            v.add(
                "departments",
                format!("`{departments}` departments is out of range: a draw has 1 to {max}"),
            );
            return;
        }
        let team = if departments <= 1 {
            u64::from(self.min_team_size)
        } else {
            (u64::from(self.joint_members_per_department) * departments as u64)
                .max(u64::from(self.min_team_size))
        };
        if team > u64::from(*TEAM_SIZE.end()) {
            v.add(
                "departments",
                format!(
                    "`{departments}` departments of {} members each make teams of {team}: \
                     a team has at most {} members",
                    self.joint_members_per_department,
                    TEAM_SIZE.end()
                ),
            );
        }
    }

    /// The policy with `o` applied, validated again.
    pub fn with_overrides(&self, o: &PolicyOverrides) -> Result<SupervisionPolicy, DrawError> {
        let mut p = self.clone();
        for (t, r) in &o.ratio_per_mille {
            p.ratio_per_mille.set(*t, *r);
        }
        for (t, c) in &o.yearly_cap {
            p.yearly_cap.set(*t, *c);
        }
        macro_rules! take {
            ($f:ident) => {
                if let Some(x) = o.$f {
                    p.$f = x;
                }
            };
        }
        take!(min_interval_days);
        take!(rounding);
        take!(general_item_max_per_mille);
        take!(min_team_size);
        take!(max_assignments_per_inspector);
        take!(joint_members_per_department);
        let mut v = Violations::new();
        p.validate("overrides", &mut v);
        if v.is_empty() {
            Ok(p)
        } else {
            Err(DrawError::Invalid(v.into_vec()))
        }
    }

    /// The ratio used for `tier` by an item of kind `key` (true) or general (false).
    pub fn effective_per_mille(&self, tier: Tier, key_item: bool) -> u32 {
        let r = self.ratio_per_mille.get(tier);
        if key_item {
            r
        } else {
            r.min(self.general_item_max_per_mille)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../rules/supervision.toml");

    #[test]
    fn the_checked_in_policy_parses() {
        let p = SupervisionPolicy::from_toml("rules/supervision.toml", FILE).unwrap();
        assert_eq!(p.ratio_per_mille.get(Tier::A), 30);
        assert_eq!(p.ratio_per_mille.get(Tier::D), 700);
        assert_eq!(p.min_interval_days, 365);
        assert_eq!(p.min_team_size, 2);
    }

    #[test]
    fn unknown_field_and_bad_ranges_are_rejected() {
        let bad = FILE.replace("min_team_size = 2", "min_team_size = 1");
        let e = SupervisionPolicy::from_toml("s.toml", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("policy.min_team_size") && e.contains("`1`"),
            "{e}"
        );
        let bad = format!("{FILE}\nextra = 1\n");
        let e = SupervisionPolicy::from_toml("s.toml", &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field") && e.contains("s.toml"), "{e}");
    }

    #[test]
    fn every_number_is_bounded_in_the_file_and_in_overrides() {
        let p = SupervisionPolicy::from_toml("s", FILE).unwrap();
        // The file loader uses the same check.
        let bad = FILE.replace("min_team_size = 2", "min_team_size = 4294967295");
        let e = SupervisionPolicy::from_toml("s.toml", &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "policy.min_team_size: `4294967295` is out of range: min_team_size must be 2 to 20"
            ),
            "{e}"
        );
        let o = PolicyOverrides {
            ratio_per_mille: [(Tier::A, 1001)].into(),
            yearly_cap: [(Tier::D, 367)].into(),
            min_interval_days: Some(3661),
            rounding: None,
            general_item_max_per_mille: Some(u32::MAX),
            min_team_size: Some(21),
            max_assignments_per_inspector: Some(10_001),
            joint_members_per_department: Some(11),
        };
        let Err(DrawError::Invalid(v)) = p.with_overrides(&o) else {
            panic!("accepted")
        };
        let got: Vec<String> = v
            .iter()
            .map(|f| format!("{}: {}", f.field, f.description))
            .collect();
        assert_eq!(
            got,
            [
                "overrides.ratio_per_mille.A: `1001` is out of range: ratio_per_mille must be 0 to 1000",
                "overrides.yearly_cap.D: `367` is out of range: yearly_cap must be 0 to 366",
                "overrides.min_interval_days: `3661` is out of range: min_interval_days must be 0 to 3660",
                "overrides.general_item_max_per_mille: `4294967295` is out of range: general_item_max_per_mille must be 0 to 1000",
                "overrides.min_team_size: `21` is out of range: min_team_size must be 2 to 20",
                "overrides.max_assignments_per_inspector: `10001` is out of range: max_assignments_per_inspector must be 1 to 10000",
                "overrides.joint_members_per_department: `11` is out of range: joint_members_per_department must be 1 to 10",
            ]
        );
        // At the limits: accepted, and teams stay within 20 members.
        let o = PolicyOverrides {
            min_team_size: Some(20),
            max_assignments_per_inspector: Some(10_000),
            joint_members_per_department: Some(10),
            ..PolicyOverrides::default()
        };
        let q = p.with_overrides(&o).unwrap();
        let mut v = Violations::new();
        q.check_departments(2, &mut v);
        assert!(v.is_empty());
        q.check_departments(3, &mut v);
        q.check_departments(11, &mut v);
        let fields: Vec<String> = v.into_vec().into_iter().map(|f| f.description).collect();
        assert_eq!(
            fields,
            [
                "`3` departments of 10 members each make teams of 30: a team has at most 20 members",
                "`11` departments is out of range: a draw has 1 to 10",
            ]
        );
    }

    #[test]
    fn rounding_is_exact() {
        // 30 per mille of 50 = 1.5
        assert_eq!(Rounding::Ceil.apply(30, 50), 2);
        assert_eq!(Rounding::Floor.apply(30, 50), 1);
        assert_eq!(Rounding::HalfUp.apply(30, 50), 2);
        // 30 per mille of 49 = 1.47
        assert_eq!(Rounding::HalfUp.apply(30, 49), 1);
        assert_eq!(Rounding::Ceil.apply(1, 1), 1);
        assert_eq!(Rounding::Ceil.apply(1000, 7), 7);
        assert_eq!(Rounding::Ceil.apply(0, 7), 0);
    }

    #[test]
    fn overrides_merge_and_revalidate() {
        let p = SupervisionPolicy::from_toml("s", FILE).unwrap();
        let mut o = PolicyOverrides::default();
        o.ratio_per_mille.insert(Tier::B, 150);
        o.rounding = Some(Rounding::Floor);
        let q = p.with_overrides(&o).unwrap();
        assert_eq!(q.ratio_per_mille.get(Tier::B), 150);
        assert_eq!(q.ratio_per_mille.get(Tier::A), 30);
        assert_eq!(q.rounding, Rounding::Floor);
        o.ratio_per_mille.insert(Tier::D, 1001);
        let e = p.with_overrides(&o).unwrap_err().to_string();
        assert!(e.contains("overrides.ratio_per_mille.D"), "{e}");
        assert_eq!(q.effective_per_mille(Tier::D, false), 500);
        assert_eq!(q.effective_per_mille(Tier::D, true), 700);
    }
}
