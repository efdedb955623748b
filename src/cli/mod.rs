//! What the command line runs: the server process, the gRPC client commands, import, demo data
//! and benchmarks. `main.rs` only parses arguments and calls in here.

pub mod audit;
pub mod bench;
pub mod client;
pub mod draws;
pub mod import;
pub mod rules;
pub mod serve;
pub mod verify;
