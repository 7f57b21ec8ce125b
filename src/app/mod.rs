//! The one place the application is composed. Each subsystem builds its own options from the
//! settings, next to its own type (`from_settings`); the small functions below put the parts
//! together in the order they depend on each other, and `run_until_stopped` serves until a
//! signal, then drains and stops.

mod signals;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::auth::{AdminLogin, IdentityProvider, IdentityProviderSettings, TokenIssuer};
use crate::catalog::{self, Catalog, CatalogBuildError, CatalogSettings, ProductSource};
use crate::config::Settings;
use crate::db::changes::{ChangeFeed, FeedOptions};
use crate::db::{self, DatabaseSettings, StatementCounter};
use crate::graphql::{SchemaOptions, build_api};
use crate::http::{AppState, ConnectionLimits, GraphiqlPage, Lifecycle, MissingAssets};
use crate::service::{Parts, ServiceOptions, Services};
use crate::telemetry::{ChangeFeedMetrics, Metrics};
use signals::StopSignals;

/// How long shutdown waits for WebSockets to send their close frames.
const SOCKETS_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long shutdown waits for the pool to close its connections.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] db::ConnectError),
    #[error("cannot start the change feed: {0}")]
    ChangeFeed(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("cannot build the catalog client: {0}")]
    Catalog(#[source] CatalogBuildError),
    #[error("cannot build the identity provider's client: {0}")]
    IdentityProvider(#[source] reqwest::Error),
    #[error(transparent)]
    GraphiqlAssets(#[from] MissingAssets),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A built application: connected, migrated and bound, ready to serve.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    connections: ConnectionLimits,
    db: DatabaseConnection,
    statements: StatementCounter,
    drain: Duration,
    grace: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let source = catalog::source_from_settings(&settings).map_err(StartupError::Catalog)?;
        Self::build_with_source(settings, source).await
    }

    /// Builds the application over a catalog source of the caller's (a test's second source).
    pub async fn build_with_source(
        settings: Settings,
        source: Arc<dyn ProductSource>,
    ) -> Result<Self, StartupError> {
        // Checked before connecting: a misconfigured page should not wait on a database.
        let graphiql = GraphiqlPage::from_settings(&settings)?;
        let statements = StatementCounter::default();
        let db = database(&settings, &statements).await?;
        let catalog = Catalog::new(CatalogSettings::from_settings(&settings), source)
            .map_err(StartupError::Catalog)?;
        let change_metrics = ChangeFeedMetrics::default();
        let background = StatementCounter::default();
        let metrics = Metrics::new(
            statements.counter(),
            background.counter(),
            catalog.metrics(),
            &change_metrics,
        );
        let background = db::background_handle(&db, background);
        let services = services(&settings, &db, &background, catalog, change_metrics).await?;
        let api = build_api(
            SchemaOptions::from_settings(&settings),
            metrics.clone(),
            &services,
        );
        let (listener, local_addr) = bind(settings.listen_addr).await?;
        Ok(Self {
            listener,
            local_addr,
            state: AppState::new(&settings, graphiql, api, services, metrics),
            connections: ConnectionLimits::from_settings(&settings),
            db,
            statements,
            drain: settings.shutdown_drain,
            grace: settings.request_timeout,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SQL statements sent so far (sea-orm's metric callback).
    pub fn statements(&self) -> StatementCounter {
        self.statements.clone()
    }

    pub fn db(&self) -> DatabaseConnection {
        self.db.clone()
    }

    /// Serves until SIGINT or SIGTERM; then drains (not ready, still serving) for
    /// `SHUTDOWN_DRAIN_MS`, stops accepting, sends WebSockets away (1001), gives in-flight
    /// requests up to the request timeout to finish, and closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let lifecycle = self.state.lifecycle.clone();
        // Listening from now on: a signal that came before would end the process unheard.
        let stop = stop_after_drain(StopSignals::new(), lifecycle.clone(), self.drain);
        tracing::info!(
            addr = %self.local_addr,
            max_connections = self.connections.max_connections,
            "listening"
        );
        crate::http::serve(
            self.listener,
            crate::http::router(self.state),
            self.connections,
            lifecycle.clone(),
            stop,
            self.grace,
        )
        .await;
        lifecycle.sockets_closed(SOCKETS_CLOSE_TIMEOUT).await;
        // A connection stuck in a statement would make `close` wait for ever.
        match tokio::time::timeout(POOL_CLOSE_TIMEOUT, self.db.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "closing the database pool failed"),
            Err(_) => tracing::warn!("closing the database pool timed out"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Connected and migrated.
async fn database(
    settings: &Settings,
    statements: &StatementCounter,
) -> Result<DatabaseConnection, StartupError> {
    let database = DatabaseSettings::from_settings(settings);
    let db = db::connect(&database, statements.clone())
        .await
        .map_err(StartupError::Connect)?;
    if settings.run_migrations {
        db::run_migrations(&db, &database).await.map_err(|error| {
            StartupError::Migration(settings.database_url.scrub(&error.to_string()))
        })?;
    }
    Ok(db)
}

/// The use cases, over the database, the catalog, the change feed and who may log in.
async fn services(
    settings: &Settings,
    db: &DatabaseConnection,
    background: &DatabaseConnection,
    catalog: Catalog,
    change_metrics: ChangeFeedMetrics,
) -> Result<Services, StartupError> {
    let identity_provider = IdentityProviderSettings::from_settings(settings)
        .map(IdentityProvider::new)
        .transpose()
        .map_err(StartupError::IdentityProvider)?;
    let changes = ChangeFeed::start(
        background,
        settings.database_schema.as_deref(),
        FeedOptions {
            poll_interval: settings.change_log_poll_interval,
        },
        change_metrics,
    )
    .await
    .map_err(|error| StartupError::ChangeFeed(settings.database_url.scrub(&error.to_string())))?;
    db::maintenance::start(
        background,
        &changes,
        db::maintenance::Retention {
            change_log: settings.change_log_retention,
            guest_list: settings.guest_list_retention,
            guest_tombstone: settings.guest_token_lifetime
                + Duration::from_secs(crate::auth::TOKEN_LEEWAY_SECONDS),
        },
    );
    Ok(Services::new(Parts {
        db: db.clone(),
        catalog,
        changes,
        login: AdminLogin::from_settings(settings),
        tokens: TokenIssuer::from_settings(settings),
        identity_provider,
        options: ServiceOptions::from_settings(settings),
    }))
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let failed = |source| StartupError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(failed)?;
    let local_addr = listener.local_addr().map_err(failed)?;
    Ok((listener, local_addr))
}

/// Resolves once a signal has come and the drain is over: the instance reports not ready for
/// `drain` while it still serves (a second signal cuts that short), then WebSockets are told
/// to go away.
async fn stop_after_drain(mut signals: StopSignals, lifecycle: Lifecycle, drain: Duration) {
    signals.next().await;
    lifecycle.drain();
    tracing::info!(
        drain_ms = drain.as_millis() as u64,
        "draining: not ready, still serving"
    );
    tokio::select! {
        () = tokio::time::sleep(drain) => {}
        () = signals.next() => tracing::info!("second signal: draining cut short"),
    }
    tracing::info!("no longer accepting connections; finishing in-flight requests");
    // Once accepting has stopped, so that they reconnect elsewhere.
    lifecycle.go_away();
}
