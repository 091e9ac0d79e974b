//! A certificate authority made per run, and rustls clients that trust only it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::{HarnessError, Result};
use crate::process::write_file;

/// Names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// A throw-away CA and a server certificate it signed for `localhost` and
/// `127.0.0.1`, written as PEM files into a directory.
#[derive(Debug, Clone)]
pub struct TestCa {
    ca_pem: String,
    ca_path: PathBuf,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl TestCa {
    /// Generates the CA and server certificate and writes `ca.pem`,
    /// `server.crt` and `server.key` (mode 0600) into `dir`.
    pub fn generate(dir: &Path) -> Result<TestCa> {
        let err = |e: rcgen::Error| HarnessError::Tls {
            server: "harness",
            detail: format!("generate certificate: {e}"),
        };
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "crmsync test CA");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec()).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let server_cert = params.signed_by(&server_key, &issuer).map_err(err)?;

        let ca_pem = ca_cert.pem();
        let ca_path = dir.join("ca.pem");
        let cert_path = dir.join("server.crt");
        let key_path = dir.join("server.key");
        write_file(&ca_path, ca_pem.as_bytes(), 0o644)?;
        write_file(&cert_path, server_cert.pem().as_bytes(), 0o644)?;
        write_file(&key_path, server_key.serialize_pem().as_bytes(), 0o600)?;
        Ok(TestCa { ca_pem, ca_path, cert_path, key_path })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Path of the CA certificate file (PEM).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// Path of the server certificate (PEM, signed by the CA).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Path of the server's private key (PEM).
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// A rustls client configuration whose only trust anchor is this CA.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        client_config(&self.ca_pem)
    }
}

/// A rustls client configuration (ring provider) trusting only the CA
/// certificates in `ca_pem`.
pub fn client_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>> {
    let err = |detail: String| HarnessError::Tls { server: "harness", detail };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| err(format!("parse CA PEM: {e}")))?;
        roots.add(cert).map_err(|e| err(format!("add CA to root store: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in CA PEM".into()));
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| err(format!("protocol versions: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Performs a TLS handshake over `tcp`, verifying the server as `server_name`.
pub async fn handshake(
    server: &'static str,
    tcp: TcpStream,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| HarnessError::Tls {
        server,
        detail: format!("invalid server name {server_name:?}: {e}"),
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| HarnessError::Tls { server, detail: format!("handshake with {server_name}: {e}") })
}
