//! Field-level validation shared by every record kind.
//!
//! Validation collects every problem of a record (not just the first) as [`FieldViolation`]s
//! whose `field` is a path such as `records[3].penalty.amount_yuan`, so a caller fixing a
//! rejected batch sees everything at once.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One bad field: where it is and what is wrong, with the bad value in backticks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    /// Path of the field, e.g. `records[3].credit_code`.
    pub field: String,
    /// What is wrong, lower case, naming the value, e.g. "`-5` is negative".
    pub description: String,
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// A collector of violations, with the path prefix of the record being checked.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<FieldViolation>,
}

impl Violations {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is bad.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.items.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many violations were recorded.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Adds violations found elsewhere (e.g. by the checks that need the store).
    pub fn extend(&mut self, more: impl IntoIterator<Item = FieldViolation>) {
        self.items.extend(more);
    }

    /// The violations, in the order found.
    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.items
    }

    /// Runs `parse` on a value and records its error under `field`; returns the parsed value.
    pub fn parse<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(t) => Some(t),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }

    /// Checks that a free-text field is present, at most `max` characters and free of control
    /// characters.
    pub fn text(&mut self, field: &str, value: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.add(field, "is required");
        } else if value.chars().count() > max {
            self.add(
                field,
                format!("`{}…` is longer than {max} characters", truncate(value, 24)),
            );
        } else if value.chars().any(|c| c.is_control()) {
            self.add(
                field,
                format!("`{}` contains control characters", value.escape_default()),
            );
        }
    }

    /// Checks an identifier: 1-64 characters of letters, digits and `-_.:/`.
    pub fn ident(&mut self, field: &str, value: &str) {
        if let Err(e) = check_ident(value) {
            self.add(field, e);
        }
    }
}

/// A batch of records on its way through the checks: conversion, then field checks, then the
/// checks that need the store. Each stage adds to one list of violations instead of stopping
/// the next, so one answer names every bad field of the batch; the batch is written only if the
/// list stays empty.
///
/// Records that did not convert at all are left out of `records`; `positions` keeps each kept
/// record's index in the request, so field paths stay `records[i].…` with the caller's `i`.
#[derive(Debug, Default)]
pub struct Batch<T> {
    /// The records that converted, in request order.
    pub records: Vec<T>,
    /// `positions[k]` is the index in the request of `records[k]`.
    pub positions: Vec<usize>,
    /// How many records the request held.
    pub sent: usize,
    /// Indices into `records` of the records with violations of their own: later checks skip
    /// them (a record with a bad field may hold a placeholder there).
    pub flawed: std::collections::BTreeSet<usize>,
    /// Every violation found so far.
    pub violations: Violations,
}

impl<T> Batch<T> {
    /// An empty batch with room for `n` records.
    pub fn with_capacity(n: usize) -> Self {
        Batch {
            records: Vec::with_capacity(n),
            positions: Vec::with_capacity(n),
            sent: n,
            flawed: Default::default(),
            violations: Violations::new(),
        }
    }

    /// A batch of records that all converted, with nothing found yet.
    pub fn whole(records: Vec<T>) -> Self {
        Batch {
            positions: (0..records.len()).collect(),
            sent: records.len(),
            records,
            flawed: Default::default(),
            violations: Violations::new(),
        }
    }

    /// Adds the record found at `position` of the request; `flawed` if it has violations.
    pub fn push(&mut self, record: T, position: usize, flawed: bool) {
        if flawed {
            self.flawed.insert(self.records.len());
        }
        self.records.push(record);
        self.positions.push(position);
    }

    /// The path prefix of `records[k]`, e.g. `records[7]`.
    pub fn path(&self, k: usize) -> String {
        format!("records[{}]", self.positions.get(k).copied().unwrap_or(k))
    }

    /// Runs `check` on every record (flawed ones too, for their other fields) under its path;
    /// marks the records it finds violations in.
    pub fn check(&mut self, mut check: impl FnMut(&mut T, &str, &mut Violations)) {
        for (k, r) in self.records.iter_mut().enumerate() {
            let at = format!("records[{}]", self.positions.get(k).copied().unwrap_or(k));
            let before = self.violations.len();
            check(r, &at, &mut self.violations);
            if self.violations.len() > before {
                self.flawed.insert(k);
            }
        }
    }

