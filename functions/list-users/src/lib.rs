use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::users::search::UserSearch;
use shared::{users, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "GET /api/users", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let search = UserSearch::parse(&http::query_pairs(&event))?;
        let page = users::list(&mut signed_in, &search).await?;
        Reply::json(200, &page)
    })
    .await
}
