//! What the command line runs: the server process, the gRPC client commands (each sends the
//! caller's bearer token, see [`client::Target`]), tokens, import, demo data and benchmarks.
//! `main.rs` only parses arguments and calls in here.

pub mod audit;
pub mod bench;
pub mod bench_overview;
pub mod client;
pub mod draws;
pub mod import;
pub mod rules;
pub mod serve;
pub mod store;
pub mod token;
pub mod verify;
pub mod warnings;
