//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and generates the tonic code.
//! The encoded descriptor set is written to `OUT_DIR/creditrisk_descriptor.bin` for reflection.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/creditrisk/v1/records.proto",
        "proto/creditrisk/v1/rules.proto",
        "proto/creditrisk/v1/draws.proto",
        "proto/creditrisk/v1/audit.proto",
        "proto/creditrisk/v1/access.proto",
        "proto/creditrisk/v1/warnings.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(protos, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("creditrisk_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Undecodable messages are INVALID_ARGUMENT, not INTERNAL (see `src/server/codec.rs`).
        .codec_path("crate::server::codec::Codec")
        .compile_fds(fds)?;
    Ok(())
}
