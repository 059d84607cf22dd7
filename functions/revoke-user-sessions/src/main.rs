#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::Error> {
    shared::http::run(revoke_user_sessions::handler).await
}
