//! Inspection items (抽查事项): what is inspected, under which basis, by whom, and for which
//! enterprises.
//!
//! The scope decides which candidates a draw for the item even considers; an empty scope list
//! means "no restriction on this dimension". Industry entries match by prefix, so `C` covers all
//! manufacturing and `C13` one division.

use super::candidate::Candidate;
use crate::domain::validate::{check_ident, check_industry, check_jurisdiction, check_label};
use crate::domain::{EntityKind, Violations};
use serde::{Deserialize, Serialize};

/// Key items (safety, quality, public interest) have no ratio cap; general items are capped by
/// the policy's `general_item_max_per_mille`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// 重点检查事项: no ratio cap.
    Key,
    /// 一般检查事项: the tier ratio is capped.
    General,
}

/// Which enterprises an item applies to; every non-empty list must match.
///
/// Serialised by hand (see the `Serialize` impl) so `credit_codes` is absent from JSON when
/// empty (draw records of untargeted items keep their bytes) yet always present in the binary
/// store encoding, whose older values end before it and read as empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Jurisdictions (exact match); empty: all.
    #[serde(default)]
    pub jurisdictions: Vec<String>,
    /// GB/T 4754 sections or codes, matched as prefixes of the enterprise's industry; empty: all.
    #[serde(default)]
    pub industries: Vec<String>,
    /// Entity kinds; empty: all.
    #[serde(default)]
    pub entity_kinds: Vec<EntityKind>,
    /// Licence kinds, of which the enterprise must hold at least one; empty: no licence needed.
    #[serde(default)]
    pub licence_kinds: Vec<String>,
    /// Credit codes, ascending and unique (a targeted item, e.g. the enterprises of a warning
    /// alert); empty: all. Absent from JSON when empty.
    #[serde(default, deserialize_with = "codes_or_end")]
    pub credit_codes: Vec<crate::domain::CreditCode>,
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let codes = !s.is_human_readable() || !self.credit_codes.is_empty();
        let mut st = s.serialize_struct("Scope", 4 + usize::from(codes))?;
        st.serialize_field("jurisdictions", &self.jurisdictions)?;
        st.serialize_field("industries", &self.industries)?;
        st.serialize_field("entity_kinds", &self.entity_kinds)?;
        st.serialize_field("licence_kinds", &self.licence_kinds)?;
        if codes {
            st.serialize_field("credit_codes", &self.credit_codes)?;
        } else {
            st.skip_field("credit_codes")?;
        }
        st.end()
    }
}

/// `credit_codes`: as written in human-readable formats; in the binary store encoding, items
/// stored before the field existed end where it would start, which reads as empty.
fn codes_or_end<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::domain::CreditCode>, D::Error> {
    if d.is_human_readable() {
        Vec::deserialize(d)
    } else {
        // INVARIANT (scope last): `Scope` is the last field of `InspectionItem`, which is the
        // whole stored value, so nothing follows a missing list.
        Ok(Vec::deserialize(d).unwrap_or_default())
    }
}

/// An inspection item of the item list (抽查事项清单).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionItem {
    /// Item id, an identifier (letters, digits, `-_.:/`).
    pub id: String,
    /// Name as published.
    pub name: String,
    /// Legal basis (抽查依据).
    pub basis: String,
    /// Departments involved; the first is the lead department.
    pub departments: Vec<String>,
    /// Key or general item.
    pub kind: ItemKind,
    /// Qualification labels every inspector of the team must hold, e.g. `food`.
    #[serde(default)]
    pub qualifications: Vec<String>,
    /// The enterprises the item applies to.
    #[serde(default)]
    pub scope: Scope,
}

/// Most entries of one scope list (jurisdictions, industries, entity kinds, licence kinds).
pub const MAX_SCOPE_ENTRIES: usize = 1000;
/// Most qualifications one item requires.
pub const MAX_QUALIFICATIONS: usize = 50;
/// Most departments of one item (as of one draw: [`super::policy::bounds::DEPARTMENTS`]).
pub const MAX_DEPARTMENTS: usize = *super::policy::bounds::DEPARTMENTS.end() as usize;
/// Most characters of an item's name.
pub const MAX_NAME_CHARS: usize = 200;
/// Most characters of an item's legal basis.
pub const MAX_BASIS_CHARS: usize = 500;

