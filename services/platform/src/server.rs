//! The server bootstrap every service binary uses: bind, serve health and
//! reflection (v1 and v1alpha), gate every other call behind the token and
//! role checks, migrate, report SERVING, and shut down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::auth::{Gate, Levels, RoleTable, TokenVerifier};
use crate::schema_compat::{Migrated, Schema};
use crate::settings::ServerSettings;
use crate::storage::Db;

/// What a service tells the bootstrap about itself.
pub struct ServiceSpec {
    /// Short name, e.g. `rounds`.
    pub name: &'static str,
    /// Full names of the gRPC services it serves (for health and reflection).
    pub grpc_services: &'static [&'static str],
    /// Roles each RPC needs.
    pub roles: RoleTable,
    /// What each peer service may call here.
    pub service_calls: crate::service_identity::ServiceCalls,
}

/// A started service.
pub struct Running {
    pub addr: SocketAddr,
    /// The plaintext health port for probes, when one is configured.
    pub probe_addr: Option<SocketAddr>,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Cancelling this token shuts the service down gracefully.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Waits until the service has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await?
    }

    /// Shuts down and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.wait().await
    }
}

/// Listeners bound before their service starts: a process running several
/// services binds one's port early so that another can be told its address
/// ([`hold`]), and [`start`] serves on it instead of binding again, so that
/// no other process can take the port in between.
static HELD: std::sync::Mutex<Vec<std::net::TcpListener>> = std::sync::Mutex::new(Vec::new());

/// Binds `addr` now for a service started later in this process with
/// `listen` set to the address returned (the port is chosen here when
/// `addr`'s is 0).
pub fn hold(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(listener);
    Ok(bound)
}

/// The listener held for `addr`, if any (taken: a second start binds).
fn take_held(addr: SocketAddr) -> Option<std::net::TcpListener> {
    let mut held = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = held
        .iter()
        .position(|l| l.local_addr().is_ok_and(|a| a == addr))?;
    Some(held.swap_remove(i))
}

