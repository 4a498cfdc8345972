//! TLS with rustls (ring provider, TLS 1.2 and 1.3): loading the PEM
//! certificate chain and key, and optional client-certificate checks
//! against a CA. Any problem with the files stops the server at start with
//! a message naming the file.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Settings, P};

fn load_certs(what: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} {path}: no PEM certificate found"));
    }
    Ok(certs)
}

/// Builds the TLS server configuration from `[security]`.
pub fn server_config(settings: &Settings) -> Result<Arc<ServerConfig>, String> {
    let cert_path = settings.text(P::TlsCertFile);
    let key_path = settings.text(P::TlsKeyFile);
    let ca_path = settings.text(P::TlsCaCertFile);
    let certs = load_certs("security.tls_cert_path", &cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&*key_path)
        .map_err(|e| format!("security.tls_key_path {key_path}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if ca_path.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for cert in load_certs("security.tls_ca_cert_path", &ca_path)? {
            roots
                .add(cert)
                .map_err(|e| format!("security.tls_ca_cert_path {ca_path}: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("security.tls_ca_cert_path {ca_path}: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        format!("security.tls_cert_path {cert_path} / tls_key_path {key_path}: {e}")
    })?;
    Ok(Arc::new(config))
}
