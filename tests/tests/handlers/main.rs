//! The fast tests: every function's handler fed real API Gateway events, against a fresh MariaDB
//! database per test, in one binary. One module per concern; the slow or infrastructure-heavy
//! tests (faults, rotations, SAM, the browser, proxy mode, migrations, the served API) are binaries
//! of their own beside this folder.

mod account_state;
mod audit_log;
mod concurrency;
mod login_abuse;
mod round_trips;
mod routes;
mod search;
mod sessions;
mod sign_in_and_read;
mod token_attacks;
mod unrouted;
mod user_management;
