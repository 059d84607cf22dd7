//! The HTTP client of the Secrets Manager SDK: HTTP/1.1, over rustls with ring and the Mozilla
//! roots, on the hyper and tokio-rustls that the Lambda runtime and the MySQL driver link anyway.
//!
//! The SDK's own client (aws-smithy-http-client) adds HTTP/2, a connection pool and a second
//! certificate loader, about 0.3 MB of every function's package, for the one or two requests a
//! cold start makes. A new connection per request is right for that use: there is no second use.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
struct Http1Connector {
    tls: TlsConnector,
    /// Bounds the TCP connect and the TLS handshake; the SDK's attempt timeout bounds the rest.
    connect_timeout: Option<Duration>,
}

impl std::fmt::Debug for Http1Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http1Connector")
    }
}

/// The SDK's HTTP client: HTTPS with certificate and host name verification by rustls; plain
/// HTTP only when the endpoint says `http://` (a local stand-in in tests).
pub fn client() -> Result<SharedHttpClient, rustls::Error> {
    let tls = tls_connector()?;
    Ok(http_client_fn(move |settings, _components| {
        SharedHttpConnector::new(Http1Connector {
            tls: tls.clone(),
            connect_timeout: settings.connect_timeout(),
        })
    }))
}

fn tls_connector() -> Result<TlsConnector, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let connector = self.clone();
        HttpConnectorFuture::new(async move { connector.send(request).await })
    }
}

impl Http1Connector {
    async fn send(self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let Outgoing {
            request,
            host,
            port,
            https,
        } = origin_form(request).map_err(ConnectorError::user)?;
        let connect = async {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let stream = if https {
                let name = ServerName::try_from(host.clone())?;
                Stream::Tls(Box::new(self.tls.connect(name, tcp).await?))
            } else {
                Stream::Plain(tcp)
            };
            Ok::<_, BoxError>(stream)
        };
        let stream = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connect)
                .await
                .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
            None => connect.await,
        }
        // Refused, reset, TLS failures: of the connection, so the SDK may retry them.
        .map_err(ConnectorError::io)?;
        match stream {
            Stream::Tls(tls) => exchange(*tls, request).await,
            Stream::Plain(tcp) => exchange(tcp, request).await,
        }
        .map_err(ConnectorError::io)
    }
}

enum Stream {
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Plain(TcpStream),
}

/// A request ready for a connection of its own, and where that connection goes.
struct Outgoing {
    request: http::Request<Full<Bytes>>,
    host: String,
    port: u16,
    https: bool,
}

/// The request with an origin-form target and a Host header (a connection of its own carries
/// one request, which must name its host itself).
fn origin_form(request: HttpRequest) -> Result<Outgoing, BoxError> {
    let request = request.try_into_http1x()?;
    let (mut parts, body) = request.into_parts();
    let uri = parts.uri.clone();
    let host = uri.host().ok_or("the endpoint has no host")?.to_owned();
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the endpoint is neither https nor http".into()),
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !parts.headers.contains_key(http::header::HOST) {
        let authority = uri.authority().ok_or("the endpoint has no host")?;
        parts
            .headers
            .insert(http::header::HOST, authority.as_str().parse()?);
    }
    parts.uri = uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .parse()?;
    let body = Full::new(Bytes::copy_from_slice(
        body.bytes().ok_or("a streaming request body")?,
    ));
    Ok(Outgoing {
        request: http::Request::from_parts(parts, body),
        host,
        port,
        https,
    })
}

async fn exchange<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
) -> Result<HttpResponse, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection is driven until the response is read, then dropped with it.
    let driver = tokio::spawn(connection);
    let outcome = async {
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, BoxError>(http::Response::from_parts(parts, SdkBody::from(body)))
    }
    .await;
    driver.abort();
    Ok(HttpResponse::try_from(outcome?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from("{}"));
        request.set_uri(uri).unwrap();
        request
    }

    #[test]
    fn requests_carry_their_host_and_an_origin_form_target() {
        let out = origin_form(request("https://secretsmanager.eu-west-1.amazonaws.com/")).unwrap();
        assert_eq!(
            (out.host.as_str(), out.port, out.https),
            ("secretsmanager.eu-west-1.amazonaws.com", 443, true)
        );
        assert_eq!(out.request.uri(), "/");
        assert_eq!(
            out.request.headers()["host"],
            "secretsmanager.eu-west-1.amazonaws.com"
        );

        let local = origin_form(request("http://127.0.0.1:5000/a?b=c")).unwrap();
        assert_eq!((local.port, local.https), (5000, false));
        assert_eq!(local.request.uri(), "/a?b=c");
        assert_eq!(local.request.headers()["host"], "127.0.0.1:5000");
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(origin_form(request("ftp://example.com/")).is_err());
    }

    /// A server that is not the one named (here: not TLS at all) fails the request; it is never
    /// sent in the clear.
    #[tokio::test]
    async fn https_to_a_server_without_a_valid_certificate_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let connector = Http1Connector {
            tls: tls_connector().unwrap(),
            connect_timeout: Some(Duration::from_secs(2)),
        };
        let outcome = connector
            .send(request(&format!("https://localhost:{port}/")))
            .await;
        assert!(outcome.is_err());
    }
}
