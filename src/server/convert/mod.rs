//! Conversions between generated proto types and domain types: the only place that knows both.
//!
//! Proto to domain parses every field and collects every failure as a field violation named by
//! its path (`records[3].effective_date`); semantic checks are the domain's (`validate`).
//! Domain to proto cannot fail.

mod access;
mod audit;
mod bounds;
mod draws;
mod records;
mod rules;
mod warnings;

pub use access::*;
pub use audit::*;
pub use bounds::*;
pub use draws::*;
pub use records::*;
pub use rules::*;
pub use warnings::*;
