use lambda_http::{Body, Request, Response};
use shared::audit::{self, AuditQuery};
use shared::http::{self, Error, Reply};
use shared::App;

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "GET /api/audit", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let query = AuditQuery::parse(&http::query_pairs(&event))?;
        let page = audit::list(&mut signed_in, query).await?;
        Reply::json(200, &page)
    })
    .await
}
