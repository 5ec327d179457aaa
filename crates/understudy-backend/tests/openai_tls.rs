//! `https://` servers: the certificate is checked against the system's roots (`SSL_CERT_FILE`
//! and `SSL_CERT_DIR` name others, as for curl and OpenSSL), so a server whose certificate no
//! trusted root signed is refused with the reason, and one that a trusted root signed answers.
//! One test in its own process, since it sets the environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use understudy_backend::openai::OpenAiBackend;
use understudy_backend::BackendError;
use understudy_core::{ChatMessage, ChatRequest, ValidChatRequest};

fn req() -> ValidChatRequest {
    ChatRequest::new("m", vec![ChatMessage::user("hi")])
        .validate()
        .unwrap()
}

/// An OpenAI-compatible server on TLS with `cert` for `localhost`; its base URL.
async fn start_tls_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                if let Ok(tls) = acceptor.accept(tcp).await {
                    answer_requests(tls).await;
                }
            });
        }
    });
    format!("https://localhost:{port}/v1")
}

/// Answers HTTP/1.1 requests on one connection until it closes: the model list, or a completion.
async fn answer_requests(stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
            head.push(line);
        }
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        let answer = if head[0].contains("/models") {
            r#"{"data":[{"id":"m"}]}"#
        } else {
            r#"{"choices":[{"message":{"content":"over tls"},"finish_reason":"stop"}]}"#
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        stream.get_mut().write_all(reply.as_bytes()).await.unwrap();
    }
}

#[tokio::test]
async fn a_certificate_is_trusted_only_when_a_trusted_root_signed_it() {
    let signed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = signed.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signed.key_pair.serialize_der()));
    let base_url = start_tls_server(cert, key).await;

    // Not among the roots: refused, saying why.
    let untrusting = OpenAiBackend::new("t", &base_url, None, 5).unwrap();
    let err = untrusting.chat_unary(req()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");

    // Named as a root (the way a private CA is added): the same server answers.
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, signed.cert.pem()).unwrap();
    std::env::set_var("SSL_CERT_FILE", &roots);
    std::env::remove_var("SSL_CERT_DIR");
    let trusting = OpenAiBackend::new("t", &base_url, None, 5).unwrap();
    assert_eq!(trusting.chat_unary(req()).await.unwrap().answer, "over tls");
}
