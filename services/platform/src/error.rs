//! The one error type handlers return, and its single mapping to a gRPC
//! `Status` with `google.rpc` details (ErrorInfo, BadRequest,
//! PreconditionFailure). Internal causes are logged, never sent.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every error we raise.
pub const ERROR_DOMAIN: &str = "fiveledger.gov";

/// The reasons every service may return
/// (`proto/fiveledger/type/v1/error_reason.proto`).
pub use fiveledger_proto::types::ErrorReason as CommonReason;

/// A documented `ErrorInfo.reason`: a value of one of the API's
/// `ErrorReason` enums (`proto/fiveledger/*/v1/error_reason.proto`). Errors
/// take their reason as one, so a reason that is not documented does not
/// compile.
pub trait Reason: Copy {
    /// The reason string, e.g. `INVALID_FILTER`.
    fn as_reason(self) -> &'static str;
}

macro_rules! reasons {
    ($($enum:ty),*) => {$(
        impl Reason for $enum {
            fn as_reason(self) -> &'static str {
                self.as_str_name()
            }
        }
    )*};
}

reasons!(
    fiveledger_proto::types::ErrorReason,
    fiveledger_proto::access::ErrorReason,
    fiveledger_proto::issues::ErrorReason,
    fiveledger_proto::ledgers::ErrorReason,
    fiveledger_proto::rounds::ErrorReason
);

pub type ApiResult<T> = Result<T, ApiError>;

/// One violated precondition: what kind of rule, about what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule, e.g. `PHASE` or `AVOIDANCE_POST`.
    pub kind: String,
    /// What it is about, e.g. a resource name.
    pub subject: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is malformed. `reason` is an UPPER_SNAKE code.
    #[error("invalid {field}: {description}")]
    InvalidArgument {
        field: String,
        reason: &'static str,
        description: String,
    },
    /// The resource does not exist or is outside the caller's scope (we never
    /// say which, so scope cannot be probed).
    #[error("{resource} not found")]
    NotFound { resource: String },
    #[error("{resource} already exists")]
    AlreadyExists { resource: String },
    /// A workflow step out of order, or a rule of the domain refused.
    #[error("{description}")]
    FailedPrecondition {
        reason: &'static str,
        description: String,
        violations: Vec<Violation>,
    },
    /// Optimistic concurrency: the etag sent is not the current one.
    #[error("etag mismatch on {resource}: it changed since it was read")]
    Aborted { resource: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// Denied for a stated rule the caller may be told (e.g.
    /// `ROUND_OUT_OF_SCOPE`), as opposed to a role the caller lacks.
    #[error("{description}")]
    Denied {
        reason: &'static str,
        description: String,
    },
    /// The caller's deadline ran out while we waited on its behalf.
    #[error("the deadline of this call ran out")]
    DeadlineExceeded,
    /// A bounded queue of this service is full: retry with back-off.
    #[error("{description}")]
    Exhausted {
        reason: &'static str,
        description: String,
    },
    /// A service we depend on could not be reached.
    #[error("{service} is unavailable")]
    Unavailable { service: String, cause: String },
    /// Anything else: logged with its cause, reported without it.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(
        field: impl Into<String>,
        reason: impl Reason,
        description: impl Into<String>,
    ) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.as_reason(),
            description: description.into(),
        }
    }

    /// A required field was left empty.
    pub fn required(field: impl Into<String>) -> Self {
        let field = field.into();
        let description = format!("{field} is required");
        Self::invalid(field, CommonReason::RequiredField, description)
    }

    pub fn not_found(resource: impl Into<String>) -> Self {
        Self::NotFound {
            resource: resource.into(),
        }
    }

    pub fn precondition(reason: impl Reason, description: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason: reason.as_reason(),
            description: description.into(),
            violations: Vec::new(),
        }
    }

    pub fn precondition_with(
        reason: impl Reason,
        description: impl Into<String>,
        violations: Vec<Violation>,
    ) -> Self {
        Self::FailedPrecondition {
            reason: reason.as_reason(),
            description: description.into(),
            violations,
        }
    }

    /// PERMISSION_DENIED with an UPPER_SNAKE `reason` saying which rule.
    pub fn denied(reason: impl Reason, description: impl Into<String>) -> Self {
        Self::Denied {
            reason: reason.as_reason(),
            description: description.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// True for a fault that may pass by itself (a dependency or the
    /// database unreachable, a full write queue or a spent limit): the
    /// caller should retry with back-off.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Exhausted { .. })
    }

    /// The `ErrorInfo.reason` this error carries.
    pub fn reason(&self) -> &'static str {
        let common = match self {
            Self::InvalidArgument { reason, .. }
            | Self::FailedPrecondition { reason, .. }
            | Self::Denied { reason, .. }
            | Self::Exhausted { reason, .. } => return reason,
            Self::NotFound { .. } => CommonReason::NotFound,
            Self::AlreadyExists { .. } => CommonReason::AlreadyExists,
            Self::Aborted { .. } => CommonReason::EtagMismatch,
            Self::Unauthenticated(_) => CommonReason::Unauthenticated,
            Self::PermissionDenied(_) => CommonReason::PermissionDenied,
            Self::DeadlineExceeded => CommonReason::DeadlineExceeded,
            Self::Unavailable { .. } => CommonReason::DependencyUnavailable,
            Self::Internal(_) => CommonReason::Internal,
        };
        common.as_reason()
    }

    fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists { .. } => Code::AlreadyExists,
            Self::FailedPrecondition { .. } => Code::FailedPrecondition,
            Self::Aborted { .. } => Code::Aborted,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) | Self::Denied { .. } => Code::PermissionDenied,
            Self::DeadlineExceeded => Code::DeadlineExceeded,
            Self::Exhausted { .. } => Code::ResourceExhausted,
            Self::Unavailable { .. } => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        let mut details = ErrorDetails::new();
        let mut metadata = std::collections::HashMap::new();
        match &err {
            ApiError::InvalidArgument {
                field, description, ..
            } => {
                details.add_bad_request_violation(field.clone(), description.clone());
                metadata.insert("field".to_owned(), field.clone());
            }
            ApiError::NotFound { resource }
            | ApiError::AlreadyExists { resource }
            | ApiError::Aborted { resource } => {
                metadata.insert("resource".to_owned(), resource.clone());
            }
            ApiError::FailedPrecondition { violations, .. } => {
                for v in violations {
                    details.add_precondition_failure_violation(
                        v.kind.clone(),
                        v.subject.clone(),
                        v.description.clone(),
                    );
                }
            }
            ApiError::Unavailable { service, cause } => {
                tracing::warn!(upstream = %service, %cause, "dependency unavailable");
                metadata.insert("service".to_owned(), service.clone());
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
            }
            ApiError::Unauthenticated(_)
            | ApiError::PermissionDenied(_)
            | ApiError::Denied { .. }
            | ApiError::Exhausted { .. }
            | ApiError::DeadlineExceeded => {}
        }
        details.set_error_info(err.reason(), ERROR_DOMAIN, metadata);
        Status::with_error_details(err.code(), err.to_string(), details)
    }
}

