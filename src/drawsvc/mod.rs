//! The draw service: double-random draws over the stored records, for planners and inspectors.
//!
//! The pure core ([`crate::draw`]) draws from two snapshots; this layer builds them from the
//! store at a **cut** (see [`snapshot`]), stores each draw immutably with its assignment index,
//! records results (as inspection events, so they enter the credit record and trigger
//! re-classification) and their publication, lists overdue publications, and exports the
//! publication bundle after checking that the draw still replays from the stored records.
//! Issue 12 adds group ratio overrides (differentiated supervision, applied to the draws whose
//! inspection date they cover) and joint targeted draws from warning alerts ([`targeted`]).

pub mod service;
pub mod snapshot;
pub mod store;
pub mod targeted;

pub use service::{
    Assignment, DrawPreview, DrawSpec, DrawView, Draws, Export, OverdueEntry, PublicResult,
    ResultInput,
};
pub use store::{StoredDraw, StoredGroupRatio, StoredPublication, StoredResult};
pub use targeted::AlertTarget;

#[cfg(test)]
mod tests;
