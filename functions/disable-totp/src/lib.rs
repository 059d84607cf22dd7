use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{mfa, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/me/mfa/totp/disable", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let request = http::json_body(&event)?;
        mfa::disable(app, &mut signed_in, request, &http::source_ip(&event)).await?;
        Ok(Reply::no_content())
    })
    .await
}
