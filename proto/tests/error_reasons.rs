//! The `google.rpc.ErrorInfo.reason` values are a documented vocabulary: one
//! `ErrorReason` enum per package, `fiveledger/<package>/v1/error_reason.proto`
//! (`type` for the reasons every service returns).
//!
//! The services raise errors through `fiveledger_platform::ApiError`, whose
//! constructors take a value of one of these enums (the `Reason` trait), so
//! a reason that is not documented does not compile. This test holds the
//! rest, reading the services' sources: every reason a service names is a
//! value of the enum of its package (or the common one), none is spelled
//! as a string where an `ErrorInfo` is made, every documented reason is
//! returned somewhere, and each says its status code.
//!
//! In the sources, `CommonReason::X` is `fiveledger.type.v1.ErrorReason`,
//! `AccessReason::X` is `fiveledger.access.v1.ErrorReason` and
//! `ErrorReason::X` in `services/<service>/src` is that service's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use prost::Message;
use prost_types::FileDescriptorSet;

/// The service crates whose sources raise errors.
const SERVICES: &[&str] = &["platform", "issues", "ledgers", "rounds"];

/// The status codes a reason may be returned with.
const CODES: &[&str] = &[
    "INVALID_ARGUMENT",
    "FAILED_PRECONDITION",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "ABORTED",
    "DEADLINE_EXCEEDED",
    "UNAVAILABLE",
    "RESOURCE_EXHAUSTED",
    "INTERNAL",
];

/// The documented reasons: package (`type`, `issues`, ...) to value name to
/// its comment.
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let set = FileDescriptorSet::decode(fiveledger_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut out = BTreeMap::new();
    for file in &set.file {
        let Some(package) = file
            .package
            .as_deref()
            .and_then(|p| p.strip_prefix("fiveledger."))
            .and_then(|p| p.strip_suffix(".v1"))
        else {
            continue;
        };
        let Some((i, reasons)) = file
            .enum_type
            .iter()
            .enumerate()
            .find(|(_, e)| e.name() == "ErrorReason")
        else {
            continue;
        };
        assert_eq!(
            file.name(),
            format!("fiveledger/{package}/v1/error_reason.proto"),
            "ErrorReason lives in error_reason.proto"
        );
        let comments: BTreeMap<Vec<i32>, String> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .map(|l| {
                let words: Vec<_> = l.leading_comments().split_whitespace().collect();
                (l.path.clone(), words.join(" "))
            })
            .collect();
        let values = reasons
            .value
            .iter()
            .enumerate()
            .filter(|(_, v)| v.number() != 0)
            .map(|(j, v)| {
                let path = vec![5, i as i32, 2, j as i32];
                let comment = comments.get(&path).cloned().unwrap_or_default();
                (v.name().to_owned(), comment)
            })
            .collect();
        out.insert(package.to_owned(), values);
    }
    out
}

/// prost's name of an enum value: `INVALID_SHA256` is `InvalidSha256`.
fn variant(value: &str) -> String {
    value
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_string() + &chars.as_str().to_lowercase()
            })
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifiers that follow `prefix` in `text` (`CommonReason::TooMany`
/// gives `TooMany`).
fn named_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(at, _)| {
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        })
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

struct Use {
    package: String,
    variant: String,
    at: String,
}

/// Every reason the services' sources name, and every reason spelled as a
/// string where an `ErrorInfo` is made.
fn sources() -> (Vec<Use>, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../services");
    let mut uses = Vec::new();
    let mut literals = Vec::new();
    for service in SERVICES {
        let mut files = Vec::new();
        rust_files(&root.join(service).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file");
            let at = format!(
                "services/{service}/src/{}",
                file.strip_prefix(root.join(service).join("src"))
                    .expect("under src")
                    .display()
            );
            let mut add = |prefix: &str, package: &str| {
                for name in named_after(&text, prefix) {
                    uses.push(Use {
                        package: package.to_owned(),
                        variant: name.to_owned(),
                        at: at.clone(),
                    });
                }
            };
            add("CommonReason::", "type");
            add("AccessReason::", "access");
            add("ErrorReason::", service);
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                let literal_reason = ["set_error_info(\"", "reason: \""]
                    .iter()
                    .any(|p| code.contains(p));
                if literal_reason {
                    literals.push(format!("{at}:{}: {code}", n + 1));
                }
            }
        }
    }
    (uses, literals)
}

#[test]
fn every_package_documents_its_reasons() {
    let documented = documented();
    let packages: BTreeSet<_> = documented.keys().map(String::as_str).collect();
    assert_eq!(
        packages,
        BTreeSet::from(["access", "issues", "ledgers", "rounds", "type"])
    );
    // A reason is one string, documented once.
    let mut seen = BTreeMap::new();
    let mut wrong = Vec::new();
    for (package, values) in &documented {
        for (value, comment) in values {
            if let Some(other) = seen.insert(value.clone(), package.clone()) {
                wrong.push(format!("{value}: in {other} and {package}"));
            }
            let codes: Vec<_> = CODES
                .iter()
                .filter(|c| comment.contains(&format!("Code: {c}")))
                .collect();
            if codes.len() != 1 || comment.split_whitespace().count() < 6 {
                wrong.push(format!(
                    "{package} {value}: say when it is returned, and `Code: <one status code>`"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_services_return_the_documented_reasons_and_only_those() {
    let documented = documented();
    let (uses, literals) = sources();
    // Sanity: the scan finds the error sites (about 150 of them).
    assert!(uses.len() > 100, "{} uses found", uses.len());

    let mut wrong: Vec<String> = literals
        .into_iter()
        .map(|l| format!("a reason spelled as a string, not an ErrorReason value: {l}"))
        .collect();
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for u in &uses {
        let known = documented
            .get(&u.package)
            .is_some_and(|values| values.keys().any(|v| variant(v) == u.variant));
        if known {
            used.insert((u.package.clone(), u.variant.clone()));
        } else {
            wrong.push(format!(
                "not in the ErrorReason of {}: {} ({})",
                u.package, u.variant, u.at
            ));
        }
    }
    for (package, values) in &documented {
        for value in values.keys() {
            if !used.contains(&(package.clone(), variant(value))) {
                wrong.push(format!(
                    "documented, returned by no service (remove it, or return it): {package} {value}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
