use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sessions, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "GET /api/users/me/sessions", async {
        let mut signed_in = http::signed_in(app, &event).await?;
        let sessions = sessions::list(&mut signed_in).await?;
        Reply::json(200, &sessions)
    })
    .await
}
