use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{mfa, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "DELETE /api/users/{id}/mfa", async {
        // A bad id is reported after the token check, as for every other route.
        let id = http::path_id(&event);
        let subject_id = id.as_ref().ok().copied();
        let mut signed_in = http::signed_in_about(app, &event, subject_id).await?;
        mfa::reset_by_admin(&mut signed_in, id?, &http::source_ip(&event)).await?;
        Ok(Reply::no_content())
    })
    .await
}
