//! Running the migrations once across a fleet: on PostgreSQL, under an advisory lock, so that
//! instances started together take turns (the first migrates, the others find nothing to do).

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use sha2::{Digest, Sha256};

use super::{DatabaseSettings, StatementCounter, connect};

/// Brings the schema up to date. SQLite is one process's file: it migrates on `connection`.
pub async fn run_migrations(
    connection: &DatabaseConnection,
    settings: &DatabaseSettings<'_>,
) -> Result<(), DbErr> {
    if connection.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(connection, None).await;
    }
    // A session-level lock belongs to one connection: a pool of one holds it for the whole run
    // (the migrator's transactions included), and a process that dies releases it with its
    // connection.
    let session = connect(
        &DatabaseSettings {
            max_connections: 1,
            ..*settings
        },
        StatementCounter::default(),
    )
    .await
    .map_err(|error| DbErr::Custom(error.to_string()))?;
    let outcome = migrate_locked(&session, lock_key(settings.schema)).await;
    let _ = session.close().await;
    outcome
}

async fn migrate_locked(session: &DatabaseConnection, key: i64) -> Result<(), DbErr> {
    let locked = session
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_lock($1) AS locked",
            [key.into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        tracing::info!("another instance is migrating the database; waiting for it");
        session
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_lock($1)",
                [key.into()],
            ))
            .await?;
    }
    let outcome = Migrator::up(session, None).await;
    // Closing the session would release it too; unlocking says so at once.
    let _ = session
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_unlock($1)",
            [key.into()],
        ))
        .await;
    outcome
}

/// One lock per schema (tests and tenants migrate their schemas independently), stable across
/// versions of the service.
fn lock_key(schema: Option<&str>) -> i64 {
    let digest = Sha256::digest(format!(
        "favorites-api migrations {}",
        schema.unwrap_or("public")
    ));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn each_schema_has_its_own_stable_lock() {
        assert_eq!(lock_key(None), lock_key(Some("public")));
        assert_ne!(lock_key(Some("a")), lock_key(Some("b")));
    }
}