/// Binds, serves, migrates and returns once the service reports SERVING.
/// Until then (and again from the moment `stop` is cancelled) health says
/// NOT_SERVING and other calls are refused with UNAVAILABLE; on `stop` the
/// listener stays open for `shutdown_drain_seconds` so that health checks
/// (Kubernetes readiness) see NOT_SERVING before connections are refused.
/// `background` tasks (sweeps) and event consumers start after the
/// migrations; each consumer reports under its own name in the health
/// service (NOT_SERVING while it cannot apply its events).
/// With `tls` every connection is handshaken first and must present a
/// certificate of the CA; `settings.tls.probe_listen` adds a plaintext port
/// serving only health, for probes.
pub async fn start<M: Schema>(
    spec: ServiceSpec,
    settings: &ServerSettings,
    verifier: Arc<dyn TokenVerifier>,
    db: Db,
    wiring: Wiring,
    tls: Option<crate::tls::ServerTls>,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    let Wiring {
        routes,
        background,
        levels,
        consumers,
        access_log,
    } = wiring;
    let (lease, renew) = settings.consumers.periods()?;
    let listener = match take_held(settings.listen) {
        Some(held) => {
            held.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(held)?
        }
        None => tokio::net::TcpListener::bind(settings.listen).await?,
    };
    let addr = listener.local_addr()?;

    let (reporter, health) = tonic_health::server::health_reporter();
    // "" is the server as a whole (liveness); the short name (`rounds`) and
    // each gRPC service name say whether this service takes calls (readiness).
    let mut health_names = vec!["", spec.name];
    health_names.extend_from_slice(spec.grpc_services);
    for name in &health_names {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }

    // Both endpoints list both reflection services, so each must also
    // describe the other's (by default a builder only knows its own), or a
    // client that loads every listed service (`grpcurl describe`) fails.
    let described = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(fiveledger_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
    };
    let (mut v1, mut v1alpha) = (described(), described());
    for name in spec.grpc_services.iter().chain(
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .iter(),
    ) {
        v1 = v1.with_service_name(*name);
        v1alpha = v1alpha.with_service_name(*name);
    }
    let (v1, v1alpha) = (v1.build_v1()?, v1alpha.build_v1alpha()?);

    let mut gate = Gate::new(verifier, &[spec.roles])
        .with_service_calls(spec.service_calls)
        .with_limits(crate::limits::CallerLimits::new(settings.limits.caller));
    if let Some(levels) = levels {
        gate = gate.with_levels(levels);
    }
    let service = spec.name;
    let mut builder = Server::builder();
    if settings.limits.max_connection_age_seconds > 0 {
        // Streams in flight finish first (no grace given): only idle and
        // request/response connections are asked to reconnect.
        builder = builder.max_connection_age(Duration::from_secs(
            settings.limits.max_connection_age_seconds,
        ));
    }
    let router = builder
        .concurrency_limit_per_connection(settings.limits.concurrency_per_connection)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // A peer that stops answering pings is dropped.
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .layer(crate::served_calls::ServedCalls::new(service, spec.roles))
        .layer(gate.clone())
        .add_routes(routes)
        .add_service(health.clone())
        .add_service(v1)
        .add_service(v1alpha);
    let handshake = Duration::from_secs(settings.limits.handshake_timeout_seconds);
    let incoming = crate::connection::accepted(listener, handshake, tls);
    // `stop` starts the shutdown; the listener closes only when `close` is
    // cancelled, after the drain, so probes see NOT_SERVING in between.
    let close = CancellationToken::new();
    let mut probe_addr = None;
    if let Some(probe) = settings.tls.probe_listen {
        let probes = tokio::net::TcpListener::bind(probe).await?;
        probe_addr = Some(probes.local_addr()?);
        tracing::info!(service, addr = ?probe_addr, "health for probes, plaintext");
        let incoming = crate::connection::accepted(probes, handshake, None);
        // Reflection of health alone, so grpcurl can ask it too.
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .build_v1alpha()?;
        tokio::spawn(
            Server::builder()
                .add_service(health)
                .add_service(reflection)
                .serve_with_incoming_shutdown(incoming, close.clone().cancelled_owned()),
        );
    }
    let serving = tokio::spawn(
        router.serve_with_incoming_shutdown(incoming, close.clone().cancelled_owned()),
    );
    // With `database.migrate` off the migrations ran before (a Job);
    // either way a schema this binary cannot serve stops it here.
    let schema = if settings.database.migrate {
        tracing::info!(service, %addr, "listening; migrating");
        db.migrate_schema::<M>(service).await.map(|m| m.after)
    } else {
        tracing::info!(service, %addr, "listening; checking the schema version");
        db.check_schema::<M>(service).await
    };
    let schema = match schema {
        Ok(schema) => schema,
        Err(err) => {
            stop.cancel();
            close.cancel();
            let _ = serving.await;
            return Err(err.context(format!(
                "the {service} database cannot be served by this binary"
            )));
        }
    };
    tracing::info!(service, binary = M::VERSION, %schema, "schema");
    gate.set_ready(true);
    crate::metrics::record_build_info(service);
    tokio::spawn(crate::db_metrics::sample_periodically(
        service,
        db.clone(),
        stop.clone(),
    ));
    for name in &health_names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    tokio::spawn(crate::aip::idempotency::prune_periodically(
        db.clone(),
        stop.clone(),
    ));
    tokio::spawn(
        db.clone()
            .upkeep_periodically(crate::storage::UPKEEP_EVERY, stop.clone()),
    );
    for task in background {
        tokio::spawn(task);
    }
    for consumer in consumers {
        let options = crate::consumer::RunOptions {
            lease,
            renew,
            health: Some(reporter.clone()),
        };
        tokio::spawn(crate::consumer::run_with(
            db.clone(),
            consumer,
            options,
            stop.clone(),
        ));
    }
    tracing::info!(service, %addr, "serving");

    let grace = Duration::from_secs(settings.limits.shutdown_grace_seconds);
    let drain_seconds = settings.limits.shutdown_drain_seconds;
    let task_stop = stop.clone();
    let task = tokio::spawn(async move {
        task_stop.cancelled().await;
        gate.set_ready(false);
        for name in &health_names {
            reporter
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        let drain = Duration::from_secs(drain_seconds);
        tracing::info!(service, ?drain, "shutting down: NOT_SERVING, draining");
        tokio::time::sleep(drain).await;
        close.cancel();
        let result = match tokio::time::timeout(grace, serving).await {
            Ok(joined) => joined?.map_err(anyhow::Error::from),
            Err(_) => {
                tracing::warn!(
                    service,
                    "calls still running after the grace period; stopping anyway"
                );
                Ok(())
            }
        };
        // The reads served are recorded before the database closes.
        if let Some(log) = access_log {
            log.close().await;
        }
        db.close().await;
        result
    });
    Ok(Running {
        addr,
        probe_addr,
        stop,
        task,
    })
}

/// What a service wires on top of its database: its routes, its
/// background tasks and its event consumers.
pub struct Wiring {
    pub routes: tonic::service::Routes,
    pub background: Vec<BoxFuture<'static, ()>>,
    /// Where the level a body of a level serves is learnt (the
    /// organisation directory); every caller is scoped to the organisation
    /// its token names when `None`.
    pub levels: Option<Arc<dyn Levels>>,
    pub consumers: Vec<crate::consumer::Consumer>,
    /// The service's access log, written out on shutdown.
    pub access_log: Option<crate::access_log::AccessLog>,
}

/// Connects the service's database (the SQLite file `<data_dir>/<name>.sqlite`
/// unless a URL is set), builds the token verifier, lets the service wire its
/// handlers, and [`start`]s it.
pub async fn launch<M: Schema>(
    spec: ServiceSpec,
    settings: &ServerSettings,
    stop: CancellationToken,
    wire: impl FnOnce(&Db, &Outbound) -> anyhow::Result<Wiring>,
) -> anyhow::Result<Running> {
    let signer = crate::auth::Hs256::from_settings(&settings.auth, None)?;
    let (own_key, peers) = service_keys(spec.name, &settings.auth, signer.max_lifetime())?;
    // The certificate serves both sides: the listener's, and the client
    // certificate of this service's calls to the others.
    let (server_tls, client_tls) = if settings.tls.enabled {
        let files = settings.tls.files(spec.name, &settings.data_dir);
        (
            Some(crate::tls::ServerTls::load(files.clone())?),
            Some(crate::tls::ClientTls::load(files)?),
        )
    } else {
        (None, None)
    };
    let db = Db::connect(
        &settings.database,
        &settings.data_dir.join(format!("{}.sqlite", spec.name)),
    )
    .await?;
    let outbound = Outbound {
        credentials: crate::auth::ServiceCredentials::new(Arc::new(own_key)),
        tls: client_tls.clone(),
    };
    let mut wiring = wire(&db, &outbound)?;
    let mut background = std::mem::take(&mut wiring.background);
    background.extend(
        server_tls
            .iter()
            .filter_map(|tls| tls.keep_fresh(&settings.tls, stop.clone()))
            .chain(
                client_tls
                    .iter()
                    .filter_map(|tls| tls.keep_fresh(&settings.tls, stop.clone())),
            ),
    );
    // The suite's own key (local tokens), the organisation's identity
    // provider when one is configured, and the peers' service keys.
    let provider = if settings.auth.oidc.enabled() {
        let jwks = crate::oidc::Jwks::new(settings.auth.oidc.clone(), signer.max_lifetime())?;
        background.push(Box::pin(jwks.clone().refresh_periodically(stop.clone())));
        Some(jwks as Arc<dyn TokenVerifier>)
    } else {
        None
    };
    let verifier = crate::oidc::Verifiers {
        local: Some(Arc::new(signer)),
        provider,
        services: Some(Arc::new(peers)),
    };
    start::<M>(
        spec,
        settings,
        Arc::new(verifier),
        db,
        Wiring {
            background,
            ..wiring
        },
        server_tls,
        stop,
    )
    .await
}

/// Runs a service's migrations against its database (as [`launch`] finds
/// it) and closes it: the separate migrate step of an upgrade.
pub async fn migrate<S: Schema>(name: &str, settings: &ServerSettings) -> anyhow::Result<Migrated> {
    let db = Db::connect(
        &settings.database,
        &settings.data_dir.join(format!("{name}.sqlite")),
    )
    .await?;
    let migrated = db.migrate_schema::<S>(name).await;
    db.close().await;
    migrated.map_err(|err| err.context(format!("migrating the {name} database")))
}

/// How a service calls the others: as itself (its service token), over
/// mutual TLS when it is on.
pub struct Outbound {
    pub credentials: crate::auth::ServiceCredentials,
    pub tls: Option<crate::tls::ClientTls>,
}

impl Outbound {
    /// A lazily connecting channel to the service at `url` (see
    /// [`crate::consumer::channel`]).
    pub fn channel(&self, url: &str) -> anyhow::Result<tonic::transport::Channel> {
        let endpoint = crate::consumer::endpoint(url)?;
        Ok(match &self.tls {
            Some(tls) => tls.channel(endpoint),
            None => endpoint.connect_lazy(),
        })
    }
}

/// This service's own key and its peers' public keys, from settings.
fn service_keys(
    name: &str,
    auth: &crate::settings::AuthSettings,
    max_lifetime: chrono::Duration,
) -> anyhow::Result<(
    crate::service_identity::ServiceKey,
    crate::service_identity::ServicePeers,
)> {
    let Some(keys_dir) = &auth.service_keys_dir else {
        anyhow::bail!(
            "no service identity: set FIVELEDGER_AUTH__SERVICE_KEYS_DIR (the public keys of the \
             services that may call this one) and FIVELEDGER_AUTH__SERVICE_KEY_FILE (this \
             service's own key; default: <SERVICE_KEYS_DIR>/{name}.key)"
        );
    };
    let key_file = auth
        .service_key_file
        .clone()
        .unwrap_or_else(|| crate::service_identity::key_file(keys_dir, name));
    let own = crate::service_identity::ServiceKey::load(name, &key_file, &auth.issuer)?;
    let peers = crate::service_identity::ServicePeers::load(keys_dir, &auth.issuer, max_lifetime)?;
    Ok((own, peers))
}

/// The body of every service binary: load settings, start logging, start
/// the service, and stop it gracefully on SIGTERM or ctrl-c.
pub async fn run_standalone<D, F, Fut>(
    name: &str,
    default_port: u16,
    args: &crate::settings::CommonArgs,
    start: F,
) -> anyhow::Result<()>
where
    D: Default + serde::Serialize + serde::de::DeserializeOwned,
    F: FnOnce(ServerSettings, D, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Running>>,
{
    let (settings, domain) =
        crate::settings::load::<D>(name, ([0, 0, 0, 0], default_port).into(), args)?;
    let _telemetry = crate::telemetry::init(&settings.log, name);
    let _metrics = crate::metrics::install(settings.metrics_listen, name)?;
    let running = start(settings, domain, CancellationToken::new()).await?;
    shutdown_signal().await;
    running.stop().await
}

/// The body of every service binary's `migrate`: load settings, run the
/// migrations, print what they did, exit.
pub async fn migrate_standalone<D, S>(
    name: &str,
    default_port: u16,
    args: &crate::settings::CommonArgs,
) -> anyhow::Result<()>
where
    D: Default + serde::Serialize + serde::de::DeserializeOwned,
    S: Schema,
{
    let (settings, _domain) =
        crate::settings::load::<D>(name, ([0, 0, 0, 0], default_port).into(), args)?;
    let _telemetry = crate::telemetry::init(&settings.log, name);
    let migrated = migrate::<S>(name, &settings).await?;
    println!("{name}: {migrated}");
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod held_tests {
    use super::*;

    #[test]
    fn a_held_port_stays_bound_until_its_service_takes_it() {
        let addr = hold("127.0.0.1:0".parse().unwrap()).unwrap();
        // Nobody else can bind it meanwhile.
        assert!(std::net::TcpListener::bind(addr).is_err());
        let taken = take_held(addr).expect("held");
        assert_eq!(taken.local_addr().unwrap(), addr);
        assert!(take_held(addr).is_none(), "taken once");
    }
}
