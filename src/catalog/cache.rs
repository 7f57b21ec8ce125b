//! What the catalog remembers about each product, and for how long:
//! - a product is fresh for the TTL, then kept as a stale copy for `stale_for` more, to serve
//!   when the upstream fails (stale-if-error);
//! - "no such product" is remembered briefly, so repeated bad ids do not hammer the upstream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cached::LruCache;
use cached::prelude::*;

use super::Product;

/// How long "no such product" is believed.
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(60);
/// The catalog has 20 products; room for many more keeps memory bounded if it grows.
const MAX_ENTRIES: usize = 10_000;
/// Unknown ids live apart, so a flood of bad ids cannot push out the stale copies of real ones.
const MAX_MISSING_ENTRIES: usize = 10_000;

#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    pub ttl: Duration,
    pub stale_for: Duration,
}

/// The answer the cache can give for one id.
pub enum Lookup {
    Fresh(Product),
    FreshlyMissing,
    /// Too old to serve normally; still good enough if the upstream fails.
    Stale(Product),
    Unknown,
}

pub struct ProductCache {
    freshness: Freshness,
    products: Mutex<LruCache<i32, (Product, Instant)>>,
    missing: Mutex<LruCache<i32, Instant>>,
    whole_catalog: Mutex<Option<(Arc<Vec<Product>>, Instant)>>,
}

impl ProductCache {
    pub fn new(freshness: Freshness) -> Self {
        Self {
            freshness,
            products: Mutex::new(LruCache::new(MAX_ENTRIES)),
            missing: Mutex::new(LruCache::new(MAX_MISSING_ENTRIES)),
            whole_catalog: Mutex::new(None),
        }
    }

    pub fn lookup(&self, id: i32) -> Lookup {
        let product = lock(&self.products).get(&id).cloned();
        if let Some((product, stored_at)) = &product
            && stored_at.elapsed() < self.freshness.ttl
        {
            return Lookup::Fresh(product.clone());
        }
        let missing_since = lock(&self.missing).get(&id).copied();
        if missing_since
            .is_some_and(|since| since.elapsed() < NOT_FOUND_TTL.min(self.freshness.ttl))
        {
            return Lookup::FreshlyMissing;
        }
        match product {
            Some((product, stored_at))
                if stored_at.elapsed() < self.freshness.ttl + self.freshness.stale_for =>
            {
                Lookup::Stale(product)
            }
            _ => Lookup::Unknown,
        }
    }

    pub fn store(&self, products: &[Product]) {
        self.store_fetched(products, Instant::now());
    }

    /// Stores copies fetched at `fetched_at` (by this instance or, through the shared cache, by
    /// another): they keep their age, so no instance serves a copy as fresh past the TTL.
    pub fn store_fetched(&self, products: &[Product], fetched_at: Instant) {
        let mut cache = lock(&self.products);
        let mut missing = lock(&self.missing);
        for product in products {
            missing.remove(&product.id);
            cache.set(product.id, (product.clone(), fetched_at));
        }
    }

    pub fn store_missing(&self, id: i32) {
        self.store_missing_since(id, Instant::now());
    }

    /// "No such product", as learnt at `since` (see `store_fetched`).
    pub fn store_missing_since(&self, id: i32, since: Instant) {
        lock(&self.missing).set(id, since);
    }

    /// The whole list, if fresh (`allow_stale` false) or still within its stale window.
    pub fn whole_catalog(&self, allow_stale: bool) -> Option<Arc<Vec<Product>>> {
        let slot = lock(&self.whole_catalog);
        let (products, stored_at) = slot.as_ref()?;
        let limit = if allow_stale {
            self.freshness.ttl + self.freshness.stale_for
        } else {
            self.freshness.ttl
        };
        (stored_at.elapsed() < limit).then(|| Arc::clone(products))
    }

    pub fn store_whole_catalog(&self, products: Arc<Vec<Product>>) {
        self.store_whole_catalog_fetched(products, Instant::now());
    }

    /// The whole list as fetched at `fetched_at` (see `store_fetched`).
    pub fn store_whole_catalog_fetched(&self, products: Arc<Vec<Product>>, fetched_at: Instant) {
        self.store_fetched(&products, fetched_at);
        *lock(&self.whole_catalog) = Some((products, fetched_at));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Entries are set whole, so a poisoned cache is still consistent.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
