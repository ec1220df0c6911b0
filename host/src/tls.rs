//! TLS clients' trust: the webpki roots (Mozilla's), or the CA certificates of a PEM file
//! the operator names (a private CA for PostgreSQL or for nodes). rustls with ring.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The certificates of a PEM file; errors start with `setting` (e.g. `[node] ca_file`).
pub fn read_ca_file(path: &Path, setting: &str) -> Result<rustls::RootCertStore, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("{setting} {shown}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{setting} {shown} is not a PEM file of certificates: {e}"))?;
        roots.add(cert).map_err(|e| format!("{setting} {shown}: a certificate rustls cannot use: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{setting} {shown} holds no certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(roots)
}

/// A client configuration that verifies the server's certificate and name against
/// `ca_file`'s certificates, or the webpki roots when there is none.
pub fn verifying_client(ca_file: Option<&Path>, setting: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = match ca_file {
        Some(path) => read_ca_file(path, setting)?,
        None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