/// What UNAVAILABLE names when the service's own database is unreachable.
pub const DATABASE: &str = "database";

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_transient_db_error(&err) {
            return Self::Unavailable {
                service: DATABASE.to_owned(),
                cause: err.to_string(),
            };
        }
        Self::Internal(err.into())
    }
}

impl ApiError {
    /// What `From<DbErr>` makes of `err`, for each of the requests one
    /// failed statement served (a `DbErr` is not `Clone`): the same code,
    /// with the error's text.
    pub(crate) fn of_shared_db_error(err: &sea_orm::DbErr) -> Self {
        if is_transient_db_error(err) {
            return Self::Unavailable {
                service: DATABASE.to_owned(),
                cause: err.to_string(),
            };
        }
        Self::internal(anyhow::anyhow!("{err}"))
    }
}

/// True when a database error says the connection, not the statement,
/// failed: the pool could not hand out a connection, the connection broke
/// (I/O), or PostgreSQL refused or dropped it (SQLSTATE class 08,
/// connection exception; 57P01-57P05, shut down, restarting, cannot
/// connect now; 53300, too many connections); or PostgreSQL undid the
/// statement to break a deadlock or a serialization conflict with another
/// transaction (40P01, 40001), as writers on several replicas updating the
/// same sums can meet. Retrying later may succeed (nothing of the request
/// was kept), so callers get UNAVAILABLE rather than INTERNAL.
pub fn is_transient_db_error(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => is_transient_sqlx_error(e),
        // A connection that could not be made at all.
        DbErr::Conn(_) => true,
        _ => false,
    }
}

