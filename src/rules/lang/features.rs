//! How compiled programs read feature values, and value types for results.

/// Read access to one entity's feature values, by schema slot.
///
/// A program only calls the accessor matching the declared type of the slot
/// (an `int` feature is only read with [`Features::int`], ...), and only for
/// slots listed in [`crate::rules::lang::Program::features_read`]. Implementations should
/// be cheap (ideally an array index): they are called in the hot loop.
pub trait Features {
    /// Value of the `int` feature in `slot`.
    fn int(&self, slot: usize) -> i64;
    /// Value of the `bool` feature in `slot`.
    fn bool(&self, slot: usize) -> bool;
    /// Value of the `string` feature in `slot`.
    fn str(&self, slot: usize) -> &str;
    /// Value of the `list(string)` feature in `slot`.
    fn list(&self, slot: usize) -> &[String];
}

/// A value produced by evaluation, borrowing strings from the program or the
/// features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// `int`
    Int(i64),
    /// `bool`
    Bool(bool),
    /// `string`
    Str(&'a str),
    /// `list(string)`
    StrList(&'a [String]),
}

/// An owned feature value, used by [`Record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    /// `int`
    Int(i64),
    /// `bool`
    Bool(bool),
    /// `string`
    Str(String),
    /// `list(string)`
    StrList(Vec<String>),
}

/// A simple [`Features`] implementation: one [`OwnedValue`] per slot.
///
/// Convenient for tests and tooling; a missing slot or a value of another
/// type reads as `0`, `false`, `""` or `[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record(pub Vec<OwnedValue>);

impl Features for Record {
    fn int(&self, slot: usize) -> i64 {
        match self.0.get(slot) {
            Some(OwnedValue::Int(v)) => *v,
            _ => 0,
        }
    }
    fn bool(&self, slot: usize) -> bool {
        matches!(self.0.get(slot), Some(OwnedValue::Bool(true)))
    }
    fn str(&self, slot: usize) -> &str {
        match self.0.get(slot) {
            Some(OwnedValue::Str(s)) => s,
            _ => "",
        }
    }
    fn list(&self, slot: usize) -> &[String] {
        match self.0.get(slot) {
            Some(OwnedValue::StrList(l)) => l,
            _ => &[],
        }
    }
}

/// A [`Features`] source with no values, used for constant folding: every
/// read returns the zero value.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoFeatures;

impl Features for NoFeatures {
    fn int(&self, _: usize) -> i64 {
        0
    }
    fn bool(&self, _: usize) -> bool {
        false
    }
    fn str(&self, _: usize) -> &str {
        ""
    }
    fn list(&self, _: usize) -> &[String] {
        &[]
    }
}
