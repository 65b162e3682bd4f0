//! An identity provider behind a private CA: discovery and JWKS over HTTPS on loopback, trusted
//! only through the issuer's `ca_cert`.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};
use hallmark_oidc::OidcError;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::common::*;

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

/// A TLS listener for `axum::serve`; failed handshakes are dropped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn https_idp() -> DevIssuer {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(testdata("idp-cert.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(testdata("idp-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let (tcp, addr) = listener().await;
    let dev = DevIssuer::new(format!("https://{addr}"), DevAlgorithm::Rs256).unwrap();
    let app = dev.router();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    dev
}

#[tokio::test]
async fn private_ca_roots_are_per_issuer() {
    let dev = https_idp().await;
    let token = dev.mint_email("alice@example.com");

    let trusting = verifier_for(
        dev.issuer(),
        "email",
        &format!("ca_cert: {}", testdata("private-ca.pem").display()),
    );
    let id = trusting.verify(&token).await.unwrap();
    assert_eq!(id.issuer, dev.issuer());
    assert_eq!(dev.jwks_requests(), 1);

    // Without the issuer's CA the server certificate is not trusted: the IdP is unreachable.
    let plain = verifier_for(dev.issuer(), "email", "");
    let e = expect_error(
        plain.verify(&token).await,
        ErrorKind::IdpUnavailable,
        "unavailable",
    );
    assert!(matches!(e, OidcError::IdpUnavailable { .. }));
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert_eq!(dev.jwks_requests(), 1);
}
