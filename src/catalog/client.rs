//! The FakeStoreAPI client. It owns its cache (not a global static), so every `Catalog` value,
//! and so every test, starts cold and isolated.
//!
//! Resilience, in the order a call meets it: the cache (fresh data costs nothing), one flight
//! per key (concurrent callers share one call), the shared cache when Redis is configured (a copy
//! another instance fetched, or a wait for the one instance calling: see `shared`), the circuit
//! breaker (a failing upstream is left alone for a while), a deadline for the whole call with at
//! most one retry inside it, and stale-if-error (the last good copy, when the upstream fails).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::cache::{Freshness, Lookup, ProductCache};
use super::shared::{CatalogKey, FromFleet, ProductKey, SharedCache, SharedSettings, Stored};
use super::single_flight::SingleFlight;
use super::{CatalogBuildError, CatalogError, Product};
use crate::telemetry::{CatalogMetrics, UpstreamOutcome};

/// Above this many misses in one batch, one `GET /products` is cheaper than one call per id.
const MAX_SINGLE_FETCHES: usize = 1;
/// A retry is only worth starting with at least this much of the budget left.
const MIN_RETRY_BUDGET: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct CatalogSettings {
    pub base_url: String,
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

/// One request's standing with the catalog. After a call of the request fails, its later
/// misses fail at once instead of each waiting out a budget of its own: five aliased
/// `addFavorite`s against a hanging catalog cost one budget, not five. Cached data is still
/// served.
#[derive(Debug, Default)]
pub struct RequestBudget {
    failed: AtomicBool,
}

impl RequestBudget {
    fn spent(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// A fresh start, for work that outlives one request: each event a subscription sends is
    /// entitled to its own attempt at the catalog.
    pub fn renew(&self) {
        self.failed.store(false, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    cache: ProductCache,
    shared: Option<SharedCache>,
    breaker: CircuitBreaker,
    product_flights: SingleFlight<i32, Result<Option<Product>, CatalogError>>,
    catalog_flights: SingleFlight<(), Result<Arc<Vec<Product>>, CatalogError>>,
    metrics: CatalogMetrics,
}

impl Catalog {
    /// Connects nothing: Redis, if configured, is connected on first use.
    pub fn new(settings: CatalogSettings) -> Result<Self, CatalogBuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(2)))
            .timeout(settings.timeout)
            // The catalog answers where it is; a redirect (to another path, host or scheme) is
            // a fault, not somewhere to go.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("favorites-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CatalogBuildError::Http)?;
        let freshness = Freshness {
            ttl: settings.cache_ttl,
            stale_for: settings.stale_for,
        };
        let metrics = CatalogMetrics::default();
        let shared = settings
            .shared
            .as_ref()
            .map(|shared| {
                SharedCache::new(shared, freshness, settings.timeout, metrics.clone())
                    .map_err(CatalogBuildError::RedisUrl)
            })
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: settings.base_url.trim_end_matches('/').to_owned(),
                timeout: settings.timeout,
                cache: ProductCache::new(freshness),
                shared,
                breaker: CircuitBreaker::new(
                    settings.breaker_threshold,
                    settings.breaker_cool_down,
                ),
                product_flights: SingleFlight::new(),
                catalog_flights: SingleFlight::new(),
                metrics,
            }),
        })
    }

    /// Its counters, for `/metrics`.
    pub fn metrics(&self) -> &CatalogMetrics {
        &self.inner.metrics
    }

    pub fn breaker_open(&self) -> bool {
        self.inner.breaker.is_open()
    }

    /// One product, or `None` when the catalog has no such product.
    pub async fn product(
        &self,
        id: i32,
        budget: &RequestBudget,
    ) -> Result<Option<Product>, CatalogError> {
        if id < 1 {
            // FakeStoreAPI ids start at 1; nothing below can exist, so do not ask.
            return Ok(None);
        }
        match self.lookup(id) {
            Lookup::Fresh(product) => Ok(Some(product)),
            Lookup::FreshlyMissing => Ok(None),
            Lookup::Stale(_) | Lookup::Unknown => self.fetch_in_flight(id, budget).await,
        }
    }

    /// A product the cache could not answer (already looked up, and counted as a miss): one
    /// flight per id, shared by concurrent callers.
    async fn fetch_in_flight(
        &self,
        id: i32,
        budget: &RequestBudget,
    ) -> Result<Option<Product>, CatalogError> {
        self.inner
            .product_flights
            .run(id, || self.fetch_product(id, budget))
            .await
    }

    async fn fetch_product(
        &self,
        id: i32,
        budget: &RequestBudget,
    ) -> Result<Option<Product>, CatalogError> {
        let stale = match self.inner.cache.lookup(id) {
            // A flight that ended since our own look-up may have filled the cache.
            Lookup::Fresh(product) => return Ok(Some(product)),
            Lookup::FreshlyMissing => return Ok(None),
            Lookup::Stale(product) => Some(product),
            Lookup::Unknown => None,
        };
        let (fetched, stale) = match &self.inner.shared {
            None => (self.product_from_upstream(id, budget).await, stale),
            Some(shared) => {
                let fetch = || self.product_from_upstream(id, budget);
                match shared
                    .fetch(&ProductKey(id), self.may_call(budget), fetch)
                    .await
                {
                    FromFleet::Copy(stored) => {
                        self.keep_product(id, &stored);
                        return Ok(stored.value);
                    }
                    // The fleet's stale copy is at least as new as ours: every copy this
                    // instance fetched went there too.
                    FromFleet::Fetched {
                        result,
                        stale: fleet_stale,
                    } => (result, fleet_stale.flatten().or(stale)),
                }
            }
        };
        match fetched {
            Ok(Some(product)) => {
                self.inner.cache.store(std::slice::from_ref(&product));
                Ok(Some(product))
            }
            Ok(None) => {
                self.inner.cache.store_missing(id);
                Ok(None)
            }
            Err(error) => match stale {
                Some(product) => {
                    self.served_stale(&error, 1);
                    Ok(Some(product))
                }
                None => Err(error),
            },
        }
    }

    async fn product_from_upstream(
        &self,
        id: i32,
        budget: &RequestBudget,
    ) -> Result<Option<Product>, CatalogError> {
        self.get::<Product>(&format!("/products/{id}"), budget)
            .await
            .and_then(|product| match product {
                Some(product) if product.id != id => Err(CatalogError::InvalidBody(format!(
                    "asked for product {id}, got product {}",
                    product.id
                ))),
                other => Ok(other),
            })
    }

    /// Keeps a copy from the shared cache in-process, at the age it has.
    fn keep_product(&self, id: i32, stored: &Stored<Option<Product>>) {
        let Some(fetched_at) = stored.fetched_at() else {
            return;
        };
        match &stored.value {
            Some(product) => self
                .inner
                .cache
                .store_fetched(std::slice::from_ref(product), fetched_at),
            None => self.inner.cache.store_missing_since(id, fetched_at),
        }
    }

    /// Whether this request may call the upstream now; if not, it takes no fleet-wide lock
    /// (that would only keep other instances waiting on a call that will not be made).
    fn may_call(&self, budget: &RequestBudget) -> bool {
        !budget.spent() && !self.inner.breaker.is_open()
    }

    /// The products among `ids`, each found, or failed when the catalog could not be asked and
    /// had no usable copy; ids the catalog does not have are left out. Cached ones cost nothing;
    /// a single miss costs one `GET /products/{id}`, and more one `GET /products`.
    pub async fn products_by_ids(
        &self,
        ids: &[i32],
        budget: &RequestBudget,
    ) -> HashMap<i32, Result<Product, CatalogError>> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match self.lookup(id) {
                Lookup::Fresh(product) => {
                    found.insert(id, Ok(product));
                }
                Lookup::FreshlyMissing => {}
                Lookup::Stale(_) | Lookup::Unknown if id >= 1 => missing.push(id),
                Lookup::Stale(_) | Lookup::Unknown => {}
            }
        }
        if let Some(shared) = &self.inner.shared
            && missing.len() > MAX_SINGLE_FETCHES
        {
            // One round trip for all the misses: what other instances fetched costs no call.
            for (id, stored) in shared.fresh_products(&missing).await {
                self.keep_product(id, &stored);
                if let Some(product) = stored.value {
                    found.insert(id, Ok(product));
                }
                missing.retain(|&missing_id| missing_id != id);
            }
        }
        if missing.len() <= MAX_SINGLE_FETCHES {
            for id in missing {
                match self.fetch_in_flight(id, budget).await {
                    Ok(Some(product)) => {
                        found.insert(id, Ok(product));
                    }
                    Ok(None) => {}
                    Err(error) => {
                        found.insert(id, Err(error));
                    }
                }
            }
            return found;
        }
        match self.all_products(budget).await {
            Ok(all) => {
                for product in all.iter().filter(|product| missing.contains(&product.id)) {
                    found.insert(product.id, Ok(product.clone()));
                }
            }
            Err(error) => {
                // The list is down: each id falls back to its own stale copy, if it has one.
                for id in missing {
                    let outcome = match self.inner.cache.lookup(id) {
                        Lookup::Fresh(product) => Ok(product),
                        Lookup::Stale(product) => {
                            self.served_stale(&error, 1);
                            Ok(product)
                        }
                        _ => Err(error.clone()),
                    };
                    found.insert(id, outcome);
                }
            }
        }
        found
    }

    /// The whole catalog, in the catalog's order.
    pub async fn all_products(
        &self,
        budget: &RequestBudget,
    ) -> Result<Arc<Vec<Product>>, CatalogError> {
        if let Some(all) = self.inner.cache.whole_catalog(false) {
            return Ok(all);
        }
        self.inner
            .catalog_flights
            .run((), || self.fetch_catalog(budget))
            .await
    }

    async fn fetch_catalog(
        &self,
        budget: &RequestBudget,
    ) -> Result<Arc<Vec<Product>>, CatalogError> {
        if let Some(all) = self.inner.cache.whole_catalog(false) {
            return Ok(all);
        }
        let (fetched, fleet_stale) = match &self.inner.shared {
            None => (self.catalog_from_upstream(budget).await, None),
            Some(shared) => {
                let fetch = || self.catalog_from_upstream(budget);
                match shared
                    .fetch(&CatalogKey, self.may_call(budget), fetch)
                    .await
                {
                    FromFleet::Copy(stored) => {
                        if let Some(fetched_at) = stored.fetched_at() {
                            self.inner
                                .cache
                                .store_whole_catalog_fetched(Arc::clone(&stored.value), fetched_at);
                        }
                        return Ok(stored.value);
                    }
                    FromFleet::Fetched { result, stale } => (result, stale),
                }
            }
        };
        match fetched {
            Ok(all) => {
                self.inner.cache.store_whole_catalog(Arc::clone(&all));
                Ok(all)
            }
            Err(error) => match fleet_stale.or_else(|| self.inner.cache.whole_catalog(true)) {
                Some(stale) => {
                    self.served_stale(&error, stale.len());
                    Ok(stale)
                }
                None => Err(error),
            },
        }
    }

    async fn catalog_from_upstream(
        &self,
        budget: &RequestBudget,
    ) -> Result<Arc<Vec<Product>>, CatalogError> {
        // Unlike a single product, the list cannot be "not found": an empty answer is a fault,
        // and caching it would hide every product for a whole TTL.
        match self.get::<Vec<Product>>("/products", budget).await {
            Ok(Some(products)) if !products.is_empty() => Ok(Arc::new(products)),
            Ok(_) => Err(CatalogError::InvalidBody(
                "the product list is empty".to_owned(),
            )),
            Err(error) => Err(error),
        }
    }

    /// A cache look-up on behalf of a caller, counted as a hit or a miss.
    fn lookup(&self, id: i32) -> Lookup {
        let lookup = self.inner.cache.lookup(id);
        match lookup {
            Lookup::Fresh(_) | Lookup::FreshlyMissing => self.inner.metrics.cache_hits.inc(),
            Lookup::Stale(_) | Lookup::Unknown => self.inner.metrics.cache_misses.inc(),
        };
        lookup
    }

    /// Logs each stale serve with the running total, so operators can see how often the
    /// catalog's failures were papered over (`/metrics` shows the same counter).
    fn served_stale(&self, error: &CatalogError, products: usize) {
        let total = self.inner.metrics.stale_serves.inc() + 1;
        tracing::warn!(%error, products, stale_serves_total = total, "catalog failed; serving stale product data");
    }

    /// GETs `path` and reads a `T`, through the breaker, within the call's budget, retrying
    /// once. FakeStoreAPI answers an unknown id with 200 and an empty body (sometimes `null`);
    /// that, like a 404, is `Ok(None)`.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        budget: &RequestBudget,
    ) -> Result<Option<T>, CatalogError> {
        if budget.spent() {
            return Err(CatalogError::FailedEarlierInRequest);
        }
        let Some(permit) = self.inner.breaker.allow() else {
            budget.fail();
            return Err(CatalogError::CircuitOpen);
        };
        let deadline = Instant::now() + self.inner.timeout;
        let mut outcome = self.attempt(path, deadline).await;
        self.count_call(&outcome);
        if outcome.as_ref().is_err_and(CatalogError::is_transient)
            && deadline.saturating_duration_since(Instant::now()) >= MIN_RETRY_BUDGET
        {
            outcome = self.attempt(path, deadline).await;
            self.count_call(&outcome);
        }
        match &outcome {
            Ok(_) => permit.succeeded(),
            Err(_) => {
                permit.failed();
                budget.fail();
            }
        }
        outcome
    }

    fn count_call<T>(&self, outcome: &Result<Option<T>, CatalogError>) {
        self.inner.metrics.upstream_call(match outcome {
            Ok(Some(_)) => UpstreamOutcome::Found,
            Ok(None) => UpstreamOutcome::NotFound,
            Err(_) => UpstreamOutcome::Failed,
        });
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        path: &str,
        deadline: Instant,
    ) -> Result<Option<T>, CatalogError> {
        let url = format!("{}{}", self.inner.base_url, path);
        let call = async {
            let response = self
                .inner
                .http
                .get(&url)
                .send()
                .await
                .map_err(CatalogError::transport)?;
            let status = response.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(CatalogError::Status(status.as_u16()));
            }
            let body = read_capped(response).await?;
            let trimmed = body.trim_ascii();
            if trimmed.is_empty() || trimmed == b"null" {
                return Ok(None);
            }
            serde_json::from_slice(trimmed)
                .map(Some)
                .map_err(|error| CatalogError::InvalidBody(error.to_string()))
        };
        tokio::time::timeout_at(deadline, call)
            .await
            .unwrap_or(Err(CatalogError::Timeout))
    }
}

/// The catalog's whole list is about 10 KiB; anything near this is not a catalog answer.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, CatalogError> {
    let too_large = || CatalogError::InvalidBody(format!("larger than {MAX_RESPONSE_BYTES} bytes"));
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(CatalogError::transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
