use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::App;

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "GET /api/users/me", async {
        // The token check reads the user's row too: one round trip for the whole request.
        let signed_in = http::signed_in(app, &event).await?;
        Reply::json(200, &signed_in.user)
    })
    .await
}
