//! What the shared cache holds, under which names, and for how long.
//!
//! - `{prefix}:product:{id}`: `{"product": <product, or null for "no such product">,
//!   "fetched_at_ms": <unix ms>}`;
//! - `{prefix}:catalog`: `{"products": [...], "fetched_at_ms": <unix ms>}`, the whole list
//!   (`GET /products`); its products are also stored one by one, so a single look-up on another
//!   instance finds them.
//!
//! Freshness is judged by `fetched_at_ms`, the same way on every instance; Redis only drops a
//! copy once even a stale one is of no use (TTL + stale window; "no such product": its short TTL).
//!
//! What Redis holds is not trusted blindly: a copy "fetched" in the future (beyond a little clock
//! skew) would be fresh for ever and is a miss instead, and each kind of entry has a size cap
//! (`max_bytes`) past which it is neither read nor written.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::super::Product;
use super::super::cache::{Freshness, NOT_FOUND_TTL};

/// How far ahead of this instance's clock another's may be.
const MAX_CLOCK_SKEW_MS: u64 = 5_000;
/// A product is a few hundred bytes; the whole catalog of 20 about 10 KiB.
const MAX_PRODUCT_BYTES: usize = 64 * 1024;
const MAX_CATALOG_BYTES: usize = 4 * 1024 * 1024;

/// One copy from the shared cache, and when the upstream gave it.
#[derive(Clone, Debug)]
pub struct Stored<V> {
    pub value: V,
    pub fetched_at_ms: u64,
}

impl<V> Stored<V> {
    /// `None` for a copy that claims to come from the future.
    fn checked(value: V, fetched_at_ms: u64) -> Option<Self> {
        (fetched_at_ms <= unix_ms().saturating_add(MAX_CLOCK_SKEW_MS)).then_some(Self {
            value,
            fetched_at_ms,
        })
    }

    pub fn age(&self) -> Duration {
        Duration::from_millis(unix_ms().saturating_sub(self.fetched_at_ms))
    }

    /// When it was fetched, on this process's clock: what the in-process cache ages copies by.
    /// `None` if that is before the clock's origin (a copy older than the machine's uptime), in
    /// which case the copy is served but not kept in-process.
    pub fn fetched_at(&self) -> Option<Instant> {
        Instant::now().checked_sub(self.age())
    }
}

/// A thing the shared cache stores: a product by id, or the whole catalog.
pub trait SharedKey {
    type Value: Clone;

    /// Its name under the prefix, e.g. `product:7`; its lock is `lock:{name}`.
    fn name(&self) -> String;

    /// The largest entry of this kind worth reading or writing.
    fn max_bytes(&self) -> usize;

    /// What to write for a value fetched at `fetched_at_ms`: (name, JSON, how long Redis keeps it).
    fn entries(
        &self,
        value: &Self::Value,
        fetched_at_ms: u64,
        freshness: Freshness,
    ) -> Vec<(String, String, Duration)>;

    /// `None` for anything that is not a well-formed copy of this key (an older format, or a
    /// value written by something else): it is a miss, and the next fetch overwrites it.
    fn decode(&self, json: &str) -> Option<Stored<Self::Value>>;

    /// How long a copy is served as it is.
    fn fresh_for(value: &Self::Value, freshness: Freshness) -> Duration;

    /// Whether an expired copy may stand in for a failing upstream (a product may; "no such
    /// product" may not, as in the in-process cache).
    fn may_serve_stale(value: &Self::Value) -> bool;

    fn is_fresh(stored: &Stored<Self::Value>, freshness: Freshness) -> bool {
        stored.age() < Self::fresh_for(&stored.value, freshness)
    }

    fn is_usable_stale(stored: &Stored<Self::Value>, freshness: Freshness) -> bool {
        Self::may_serve_stale(&stored.value)
            && stored.age() < freshness.ttl.saturating_add(freshness.stale_for)
    }
}

/// One product, or the catalog's word that there is none.
#[derive(Clone, Copy, Debug)]
pub struct ProductKey(pub i32);

/// The whole list.
#[derive(Clone, Copy, Debug)]
pub struct CatalogKey;

#[derive(Serialize)]
struct ProductOut<'a> {
    product: Option<&'a Product>,
    fetched_at_ms: u64,
}

#[derive(Deserialize)]
struct ProductIn {
    product: Option<Product>,
    fetched_at_ms: u64,
}

#[derive(Serialize)]
struct CatalogOut<'a> {
    products: &'a [Product],
    fetched_at_ms: u64,
}

#[derive(Deserialize)]
struct CatalogIn {
    products: Vec<Product>,
    fetched_at_ms: u64,
}

impl SharedKey for ProductKey {
    type Value = Option<Product>;

    fn name(&self) -> String {
        format!("product:{}", self.0)
    }

    fn max_bytes(&self) -> usize {
        MAX_PRODUCT_BYTES
    }

    fn entries(
        &self,
        value: &Option<Product>,
        fetched_at_ms: u64,
        freshness: Freshness,
    ) -> Vec<(String, String, Duration)> {
        product_entry(self.0, value.as_ref(), fetched_at_ms, freshness)
            .into_iter()
            .collect()
    }

    fn decode(&self, json: &str) -> Option<Stored<Option<Product>>> {
        let stored: ProductIn = serde_json::from_str(json).ok()?;
        if stored.product.as_ref().is_some_and(|p| p.id != self.0) {
            return None;
        }
        Stored::checked(stored.product, stored.fetched_at_ms)
    }