impl InspectionItem {
    /// Checks every field and collects all problems under `path` (e.g. `item`), such as
    /// `item.scope.jurisdictions[2]`. Lists longer than their bound are reported once, and
    /// their entries are not checked one by one.
    pub fn validate(&self, path: &str, v: &mut Violations) {
        let f = |n: &str| format!("{path}.{n}");
        let lists: [(&str, usize, usize); 7] = [
            ("departments", self.departments.len(), MAX_DEPARTMENTS),
            (
                "qualifications",
                self.qualifications.len(),
                MAX_QUALIFICATIONS,
            ),
            (
                "scope.jurisdictions",
                self.scope.jurisdictions.len(),
                MAX_SCOPE_ENTRIES,
            ),
            (
                "scope.industries",
                self.scope.industries.len(),
                MAX_SCOPE_ENTRIES,
            ),
            (
                "scope.entity_kinds",
                self.scope.entity_kinds.len(),
                MAX_SCOPE_ENTRIES,
            ),
            (
                "scope.licence_kinds",
                self.scope.licence_kinds.len(),
                MAX_SCOPE_ENTRIES,
            ),
            (
                "scope.credit_codes",
                self.scope.credit_codes.len(),
                MAX_SCOPE_ENTRIES,
            ),
        ];
        let mut too_long = false;
        for (name, len, max) in lists {
            if len > max {
                too_long = true;
                let short = name.rsplit('.').next().unwrap_or(name);
                v.add(
                    f(name),
                    format!("`{len}` entries is out of range: {short} may list at most {max}"),
                );
            }
        }
        if too_long {
            return;
        }
        v.parse(&f("id"), check_ident(&self.id));
        v.text(&f("name"), &self.name, true, MAX_NAME_CHARS);
        v.text(&f("basis"), &self.basis, true, MAX_BASIS_CHARS);
        if self.departments.is_empty() {
            v.add(f("departments"), "at least one department is required");
        }
        list(v, &f("departments"), &self.departments, check_ident);
        list(v, &f("qualifications"), &self.qualifications, check_label);
        list(
            v,
            &f("scope.jurisdictions"),
            &self.scope.jurisdictions,
            check_jurisdiction,
        );
        list(
            v,
            &f("scope.industries"),
            &self.scope.industries,
            check_industry,
        );
        list(
            v,
            &f("scope.licence_kinds"),
            &self.scope.licence_kinds,
            check_label,
        );
        for (i, w) in self.scope.credit_codes.windows(2).enumerate() {
            if w[0] >= w[1] {
                v.add(
                    f(&format!("scope.credit_codes[{}]", i + 1)),
                    format!(
                        "`{}` is not after `{}`: list codes ascending, once each",
                        w[1], w[0]
                    ),
                );
            }
        }
        dupes(v, &f("departments"), &self.departments);
        dupes(v, &f("qualifications"), &self.qualifications);
    }

    /// True when `c` falls in the item's scope.
    pub fn in_scope(&self, c: &Candidate) -> bool {
        let s = &self.scope;
        (s.jurisdictions.is_empty() || s.jurisdictions.contains(&c.jurisdiction))
            && (s.industries.is_empty()
                || s.industries
                    .iter()
                    .any(|p| c.industry.starts_with(p.as_str())))
            && (s.entity_kinds.is_empty() || s.entity_kinds.contains(&c.kind))
            && (s.licence_kinds.is_empty()
                || s.licence_kinds.iter().any(|l| c.licences.contains(l)))
            // INVARIANT (ascending codes): `validate` refuses an unsorted list, so a binary
            // search is exact.
            && (s.credit_codes.is_empty() || s.credit_codes.binary_search(&c.credit_code).is_ok())
    }
}

fn list(v: &mut Violations, path: &str, items: &[String], check: fn(&str) -> Result<(), String>) {
    for (i, x) in items.iter().enumerate() {
        v.parse(&format!("{path}[{i}]"), check(x));
    }
}

fn dupes(v: &mut Violations, path: &str, items: &[String]) {
    for (i, x) in items.iter().enumerate() {
        if items[..i].contains(x) {
            v.add(format!("{path}[{i}]"), format!("`{x}` is listed twice"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_each_bad_field() {
        let item = InspectionItem {
            id: "food safety".into(),
            name: "".into(),
            basis: "food safety law art. 87".into(),
            departments: vec!["amr".into(), "amr".into()],
            kind: ItemKind::General,
            qualifications: vec!["Food".into()],
            scope: Scope {
                jurisdictions: vec!["510104".into(), "510105".into(), "5101".into()],
                industries: vec!["C13".into(), "Z".into()],
                entity_kinds: vec![],
                licence_kinds: vec![],
                credit_codes: Vec::new(),
            },
        };
        let mut v = Violations::new();
        item.validate("item", &mut v);
        let fields: Vec<String> = v.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            [
                "item.id",
                "item.name",
                "item.qualifications[0]",
                "item.scope.jurisdictions[2]",
                "item.scope.industries[1]",
                "item.departments[1]",
            ]
        );
    }
}

#[cfg(test)]
mod scope_codec_tests {
    use super::*;
    use crate::storage::codec::{decode, encode};

    /// Targeted scopes round-trip in JSON and in the store encoding; untargeted ones keep
    /// their JSON, and store values written before `credit_codes` existed still read.
    #[test]
    fn credit_codes_round_trip_and_old_values_still_read() {
        let mut item = InspectionItem {
            id: "i".into(),
            name: "n".into(),
            basis: "b".into(),
            departments: vec!["amr".into()],
            kind: ItemKind::Key,
            qualifications: vec![],
            scope: Scope::default(),
        };
        let json = serde_json::to_string(&item).unwrap();
        assert!(!json.contains("credit_codes"), "{json}");
        let stored = encode(&item).unwrap();
        assert_eq!(decode::<InspectionItem>(&stored, &"i").unwrap(), item);
        // An old value: the same bytes without the (empty) list's length byte at the end.
        let old = &stored[..stored.len() - 1];
        assert_eq!(decode::<InspectionItem>(old, &"i").unwrap(), item);
        item.scope.credit_codes =
            vec![crate::domain::CreditCode::parse("91510100054946627W").unwrap()];
        let json = serde_json::to_string(&item).unwrap();
        assert_eq!(serde_json::from_str::<InspectionItem>(&json).unwrap(), item);
        let stored = encode(&item).unwrap();
        assert_eq!(decode::<InspectionItem>(&stored, &"i").unwrap(), item);
    }
}
