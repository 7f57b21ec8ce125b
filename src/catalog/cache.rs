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

#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    pub ttl: Duration,
    pub stale_for: Duration,
}

#[derive(Clone)]
enum Known {
    Product(Product),
    Missing,
}

#[derive(Clone)]
struct Entry {
    known: Known,
    stored_at: Instant,
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
    products: Mutex<LruCache<i32, Entry>>,
    whole_catalog: Mutex<Option<(Arc<Vec<Product>>, Instant)>>,
}

impl ProductCache {
    pub fn new(freshness: Freshness) -> Self {
        Self {
            freshness,
            products: Mutex::new(LruCache::new(MAX_ENTRIES)),
            whole_catalog: Mutex::new(None),
        }
    }

    pub fn lookup(&self, id: i32) -> Lookup {
        let entry = lock(&self.products).get(&id).cloned();
        let Some(entry) = entry else {
            return Lookup::Unknown;
        };
        let age = entry.stored_at.elapsed();
        match entry.known {
            Known::Product(product) if age < self.freshness.ttl => Lookup::Fresh(product),
            Known::Product(product) if age < self.freshness.ttl + self.freshness.stale_for => {
                Lookup::Stale(product)
            }
            Known::Missing if age < NOT_FOUND_TTL.min(self.freshness.ttl) => Lookup::FreshlyMissing,
            _ => Lookup::Unknown,
        }
    }

    pub fn store(&self, products: &[Product]) {
        let now = Instant::now();
        let mut cache = lock(&self.products);
        for product in products {
            cache.set(
                product.id,
                Entry {
                    known: Known::Product(product.clone()),
                    stored_at: now,
                },
            );
        }
    }

    pub fn store_missing(&self, id: i32) {
        lock(&self.products).set(
            id,
            Entry {
                known: Known::Missing,
                stored_at: Instant::now(),
            },
        );
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
        self.store(&products);
        *lock(&self.whole_catalog) = Some((products, Instant::now()));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Entries are set whole, so a poisoned cache is still consistent.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
