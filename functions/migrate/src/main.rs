/// The runtime loop starts before anything can fail: loading the secrets and the database
/// happens in the handler, so every CloudFormation request gets an answer (see the crate docs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::app::logging::init();
    let migrator = migrate::Migrator::from_environment();
    let responder = migrate::Responder::new();
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        migrate::handler(&migrator, &responder, event)
    }))
    .await
}
