//! TLS for checks: rustls with the ring provider. Certificates are not verified by default
//! (a health check asks "does this real answer", and reals are usually addressed by IP with
//! private certificates); handshake signatures still are, so the peer holds the key of the
//! certificate it shows. `HEARTBEAT_RS_TLS_VERIFY=1` verifies the chain against the system store
//! (`/etc/ssl/certs/ca-certificates.crt`), as ldirectord 4.12 does (hostname not checked).

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Accepts any certificate chain (optionally: any chain the system store vouches for, whatever
/// the name), but checks the handshake signature against the presented certificate.
#[derive(Debug)]
struct Verifier {
    algs: WebPkiSupportedAlgorithms,
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(v) = &self.chain {
            // Any name: 4.12 turns hostname checking off but keeps the chain check.
            let any = ServerName::IpAddress(rustls::pki_types::IpAddr::from(IpAddr::from([0, 0, 0, 0])));
            match v.verify_server_cert(end_entity, intermediates, &any, ocsp, now) {
                Ok(ok) => return Ok(ok),
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
                | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let path = std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(pem) = std::fs::read(&path) {
        for der in pem_certificates(&pem) {
            let _ = roots.add(CertificateDer::from(der));
        }
    }
    roots
}

/// DER bodies of the `CERTIFICATE` blocks of a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b) = body.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b) {
                    out.push(der);
                }
            }
        } else if let Some(b) = &mut body {
            b.push_str(line);
        }
    }
    out
}

/// The shared client configuration (built once).
pub fn config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verify = std::env::var("HEARTBEAT_RS_TLS_VERIFY").is_ok_and(|v| v == "1" || v == "yes");
            let chain = if verify {
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(system_roots()), provider.clone()).build().ok()
            } else {
                None
            };
            let verifier = Arc::new(Verifier { algs: provider.signature_verification_algorithms, chain });
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            Arc::new(cfg)
        })
        .clone()
}

/// Provider for anything else that needs one (tests' servers).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS over `tcp`; SNI is `name` when it is a DNS name, none for an address.
pub async fn wrap(tcp: TcpStream, name: Option<&str>, addr: IpAddr) -> Result<TlsStream<TcpStream>, String> {
    let server_name = match name.and_then(|n| ServerName::try_from(n.to_owned()).ok()) {
        Some(n) => n,
        None => ServerName::IpAddress(addr.into()),
    };
    TlsConnector::from(config()).connect(server_name, tcp).await.map_err(|e| format!("TLS handshake: {e}"))
}