    fn fresh_for(value: &Option<Product>, freshness: Freshness) -> Duration {
        match value {
            Some(_) => freshness.ttl,
            None => NOT_FOUND_TTL.min(freshness.ttl),
        }
    }

    fn may_serve_stale(value: &Option<Product>) -> bool {
        value.is_some()
    }
}

impl SharedKey for CatalogKey {
    type Value = Arc<Vec<Product>>;

    fn name(&self) -> String {
        "catalog".to_owned()
    }

    fn max_bytes(&self) -> usize {
        MAX_CATALOG_BYTES
    }

    fn entries(
        &self,
        value: &Arc<Vec<Product>>,
        fetched_at_ms: u64,
        freshness: Freshness,
    ) -> Vec<(String, String, Duration)> {
        let whole = serde_json::to_string(&CatalogOut {
            products: value,
            fetched_at_ms,
        });
        let each = value.iter().filter_map(|product| {
            product_entry(product.id, Some(product), fetched_at_ms, freshness)
        });
        whole
            .ok()
            .map(|json| (self.name(), json, keep_for(freshness)))
            .into_iter()
            .chain(each)
            .collect()
    }

    fn decode(&self, json: &str) -> Option<Stored<Arc<Vec<Product>>>> {
        let stored: CatalogIn = serde_json::from_str(json).ok()?;
        // An empty list is never cached (it would hide every product), so it is not a copy.
        if stored.products.is_empty() {
            return None;
        }
        Stored::checked(Arc::new(stored.products), stored.fetched_at_ms)
    }

    fn fresh_for(_: &Arc<Vec<Product>>, freshness: Freshness) -> Duration {
        freshness.ttl
    }

    fn may_serve_stale(_: &Arc<Vec<Product>>) -> bool {
        true
    }
}

fn product_entry(
    id: i32,
    product: Option<&Product>,
    fetched_at_ms: u64,
    freshness: Freshness,
) -> Option<(String, String, Duration)> {
    let json = serde_json::to_string(&ProductOut {
        product,
        fetched_at_ms,
    })
    .ok()?;
    let keep = match product {
        Some(_) => keep_for(freshness),
        None => NOT_FOUND_TTL.min(freshness.ttl),
    };
    Some((ProductKey(id).name(), json, keep))
}

/// A product is of use until its stale window ends.
fn keep_for(freshness: Freshness) -> Duration {
    freshness.ttl.saturating_add(freshness.stale_for)
}

/// Now, as the fleet's common clock: wall time (instances' clocks are assumed roughly in step).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i32) -> Product {
        Product {
            id,
            title: "Backpack ".to_owned(),
            price: 109.95,
            description: "d".to_owned(),
            category: "c".to_owned(),
            image: "i".to_owned(),
            rating: None,
        }
    }

    const FRESHNESS: Freshness = Freshness {
        ttl: Duration::from_secs(60),
        stale_for: Duration::from_secs(600),
    };

    #[test]
    fn a_product_round_trips_and_ages_by_its_fetch_time() {
        let fetched_at_ms = unix_ms() - 61_000;
        let entries = ProductKey(3).entries(&Some(product(3)), fetched_at_ms, FRESHNESS);
        let [(name, json, keep)] = entries.as_slice() else {
            panic!("one entry: {entries:?}");
        };
        assert_eq!(name, "product:3");
        assert_eq!(*keep, Duration::from_secs(660));
        let stored = ProductKey(3).decode(json).expect("decodes");
        assert_eq!(stored.value, Some(product(3)));
        assert!(!ProductKey::is_fresh(&stored, FRESHNESS), "61 s old");
        assert!(ProductKey::is_usable_stale(&stored, FRESHNESS));
        assert!(ProductKey(4).decode(json).is_none(), "not product 4's copy");
    }

    #[test]
    fn a_copy_from_the_future_is_no_copy() {
        let entries = ProductKey(3).entries(&Some(product(3)), unix_ms() + 3_600_000, FRESHNESS);
        assert!(ProductKey(3).decode(&entries[0].1).is_none());
        let skewed = ProductKey(3).entries(&Some(product(3)), unix_ms() + 1_000, FRESHNESS);
        assert!(
            ProductKey(3).decode(&skewed[0].1).is_some(),
            "a little skew is fine"
        );
    }

    #[test]
    fn not_found_is_short_lived_and_never_stale() {
        let entries = ProductKey(99).entries(&None, unix_ms(), FRESHNESS);
        assert_eq!(entries[0].2, NOT_FOUND_TTL.min(FRESHNESS.ttl));
        let stored = ProductKey(99).decode(&entries[0].1).expect("decodes");
        assert_eq!(stored.value, None);
        assert!(ProductKey::is_fresh(&stored, FRESHNESS));
        assert!(!ProductKey::is_usable_stale(&stored, FRESHNESS));
    }

    #[test]
    fn the_catalog_is_stored_whole_and_product_by_product() {
        let all = Arc::new(vec![product(1), product(2)]);
        let entries = CatalogKey.entries(&all, unix_ms(), FRESHNESS);
        let names: Vec<_> = entries.iter().map(|(name, ..)| name.as_str()).collect();
        assert_eq!(names, ["catalog", "product:1", "product:2"]);
        let stored = CatalogKey.decode(&entries[0].1).expect("decodes");
        assert_eq!(*stored.value, *all);
        assert!(
            CatalogKey
                .decode(r#"{"products":[],"fetched_at_ms":1}"#)
                .is_none()
        );
        assert!(CatalogKey.decode("not json").is_none());
    }
}
