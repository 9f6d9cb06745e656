//! TLS settings shared by Joule's services, read from the PEM files their configuration
//! names: a client configuration trusting given certificate authorities (or the system's
//! roots) for the meter's uplink and the hub's connection to an external broker, and a
//! server configuration from a certificate chain and key for the hub's MQTT and HTTP
//! listeners. rustls with the `ring` provider, which the workspace already builds, keeps C
//! toolchains and aws-lc out of the build.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use rustls::{ClientConfig, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read, holds nothing usable, or does not fit its pair.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The system's roots could not be loaded.
    #[error("no system root certificates: {0}")]
    SystemRoots(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A client configuration trusting the certificates in `ca_file` (PEM), or the system's
/// roots when there is none.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for certificate in certificates(path)? {
                roots
                    .add(certificate)
                    .map_err(|error| refused(path, error.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                return Err(TlsError::SystemRoots(errors.join("; ")));
            }
            // Roots the system holds but rustls cannot parse are skipped, as browsers do.
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A server configuration presenting the certificate chain in `certificate_file` (PEM,
/// the server's certificate first) with the private key in `key_file` (PEM: PKCS#8,
/// PKCS#1 or SEC1). `alpn` lists the application protocols offered (e.g. `h2`,
/// `http/1.1`), most preferred first; empty for none.
pub fn server_config(
    certificate_file: &Path,
    key_file: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(certificate_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|error| refused(key_file, format!("no usable private key: {error}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| refused(key_file, format!("does not fit the certificate: {error}")))?;
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The certificates in a PEM file: at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| refused(path, error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| refused(path, error.to_string()))?;
    if certificates.is_empty() {
        return Err(refused(path, "no PEM certificate in it".into()));
    }
    Ok(certificates)
}

fn refused(path: &Path, reason: String) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = client_config(Some(&path)).unwrap_err().to_string();
        assert!(
            error.contains("ca.pem") && error.contains("no PEM certificate"),
            "{error}"
        );
        let missing = client_config(Some(&dir.path().join("absent.pem")))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("absent.pem"), "{missing}");
    }

    #[test]
    fn a_server_certificate_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let certificate = dir.path().join("hub.pem");
        std::fs::write(&certificate, "nothing here\n").unwrap();
        let error = server_config(&certificate, &dir.path().join("hub.key"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("hub.pem") && error.contains("no PEM certificate"),
            "{error}"
        );
    }
}
