#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::Error> {
    shared::http::run(forgot_password::handler).await
}
