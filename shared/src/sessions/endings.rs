//! Every way a session ends (logout and its scopes, ending one session, an admin's sign-out,
//! and, through [`end_sessions`], password changes, resets and disabling), each with its audit
//! event in the same transaction.

use super::{is_session_id, LogoutScope};
use crate::audit::{self, Event, Parties, RowCondition};
use crate::auth::policy::Action;
use crate::auth::source_ip::SourceIp;
use crate::auth::Authenticated;
use crate::db::batch::{self, Statement};
use crate::db::statements::{DbConn, Statements};
use crate::error::ApiError;

/// Which of a user's sessions [`end_sessions`] ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ended<'a> {
    One(&'a str),
    AllBut(&'a str),
    All,
}

/// The condition that finds the live sessions of `user_id` that `which` names.
fn live_sessions(user_id: u64, which: Ended<'_>) -> (String, Vec<crate::db::Value>) {
    let mut params = vec![crate::db::Value::from(user_id)];
    let condition = match which {
        Ended::One(id) => {
            params.push(id.into());
            "AND id = ?"
        }
        Ended::AllBut(id) => {
            params.push(id.into());
            "AND id <> ?"
        }
        Ended::All => "",
    };
    (format!("user_id = ? AND ended IS NULL {condition}"), params)
}

fn end_sql(user_id: u64, which: Ended<'_>) -> (String, Vec<crate::db::Value>) {
    let (condition, params) = live_sessions(user_id, which);
    (
        format!("UPDATE session SET ended = UTC_TIMESTAMP(6) WHERE {condition}"),
        params,
    )
}

/// Ends sessions of `user_id` inside the caller's transaction; how many were live. Their access
/// tokens and refresh tokens stop working at once.
pub(crate) async fn end_sessions<Q: Statements>(
    db: &mut Q,
    user_id: u64,
    which: Ended<'_>,
) -> Result<u64, ApiError> {
    let (sql, params) = end_sql(user_id, which);
    Ok(db.run(&sql, params).await?.affected_rows)
}

/// Ends sessions and records `event` in one transaction and one round trip; how many ended.
/// `only_if_one` (for [`Ended::One`]) writes the event only when that session was live.
pub(super) async fn end_recorded(
    conn: &mut DbConn,
    user_id: u64,
    which: Ended<'_>,
    parties: Parties<'_>,
    event: &Event<'_>,
    only_if_one: bool,
) -> Result<u64, ApiError> {
    let (sql, params) = end_sql(user_id, which);
    let end = Statement::new(sql, params);
    let (statements, end_at) = if only_if_one {
        let (condition, params) = live_sessions(user_id, which);
        let session = RowCondition::new(format!("session WHERE {condition}"), params);
        ([audit::insert_if_row(parties, event, session), end], 1)
    } else {
        ([end, audit::insert(parties, event)], 0)
    };
    let outcomes = batch::run_in_transaction(conn, &statements).await?;
    Ok(outcomes[end_at].affected_rows)
}

/// Ends one of the signed-in user's sessions; another user's or an unknown id is 404.
pub async fn end_own(
    signed_in: &mut Authenticated,
    session_id: &str,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    if !is_session_id(session_id) {
        return Err(ApiError::SessionNotFound);
    }
    let user_id = signed_in.user.id;
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let event = Event::SessionRevoked { session_id };
    match end_recorded(
        signed_in.conn(),
        user_id,
        Ended::One(session_id),
        parties,
        &event,
        true,
    )
    .await?
    {
        0 => Err(ApiError::SessionNotFound),
        _ => Ok(()),
    }
}

/// `POST /api/users/logout`: ends the sessions `scope` names.
pub async fn logout(
    signed_in: &mut Authenticated,
    scope: LogoutScope,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    let user_id = signed_in.user.id;
    let current = signed_in.session_id.clone();
    let (which, name) = match scope {
        LogoutScope::Local => (Ended::One(&current), "local"),
        LogoutScope::Others => (Ended::AllBut(&current), "others"),
        LogoutScope::Global => (Ended::All, "global"),
    };
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let event = Event::Logout { scope: name };
    end_recorded(signed_in.conn(), user_id, which, parties, &event, false).await?;
    Ok(())
}

/// An admin signs user `id` out everywhere; 404 when there is no such user.
pub async fn end_all_of(
    signed_in: &mut Authenticated,
    id: u64,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::EndSessionsOfUser)?;
    let exists = match signed_in.take_subject(id) {
        Some(found) => found.is_some(),
        None => signed_in
            .conn()
            .first::<u8>("SELECT 1 FROM users WHERE id = ?", (id,))
            .await?
            .is_some(),
    };
    if !exists {
        return Err(ApiError::NotFound);
    }
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(id),
        source,
    };
    end_recorded(
        signed_in.conn(),
        id,
        Ended::All,
        parties,
        &Event::SessionsRevoked,
        false,
    )
    .await?;
    Ok(())
}
