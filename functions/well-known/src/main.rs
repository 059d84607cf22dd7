#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), shared::http::Error> {
    shared::http::run(well_known::handler).await
}
