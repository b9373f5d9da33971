//! Compiles the API with protox (pure Rust, no system protoc) and writes the
//! descriptor set that server reflection serves. Every `.proto` file under
//! `fiveledger/` is compiled; adding a file needs no change here.

use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=fiveledger");
    println!("cargo:rerun-if-changed=google");

    let mut files = vec![PathBuf::from("google/type/date.proto")];
    proto_files(Path::new("fiveledger"), &mut files)?;
    files.sort();
    let mut compiler = protox::Compiler::new(["."])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?;

    // One descriptor set holding everything (imports included) serves
    // reflection for every service; clients resolve any symbol from it.
    // Encoded by protox itself: `prost_types` drops the custom options
    // (`google.api.field_behavior`, `resource`, `resource_reference`) that
    // make the set the API's machine-readable contract.
    std::fs::write(
        out_dir.join("fiveledger_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let fds = compiler.file_descriptor_set();

    // Type names let events carry their payloads as `google.protobuf.Any`.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure().compile_fds_with_config(fds, config)?;
    Ok(())
}
