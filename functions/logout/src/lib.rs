use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::sessions::{self, LogoutScope};
use shared::App;

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/logout", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let scope = LogoutScope::parse(http::query_text(&event, "scope"))?;
        sessions::logout(&mut signed_in, scope, &http::source_ip(&event)).await?;
        Ok(Reply::no_content())
    })
    .await
}
