//! Texts through Amazon SNS, against moto's SNS and two stand-ins: the sender of a function that
//! sends texts publishes a transactional SMS; a text that cannot go out fails within the bound
//! of `shared::aws::sns` (3 s); each text is logged once with `sms_outcome`, never with its body
//! or the whole number.
//!
//! One test per binary, since it sets the process environment the way Lambda does.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::moto::Moto;
use shared::texts::{DeliveryFailure, Text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CODE: &str = "493817";
const NUMBER: &str = "+447700900123";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

fn text(to: &str) -> Text {
    Text {
        to: to.to_owned(),
        body: format!("Your users-api code is {CODE}. It expires in 10 minutes."),
    }
}

/// Points the SDK at `endpoint`; the next sender made reads it at its first text.
fn use_endpoint(endpoint: &str) {
    // SAFETY: this binary has one test, and nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL", endpoint) };
}

/// What the sender of a function that sends texts does with one text, and how long it took.
async fn send(app: &shared::App, to: &str) -> (Result<(), shared::texts::DeliveryError>, Duration) {
    let sender = shared::texts::sender(&app.config.sms.sender);
    let started = Instant::now();
    let outcome = sender.send(&text(to)).await;
    (outcome, started.elapsed())
}

#[tokio::test]
async fn texts_go_out_through_sns_as_transactional_sms_and_failures_are_bounded_and_logged() {
    let moto = Moto::start();
    // SAFETY: as in use_endpoint.
    unsafe { moto.set_aws_environment() };
    let app = api_tests::app::app_with(
        "mysql://nobody@127.0.0.1:9/unused",
        &[("SMS_SENDER", "sns")],
    );
    let captured = Captured::default();
    let writer = captured.clone();
    let _default = tracing::subscriber::set_default(shared::app::logging::json_subscriber(
        tracing_subscriber::EnvFilter::new("info"),
        move || writer.clone(),
    ));

    // A function started without the SMS sender (the App alone) sends nothing, and says so.
    let refused = app.texts.send(&text(NUMBER)).await.unwrap_err();
    assert_eq!(refused.kind, DeliveryFailure::NoSender);

    // Published to moto, which keeps the text (it does not keep message attributes).
    let (sent, took) = send(&app, NUMBER).await;
    sent.expect("the text is published");
    let data: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("{}/moto-api/data.json", moto.endpoint))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let texts = data["sns"]["SMS"].as_array().expect("moto's SMS messages");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["phone_number"], NUMBER);
    assert_eq!(texts[0]["message"], text(NUMBER).body);
    assert!(took < Duration::from_secs(3), "{took:?}");

    // The request on the wire: a Publish to the number, transactional.
    let (endpoint, request) = recording_stand_in().await;
    use_endpoint(&endpoint);
    send(&app, NUMBER).await.0.expect("the stand-in accepts");
    let form = request.await.unwrap();
    for field in [
        "Action=Publish",
        "PhoneNumber=%2B447700900123",
        "MessageAttributes.entry.1.Name=AWS.SNS.SMS.SMSType",
        "MessageAttributes.entry.1.Value.DataType=String",
        "MessageAttributes.entry.1.Value.StringValue=Transactional",
    ] {
        assert!(
            form.split('&').any(|pair| pair == field),
            "{field} in {form}"
        );
    }
    assert!(
        !form.contains("TopicArn") && !form.contains("TargetArn"),
        "{form}"
    );

    // SNS refuses a number that is not E.164: an error with SNS's code, and no number or body.
    use_endpoint(&moto.endpoint);
    let (refused, _) = send(&app, "00447700900123").await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.kind, DeliveryFailure::Refused, "{refused}");
    assert!(
        refused.to_string().contains("InvalidParameter"),
        "{refused}"
    );

    // Nothing listens: refused at once (one retry), well within the bound.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    use_endpoint(&closed_endpoint);
    let (unreachable, took) = send(&app, NUMBER).await;
    let unreachable = unreachable.unwrap_err();
    assert_eq!(
        unreachable.kind,
        DeliveryFailure::Unreachable,
        "{unreachable}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");

    // A server that accepts and never answers: given up at the publish's bound of 3 s.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    use_endpoint(&format!("http://{}", silent.local_addr().unwrap()));
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let (timed_out, took) = send(&app, NUMBER).await;
    hold.abort();
    let timed_out = timed_out.unwrap_err();
    assert_eq!(timed_out.kind, DeliveryFailure::Timeout, "{timed_out}");
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_millis(4500),
        "{took:?}"
    );

    // One line per text: two sent, four failed, each with its kind; no body, no whole number.
    let lines = captured.lines();
    let texts: Vec<_> = lines
        .iter()
        .filter(|line| line.get("sms_outcome").is_some())
        .collect();
    let outcomes: Vec<(&str, &str)> = texts
        .iter()
        .map(|line| {
            (
                line["sms_outcome"].as_str().unwrap(),
                line["sms_error"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("failed", "no_sender"),
            ("sent", "-"),
            ("sent", "-"),
            ("failed", "refused"),
            ("failed", "unreachable"),
            ("failed", "timeout"),
        ]
    );
    assert!(texts
        .iter()
        .all(|line| line["sms_country"] == "+44" || line["sms_country"] == "unknown"));
    assert_eq!(texts[1]["sms_sender"], "sns");
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!logged.contains(CODE), "the code was logged: {logged}");
    assert!(
        !logged.contains("7700900123"),
        "the number was logged: {logged}"
    );
}

/// A stand-in for SNS that answers one Publish and hands over the request's form body.
async fn recording_stand_in() -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let request = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        let body = loop {
            let read = socket.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the request ended early");
            received.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&received).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("a content-length");
            if body.len() >= length {
                break body.to_owned();
            }
        };
        let answer = "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
            <PublishResult><MessageId>stand-in-1</MessageId></PublishResult>\
            <ResponseMetadata><RequestId>stand-in-request</RequestId></ResponseMetadata>\
            </PublishResponse>";
        socket
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        body
    });
    (endpoint, request)
}
