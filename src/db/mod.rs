//! Persistence: the connection pool, the entities and the repositories that own every SQL
//! statement the service runs.

pub mod changes;
pub mod entities;
mod error;
pub mod maintenance;
mod migrate;
pub mod repositories;

use std::time::Duration;

use sea_orm::{ConnectOptions, DatabaseConnection};

use crate::config::{DatabaseTarget, DatabaseUrl, Settings};

pub use error::RepoError;
pub use migrate::run_migrations;

/// Counts the SQL statements the service sends, for tests and for operators (`/metrics`).
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(prometheus_client::metrics::counter::Counter);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// The same count, for the metrics registry.
    pub fn counter(&self) -> prometheus_client::metrics::counter::Counter {
        self.0.clone()
    }

    fn increment(&self) {
        self.0.inc();
    }
}

/// Another handle on the same pool for the work no request waits for (the change feed, upkeep):
/// its statements count in `counter`, not with the requests', and are not traced.
pub fn background_handle(db: &DatabaseConnection, counter: StatementCounter) -> DatabaseConnection {
    let mut background = db.clone();
    background.set_metric_callback(move |_| counter.increment());
    background
}

/// Connections of the pool: (in use, idle).
pub fn pool_usage(connection: &DatabaseConnection) -> (u32, u32) {
    let (size, idle) = match connection.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = connection.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = connection.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => (0, 0),
    };
    (size.saturating_sub(idle), idle)
}

#[derive(Clone, Copy)]
pub struct DatabaseSettings<'a> {
    pub url: &'a DatabaseUrl,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// A PostgreSQL schema to work in instead of `public` (tests use one schema each).
    pub schema: Option<&'a str>,
}

impl<'a> DatabaseSettings<'a> {
    pub fn from_settings(settings: &'a Settings) -> Self {
        Self {
            url: &settings.database_url,
            max_connections: settings.database_max_connections,
            acquire_timeout: settings.database_acquire_timeout,
            schema: settings.database_schema.as_deref(),
        }
    }

    /// For `favorites-api migrate`: one connection, and time to wait for a database that is
    /// starting.
    pub fn for_migrations(target: &'a DatabaseTarget) -> Self {
        Self {
            url: &target.database_url,
            max_connections: 1,
            acquire_timeout: Duration::from_secs(10),
            schema: target.database_schema.as_deref(),
        }
    }
}

/// Why the pool could not be opened, with the URL and its password scrubbed from the driver's
/// words (it quotes the URL it could not use).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    message: String,
}

/// How long a pooled connection may sit unused before it is pinged when acquired.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Opens the pool. SQLite gets a single connection: it has one writer anyway, and a single
/// connection turns concurrent write transactions into a queue instead of `SQLITE_BUSY` errors.
pub async fn connect(
    settings: &DatabaseSettings<'_>,
    counter: StatementCounter,
) -> Result<DatabaseConnection, ConnectError> {
    let max_connections = if settings.url.is_sqlite() {
        1
    } else {
        settings.max_connections
    };
    let mut options = ConnectOptions::new(settings.url.expose().to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        // A ping costs a round trip, as much as the statement it guards: only a connection
        // that sat idle is pinged (one in use a moment ago is alive, or fails its statement
        // and is dropped). Statements are not logged at all (the traces time them).
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false);
    if let Some(schema) = settings.schema {
        options.set_schema_search_path(schema.to_owned());
    }
    let mut connection =
        sea_orm::Database::connect(options)
            .await
            .map_err(|error| ConnectError {
                message: settings.url.scrub(&error.to_string()),
            })?;
    let system = if settings.url.is_sqlite() {
        "sqlite"
    } else {
        "postgresql"
    };
    connection.set_metric_callback(move |info| {
        counter.increment();
        crate::telemetry::traces::record_statement(
            &info.statement.sql,
            info.elapsed,
            info.failed,
            system,
        );
    });
    Ok(connection)
}
