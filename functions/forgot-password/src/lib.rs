use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sms, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/password/forgot", async {
        let request: sms::ForgotRequest = http::json_body(&event)?;
        let accepted = sms::forgot(app, request, &http::source_ip(&event)).await?;
        Reply::json(202, &accepted)
    })
    .await
}
