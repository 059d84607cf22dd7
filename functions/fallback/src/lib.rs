use std::time::Duration;

use lambda_http::{Body, Request, Response};
use shared::http::{self, Error};

pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    // No database, no token: the contract answers unknown routes before any authentication.
    http::handle_within(Duration::from_secs(5), &event, "$default", async {
        Err(http::unrouted(&event))
    })
    .await
}
