#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let database: &'static shared::app::Database = match shared::app::Database::load().await {
        Ok(database) => Box::leak(Box::new(database)),
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return Err(error.into());
        }
    };
    let responder = migrate::Responder::new();
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        migrate::handler(database, &responder, event)
    }))
    .await
}
