use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sms, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/password/reset", async {
        let request: sms::ResetRequest = http::json_body(&event)?;
        sms::reset(app, request, &http::source_ip(&event)).await?;
        Ok(Reply::no_content())
    })
    .await
}
