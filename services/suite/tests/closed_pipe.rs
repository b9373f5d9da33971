//! A reader that stops early (`fiveledger … | head`) ends the command
//! quietly: exit code 0 and no panic on standard error.

use std::process::{Command, Stdio};

#[test]
fn a_closed_standard_output_ends_the_command_quietly() {
    let data = std::env::temp_dir().join(format!("fiveledger-closed-pipe-{}", std::process::id()));
    // The pipe's reading end is closed before the command starts, so its
    // first line meets a closed pipe whatever the timing.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_fiveledger"))
        .args(["token", "--role", "admin"])
        .env("FIVELEDGER_DATA_DIR", &data)
        .env(
            "FIVELEDGER_AUTH__SECRET",
            "closed-pipe-test-secret-32-bytes",
        )
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("fiveledger runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&data);
}
