//! The `# HELP` text of every metric the suite records, given to the
//! recorders once they are installed.

/// What kind of instrument a metric is.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

use Kind::*;

const HELP: &[(Kind, &str, &str)] = &[
    (
        Counter,
        "grpc_server_started_total",
        "Total number of RPCs started on the server.",
    ),
    (
        Counter,
        "grpc_server_handled_total",
        "Total number of RPCs completed on the server, regardless of success or failure.",
    ),
    (
        Histogram,
        "grpc_server_handling_seconds",
        "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
    ),
    (
        Counter,
        "grpc_client_started_total",
        "Total number of RPCs started on the client.",
    ),
    (
        Counter,
        "grpc_client_handled_total",
        "Total number of RPCs completed by the client, regardless of success or failure.",
    ),
    (
        Histogram,
        "grpc_client_handling_seconds",
        "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
    ),
    (
        Gauge,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
    ),
    (
        Gauge,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
    ),
    (
        Gauge,
        "process_open_fds",
        "Number of open file descriptors.",
    ),
    (
        Gauge,
        "process_max_fds",
        "Maximum number of open file descriptors.",
    ),
    (
        Gauge,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
    ),
    (
        Gauge,
        "fiveledger_build_info",
        "Always 1: the version (and git commit, when known) a service runs.",
    ),
    (
        Gauge,
        "fiveledger_db_connections",
        "Database connections of a service's pools by state (in_use, idle), and the pools' maximum (max).",
    ),
    (
        Gauge,
        "fiveledger_db_write_queue",
        "Writes waiting for or in a group commit (refused past database.write_queue).",
    ),
    (
        Counter,
        "fiveledger_db_slow_statements_total",
        "Statements that took longer than log.slow_statement_ms.",
    ),
    (
        Gauge,
        "fiveledger_outbox_events",
        "Events a service has written to its outbox (its head cursor).",
    ),
    (
        Gauge,
        "fiveledger_consumer_position",
        "Cursor of the last event a consumer applied.",
    ),
    (
        Gauge,
        "fiveledger_consumer_events_waiting",
        "Events of its source a consumer has not applied yet, as far as the source had read them (the head it sent minus the position); events queued before that read are not counted, the delay is.",
    ),
    (
        Histogram,
        "fiveledger_consumer_delay_seconds",
        "Seconds each event a consumer applied waited, from its write at the source to its commit here.",
    ),
    (
        Gauge,
        "fiveledger_consumer_lag_seconds",
        "Seconds the oldest event of a consumer's last write waited, from its write at the source to this commit.",
    ),
    (
        Gauge,
        "fiveledger_consumer_stalled",
        "1 while a consumer cannot apply the events after its cursor, else 0.",
    ),
    (
        Counter,
        "fiveledger_consumer_failures_total",
        "Failures of a consumer to read or apply events, by kind (transient, permanent).",
    ),
    (
        Counter,
        "fiveledger_tls_handshake_failures_total",
        "TLS handshakes of incoming connections that failed.",
    ),
    (
        Counter,
        "fiveledger_tls_reloads_total",
        "Readings of the TLS files, by what was read and the outcome.",
    ),
    (
        Gauge,
        "fiveledger_ledgers_open_entries",
        "Ledger entries not written off, at the last warning sweep.",
    ),
    (
        Gauge,
        "fiveledger_ledgers_open_entries_by_colour",
        "Open ledger entries by four-colour warning (green, blue, yellow, red), at the last sweep.",
    ),
    (
        Gauge,
        "fiveledger_ledgers_overdue_entries",
        "Open ledger entries past their due date, at the last sweep.",
    ),
];

/// Describes every metric to the installed recorder.
pub fn describe() {
    for (kind, name, help) in HELP {
        match kind {
            Counter => metrics::describe_counter!(*name, *help),
            Gauge => metrics::describe_gauge!(*name, *help),
            Histogram => metrics::describe_histogram!(*name, *help),
        }
    }
}

/// The names described (a test checks each recorded metric has its help).
pub fn described() -> impl Iterator<Item = &'static str> {
    HELP.iter().map(|(_, name, _)| *name)
}
