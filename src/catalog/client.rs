//! The FakeStoreAPI client. It owns its cache (not a global static), so every `Catalog` value,
//! and so every test, starts cold and isolated.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cached::LruTtlCache;
use cached::prelude::*;
use serde::de::DeserializeOwned;

use super::single_flight::SingleFlight;
use super::{CatalogError, Product};

/// The catalog has 20 products; room for many more keeps memory bounded if it grows.
const MAX_CACHED_PRODUCTS: usize = 10_000;
/// Above this many misses in one batch, one `GET /products` is cheaper than one call per id.
const MAX_SINGLE_FETCHES: usize = 1;

#[derive(Clone, Debug)]
pub struct CatalogSettings {
    pub base_url: String,
    pub cache_ttl: Duration,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    products: Mutex<LruTtlCache<i32, Product>>,
    whole_catalog: Mutex<LruTtlCache<(), Arc<Vec<Product>>>>,
    product_flights: SingleFlight<i32, Result<Option<Product>, CatalogError>>,
    catalog_flights: SingleFlight<(), Result<Arc<Vec<Product>>, CatalogError>>,
    upstream_calls: AtomicU64,
}

impl Catalog {
    pub fn new(settings: CatalogSettings) -> Result<Self, CatalogError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(2)))
            .timeout(settings.timeout)
            .user_agent(concat!("favorites-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CatalogError::transport)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: settings.base_url.trim_end_matches('/').to_owned(),
                products: Mutex::new(LruTtlCache::new(MAX_CACHED_PRODUCTS, settings.cache_ttl)),
                whole_catalog: Mutex::new(LruTtlCache::new(1, settings.cache_ttl)),
                product_flights: SingleFlight::new(),
                catalog_flights: SingleFlight::new(),
                upstream_calls: AtomicU64::new(0),
            }),
        })
    }

    /// How many requests this catalog has sent upstream.
    pub fn upstream_calls(&self) -> u64 {
        self.inner.upstream_calls.load(Ordering::Relaxed)
    }

    /// One product, or `None` when the catalog has no such product.
    pub async fn product(&self, id: i32) -> Result<Option<Product>, CatalogError> {
        if id < 1 {
            // FakeStoreAPI ids start at 1; nothing below can exist, so do not ask.
            return Ok(None);
        }
        if let Some(product) = self.cached_product(id) {
            return Ok(Some(product));
        }
        self.inner
            .product_flights
            .run(id, || self.fetch_product(id))
            .await
    }

    async fn fetch_product(&self, id: i32) -> Result<Option<Product>, CatalogError> {
        // A flight that ended between our cache check and this one may have filled the cache.
        if let Some(product) = self.cached_product(id) {
            return Ok(Some(product));
        }
        let product: Option<Product> = self.get(&format!("/products/{id}")).await?;
        if let Some(product) = &product {
            if product.id != id {
                return Err(CatalogError::InvalidBody(format!(
                    "asked for product {id}, got product {}",
                    product.id
                )));
            }
            self.cache_products(std::slice::from_ref(product));
        }
        Ok(product)
    }

    /// The products among `ids` that exist. Cached ones cost nothing; a single miss costs one
    /// `GET /products/{id}`, and more misses one `GET /products`.
    pub async fn products_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Product>, CatalogError> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let mut cache = self.lock_products();
            for &id in ids {
                match cache.get(&id) {
                    Some(product) => {
                        found.insert(id, product.clone());
                    }
                    None if id >= 1 => missing.push(id),
                    None => {}
                }
            }
        }
        if missing.len() <= MAX_SINGLE_FETCHES {
            for id in missing {
                if let Some(product) = self.product(id).await? {
                    found.insert(id, product);
                }
            }
        } else {
            let all = self.all_products().await?;
            for product in all.iter().filter(|product| missing.contains(&product.id)) {
                found.insert(product.id, product.clone());
            }
        }
        Ok(found)
    }

    /// The whole catalog, in the catalog's order.
    pub async fn all_products(&self) -> Result<Arc<Vec<Product>>, CatalogError> {
        if let Some(all) = self.cached_catalog() {
            return Ok(all);
        }
        self.inner
            .catalog_flights
            .run((), || self.fetch_catalog())
            .await
    }

    async fn fetch_catalog(&self) -> Result<Arc<Vec<Product>>, CatalogError> {
        if let Some(all) = self.cached_catalog() {
            return Ok(all);
        }
        // Unlike a single product, the list cannot be "not found": an empty answer is a fault,
        // and caching it would hide every product for a whole TTL.
        let products = match self.get::<Vec<Product>>("/products").await? {
            Some(products) if !products.is_empty() => products,
            _ => {
                return Err(CatalogError::InvalidBody(
                    "the product list is empty".to_owned(),
                ));
            }
        };
        self.cache_products(&products);
        let all = Arc::new(products);
        self.lock_catalog().set((), Arc::clone(&all));
        Ok(all)
    }

    fn cached_product(&self, id: i32) -> Option<Product> {
        self.lock_products().get(&id).cloned()
    }

    fn cached_catalog(&self) -> Option<Arc<Vec<Product>>> {
        self.lock_catalog().get(&()).cloned()
    }

    fn cache_products(&self, products: &[Product]) {
        let mut cache = self.lock_products();
        for product in products {
            cache.set(product.id, product.clone());
        }
    }

    // A panic while holding the lock cannot leave a cache half-updated in a way that matters
    // (each entry is set whole), so a poisoned lock is still usable.
    fn lock_products(&self) -> std::sync::MutexGuard<'_, LruTtlCache<i32, Product>> {
        self.inner
            .products
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn lock_catalog(&self) -> std::sync::MutexGuard<'_, LruTtlCache<(), Arc<Vec<Product>>>> {
        self.inner
            .whole_catalog
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// GETs `path` and reads a `T`. FakeStoreAPI answers an unknown id with 200 and an empty
    /// body (sometimes `null`); that, like a 404, is `Ok(None)`.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, CatalogError> {
        let url = format!("{}{}", self.inner.base_url, path);
        self.inner.upstream_calls.fetch_add(1, Ordering::Relaxed);
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
        let body = response.bytes().await.map_err(CatalogError::transport)?;
        let trimmed = body.trim_ascii();
        if trimmed.is_empty() || trimmed == b"null" {
            return Ok(None);
        }
        serde_json::from_slice(trimmed)
            .map(Some)
            .map_err(|error| CatalogError::InvalidBody(error.to_string()))
    }
}
