//! The product catalog, as a stack of layers that reads top to bottom, composed once in
//! `Catalog::new`; each layer is one file with one job:
//!
//! 1. `local.rs`: the in-process tier (what this instance has costs nothing; single flight);
//! 2. `shared.rs`: the shared tier in Redis, when `REDIS_URL` is set (what another instance
//!    fetched costs no call; one instance at a time calls for a key);
//! 3. `resilience.rs`: the request's budget, the circuit breaker (`breaker.rs`), one deadline
//!    with one retry, answers checked;
//! 4. a source (`sources/`): FakeStoreAPI (`sources/fakestore.rs`), the only file that knows it.
//!
//! Layers 1 to 3 implement the same interface (`layer.rs`) over the one below. How long copies
//! are good for, "no such product" included, and when a stale copy stands in for a failure, is
//! one policy (`freshness.rs`), applied by both tiers. The service's batch loader only adapts this
//! to async-graphql (`service/loaders.rs`).

mod breaker;
mod error;
mod freshness;
mod layer;
mod local;
mod resilience;
mod shared;
mod single_flight;
mod sources;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::domain::{Product, Rating};
pub use error::{CatalogBuildError, CatalogError};
pub use layer::unix_ms;
pub use resilience::RequestBudget;
pub use shared::SharedSettings;
pub use sources::FakeStoreApi;
pub use sources::{ProductSource, source_from_settings};

use crate::config::Settings;
use crate::telemetry::CatalogMetrics;
use breaker::CircuitBreaker;
use freshness::Freshness;
use layer::Layer;
use local::LocalTier;
use resilience::Resilient;
use shared::SharedTier;

#[derive(Clone, Debug)]
pub struct CatalogSettings {
    pub cache_ttl: Duration,
    /// How long past the TTL a product may still be served while the upstream fails.
    pub stale_for: Duration,
    /// The budget of one catalog call, retry included.
    pub timeout: Duration,
    /// Consecutive failures that open the circuit, and how long it stays open.
    pub breaker_threshold: u32,
    pub breaker_cool_down: Duration,
    /// A Redis shared by every instance (`REDIS_URL`); `None` keeps product data in-process.
    pub shared: Option<SharedSettings>,
}

impl CatalogSettings {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
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
        }
    }
}

/// A value from the catalog, and until when (unix ms) it may be served as it is: whatever
/// holds it (an answer in the response cache) lives no longer. In the past for a stale copy.
#[derive(Clone, Debug)]
pub struct Fresh<T> {
    pub value: T,
    pub until_ms: u64,
}

#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    top: LocalTier,
    upstream: Arc<Resilient>,
    policy: Freshness,
    metrics: CatalogMetrics,
}

impl Catalog {
    /// Composes the stack over `source`. Connects nothing: Redis, if configured, is connected
    /// on first use.
    pub fn new(
        settings: CatalogSettings,
        source: Arc<dyn ProductSource>,
    ) -> Result<Self, CatalogBuildError> {
        let metrics = CatalogMetrics::default();
        let policy = Freshness::new(settings.cache_ttl, settings.stale_for, metrics.clone());
        let upstream = Arc::new(Resilient::new(
            source,
            CircuitBreaker::new(
                "catalog",
                settings.breaker_threshold,
                settings.breaker_cool_down,
            ),
            settings.timeout,
            metrics.clone(),
        ));
        let below: Arc<dyn Layer> = match &settings.shared {
            None => Arc::clone(&upstream) as Arc<dyn Layer>,
            Some(shared) => Arc::new(
                SharedTier::new(
                    Arc::clone(&upstream) as Arc<dyn Layer>,
                    shared,
                    policy.clone(),
                    settings.timeout,
                    metrics.clone(),
                )
                .map_err(CatalogBuildError::RedisUrl)?,
            ),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                top: LocalTier::new(below, policy.clone(), metrics.clone()),
                upstream,
                policy,
                metrics,
            }),
        })
    }

    /// Its counters, for `/metrics`.
    pub fn metrics(&self) -> &CatalogMetrics {
        &self.inner.metrics
    }

    pub fn breaker_open(&self) -> bool {
        self.inner.upstream.breaker_open()
    }

    /// One product, or `None` when the catalog has no such product.
    pub async fn product(
        &self,
        id: i32,
        budget: &RequestBudget,
    ) -> Result<Fresh<Option<Product>>, CatalogError> {
        let copy = self.inner.top.product(id, budget).await?;
        Ok(self.fresh(copy))
    }

    /// The products among `ids`, each found or failed; ids the catalog does not have are left
    /// out.
    pub async fn products_by_ids(
        &self,
        ids: &[i32],
        budget: &RequestBudget,
    ) -> HashMap<i32, Result<Fresh<Product>, CatalogError>> {
        let found = self.inner.top.products(ids, budget).await;
        found
            .into_iter()
            .map(|(id, outcome)| (id, outcome.map(|copy| self.fresh(copy))))
            .collect()
    }

    /// The whole catalog, in the catalog's order.
    pub async fn all_products(
        &self,
        budget: &RequestBudget,
    ) -> Result<Fresh<Arc<Vec<Product>>>, CatalogError> {
        let copy = self.inner.top.catalog(budget).await?;
        Ok(self.fresh(copy))
    }

    fn fresh<V: freshness::Kept>(&self, copy: layer::Copy<V>) -> Fresh<V> {
        Fresh {
            until_ms: self.inner.policy.fresh_until(&copy),
            value: copy.value,
        }
    }
}
