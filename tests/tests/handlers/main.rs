//! The fast tests: every function's handler fed real API Gateway events, against a fresh MariaDB
//! database per test, in one binary. One module per concern; the slow or infrastructure-heavy
//! tests (faults, rotations, SAM, the browser, proxy mode, migrations, the served API) are binaries
//! of their own beside this folder.

mod account_state;
mod audit_log;
mod concurrency;
mod database_error_log;
mod input_rules;
mod login_abuse;
mod login_throttle;
mod logout_and_password_change;
mod password_and_login_races;
mod refresh_and_token_bounds;
mod round_trips;
mod routes;
mod search;
mod sessions;
mod sign_in_and_read;
mod token_attacks;
mod unrouted;
mod user_management;
