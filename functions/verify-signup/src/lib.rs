use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sms, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/signup/verify", async {
        // Closed sign-up is a path the API does not have, whatever the body.
        sms::ensure_open(app)?;
        let request: sms::VerifyRequest = http::json_body(&event)?;
        let (user_id, session) = sms::verify(app, request, &http::source_ip(&event)).await?;
        Ok(Reply::json(201, &session)?.with_location(format!("/api/users/{user_id}")))
    })
    .await
}
