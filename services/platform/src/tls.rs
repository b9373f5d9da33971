//! TLS on every listener and mutual TLS between the services (rustls with
//! ring). Each service holds a certificate and key and trusts one CA; a
//! client must present a certificate of that CA on every port (only the
//! optional plaintext probe port answers health without one). Certificates
//! are read from files (the shape cert-manager writes: `tls.crt`, `tls.key`,
//! `ca.crt`) and read again every `reload_seconds`: a renewed certificate is
//! used by the next connection, without a restart; a broken renewal keeps the
//! last good one and says so.
//!
//! A certificate valid for the DNS name of one of the suite's services
//! ([`SUITE`]) is that service's: its connections carry only that service's
//! rights, whatever token they send (the gate compares, see
//! [`crate::auth::Gate`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The suite's services: a certificate valid for one of these names is
/// that service's certificate.
pub const SUITE: &[&str] = &["rounds", "issues", "ledgers"];
/// The identity the admin CLI and the tests' people connect with.
pub const CLIENT: &str = "client";
/// Largest certificate, key or CA file read (bounds before parsing).
const MAX_FILE: u64 = 1024 * 1024;
/// TLS handshakes under way at once on one listener; further connections
/// wait in the listen backlog.
pub const MAX_HANDSHAKES: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TlsSettings {
    /// TLS with client certificates on the service port, and on the calls
    /// this service makes to the others.
    pub enabled: bool,
    /// Folder of the files below when they are not named: `<name>.crt`,
    /// `<name>.key`, `ca.crt` (default: `<data_dir>/tls`).
    pub dir: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// How often the files are read again (0: never).
    pub reload_seconds: u64,
    /// A plaintext port serving only the health service, for probes that
    /// cannot speak TLS (Kubernetes' gRPC probes); off when unset.
    pub probe_listen: Option<SocketAddr>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: None,
            cert_file: None,
            key_file: None,
            ca_file: None,
            reload_seconds: 30,
            probe_listen: None,
        }
    }
}

/// Where one identity's certificate, key and CA are read from.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl TlsSettings {
    /// The files of `identity` (a service's name, or [`CLIENT`]).
    pub fn files(&self, identity: &str, data_dir: &Path) -> TlsFiles {
        let dir = self.dir.clone().unwrap_or_else(|| data_dir.join("tls"));
        TlsFiles {
            cert: self
                .cert_file
                .clone()
                .unwrap_or_else(|| dir.join(format!("{identity}.crt"))),
            key: self
                .key_file
                .clone()
                .unwrap_or_else(|| dir.join(format!("{identity}.key"))),
            ca: self.ca_file.clone().unwrap_or_else(|| dir.join("ca.crt")),
        }
    }

    fn reload_period(&self) -> Option<Duration> {
        (self.reload_seconds > 0).then(|| Duration::from_secs(self.reload_seconds))
    }
}

/// The files' contents, parsed.
struct Material {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: RootCertStore,
}

impl TlsFiles {
    /// The three files' bytes and their digest (what a reload compares).
    fn read(&self) -> anyhow::Result<([Vec<u8>; 3], [u8; 32])> {
        let bytes = [
            crate::files::read_bounded(&self.cert, MAX_FILE)?,
            crate::files::read_bounded(&self.key, MAX_FILE)?,
            crate::files::read_bounded(&self.ca, MAX_FILE)?,
        ];
        let mut digest = Sha256::new();
        for part in &bytes {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        Ok((bytes, digest.finalize().into()))
    }

    fn parse(&self, [cert, key, ca]: &[Vec<u8>; 3]) -> anyhow::Result<Material> {
        let pem_error = |path: &Path, e: rustls::pki_types::pem::Error| {
            anyhow::anyhow!("{}: {e}", path.display())
        };
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(&self.cert, e))?;
        anyhow::ensure!(
            !chain.is_empty(),
            "{} holds no certificate",
            self.cert.display()
        );
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| pem_error(&self.key, e))?;
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(ca) {
            roots
                .add(ca.map_err(|e| pem_error(&self.ca, e))?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.ca.display()))?;
        }
        anyhow::ensure!(
            !roots.is_empty(),
            "{} holds no CA certificate",
            self.ca.display()
        );
        Ok(Material { chain, key, roots })
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// gRPC is HTTP/2; clients such as grpc-go refuse a server that does not
/// say so in ALPN.
const ALPN_H2: &[u8] = b"h2";

