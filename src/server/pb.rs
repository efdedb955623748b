//! Code generated from `proto/creditrisk/v1/*.proto` by `build.rs`.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("creditrisk.v1");

/// The encoded descriptor set of every creditrisk proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/creditrisk_descriptor.bin"));
