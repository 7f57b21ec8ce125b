//! What the repositories report, and how a database error is told apart: unavailable (worth a
//! retry later), a unique e-mail taken, or a bug.

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// What the repositories report. Database messages stay inside `Unavailable` and `Internal`:
/// they are logged, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("client not found")]
    ClientNotFound,
    #[error("e-mail address already taken")]
    EmailTaken,
    /// The guest's list was merged into a client's: its token acts on nothing any more.
    #[error("the guest's list was merged into a client's")]
    GuestEnded,
    #[error("the client's list is full")]
    ListFull { limit: u32 },
    /// The list does not hold the product a write names.
    #[error("the list does not hold this product")]
    NotInList,
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    #[error("database error")]
    Internal(#[source] DbErr),
}

impl From<DbErr> for RepoError {
    fn from(error: DbErr) -> Self {
        if is_unavailable(&error) {
            return Self::Unavailable(error);
        }
        if is_email_taken(&error) {
            Self::EmailTaken
        } else {
            Self::Internal(error)
        }
    }
}

/// A unique violation of `clients.email`: PostgreSQL names the index (`clients_email_key`);
/// SQLite names no index, only the table and column (`UNIQUE constraint failed: clients.email`).
fn is_email_taken(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) =
        error
    else {
        return false;
    };
    let Some(database) = error.as_database_error() else {
        return false;
    };
    if !matches!(database.kind(), sqlx::error::ErrorKind::UniqueViolation) {
        return false;
    }
    match database.constraint() {
        Some(name) => name == migration::CLIENTS_EMAIL_INDEX,
        None => database.message().ends_with(": clients.email"),
    }
}

/// The database cannot be reached right now (down, restarting, network cut, pool exhausted):
/// worth retrying later, unlike a bad statement.
fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            match error.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_) => true,
                // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutting down, crash
                // recovery, cannot connect now).
                sqlx::Error::Database(error) => error
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
                _ => false,
            }
        }
        _ => false,
    }
}

impl RepoError {
    /// Lock-ordering conflicts that PostgreSQL resolves by aborting one transaction; running
    /// the transaction again is the documented remedy.
    pub(crate) fn is_retryable(&self) -> bool {
        let Self::Internal(error) = self else {
            return false;
        };
        if matches!(
            error.sql_err(),
            Some(SqlErr::ForeignKeyConstraintViolation(_))
        ) {
            return true;
        }
        let message = error.to_string();
        ["40001", "40P01", "deadlock detected", "could not serialize"]
            .iter()
            .any(|needle| message.contains(needle))
    }
}
