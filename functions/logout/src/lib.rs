use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{auth, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/logout", async {
        let mut signed_in = auth::authenticate(app, http::authorization(&event)).await?;
        auth::logout(&mut signed_in, &http::source_ip(&event)).await?;
        Ok(Reply::no_content())
    })
    .await
}
