//! Rules: the pure core that turns an enterprise's records into a credit-risk tier.
//!
//! - [`lang`]: the CEL subset rule conditions and scores are written in;
//! - `features`: the documented feature schema and its computation from records;
//! - `ruleset`: rule-set files, loading, static checks, the canonical hash, compilation;
//! - `engine`: classification and explanation;
//! - `cases`: case files that pin a rule set's behaviour;
//! - [`diff`]: what changed between two rule sets (manifest, rules added, removed, changed);
//! - [`embedded`]: the repository's `rules/` folder built into the binary.

mod cases;
pub mod diff;
pub mod embedded;
mod engine;
mod features;
pub mod lang;
mod ruleset;

/// Loader parts shared with the warning rule set (`crate::warn`).
pub(crate) use cases::{case_file_paths, failed, features_from_map, read_case_file};
pub use cases::{run_case_file, run_case_text, run_cases, CaseResult};
pub use engine::{
    classify, classify_tier, explain, Decision, Effect, Explanation, FiredRule, NextStep,
};
pub(crate) use features::lang_schema;
pub use features::{
    compute, slot_of, Feat, FeatureDef, FeatureInput, FeatureValue, FeatureVector, Relations,
    RepContribution, SectorDef, Window, SCHEMA, SECTORS,
};
pub(crate) use ruleset::{
    date_value, duplicate_id, expr, missing_file, read_folder, rule_file_path_ok, scope_value,
    sorted, toml_error, valid_id, FileCx,
};
pub use ruleset::{
    Bands, CompiledRuleSet, Manifest, Rule, RuleEffect, RuleError, RuleSet, Scope, Severity, Tier,
};
