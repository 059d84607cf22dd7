//! A minimal Lambda Runtime API: enough for function binaries to start, take events one at a
//! time and post their responses, with the instants the harness measures. Any number of
//! instances may poll one API: each event goes to exactly one of them, as Lambda's own queue
//! hands an event to one free instance.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    responses: mpsc::UnboundedSender<Posted>,
    first_next: OnceLock<Instant>,
    /// How many times an instance asked for an event: once per instance when it is ready.
    polls: AtomicUsize,
    ids: AtomicU64,
    /// When each invocation's event was handed out, by request id, until its response arrives.
    handed_out: std::sync::Mutex<HashMap<u64, Instant>>,
}

/// What a function posted: a response, an invocation error or an initialisation error.
pub struct Posted {
    /// When the event was handed to the instance (`None` for an initialisation error).
    pub handed_out: Option<Instant>,
    pub arrived: Instant,
    pub body: Bytes,
}

pub struct RuntimeApi {
    pub address: String,
    events: mpsc::UnboundedSender<String>,
    responses: mpsc::UnboundedReceiver<Posted>,
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
            polls: AtomicUsize::new(0),
            ids: AtomicU64::new(0),
            handed_out: std::sync::Mutex::default(),
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

    /// How many times instances asked for an event so far.
    pub fn polls(&self) -> usize {
        self.state.polls.load(Ordering::Relaxed)
    }

    /// The next response the function posts, with when it arrived.
    pub async fn response(&mut self) -> (Instant, Bytes) {
        let posted = self
            .posted(Duration::from_secs(60))
            .await
            .expect("the function answered within 60 s");
        (posted.arrived, posted.body)
    }

    /// The next thing any instance posts, or `None` when nothing came `within`.
    pub async fn posted(&mut self, within: Duration) -> Option<Posted> {
        tokio::time::timeout(within, self.responses.recv())
            .await
            .ok()
            .map(|posted| posted.expect("the runtime API is running"))
    }
}

/// The request id of `/runtime/invocation/bench-{id}/response` (or `/error`).
fn request_id(path: &str) -> Option<u64> {
    path.split('/')
        .find_map(|segment| segment.strip_prefix("bench-"))
        .and_then(|id| id.parse().ok())
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && path.ends_with("/runtime/invocation/next") {
        state.first_next.get_or_init(Instant::now);
        state.polls.fetch_add(1, Ordering::Relaxed);
        let event = state.events.lock().await.recv().await.unwrap_or_default();
        let id = state.ids.fetch_add(1, Ordering::Relaxed);
        state.handed_out.lock().unwrap().insert(id, Instant::now());
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
            let handed_out =
                request_id(&path).and_then(|id| state.handed_out.lock().unwrap().remove(&id));
            let _ = state.responses.send(Posted {
                handed_out,
                arrived,
                body,
            });
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

/// A release binary as Lambda starts it: an empty environment but for what the runtime sets
/// (this API's address, the function's name and memory) and `env`; output discarded.
pub fn lambda_process<'a>(
    binary: &std::path::Path,
    api: &RuntimeApi,
    function: &str,
    env: impl IntoIterator<Item = (&'a str, String)>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}
