use std::time::Duration;

use lambda_http::{Body, Request, Response};
use shared::http::{self, Error};

/// `signup_open` is the deployment's `SIGNUP`, read once at start.
pub async fn handler(event: Request, signup_open: bool) -> Result<Response<Body>, Error> {
    // No database, no token: the contract answers unknown routes before any authentication.
    http::handle_within(Duration::from_secs(5), &event, "$default", async {
        Err(http::unrouted(&event, signup_open))
    })
    .await
}
