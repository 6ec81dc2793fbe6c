//! Connections that never speak, idle HTTP/2 connections, and the TLS listener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::TestApp;

/// Waits (at most `limit`) until the server closes `stream`; returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(limit, async {
        while !matches!(stream.read(&mut buffer).await, Ok(0) | Err(_)) {}
    })
    .await;
    closed.ok().map(|()| started.elapsed())
}

#[tokio::test]
async fn silent_connections_are_closed_and_free_their_slots() {
    // Test config: 1 s to send the first request's headers.
    let app = TestApp::front_with(|config| config.front.max_connections = 4).await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(app.address).await.unwrap());
    }
    // One that sends a byte of what could be an HTTP/2 preface, then nothing.
    silent[0].write_all(b"P").await.unwrap();
    for stream in &mut silent {
        let took = closed_within(stream, Duration::from_secs(5)).await;
        assert!(took.is_some(), "a silent connection was held past 5 s");
    }
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        app.http.get(app.url("/healthz")).send(),
    )
    .await;
    assert!(
        matches!(response, Ok(Ok(ref r)) if r.status() == 200),
        "{response:?}"
    );
}

#[tokio::test]
async fn idle_http2_connections_are_closed() {
    let app = TestApp::front_with(|config| config.front.idle_timeout_ms = 3_000).await;
    let tcp = TcpStream::connect(app.address).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::get(app.url("/healthz")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    // h2 answers the front's pings by itself: only the idle limit can end this connection.
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(
        ended.is_ok(),
        "an idle HTTP/2 connection was held past 10 s"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "closed after {:?}, before the idle limit",
        started.elapsed()
    );
}

#[tokio::test]
async fn http2_requests_are_served_and_a_silent_preface_is_cut() {
    let app = TestApp::front_only().await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    // The whole client preface but no SETTINGS frame, and then nothing.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let took = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(took.is_some(), "a silent HTTP/2 connection was held");
}

/// A self-signed certificate for `localhost` written as PEM files; the directory goes with it.
struct TestCertificate {
    dir: std::path::PathBuf,
    cert_pem: String,
}

impl TestCertificate {
    fn new() -> Self {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = std::env::temp_dir().join(format!("intake-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_pem = generated.cert.pem();
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem()).unwrap();
        Self { dir, cert_pem }
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn the_tls_listener_serves_https_and_cuts_silent_handshakes() {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

    let certificate = TestCertificate::new();
    let (cert, key) = (
        certificate.dir.join("cert.pem"),
        certificate.dir.join("key.pem"),
    );
    let app = TestApp::front_with(|config| {
        config.front.tls_cert = Some(cert);
        config.front.tls_key = Some(key);
    })
    .await;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(certificate.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(app.address).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Plain HTTP on the TLS port is no request.
    let plain = app.http.get(app.url("/healthz")).send().await;
    assert!(plain.is_err(), "{plain:?}");

    // A client that opens a connection and never starts the handshake is cut off.
    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let took = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(took.is_some(), "a silent TLS connection was held");
}

#[tokio::test]
async fn a_pooled_connection_closed_for_idleness_is_not_reused() {
    let app = TestApp::front_with(|config| config.front.idle_timeout_ms = 3_000).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        // Past the test's idle limit (3 s): the client must see the close, not send into it.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
    }
}
