use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sessions, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(
        app,
        &event,
        "DELETE /api/users/me/sessions/{sessionId}",
        async {
            let mut signed_in = http::signed_in(app, &event).await?;
            sessions::end_own(
                &mut signed_in,
                http::path_text(&event, "sessionId"),
                &http::source_ip(&event),
            )
            .await?;
            Ok(Reply::no_content())
        },
    )
    .await
}
