//! The CLI's standard output. A reader that goes away early
//! (`fiveledger stats … | head`) ends the command quietly, as it ends any
//! Unix tool, instead of the panic `println!` raises on a closed pipe.

use std::io::{self, Write};

/// Writes `args` and a newline to standard output (see [`say!`](crate::say)).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        gone(err)
    }
}

fn gone(err: io::Error) -> ! {
    if err.kind() == io::ErrorKind::BrokenPipe {
        // Whoever reads has all it wanted.
        std::process::exit(0)
    }
    eprintln!("fiveledger: cannot write to standard output: {err}");
    std::process::exit(1)
}

/// `println!` for the CLI: a closed pipe ends the command with exit code 0.
#[macro_export]
macro_rules! say {
    () => {
        $crate::cli::stdout::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::stdout::line(format_args!($($arg)*))
    };
}
