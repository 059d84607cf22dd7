use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::{sessions, App};

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    http::handle(app, &event, "POST /api/users/token/refresh", async {
        let request = http::json_body(&event)?;
        let grant = sessions::refresh(app, request, &http::source_ip(&event)).await?;
        Reply::json(200, &grant)
    })
    .await
}
