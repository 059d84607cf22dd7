#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::Error> {
    shared::http::run_sending_texts(forgot_password::handler).await
}
