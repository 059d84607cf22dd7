#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::Error> {
    shared::http::run(reset_password::handler).await
}
