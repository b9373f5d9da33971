//! gRPC calls named as the community's tooling names them: the service and
//! method of a path, the method's type (`unary`, `server_stream` …, from
//! the descriptors we serve) and status codes spelt as grpc-go spells them
//! (`OK`, `NotFound`), so go-grpc-prometheus dashboards and the
//! OpenTelemetry RPC conventions read our metrics and spans unchanged.

use std::collections::HashMap;
use std::sync::OnceLock;

use prost::Message;
use tonic::Code;

/// The parts of `/package.Service/Method`; `None` for any other shape.
pub fn split(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

/// `unary`, `client_stream`, `server_stream` or `bidi_stream` for a method
/// of a descriptor we serve or call; `unary` for one we do not know.
pub fn kind(path: &str) -> &'static str {
    kinds().get(path).copied().unwrap_or("unary")
}

fn kinds() -> &'static HashMap<String, &'static str> {
    static KINDS: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    KINDS.get_or_init(|| {
        let sets = [
            fiveledger_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let mut kinds = HashMap::new();
        for set in sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        let kind = match (method.client_streaming(), method.server_streaming()) {
                            (false, false) => "unary",
                            (true, false) => "client_stream",
                            (false, true) => "server_stream",
                            (true, true) => "bidi_stream",
                        };
                        kinds.insert(
                            format!("/{package}.{}/{}", service.name(), method.name()),
                            kind,
                        );
                    }
                }
            }
        }
        kinds
    })
}

/// The code's name as grpc-go (and so go-grpc-prometheus) spells it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Whether a server's span of a call answered `code` is in error, by the
/// OpenTelemetry RPC conventions: only codes that say the server failed,
/// not those that say the caller asked for something it cannot have.
pub fn server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_typed_from_the_descriptors() {
        assert_eq!(
            kind("/fiveledger.rounds.v1.OrganisationService/GetOrganisation"),
            "unary"
        );
        assert_eq!(
            kind("/fiveledger.rounds.v1.EventService/WatchEvents"),
            "server_stream"
        );
        assert_eq!(kind("/grpc.health.v1.Health/Watch"), "server_stream");
        assert_eq!(
            kind("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            "bidi_stream"
        );
    }

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split("/fiveledger.rounds.v1.RoundService/GetRound"),
            Some(("fiveledger.rounds.v1.RoundService", "GetRound"))
        );
        assert_eq!(split("/nothing"), None);
        assert_eq!(split("/a/b/c"), None);
    }

    #[test]
    fn codes_are_spelt_as_grpc_go_spells_them() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Cancelled), "Canceled");
        assert_eq!(code_name(Code::NotFound), "NotFound");
        assert!(!server_error(Code::NotFound));
        assert!(server_error(Code::Internal));
    }
}
