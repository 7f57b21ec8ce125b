//! Building the application from settings, and serving it until a shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::admission::{Admission, default_concurrency};
use super::graphiql::MissingAssets;
use super::serve::{ConnectionLimits, fit_to_file_limit, serve};
use super::{AppState, GraphiqlPage, HttpLimits, Lifecycle, Shared, WebSocketLimits, router};
use crate::auth::{
    AdminLogin, IdentityProvider, IdentityProviderSettings, LoginThrottle, TokenIssuer,
};
use crate::catalog::{
    Catalog, CatalogBuildError, CatalogSettings, FakeStoreApi, ProductSource, SharedSettings,
};
use crate::config::Settings;
use crate::db::changes::ChangeFeed;
use crate::db::{self, DatabaseSettings, StatementCounter};
use crate::graphql::{SchemaOptions, build_api};
use crate::service::{Parts, ServiceOptions, Services};
use crate::telemetry::Metrics;

/// File descriptors kept for anything but client connections (besides the database pool).
const FILE_RESERVE: usize = 64;
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
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let source = catalog_source(&settings).map_err(StartupError::Catalog)?;
        Self::build_with_source(settings, source).await
    }

    /// Builds the application over a catalog source of the caller's (a test's second source).
    pub async fn build_with_source(
        settings: Settings,
        source: Arc<dyn ProductSource>,
    ) -> Result<Self, StartupError> {
        // Checked before connecting: a misconfigured page should not wait on a database.
        let graphiql = GraphiqlPage::new(
            settings.graphiql_assets_dir.as_deref(),
            settings.uses_demo_password(),
        )?;
        let statements = StatementCounter::default();
        let database = DatabaseSettings {
            url: &settings.database_url,
            max_connections: settings.database_max_connections,
            acquire_timeout: settings.database_acquire_timeout,
            schema: settings.database_schema.as_deref(),
        };
        let db = db::connect(&database, statements.clone())
            .await
            .map_err(StartupError::Connect)?;
        let scrub = |error: sea_orm::DbErr| settings.database_url.scrub(&error.to_string());
        if settings.run_migrations {
            db::run_migrations(&db, &database)
                .await
                .map_err(|error| StartupError::Migration(scrub(error)))?;
        }
        let catalog = Catalog::new(
            CatalogSettings {
                cache_ttl: settings.product_cache_ttl,
                stale_for: settings.product_stale_for,
                timeout: settings.upstream_timeout,
                breaker_threshold: settings.upstream_breaker_threshold,
                breaker_cool_down: settings.upstream_breaker_cool_down,
                // Not connected here: the service starts, and answers, while Redis is down.
                shared: settings.redis_url.clone().map(|url| SharedSettings {
                    url,
                    key_prefix: settings.redis_key_prefix.clone(),
                }),
            },
            source,
        )
        .map_err(StartupError::Catalog)?;
        let identity_provider = settings
            .identity_provider()
            .map(|(jwks_url, issuer, audience)| {
                IdentityProvider::new(IdentityProviderSettings {
                    jwks_url: jwks_url.clone(),
                    issuer: issuer.to_owned(),
                    audience: audience.to_owned(),
                    email_claim: settings.auth_email_claim.clone(),
                    min_refresh: settings.auth_jwks_min_refresh,
                    fetch_timeout: settings.auth_jwks_timeout,
                })
            })
            .transpose()
            .map_err(StartupError::IdentityProvider)?;
        let changes = ChangeFeed::start(&db, settings.database_schema.as_deref())
            .await
            .map_err(|error| StartupError::ChangeFeed(scrub(error)))?;
        let metrics = Metrics::new(statements.counter(), catalog.metrics());
        let services = Services::new(Parts {
            db: db.clone(),
            catalog,
            changes,
            login: AdminLogin::new(
                settings.master_username.clone(),
                settings.master_password_hash.clone(),
                LoginThrottle::new(settings.login_max_failures_per_minute),
                settings.login_concurrent_checks,
            ),
            tokens: TokenIssuer::new(
                &settings.secret_key,
                settings.master_username.clone(),
                settings.master_token_lifetime,
            ),
            identity_provider,
            options: ServiceOptions {
                client_token_lifetime: settings.client_token_lifetime,
                create_clients_from_identity_provider: settings.auth_create_clients,
                client_requests_per_minute: settings.client_requests_per_minute,
                max_favorites_per_client: settings.max_favorites_per_client,
            },
        });
        let api = build_api(
            SchemaOptions {
                introspection: settings.introspection_enabled,
                persisted_queries_max_bytes: settings.persisted_queries_max_bytes,
                response_cache_max_bytes: settings.response_cache_max_bytes,
            },
            metrics.clone(),
            &services,
        );
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: settings.listen_addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.listen_addr,
            source,
        })?;
        Ok(Self {
            listener,
            local_addr,
            state: AppState::new(Shared {
                api,
                services,
                limits: HttpLimits {
                    max_body_bytes: settings.max_body_bytes,
                    max_batch_size: settings.max_batch_size,
                    request_timeout: settings.request_timeout,
                    trust_proxy: settings.trust_proxy,
                },
                graphiql,
                cors_allowed_origins: settings.cors_allowed_origins.clone(),
                metrics,
                websockets: WebSocketLimits {
                    unauthenticated: Arc::new(Semaphore::new(
                        settings.websocket_max_unauthenticated,
                    )),
                    open: Arc::new(Semaphore::new(settings.max_websocket_connections)),
                    max_message_bytes: settings.websocket_max_message_bytes,
                    max_subscriptions_per_connection: settings.max_subscriptions_per_connection,
                },
                admission: {
                    let running = match settings.max_concurrent_requests {
                        0 => default_concurrency(),
                        n => n,
                    };
                    Admission::new(running, settings.max_queued_requests)
                },
                lifecycle: Lifecycle::default(),
            }),
            connections: ConnectionLimits {
                max_connections: fit_to_file_limit(
                    settings.max_connections,
                    FILE_RESERVE + settings.database_max_connections as usize,
                ),
                header_timeout: settings.http_header_timeout,
            },
            db,
            statements,
            drain: settings.shutdown_drain,
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
        let db = self.db.clone();
        let grace = self.state.limits.request_timeout;
        let connections = self.connections;
        let lifecycle = self.state.lifecycle.clone();
        let drain = self.drain;
        let stop = {
            let lifecycle = lifecycle.clone();
            let mut signals = StopSignals::new();
            async move {
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
        };
        tracing::info!(addr = %self.local_addr, max_connections = connections.max_connections, "listening");
        serve(
            self.listener,
            router(self.state),
            connections,
            lifecycle.clone(),
            stop,
            grace,
        )
        .await;
        lifecycle.sockets_closed(SOCKETS_CLOSE_TIMEOUT).await;
        // A connection stuck in a statement would make `close` wait for ever.
        match tokio::time::timeout(POOL_CLOSE_TIMEOUT, db.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "closing the database pool failed"),
            Err(_) => tracing::warn!("closing the database pool timed out"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The catalog source `CATALOG_SOURCE` names. A second catalog API is one file under
/// `src/catalog/` implementing `ProductSource`, a value of that setting, and an arm here.
fn catalog_source(settings: &Settings) -> Result<Arc<dyn ProductSource>, CatalogBuildError> {
    match settings.catalog_source {
        crate::config::CatalogSource::FakeStore => Ok(Arc::new(FakeStoreApi::new(
            settings.fakestoreapi_url.as_str(),
            settings.upstream_timeout,
        )?)),
    }
}

/// SIGINT and SIGTERM, listened to from start to end: a listener made after a signal came
/// would hear that signal again.
struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for {name}");
                    None
                }
            };
            Self {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn heard(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = heard(&mut self.interrupt) => {},
                () = heard(&mut self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown signal received");
    }
}
