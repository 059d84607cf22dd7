use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{users::credentials, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/me/password", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let change = http::json_body(&event)?;
        credentials::change_password(app, &mut signed_in, change, &http::source_ip(&event)).await?;
        Ok(Reply::no_content())
    })
    .await
}
