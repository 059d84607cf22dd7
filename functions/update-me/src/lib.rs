use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{users, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "PATCH /api/users/me", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let profile = http::json_body(&event)?;
        let user = users::update_me(&mut signed_in, profile, &http::source_ip(&event)).await?;
        Reply::json(200, &user)
    })
    .await
}
