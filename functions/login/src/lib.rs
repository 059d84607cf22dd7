use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{auth, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/login", async {
        let credentials: auth::LoginRequest = http::json_body(&event)?;
        let session = auth::login(app, credentials).await?;
        Reply::json(200, &session)
    })
    .await
}
