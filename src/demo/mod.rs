//! TEMPORARY: replaced by the real generator.
use crate::domain::*;
pub struct DemoData {
    pub enterprises: Vec<Enterprise>,
    pub events: Vec<CreditEvent>,
    pub inspectors: Vec<Inspector>,
}
pub fn generate(_entities: usize, _seed: u64) -> DemoData {
    DemoData {
        enterprises: vec![],
        events: vec![],
        inspectors: vec![],
    }
}
