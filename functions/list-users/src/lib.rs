use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::users::{self, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use shared::{auth, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "GET /api/users", async {
        let mut signed_in = auth::authenticate(app, http::authorization(&event)).await?;
        let limit = http::query_number(&event, "limit", DEFAULT_PAGE_LIMIT, 1..=MAX_PAGE_LIMIT)?;
        let offset = http::query_number(&event, "offset", 0, 0..=i64::MAX as u64)?;
        let page = users::list(&mut signed_in, limit, offset).await?;
        Reply::json(200, &page)
    })
    .await
}