fn is_transient_sqlx_error(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(db) => db.code().is_some_and(|code| is_transient_sqlstate(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of a connection that failed or was dropped, or of
/// a statement undone for another transaction's sake.
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || matches!(code, "53300" | "40P01" | "40001")
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(err: sea_orm::TransactionError<ApiError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

/// The refusal of calls while a service migrates or drains: UNAVAILABLE
/// (clients retry elsewhere) with an `ErrorInfo` like every other refusal.
pub fn not_ready() -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        CommonReason::NotReady.as_reason(),
        ERROR_DOMAIN,
        std::collections::HashMap::new(),
    );
    Status::with_error_details(
        Code::Unavailable,
        "the service is starting or stopping",
        details,
    )
}

/// What tonic's codec says (as INTERNAL) when a request's bytes are not the
/// method's message; its text names our internal types and fields.
const DECODE_FAILURE: &str = "failed to decode Protobuf message";

/// Rewrites a trailers-only response that reports an undecodable request as
/// INVALID_ARGUMENT `MALFORMED_REQUEST`, without naming any internal type:
/// the request is the caller's mistake, not ours.
pub fn malformed_request_answer(
    response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    match Status::from_header_map(response.headers()) {
        Some(status)
            if status.code() == Code::Internal && status.message().starts_with(DECODE_FAILURE) =>
        {
            Status::from(ApiError::invalid(
                "request",
                CommonReason::MalformedRequest,
                "the request is not a well-formed message of this method",
            ))
            .into_http()
        }
        _ => response,
    }
}

/// Maps a `Status` from a service we call into our error: its NOT_FOUND
/// keeps its meaning (naming `resource`), an unreachable or timed-out
/// service, or a connection to it that broke, is UNAVAILABLE, anything else
/// is internal: we call with our own service credentials and well-formed
/// requests, so a refusal there is a fault of ours, not of the caller's
/// input.
pub fn from_upstream(service: &str, resource: &str, status: Status) -> ApiError {
    // Our caller's time ran out: telling it the dependency is down would
    // send it retrying for a fault that is not there.
    if crate::auth::call_deadline_passed() && status.code() != Code::NotFound {
        return ApiError::DeadlineExceeded;
    }
    match status.code() {
        Code::NotFound => ApiError::not_found(resource),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ApiError::Unavailable {
            service: service.to_owned(),
            cause: status.message().to_owned(),
        },
        code if is_broken_connection(code, &status) => ApiError::Unavailable {
            service: service.to_owned(),
            cause: status.message().to_owned(),
        },
        _ => ApiError::Internal(anyhow::anyhow!(
            "{service} answered {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}

/// True for a status our own client made from a transport failure (the
/// connection reset, closed, or a stream refused mid-call: tonic reports
/// these as INTERNAL or UNKNOWN), as opposed to one the peer answered:
/// tonic keeps the transport error as the status's source, which a status
/// read off the wire never has.
fn is_broken_connection(code: Code, status: &Status) -> bool {
    matches!(code, Code::Internal | Code::Unknown) && std::error::Error::source(status).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field() {
        let status: Status = ApiError::required("organisation.display_name").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "REQUIRED_FIELD");
        assert_eq!(info.domain, ERROR_DOMAIN);
        let bad = details.bad_request().expect("bad request");
        assert_eq!(bad.field_violations[0].field, "organisation.display_name");
    }

    #[test]
    fn internal_errors_do_not_echo_their_cause() {
        let status: Status =
            ApiError::internal(anyhow::anyhow!("relation \"x\" does not exist")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("relation"));
    }

    mod transient {
        use std::sync::Arc;

        use sea_orm::sqlx;
        use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

        use super::*;

        /// A database error with a SQLSTATE, as PostgreSQL sends them.
        #[derive(Debug)]
        struct Sqlstate(&'static str);

        impl std::fmt::Display for Sqlstate {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "SQLSTATE {}", self.0)
            }
        }

        impl std::error::Error for Sqlstate {}

        impl sqlx::error::DatabaseError for Sqlstate {
            fn message(&self) -> &str {
                "terminating connection due to administrator command"
            }
            fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
                Some(self.0.into())
            }
            fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
                self
            }
            fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
                self
            }
            fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
                self
            }
            fn kind(&self) -> sqlx::error::ErrorKind {
                sqlx::error::ErrorKind::Other
            }
        }

        fn query(err: sqlx::Error) -> DbErr {
            DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
        }

        fn sqlstate(code: &'static str) -> sqlx::Error {
            sqlx::Error::Database(Box::new(Sqlstate(code)))
        }

        /// The status a database error reaches the caller as.
        fn answered(err: DbErr) -> Status {
            ApiError::from(err).into()
        }

        fn assert_unavailable(err: DbErr) {
            let what = err.to_string();
            let status = answered(err);
            assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
            let info = status
                .get_error_details()
                .error_info()
                .cloned()
                .expect("info");
            assert_eq!(info.reason, "DEPENDENCY_UNAVAILABLE");
            assert_eq!(info.metadata["service"], DATABASE);
            assert!(!status.message().contains("SQLSTATE"), "no database text");
        }

        #[test]
        fn no_connection_from_the_pool_is_unavailable() {
            assert_unavailable(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
            assert_unavailable(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
            assert_unavailable(query(sqlx::Error::PoolTimedOut));
            assert_unavailable(query(sqlx::Error::PoolClosed));
        }

        #[test]
        fn a_connection_that_cannot_be_made_is_unavailable() {
            assert_unavailable(DbErr::Conn(RuntimeErr::Internal("refused".into())));
            assert_unavailable(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
                sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
            ))));
        }

        #[test]
        fn a_connection_dropped_mid_statement_is_unavailable() {
            for kind in [
                std::io::ErrorKind::ConnectionReset,
                std::io::ErrorKind::BrokenPipe,
                std::io::ErrorKind::UnexpectedEof,
            ] {
                assert_unavailable(query(sqlx::Error::Io(kind.into())));
            }
            assert_unavailable(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(
                sqlx::Error::WorkerCrashed,
            ))));
        }

        #[test]
        fn postgres_connection_exceptions_class_08_are_unavailable() {
            for code in ["08000", "08003", "08006", "08001", "08004"] {
                assert_unavailable(query(sqlstate(code)));
            }
        }

        #[test]
        fn postgres_shutting_down_class_57p_is_unavailable() {
            // admin_shutdown, crash_shutdown, cannot_connect_now, and too
            // many connections.
            for code in ["57P01", "57P02", "57P03", "53300"] {
                assert_unavailable(query(sqlstate(code)));
            }
        }

        #[test]
        fn postgres_deadlocks_and_serialization_failures_are_unavailable() {
            // deadlock_detected, serialization_failure: the statement was
            // undone for another transaction; a retry may pass.
            for code in ["40P01", "40001"] {
                assert_unavailable(query(sqlstate(code)));
            }
        }

        #[test]
        fn statement_errors_stay_internal() {
            for err in [
                query(sqlstate("42P01")), // undefined table
                query(sqlstate("23505")), // unique violation (callers map it first)
                query(sqlstate("57014")), // query cancelled: not a lost connection
                query(sqlx::Error::RowNotFound),
                DbErr::RecordNotFound("x".into()),
            ] {
                assert_eq!(answered(err).code(), Code::Internal);
            }
        }

        #[test]
        fn a_broken_connection_to_another_service_is_unavailable() {
            // What tonic makes of a connection reset mid-call: INTERNAL or
            // UNKNOWN carrying the transport error as its source.
            for code in [Code::Internal, Code::Unknown] {
                let mut status = Status::new(code, "h2 protocol error: connection reset");
                status.set_source(Arc::new(std::io::Error::from(
                    std::io::ErrorKind::ConnectionReset,
                )));
                let err = from_upstream("rounds", "rounds/r1", status);
                assert!(err.is_transient(), "{err:?}");
                let status: Status = err.into();
                assert_eq!(status.code(), Code::Unavailable);
            }
            // Unreachable, timed out: unavailable as before.
            for status in [
                Status::unavailable("tcp connect error"),
                Status::deadline_exceeded("timeout"),
            ] {
                assert!(from_upstream("rounds", "x", status).is_transient());
            }
            // INTERNAL answered by the peer itself (read off the wire, no
            // source) is a fault, not a lost connection.
            let answered = from_upstream("rounds", "x", Status::internal("internal error"));
            assert!(!answered.is_transient());
            assert!(matches!(answered, ApiError::Internal(_)));
        }
    }
}
