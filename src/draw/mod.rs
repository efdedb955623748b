//! Double-random inspection draws (双随机、一公开), as a pure core: no I/O, no clock, no
//! randomness. Time (as-of and inspection dates) and the seed are inputs recorded in the output,
//! so the same inputs give the same [`DrawRecord`] byte for byte, and anyone holding the
//! publication bundle can re-run the draw offline. See `docs/draws.md` for the algorithm.

pub mod assign;
pub mod bundle;
pub mod calendar;
pub mod candidate;
pub mod entity;
pub mod error;
pub mod item;
mod par;
pub mod policy;
pub mod record;
pub mod tier;
pub mod xlsx;

pub use assign::{assign_teams, DepartmentMembers, TeamOutcome, TeamResult};
pub use bundle::{bundle, verify_bundle, Bundle, BundleDoc, EnterpriseInfo, VerifyReport, CSV_BOM};
pub use calendar::{Calendar, Overdue, PendingResult};
pub use candidate::{candidate_digest, roster_digest, Candidate, RosterEntry};
pub use entity::{
    draw_entities, preview, EntityDraw, ExclusionReason, GroupCount, Preview, TierCount,
};
pub use error::DrawError;
pub use item::{InspectionItem, ItemKind, Scope};
pub use policy::{GroupRatio, PolicyOverrides, Rounding, SupervisionPolicy, TierValues};
pub use record::{run_draw, DrawRecord, DrawRequest, Exclusion, SeedSource, Selected, ALGORITHM};
pub use tier::Tier;
pub use xlsx::{xlsx, ListInput};

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
