//! How an admin command fails: the kind of failure, its exit code, and the
//! error as printed (text, or JSON with `--output json`).

use serde_json::json;

use super::Output;

/// What the exit codes mean, for `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  failed for another reason (refused by a service, a bad file, …)
  2  usage: a wrong argument or scope, or no token or key for a remote suite
  3  not found: the scope or a named resource does not exist (or is not yours)
  4  the books do not balance (reconcile) or a hash chain is broken (verify)
  5  a service is unavailable (not running, unreachable, timed out)";

/// The ways an admin command fails, each with its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Other,
    Usage,
    NotFound,
    Unbalanced,
    Unavailable,
}

impl Failure {
    pub fn exit_code(self) -> i32 {
        match self {
            Failure::Other => 1,
            Failure::Usage => 2,
            Failure::NotFound => 3,
            Failure::Unbalanced => 4,
            Failure::Unavailable => 5,
        }
    }

    /// Its name in the JSON error.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Other => "failed",
            Failure::Usage => "usage",
            Failure::NotFound => "not_found",
            Failure::Unbalanced => "unbalanced",
            Failure::Unavailable => "unavailable",
        }
    }

    /// The kind of failure a service's status means.
    pub fn of_status(status: &tonic::Status) -> Self {
        match status.code() {
            tonic::Code::NotFound => Failure::NotFound,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Failure::Unavailable,
            _ => Failure::Other,
        }
    }
}

/// An error that knows how the command failed (and the service's ErrorInfo
/// reason, when a service refused).
#[derive(Debug)]
pub struct Failed {
    pub kind: Failure,
    pub reason: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

/// A failure of `kind` saying `message`.
pub fn fail(kind: Failure, message: impl Into<String>) -> anyhow::Error {
    Failed {
        kind,
        reason: None,
        message: message.into(),
    }
    .into()
}

fn failed_of(err: &anyhow::Error) -> Option<&Failed> {
    err.chain().find_map(|e| e.downcast_ref::<Failed>())
}

/// How `err` failed: the kind it carries, else a usage error for a command
/// line clap refused, else "failed".
pub fn kind_of(err: &anyhow::Error) -> Failure {
    if let Some(failed) = failed_of(err) {
        return failed.kind;
    }
    if err.downcast_ref::<clap::Error>().is_some() {
        return Failure::Usage;
    }
    Failure::Other
}

/// The exit code of a command that failed with `err`.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    kind_of(err).exit_code()
}

/// The error as printed on stderr: `error: …`, or with `--output json` one
/// JSON object `{"error": {"kind", "exit_code", "message", "reason"}}`.
pub fn render(err: &anyhow::Error, output: Output) -> String {
    let kind = kind_of(err);
    let message = format!("{err:#}");
    match output {
        Output::Text => format!("error: {message}"),
        Output::Json => json!({
            "error": {
                "kind": kind.name(),
                "exit_code": kind.exit_code(),
                "message": message,
                "reason": failed_of(err).and_then(|f| f.reason.clone()),
            }
        })
        .to_string(),
    }
}

/// True when the raw arguments ask for JSON output (`--output json` or
/// `--output=json`): what an argument error is printed as, before the
/// command line is understood.
pub fn wants_json<S: AsRef<str>>(args: &[S]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        let a = a.as_ref();
        a == "--output=json"
            || (a == "--output" && args.get(i + 1).is_some_and(|n| n.as_ref() == "json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_exit_code_and_json() {
        let err = fail(Failure::NotFound, "rounds/r404 does not exist");
        assert_eq!(exit_code(&err), 3);
        let printed: serde_json::Value =
            serde_json::from_str(&render(&err, Output::Json)).expect("json");
        assert_eq!(printed["error"]["kind"], "not_found");
        assert_eq!(printed["error"]["exit_code"], 3);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), 1);
        assert!(wants_json(&["x", "--output", "json"]));
        assert!(!wants_json(&["x", "--output", "text"]));
    }
}