fn server_config(material: Material) -> anyhow::Result<ServerConfig> {
    let provider = provider();
    let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(material.roots),
        provider.clone(),
    )
    .build()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(clients)
        .with_single_cert(material.chain, material.key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

fn client_config(material: Material) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(material.roots)
        .with_client_auth_cert(material.chain, material.key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// A configuration built from files, rebuilt when they change.
struct Reloading<C> {
    files: TlsFiles,
    build: fn(Material) -> anyhow::Result<C>,
    current: RwLock<([u8; 32], Arc<C>)>,
}

impl<C> Reloading<C> {
    fn load(files: TlsFiles, build: fn(Material) -> anyhow::Result<C>) -> anyhow::Result<Self> {
        let (bytes, digest) = files.read()?;
        let config = build(files.parse(&bytes)?)?;
        Ok(Self {
            files,
            build,
            current: RwLock::new((digest, Arc::new(config))),
        })
    }

    fn current(&self) -> Arc<C> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
            .clone()
    }

    /// Reads the files again; true when they changed and were taken.
    fn reload(&self) -> anyhow::Result<bool> {
        let (bytes, digest) = self.files.read()?;
        if self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
            == digest
        {
            return Ok(false);
        }
        let config = Arc::new((self.build)(self.files.parse(&bytes)?)?);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = (digest, config);
        Ok(true)
    }
}

/// The task reading `config`'s files every `settings.reload_seconds`.
fn keep_fresh<C: Send + Sync + 'static>(
    config: &Arc<Reloading<C>>,
    what: &'static str,
    settings: &TlsSettings,
    stop: CancellationToken,
) -> Option<futures::future::BoxFuture<'static, ()>> {
    let period = settings.reload_period()?;
    Some(Box::pin(reload_periodically(
        config.clone(),
        what,
        period,
        stop,
    )))
}

/// Reads `config`'s files every `period` until `stop`.
async fn reload_periodically<C: Send + Sync + 'static>(
    config: Arc<Reloading<C>>,
    what: &'static str,
    period: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let files = config.files.clone();
        let outcome = match config.reload() {
            Ok(true) => {
                tracing::info!(what, cert = %files.cert.display(), "TLS certificate reloaded");
                "reloaded"
            }
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!(
                    what, error = %err,
                    "TLS files changed but cannot be used; keeping the last good ones"
                );
                "refused"
            }
        };
        metrics::counter!("fiveledger_tls_reloads_total", "what" => what, "outcome" => outcome)
            .increment(1);
    }
}

/// The server side: what an accepted connection is handshaken with.
#[derive(Clone)]
pub struct ServerTls(Arc<Reloading<ServerConfig>>);

impl ServerTls {
    pub fn load(files: TlsFiles) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(Reloading::load(files, server_config)?)))
    }

    /// Reads the files again now (the periodic task does this on its own).
    pub fn reload(&self) -> anyhow::Result<bool> {
        self.0.reload()
    }

    /// Keeps the certificate fresh until `stop` (nothing when reloading is off).
    pub fn keep_fresh(
        &self,
        settings: &TlsSettings,
        stop: CancellationToken,
    ) -> Option<futures::future::BoxFuture<'static, ()>> {
        keep_fresh(&self.0, "server", settings, stop)
    }

    /// The TLS handshake of an accepted connection, with the client's
    /// certificate checked against the CA, within `timeout`.
    pub async fn accept<IO>(
        &self,
        io: IO,
        timeout: Duration,
    ) -> std::io::Result<(tokio_rustls::server::TlsStream<IO>, Peer)>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.0.current());
        let handshake = acceptor.accept(io);
        let stream = if timeout.is_zero() {
            handshake.await?
        } else {
            tokio::time::timeout(timeout, handshake)
                .await
                .map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "TLS handshake not finished within the handshake timeout",
                    )
                })??
        };
        let peer = Peer::of(stream.get_ref().1.peer_certificates());
        Ok((stream, peer))
    }
}

/// What the server knows of a connection's client: nothing (plaintext), or
/// its verified certificate and the suite service it names, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Peer {
    #[default]
    Plain,
    Certified {
        /// The one suite service the certificate is valid for.
        service: Option<&'static str>,
    },
}

impl Peer {
    fn of(certificates: Option<&[CertificateDer<'static>]>) -> Self {
        let service = certificates
            .and_then(|chain| chain.first())
            .and_then(certificate_service);
        Peer::Certified { service }
    }
}

/// The suite service `certificate` is valid for, when exactly one.
pub fn certificate_service(certificate: &CertificateDer<'_>) -> Option<&'static str> {
    let parsed = rustls::server::ParsedCertificate::try_from(certificate).ok()?;
    let mut names = SUITE.iter().copied().filter(|name| {
        ServerName::try_from(*name)
            .ok()
            .is_some_and(|server| rustls::client::verify_server_name(&parsed, &server).is_ok())
    });
    match (names.next(), names.next()) {
        (Some(name), None) => Some(name),
        _ => None,
    }
}

/// The client side: what a connection to another service is handshaken
/// with (this service's certificate as the client's).
#[derive(Clone)]
pub struct ClientTls(Arc<Reloading<ClientConfig>>);

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("files", &self.0.files)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    pub fn load(files: TlsFiles) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(Reloading::load(files, client_config)?)))
    }

    /// Keeps the certificate fresh until `stop` (nothing when reloading is off).
    pub fn keep_fresh(
        &self,
        settings: &TlsSettings,
        stop: CancellationToken,
    ) -> Option<futures::future::BoxFuture<'static, ()>> {
        keep_fresh(&self.0, "client", settings, stop)
    }

    /// A lazily connecting channel to `endpoint`'s host over TLS: the
    /// server's certificate must be valid for that host name (or address).
    pub fn channel(&self, endpoint: tonic::transport::Endpoint) -> tonic::transport::Channel {
        let tls = self.0.clone();
        endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: http::Uri| {
            let config = tls.current();
            async move { connect(config, uri).await }
        }))
    }
}

