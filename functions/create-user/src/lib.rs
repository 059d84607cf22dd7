use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{users, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let new_user = http::json_body(&event)?;
        let user = users::create(app, &mut signed_in, new_user, &http::source_ip(&event)).await?;
        Ok(Reply::json(201, &user)?.with_location(format!("/api/users/{}", user.id)))
    })
    .await
}
