//! Compiles the API with protox (pure Rust, no system protoc) and writes one
//! descriptor set per service package for server reflection.

use std::path::PathBuf;

/// The packages we generate code for, with the files that make them up.
const PACKAGES: &[(&str, &[&str])] = &[
    ("google.type", &["google/type/date.proto"]),
    ("fiveledger.type.v1", &["fiveledger/type/v1/event.proto"]),
    (
        "fiveledger.rounds.v1",
        &[
            "fiveledger/rounds/v1/organisation.proto",
            "fiveledger/rounds/v1/events.proto",
        ],
    ),
    ("fiveledger.issues.v1", &["fiveledger/issues/v1/events.proto"]),
    ("fiveledger.ledgers.v1", &["fiveledger/ledgers/v1/events.proto"]),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=fiveledger");
    println!("cargo:rerun-if-changed=google");

    let files: Vec<&str> = PACKAGES.iter().flat_map(|(_, f)| f.iter().copied()).collect();
    let fds = protox::compile(&files, ["."])?;

    // One descriptor set holding everything (imports included) serves
    // reflection for every service; clients resolve any symbol from it.
    std::fs::write(
        out_dir.join("fiveledger_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    // Type names let events carry their payloads as `google.protobuf.Any`.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure().compile_fds_with_config(fds, config)?;
    Ok(())
}
