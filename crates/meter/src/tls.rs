//! TLS for the uplink (`mqtts://`): a rustls client configuration trusting the given
//! certificate authorities, or the system's roots. rustls with the `ring` provider, which
//! the workspace already builds, keeps C toolchains out of the meter's build.

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or holds no certificate.
    #[error("{}: {reason}", path.display())]
    CaFile {
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
            let refused = |reason: String| TlsError::CaFile {
                path: path.to_owned(),
                reason,
            };
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|error| refused(error.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| refused(error.to_string()))?;
            if certificates.is_empty() {
                return Err(refused("no PEM certificate in it".into()));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| refused(error.to_string()))?;
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
}
