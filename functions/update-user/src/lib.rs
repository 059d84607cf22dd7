use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{auth, users, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "PATCH /api/users/{id}", async {
        let mut signed_in = auth::authenticate(app, http::authorization(&event)).await?;
        let id = http::path_id(&event)?;
        let patch = http::json_body(&event)?;
        let user = users::update(app, &mut signed_in, id, patch).await?;
        Reply::json(200, &user)
    })
    .await
}
