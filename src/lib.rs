//! creditrisk: credit-risk tiers and double-random inspection draws for market regulators.
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod ingest;
pub mod server;
pub mod storage;

pub use error::{Error, Result};

/// `n` bytes from the operating system's randomness (for keys and server-made seeds).
pub fn os_random(n: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}
