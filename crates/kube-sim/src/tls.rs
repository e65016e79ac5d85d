//! TLS for the simulator: a test certificate authority ([`TestCa`]) that
//! issues server certificates ([`TlsIdentity`]), and the rustls server
//! configuration the HTTP front end serves them with.
//!
//! Real clients (kubectl, Helm, kube-rs) then verify the server as they would
//! a real API server: against a CA file or kubeconfig data, by host name or
//! `tls-server-name`, or not at all with `insecure-skip-tls-verify`.

use std::sync::Arc;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server certificate chain and its key, with the CA that signed it (PEM).
#[derive(Clone)]
pub struct TlsIdentity {
    /// The server certificate (PEM).
    pub cert_pem: String,
    /// The server's private key (PEM, PKCS#8).
    pub key_pem: String,
    /// The certificate of the CA that issued it (PEM): what clients trust.
    pub ca_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of debug output.
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

/// A certificate authority for tests; each one has its own fresh key.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl TestCa {
    /// A new CA whose subject common name is `name`.
    pub fn new(name: &str) -> anyhow::Result<TestCa> {
        let mut params =
            CertificateParams::new(Vec::<String>::new()).context("CA certificate parameters")?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().context("generate the CA key")?;
        let cert = params.self_signed(&key).context("self-sign the CA")?;
        Ok(TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// Issue a server certificate for `names`: DNS names or IP addresses
    /// (each becomes a subject alternative name; clients match no other).
    pub fn issue(&self, names: &[&str]) -> anyhow::Result<TlsIdentity> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params =
            CertificateParams::new(names.clone()).context("server certificate parameters")?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().map_or("kube-sim", String::as_str),
        );
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().context("generate the server key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("sign the server certificate")?;
        Ok(TlsIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.pem.clone(),
        })
    }
}

/// The rustls server configuration serving `identity` (HTTP/1.1 only, as
/// the plain listener; no client certificates).
pub fn server_config(identity: &TlsIdentity) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .context("parse the server certificate")?;
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .context("parse the server key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("TLS server certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_make_a_server_config() {
        let ca = TestCa::new("kube-sim test CA").unwrap();
        let id = ca.issue(&["127.0.0.1", "a.kube-sim.test"]).unwrap();
        assert!(id.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(id.ca_pem, ca.cert_pem());
        assert!(server_config(&id).is_ok());
        assert!(!format!("{id:?}").contains("PRIVATE KEY"));
    }
}
