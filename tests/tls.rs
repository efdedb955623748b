//! Mutual TLS: with a certificate, key and client CA configured, a client with a certificate
//! that CA signed (and a token) is served; a client without one fails the handshake; the token
//! is still required. Certificates are made at test time for 127.0.0.1.

mod common;

use common::*;
use creditrisk::server::pb;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
    stranger: (String, String),
}

fn leaf(
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.extended_key_usages = vec![usage];
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(p, key))
}

fn pki() -> Pki {
    let (ca_pem, issuer) = ca("creditrisk test ca");
    let (_, other) = ca("someone else's ca");
    Pki {
        ca: ca_pem,
        server: leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuer,
        ),
        client: leaf(
            &["ingest-system"],
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        ),
        stranger: leaf(&["stranger"], ExtendedKeyUsagePurpose::ClientAuth, &other),
    }
}

async fn connect(
    url: &str,
    pki: &Pki,
    identity: Option<&(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Channel::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

async fn list(ch: Channel, token: Option<&str>) -> Result<(), tonic::Status> {
    let ch = InterceptedService::new(ch, Bearer::new(token).unwrap());
    pb::record_service_client::RecordServiceClient::new(ch)
        .list_enterprises(pb::ListEnterprisesRequest::default())
        .await
        .map(drop)
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_and_still_a_token() {
    let pki = pki();
    // Through the files the config names, as `serve` reads them.
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cert = write("server.pem", &pki.server.0);
    let key = write("server.key", &pki.server.1);
    let ca = write("ca.pem", &pki.ca);
    let tls = creditrisk::server::tls_config(&cert, &key, Some(&ca)).unwrap();
    let s = TestServer::start_tls(tls).await;
    assert!(s.url.starts_with("https://"));
    let token = s.tokens[&Role::Ingest].clone();

    // A good certificate and a token: served.
    let ch = connect(&s.url, &pki, Some(&pki.client)).await.unwrap();
    list(ch.clone(), Some(&token)).await.unwrap();
    // A good certificate but no token: still UNAUTHENTICATED.
    let err = list(ch, None).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");

    // No client certificate, or one from another CA: the handshake fails (with TLS 1.3 the
    // server's refusal may only surface on the first call).
    for identity in [None, Some(&pki.stranger)] {
        let refused = match connect(&s.url, &pki, identity).await {
            Err(_) => true,
            Ok(ch) => list(ch, Some(&token)).await.is_err(),
        };
        assert!(refused, "served without a trusted client certificate");
    }
    // Plain text to a TLS port gets nowhere either.
    let plain = s.url.replace("https://", "http://");
    if let Ok(ch) = Channel::from_shared(plain).unwrap().connect().await {
        assert!(list(ch, Some(&token)).await.is_err());
    }
    s.stop().await;
}

#[test]
fn tls_files_must_exist() {
    let missing = std::path::Path::new("/nonexistent/server.pem");
    let err = creditrisk::server::tls_config(missing, missing, None).unwrap_err();
    assert!(err.to_string().contains("tls_cert"), "{err}");
}
