//! Value types and the feature schema expressions are checked against.

use std::collections::HashMap;
use std::fmt;

/// The types of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// 64-bit signed integer (`int`).
    Int,
    /// Boolean (`bool`).
    Bool,
    /// UTF-8 string (`string`).
    Str,
    /// List of strings (`list(string)`).
    StrList,
}

impl fmt::Display for Type {
    /// Prints the CEL spelling: `int`, `bool`, `string`, `list(string)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Int => "int",
            Type::Bool => "bool",
            Type::Str => "string",
            Type::StrList => "list(string)",
        })
    }
}

/// One declared feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// Name as used in expressions.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// For `int` features: inclusive bounds every value satisfies
    /// (`i64::MIN..=i64::MAX` when undeclared). Ignored for other types.
    pub range: (i64, i64),
}

/// The set of features expressions may read.
///
/// Each feature gets a *slot*: its 0-based position in declaration order.
/// Slots are what compiled programs pass to [`crate::rules::lang::Features`].
#[derive(Debug, Clone, Default)]
pub struct Schema {
    features: Vec<Feature>,
    by_name: HashMap<String, usize>,
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a feature and returns its slot.
    ///
    /// `range` is the inclusive value range of an `int` feature used by the
    /// interval analysis (`None` = any `i64`; a reversed pair is swapped).
    /// Declaring an existing name again replaces its type and range and
    /// returns the same slot.
    pub fn add(&mut self, name: &str, ty: Type, range: Option<(i64, i64)>) -> usize {
        let range = match range {
            Some((a, b)) if a <= b => (a, b),
            Some((a, b)) => (b, a),
            None => (i64::MIN, i64::MAX),
        };
        let f = Feature {
            name: name.to_string(),
            ty,
            range,
        };
        if let Some(&slot) = self.by_name.get(name) {
            self.features[slot] = f;
            return slot;
        }
        let slot = self.features.len();
        self.features.push(f);
        self.by_name.insert(name.to_string(), slot);
        slot
    }

    /// The slot and type of `name`, if declared.
    pub fn slot(&self, name: &str) -> Option<(usize, Type)> {
        self.by_name.get(name).map(|&s| (s, self.features[s].ty))
    }

    /// The feature in `slot`, if any.
    pub fn feature(&self, slot: usize) -> Option<&Feature> {
        self.features.get(slot)
    }

    /// All features in slot order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Number of declared features (= one past the highest slot).
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether no feature is declared.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_redeclare() {
        let mut s = Schema::new();
        assert_eq!(s.add("a", Type::Int, Some((5, 1))), 0);
        assert_eq!(s.add("b", Type::Bool, None), 1);
        assert_eq!(s.slot("a"), Some((0, Type::Int)));
        assert_eq!(s.feature(0).map(|f| f.range), Some((1, 5)));
        assert_eq!(s.add("a", Type::Str, None), 0);
        assert_eq!(s.slot("a"), Some((0, Type::Str)));
        assert_eq!(s.slot("zz"), None);
        assert_eq!(s.len(), 2);
        assert_eq!(Type::StrList.to_string(), "list(string)");
    }
}
