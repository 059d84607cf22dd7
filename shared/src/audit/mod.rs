//! The audit log: who did what to whom, when and from where.
//!
//! An event is written by the statement batch or transaction of the change it records, so no
//! change is without its event and a refused request writes none. What an event can hold is
//! fixed by [`Event`]: each action with exactly the keys of its `detail`, none of which can be a
//! password, a hash or a token.

mod event;
mod read;
mod write;

pub use event::{Event, LoginFailure, ACTIONS};
pub use read::{list, AuditEvent, AuditQuery};
pub(crate) use write::{
    insert, insert_for_new_row, insert_if_row, login_failed_statement, RowCondition,
};
pub use write::{purge_expired, record, Parties};
