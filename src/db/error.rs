use sea_orm::{DbErr, SqlErr};

/// What the repositories report. Database messages stay inside `Unavailable` and `Internal`:
/// they are logged, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("client not found")]
    ClientNotFound,
    #[error("e-mail address already taken")]
    EmailTaken,
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    #[error("database error")]
    Internal(#[source] DbErr),
}

impl From<DbErr> for RepoError {
    fn from(error: DbErr) -> Self {
        match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(error),
            _ => match error.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(message)) if message.contains("email") => {
                    Self::EmailTaken
                }
                _ => Self::Internal(error),
            },
        }
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
