//! TLS client configuration: the system's trusted roots (rustls-native-certs,
//! which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`) plus any extra CA
//! certificates from the connection settings. Certificates are always
//! verified; there is deliberately no switch to accept invalid ones.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The extra CA PEM could not be parsed or holds no usable certificate.
    #[error("extra trusted CA certificates: {0}")]
    ExtraRoots(String),
    /// rustls refused the protocol configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The system roots, loaded once per process (parsing the bundle takes a while).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(error = %e, "some system CA certificates could not be loaded");
        }
        if loaded.certs.is_empty() {
            tracing::warn!("no system CA certificates found; using the built-in Mozilla roots");
        }
        loaded.certs
    })
}

/// Parses PEM bytes into certificates; an empty input gives an empty list.
pub fn parse_pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        certs.push(cert.map_err(|e| TlsConfigError::ExtraRoots(e.to_string()))?);
    }
    if certs.is_empty() && pem.iter().any(|b| !b.is_ascii_whitespace()) {
        return Err(TlsConfigError::ExtraRoots("no PEM CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Builds a verifying rustls client configuration trusting the system roots
/// (or, when the system has none, the bundled Mozilla roots) plus `extra_roots_pem`.
pub fn client_config(extra_roots_pem: &[u8]) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    let system = system_roots();
    if system.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        // Individual unparsable system certificates are skipped, as browsers do.
        let (_added, _ignored) = roots.add_parsable_certificates(system.iter().cloned());
    }
    for cert in parse_pem_certificates(extra_roots_pem)? {
        roots.add(cert).map_err(|e| TlsConfigError::ExtraRoots(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_extra_roots_are_fine() {
        assert!(parse_pem_certificates(b"").unwrap().is_empty());
        assert!(parse_pem_certificates(b"\n  \n").unwrap().is_empty());
        client_config(b"").unwrap();
    }

    #[test]
    fn garbage_extra_roots_are_rejected() {
        assert!(parse_pem_certificates(b"not a certificate").is_err());
        let bad = b"-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n";
        assert!(parse_pem_certificates(bad).is_err());
    }
}
