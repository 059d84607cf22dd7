//! A minimal Lambda Runtime API: enough for a function binary to start, take events one at a
//! time and post its responses, with the instants the harness measures.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

struct State {
    events: Mutex<mpsc::UnboundedReceiver<String>>,
    responses: mpsc::UnboundedSender<(Instant, Bytes)>,
    first_next: OnceLock<Instant>,
    ids: AtomicU64,
}

pub struct RuntimeApi {
    pub address: String,
    events: mpsc::UnboundedSender<String>,
    responses: mpsc::UnboundedReceiver<(Instant, Bytes)>,
    state: Arc<State>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (event_sender, event_receiver) = mpsc::unbounded_channel();
        let (response_sender, response_receiver) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            events: Mutex::new(event_receiver),
            responses: response_sender,
            first_next: OnceLock::new(),
            ids: AtomicU64::new(0),
        });
        let served = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = served.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request| handle(request, state.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            events: event_sender,
            responses: response_receiver,
            state,
        }
    }

    pub fn push(&self, event: String) {
        self.events.send(event).unwrap();
    }

    /// When the function asked for its first event: its initialisation was done.
    pub fn first_next(&self) -> Option<Instant> {
        self.state.first_next.get().copied()
    }

    /// The next response the function posts, with when it arrived.
    pub async fn response(&mut self) -> (Instant, Bytes) {
        tokio::time::timeout(Duration::from_secs(60), self.responses.recv())
            .await
            .expect("the function answered within 60 s")
            .expect("the runtime API is running")
    }
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && path.ends_with("/runtime/invocation/next") {
        state.first_next.get_or_init(Instant::now);
        let event = state.events.lock().await.recv().await.unwrap_or_default();
        let id = state.ids.fetch_add(1, Ordering::Relaxed);
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        return Ok(Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", format!("bench-{id}"))
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap());
    }
    if request.method() == Method::POST {
        let arrived = Instant::now();
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if path.contains("/runtime/invocation/") || path.ends_with("/runtime/init/error") {
            let _ = state.responses.send((arrived, body));
        }
        return Ok(Response::builder()
            .status(202)
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    Ok(Response::builder()
        .status(404)
        .body(Full::new(Bytes::new()))
        .unwrap())
}