    /// The records if nothing was found, else every violation, in record order.
    pub fn finish(self) -> Result<Vec<T>, Vec<FieldViolation>> {
        if self.violations.is_empty() {
            Ok(self.records)
        } else {
            Err(in_record_order(self.violations.into_vec()))
        }
    }
}

/// Sorts violations by the record they name (`records[i]…`, by `i`), keeping the order found
/// within a record; violations naming no record come first.
pub fn in_record_order(mut v: Vec<FieldViolation>) -> Vec<FieldViolation> {
    fn record(f: &FieldViolation) -> Option<usize> {
        let rest = f.field.strip_prefix("records[")?;
        rest[..rest.find(']')?].parse().ok()
    }
    v.sort_by_key(record);
    v
}

/// Keeps the first `n` characters, for echoing long input in messages.
pub fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// An identifier: 1-64 ASCII letters, digits and `-_.:/`. Ids are used in keys and file names,
/// so the alphabet is narrow on purpose.
pub fn check_ident(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    if value.len() > 64 {
        return Err(format!(
            "`{}…` is longer than 64 characters",
            truncate(value, 24)
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:/".contains(*c)))
    {
        return Err(format!(
            "`{}` contains `{}`; ids use letters, digits and -_.:/",
            value.escape_default(),
            c.escape_default()
        ));
    }
    Ok(())
}

/// A 6-digit administrative division code (GB/T 2260).
pub fn check_division(value: &str) -> Result<(), String> {
    if value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) && &value[..2] != "00" {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a 6-digit division code",
            value.escape_default()
        ))
    }
}

/// A jurisdiction: a 6-digit division code, or a zone id of 2-32 characters `[a-z0-9-]`
/// starting with a letter (zones such as `chengdu-hitech` register enterprises without being
/// division units).
pub fn check_jurisdiction(value: &str) -> Result<(), String> {
    if check_division(value).is_ok() {
        return Ok(());
    }
    let b = value.as_bytes();
    let zone = (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if zone {
        Ok(())
    } else {
        Err(format!(
            "`{}` is neither a 6-digit division code nor a zone id like `chengdu-hitech`",
            value.escape_default()
        ))
    }
}

/// A GB/T 4754-2017 industry code: a section letter A-T, then 0, 2, 3 or 4 digits.
pub fn check_industry(value: &str) -> Result<(), String> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && (b'A'..=b'T').contains(&b[0])
        && matches!(b.len(), 1 | 3 | 4 | 5)
        && b[1..].iter().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a GB/T 4754 industry code (section A-T, then 2 to 4 digits, e.g. `C1391`)",
            value.escape_default()
        ))
    }
}

/// A lower-case kind label such as `food` or `special-equipment`: 1-40 of `[a-z0-9-]`.
pub fn check_label(value: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&value.len())
        && value
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a kind label (1-40 characters of a-z, 0-9 and -)",
            value.escape_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_checks() {
        assert!(check_jurisdiction("510104").is_ok());
        assert!(check_jurisdiction("chengdu-hitech").is_ok());
        assert!(check_jurisdiction("51010").is_err());
        assert!(check_jurisdiction("Chengdu").is_err());
        assert!(check_industry("C").is_ok());
        assert!(check_industry("C13").is_ok());
        assert!(check_industry("C1391").is_ok());
        assert!(check_industry("C1").is_err());
        assert!(check_industry("U12").is_err());
        assert!(check_industry("C13911").is_err());
        assert!(check_ident("ev-1:a/b").is_ok());
        assert!(check_ident("ev 1").unwrap_err().contains("` `"));
        assert!(check_label("special-equipment").is_ok());
        assert!(check_label("Food").is_err());
    }

    #[test]
    fn violations_sort_by_record_number() {
        let f = |s: &str| FieldViolation {
            field: s.into(),
            description: String::new(),
        };
        let v = in_record_order(vec![
            f("records[10].b"),
            f("records[2].a"),
            f("records[10].a"),
            f("records"),
        ]);
        let names: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            names,
            ["records", "records[2].a", "records[10].b", "records[10].a"]
        );
    }

    #[test]
    fn text_checks_collect_everything() {
        let mut v = Violations::new();
        v.text("a", "", true, 10);
        v.text("b", "01234567890", false, 10);
        v.text("c", "x\ny", false, 10);
        v.text("d", "fine", true, 10);
        let all = v.into_vec();
        assert_eq!(
            all.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }
}
