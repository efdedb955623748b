//! The credit-risk tier as the draw sees it: the rules' tier (`A` < `B` < `C` < `D`).

pub use crate::rules::Tier;
