//! Classification: rule sets as stored, reading a consistent snapshot of an enterprise's
//! records, classifying one enterprise or a whole scope (resumable), how a whole-population
//! run stores its output (`blocks`), simulation, tier reports (`report`), and the tier-change
//! log that watchers follow. Knows storage and rules; knows nothing of gRPC.

pub mod batch;
pub mod blocks;
pub mod inputs;
pub mod record;
pub mod report;
pub mod rulesets;
pub mod service;
#[cfg(test)]
mod tests;

pub use batch::RunState;
pub use record::{ClassificationRecord, TierChangeRecord};
pub use rulesets::{ActivationRecord, RuleSets};
pub use service::{Classified, Classifier, Simulation};
