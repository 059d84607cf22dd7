use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{auth, users, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "DELETE /api/users/{id}", async {
        let mut signed_in = auth::authenticate(app, http::authorization(&event)).await?;
        let id = http::path_id(&event)?;
        users::delete(&mut signed_in, id).await?;
        Reply::json(
            200,
            &shared::error::Detail::new("User deleted successfully"),
        )
    })
    .await
}
