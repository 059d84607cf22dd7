//! The HTTP client of the Secrets Manager SDK: HTTP/1.1, over rustls with ring and the Mozilla
//! roots, on the hyper and tokio-rustls that the Lambda runtime and the MySQL driver link anyway.
//!
//! The SDK's own client (aws-smithy-http-client) adds HTTP/2, a connection pool and a second
//! certificate loader, about 0.3 MB of every function's package, for the one or two requests a
//! cold start makes. A new connection per request is right for that use: there is no second use.

use std::sync::Arc;

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
}

impl std::fmt::Debug for Http1Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http1Connector")
    }
}

/// The SDK's HTTP client: HTTPS with certificate and host name verification by rustls; plain
/// HTTP only when the endpoint says `http://` (a local stand-in in tests).
pub fn client() -> Result<SharedHttpClient, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = Http1Connector {
        tls: TlsConnector::from(Arc::new(config)),
    };
    Ok(http_client_fn(move |_settings, _components| {
        SharedHttpConnector::new(connector.clone())
    }))
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let tls = self.tls.clone();
        // Failures here are of the connection (refused, reset, TLS): the SDK may retry them.
        HttpConnectorFuture::new(
            async move { send(tls, request).await.map_err(ConnectorError::io) },
        )
    }
}

async fn send(tls: TlsConnector, request: HttpRequest) -> Result<HttpResponse, BoxError> {
    let request = request.try_into_http1x()?;
    let (mut parts, body) = request.into_parts();
    let uri = parts.uri.clone();
    let host = uri.host().ok_or("the endpoint has no host")?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the endpoint is neither https nor http".into()),
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // A request made over a connection of its own names its host itself (the SDK signed it).
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
    let request = http::Request::from_parts(parts, body);

    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    if https {
        let name = ServerName::try_from(host.to_owned())?;
        exchange(tls.connect(name, tcp).await?, request).await
    } else {
        exchange(tcp, request).await
    }
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
