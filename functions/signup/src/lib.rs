use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sms, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/signup", async {
        // Closed sign-up is a path the API does not have, whatever the body.
        sms::ensure_open(app)?;
        let request: sms::SignupRequest = http::json_body(&event)?;
        let accepted = sms::signup(app, request, &http::source_ip(&event)).await?;
        Reply::json(202, &accepted)
    })
    .await
}
