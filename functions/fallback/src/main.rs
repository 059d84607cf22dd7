#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::Error> {
    // A deployment whose SIGNUP is neither open nor closed fails here as every function does.
    let signup_open = shared::app::config::signup_open(&|name| std::env::var(name).ok())?;
    shared::http::run_without_app(move |event| fallback::handler(event, signup_open)).await
}
