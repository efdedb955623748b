//! Sampling algorithms whose output anyone can recompute with public tools.

pub mod consistent;
pub mod order;

pub use consistent::{first_ticket, sample, SampleError, SeedHash, Ticket};
pub use order::smallest;
