//! Everything about transport: the router and its middleware, the GraphQL, WebSocket and REST
//! handlers, and serving connections until told to stop. What every handler shares is built
//! here from the settings (`AppState::new`); the application is composed in `app`.

mod admission;
mod connection_init;
mod cors;
mod encoding;
mod error;
mod graphiql;
mod graphql;
mod graphql_request;
mod health;
mod lifecycle;
mod metrics;
mod middleware;
mod negotiation;
mod paced;
mod peer;
mod request_span;
mod rest_login;
mod router;
mod serve;
mod subscription_limit;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;

use crate::config::{CorsOrigins, Settings};
use crate::graphql::Api;
use crate::service::Services;
use crate::telemetry::Metrics;

pub use error::status_of;
pub use graphiql::{ASSET_FILES as GRAPHIQL_ASSET_FILES, GraphiqlPage, MissingAssets};
pub use lifecycle::Lifecycle;
pub use router::router;
pub use serve::{ConnectionLimits, serve};

/// What every handler shares, behind one `Arc`: axum clones the state for each extractor of
/// each request, and a field-by-field clone showed in profiles of the cheapest requests.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(
        settings: &Settings,
        graphiql: GraphiqlPage,
        api: Api,
        services: Services,
        metrics: Metrics,
    ) -> Self {
        Self(Arc::new(Shared {
            api,
            services,
            limits: HttpLimits::from_settings(settings),
            graphiql,
            cors_allowed_origins: settings.cors_allowed_origins.clone(),
            metrics,
            websockets: subscriptions::WebSocketLimits::from_settings(settings),
            admission: admission::Admission::from_settings(settings),
            lifecycle: Lifecycle::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub api: Api,
    pub services: Services,
    pub limits: HttpLimits,
    pub graphiql: GraphiqlPage,
    /// Origins allowed to call us from a browser.
    pub cors_allowed_origins: CorsOrigins,
    pub metrics: Metrics,
    pub websockets: subscriptions::WebSocketLimits,
    pub admission: admission::Admission,
    pub lifecycle: Lifecycle,
}

impl FromRef<AppState> for GraphiqlPage {
    fn from_ref(state: &AppState) -> Self {
        state.graphiql.clone()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub request_timeout: Duration,
    pub trust_proxy: bool,
}

impl HttpLimits {
    fn from_settings(settings: &Settings) -> Self {
        Self {
            max_body_bytes: settings.max_body_bytes,
            max_batch_size: settings.max_batch_size,
            request_timeout: settings.request_timeout,
            trust_proxy: settings.trust_proxy,
        }
    }
}