async fn connect(
    config: Arc<ClientConfig>,
    uri: http::Uri,
) -> std::io::Result<hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>
{
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
    let host = uri.host().ok_or_else(|| invalid("the URL has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(443);
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| invalid("the URL's host is no DNS name or IP address"))?;
    let tcp = tokio::net::TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(hyper_util::rt::TokioIo::new(stream))
}

/// Creates, in `dir`, a local CA (`ca.crt`, `ca.key`) and a certificate and
/// key for each of `identities` that has none yet (`<name>.crt`,
/// `<name>.key`), valid for the name itself, `localhost` and 127.0.0.1. For
/// the local suite and tests; a deployment brings its own (cert-manager).
pub fn ensure_local_certificates(dir: &Path, identities: &[&str]) -> anyhow::Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    std::fs::create_dir_all(dir)?;
    let (ca_cert, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    let ca_params = || {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "fiveledger local CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
    };
    let ca_signing_key = if ca_cert.exists() && ca_key.exists() {
        KeyPair::from_pem(&std::fs::read_to_string(&ca_key)?)?
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        write_key(&ca_key, &key.serialize_pem())?;
        std::fs::write(&ca_cert, cert.pem())?;
        key
    };
    // The same subject and key as the CA certificate: what its leaves name.
    let issuer = Issuer::new(ca_params(), ca_signing_key);
    for name in identities {
        let (cert_file, key_file) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        if cert_file.exists() && key_file.exists() {
            continue;
        }
        let mut params = CertificateParams::new(vec![
            (*name).to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])?;
        params.distinguished_name.push(DnType::CommonName, *name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        write_key(&key_file, &key.serialize_pem())?;
        std::fs::write(&cert_file, cert.pem())?;
    }
    Ok(())
}

/// Writes a new key, replacing one left without its certificate.
fn write_key(path: &Path, pem: &str) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    Ok(crate::files::write_private(path, pem.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(identities: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        ensure_local_certificates(dir.path(), identities).expect("certificates");
        dir
    }

    fn files(dir: &Path, name: &str) -> TlsFiles {
        TlsSettings {
            dir: Some(dir.to_path_buf()),
            ..Default::default()
        }
        .files(name, Path::new("unused"))
    }

    fn first_certificate(path: &Path) -> CertificateDer<'static> {
        CertificateDer::pem_file_iter(path)
            .expect("file")
            .next()
            .expect("one")
            .expect("pem")
    }

    #[test]
    fn a_certificate_names_the_one_suite_service_it_is_valid_for() {
        let dir = local(&["issues", CLIENT]);
        assert_eq!(
            certificate_service(&first_certificate(&dir.path().join("issues.crt"))),
            Some("issues")
        );
        assert_eq!(
            certificate_service(&first_certificate(&dir.path().join("client.crt"))),
            None
        );
        assert_eq!(
            certificate_service(&CertificateDer::from(vec![1, 2, 3])),
            None
        );
    }

    #[test]
    fn both_sides_load_and_a_changed_file_is_taken_once_a_broken_one_never() {
        let dir = local(&["rounds"]);
        let server = ServerTls::load(files(dir.path(), "rounds")).expect("server");
        ClientTls::load(files(dir.path(), "rounds")).expect("client");
        assert!(!server.reload().expect("same files"), "nothing changed");

        // A renewal (a new key and certificate) is taken, once.
        std::fs::remove_file(dir.path().join("rounds.crt")).expect("rm");
        ensure_local_certificates(dir.path(), &["rounds"]).expect("renew");
        assert!(server.reload().expect("renewed"));
        assert!(!server.reload().expect("again"));

        // A half-written file is refused and the last good one kept.
        std::fs::write(
            dir.path().join("rounds.crt"),
            "-----BEGIN CERTIFICATE-----\nAAA",
        )
        .expect("write");
        assert!(server.reload().is_err());
    }

    #[test]
    fn missing_and_oversized_files_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let err = ServerTls::load(files(dir.path(), "rounds"))
            .err()
            .expect("refused");
        assert!(err.to_string().contains("rounds.crt"), "{err}");

        let dir = local(&["rounds"]);
        std::fs::write(dir.path().join("ca.crt"), vec![b'a'; MAX_FILE as usize + 1])
            .expect("write");
        let err = ServerTls::load(files(dir.path(), "rounds"))
            .err()
            .expect("refused");
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
