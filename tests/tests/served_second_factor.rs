//! The second factor as `make serve` serves it, over HTTP, with codes computed by a standard
//! TOTP library (pyotp, which `make test` installs into .venv) as an authenticator app would:
//! enrolment, the two steps of login, a replayed code, a recovery code used once and only once,
//! and 12 parallel wrong codes on one `mfaToken` that leave it dead for the right code.

use std::process::Command;

use api_tests::serve::Served;
use api_tests::{insert_user, test_app, test_env, TestDb};
use serde_json::{json, Value};

const CELL: &str = "+15550000002";
const PASSWORD: &str = "user-password-2";
const KEYS: &str = "local1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// pyotp's code of `secret` for the 30-second step `steps_ahead` steps from now.
fn pyotp_code(secret: &str, steps_ahead: i64) -> String {
    let script = "import pyotp, sys, time; \
                  print(pyotp.TOTP(sys.argv[1]).at(time.time() + 30 * int(sys.argv[2])))";
    let output = Command::new("python3")
        .args(["-c", script, secret, &steps_ahead.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "pyotp is not installed: run the tests with `make test`, which installs it ({})",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The step after the one a code was computed for may have begun since: a code "of now" is
/// taken only while at least 5 seconds of its step remain, so it is still the current one when
/// the server checks it.
fn wait_for_a_fresh_step() {
    let now = chrono::Utc::now().timestamp();
    if now % 30 > 25 {
        std::thread::sleep(std::time::Duration::from_secs((31 - now % 30) as u64));
    }
}

fn mfa_token(server: &Served) -> String {
    let first = server.login(CELL, PASSWORD);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["mfaRequired"], true, "{}", first.body);
    first.body["mfaToken"].as_str().unwrap().to_owned()
}

fn second_step(server: &Served, body: &Value) -> u16 {
    server
        .call("POST", "/api/users/login/mfa", None, Some(body))
        .status
}

#[test]
fn enrol_with_an_app_code_log_in_in_two_steps_and_resist_replay_and_parallel_guessing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let app = test_app(&db);
    runtime.block_on(insert_user(&app, 2, CELL, PASSWORD));
    let mut env = test_env(&db);
    env.retain(|(name, _)| !name.starts_with("LOGIN_MAX_FAILURES"));
    // Limits high enough that only the token's own five tries are at work below.
    env.extend([
        ("MFA_KEYS", KEYS.to_owned()),
        ("LOGIN_MAX_FAILURES", "100".to_owned()),
        ("LOGIN_MAX_FAILURES_TOTAL", "100".to_owned()),
    ]);
    let server = Served::start_with_instances(&env, 4);

    let user = server.login(CELL, PASSWORD).body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let enrolment = server.call(
        "POST",
        "/api/users/me/mfa/totp",
        Some(&user),
        Some(&json!({ "currentPassword": PASSWORD })),
    );
    assert_eq!(
        enrolment.status,
        200,
        "{}\n{}",
        enrolment.body,
        server.logs()
    );
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    wait_for_a_fresh_step();
    let confirmed = server.call(
        "POST",
        "/api/users/me/mfa/totp/confirm",
        Some(&user),
        Some(&json!({ "code": pyotp_code(&secret, 0) })),
    );
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let recovery = confirmed.body["recoveryCodes"][0]
        .as_str()
        .unwrap()
        .to_owned();

    // 12 wrong codes at once on one token: at most 5 are checked, then it is dead, even for a
    // right code (of the step after the current one, which nothing has used yet). Codes are
    // computed just before they are sent: the first call of a function may wait for its build.
    let token = mfa_token(&server);
    let wrong = format!(
        "{:06}",
        (pyotp_code(&secret, 1).parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..12)
            .map(|_| {
                scope.spawn(|| second_step(&server, &json!({ "mfaToken": token, "code": wrong })))
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    assert_eq!(statuses, vec![401; 12]);
    let dead = json!({ "mfaToken": token, "code": pyotp_code(&secret, 1) });
    assert_eq!(second_step(&server, &dead), 401);

    // A right code on a fresh token signs in; replayed on another, it is refused.
    let token = mfa_token(&server);
    let next = pyotp_code(&secret, 1);
    let grant = server.call(
        "POST",
        "/api/users/login/mfa",
        None,
        Some(&json!({ "mfaToken": token, "code": next })),
    );
    assert_eq!(grant.status, 200, "{}", grant.body);
    assert_eq!(grant.body["tokenType"], "bearer");
    let me = server.call("GET", "/api/users/me", grant.body["token"].as_str(), None);
    assert_eq!(me.body["mfaEnabled"], true, "{}", me.body);
    let replay = json!({ "mfaToken": mfa_token(&server), "code": next });
    assert_eq!(second_step(&server, &replay), 401);

    // A recovery code: once, and only once.
    let with_recovery = json!({ "mfaToken": mfa_token(&server), "recoveryCode": recovery });
    assert_eq!(second_step(&server, &with_recovery), 200);
    let again = json!({ "mfaToken": mfa_token(&server), "recoveryCode": recovery });
    assert_eq!(second_step(&server, &again), 401);
    drop(runtime);
}
