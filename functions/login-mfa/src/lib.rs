use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{mfa, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/login/mfa", async {
        let request: mfa::MfaLoginRequest = http::json_body(&event)?;
        let session = mfa::finish_login(app, request, &http::source_ip(&event)).await?;
        Reply::json(200, &session)
    })
    .await
}
