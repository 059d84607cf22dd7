#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::app::logging::init();
    // Built in the handler's first call would work too; this cannot fail (no I/O).
    let client = shared::app::secrets::client().await?;
    let policy = rotate_signing_key::policy_from_environment();
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        rotate_signing_key::handler(&client, &policy, event)
    }))
    .await
}
