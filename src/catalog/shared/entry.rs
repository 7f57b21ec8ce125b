//! What the shared cache holds, under which names, and what is refused from it.
//!
//! - `{prefix}:product:{id}`: `{"product": <product, or null for "no such product">,
//!   "fetched_at_ms": <unix ms>}`;
//! - `{prefix}:catalog`: `{"products": [...], "fetched_at_ms": <unix ms>}`, the whole list; its
//!   products are also stored one by one, so a single look-up on another instance finds them.
//!
//! Freshness is judged by `fetched_at_ms`, the same way on every instance (`Freshness`); Redis only
//! drops a copy once even a stale one is of no use. What Redis holds is not trusted blindly: a
//! copy "fetched" in the future (beyond a little clock skew) would be fresh for ever and is a
//! miss instead, and each kind of entry has a size cap past which it is neither read nor written.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::Product;
use super::super::freshness::{Freshness, Kept};
use super::super::layer::{Copy, unix_ms};

/// How far ahead of this instance's clock another's may be.
const MAX_CLOCK_SKEW_MS: u64 = 5_000;
/// A product is a few hundred bytes; the whole catalog of 20 about 10 KiB.
const MAX_PRODUCT_BYTES: usize = 64 * 1024;
const MAX_CATALOG_BYTES: usize = 4 * 1024 * 1024;

/// A thing the shared cache stores: a product by id, or the whole catalog.
pub trait SharedKey {
    type Value: Kept + Clone + Send + Sync;

    /// Its name under the prefix, e.g. `product:7`; its lock is `lock:{name}`.
    fn name(&self) -> String;

    /// The largest entry of this kind worth reading or writing.
    fn max_bytes(&self) -> usize;

    /// What to write for a copy: (name, JSON, how long Redis keeps it).
    fn entries(
        &self,
        copy: &Copy<Self::Value>,
        policy: &Freshness,
    ) -> Vec<(String, String, Duration)>;

    /// `None` for anything that is not a well-formed copy of this key (an older format, a value
    /// written by something else, a copy from the future): a miss, overwritten by the next fetch.
    fn decode(&self, json: &str) -> Option<Copy<Self::Value>>;
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

/// `None` for a copy that claims to come from the future.
fn checked<V>(value: V, fetched_at_ms: u64) -> Option<Copy<V>> {
    (fetched_at_ms <= unix_ms().saturating_add(MAX_CLOCK_SKEW_MS)).then_some(Copy {
        value,
        fetched_at_ms,
    })
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
        copy: &Copy<Option<Product>>,
        policy: &Freshness,
    ) -> Vec<(String, String, Duration)> {
        product_entry(self.0, copy.value.as_ref(), copy.fetched_at_ms, policy)
            .into_iter()
            .collect()
    }

    fn decode(&self, json: &str) -> Option<Copy<Option<Product>>> {
        let stored: ProductIn = serde_json::from_str(json).ok()?;
        if stored.product.as_ref().is_some_and(|p| p.id != self.0) {
            return None;
        }
        checked(stored.product, stored.fetched_at_ms)
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
        copy: &Copy<Arc<Vec<Product>>>,
        policy: &Freshness,
    ) -> Vec<(String, String, Duration)> {
        let whole = serde_json::to_string(&CatalogOut {
            products: &copy.value,
            fetched_at_ms: copy.fetched_at_ms,
        });
        let each = copy.value.iter().filter_map(|product| {
            product_entry(product.id, Some(product), copy.fetched_at_ms, policy)
        });
        whole
            .ok()
            .map(|json| (self.name(), json, policy.keep_for(&copy.value)))
            .into_iter()
            .chain(each)
            .collect()
    }

    fn decode(&self, json: &str) -> Option<Copy<Arc<Vec<Product>>>> {
        let stored: CatalogIn = serde_json::from_str(json).ok()?;
        // An empty list is never cached (it would hide every product), so it is not a copy.
        if stored.products.is_empty() {
            return None;
        }
        checked(Arc::new(stored.products), stored.fetched_at_ms)
    }
}

fn product_entry(
    id: i32,
    product: Option<&Product>,
    fetched_at_ms: u64,
    policy: &Freshness,
) -> Option<(String, String, Duration)> {
    let json = serde_json::to_string(&ProductOut {
        product,
        fetched_at_ms,
    })
    .ok()?;
    let keep = policy.keep_for(&product.cloned());
    Some((ProductKey(id).name(), json, keep))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::freshness::{Age, NOT_FOUND_TTL};
    use crate::telemetry::CatalogMetrics;

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

    fn policy() -> Freshness {
        Freshness::new(
            Duration::from_secs(60),
            Duration::from_secs(600),
            CatalogMetrics::default(),
        )
    }

    fn copy<V>(value: V, fetched_at_ms: u64) -> Copy<V> {
        Copy {
            value,
            fetched_at_ms,
        }
    }

    #[test]
    fn a_product_round_trips_and_ages_by_its_fetch_time() {
        let entries = ProductKey(3).entries(&copy(Some(product(3)), unix_ms() - 61_000), &policy());
        let [(name, json, keep)] = entries.as_slice() else {
            panic!("one entry: {entries:?}");
        };
        assert_eq!(name, "product:3");
        assert_eq!(*keep, Duration::from_secs(660));
        let stored = ProductKey(3).decode(json).expect("decodes");
        assert_eq!(stored.value, Some(product(3)));
        assert_eq!(policy().age(&stored), Age::Stale, "61 s old");
        assert!(ProductKey(4).decode(json).is_none(), "not product 4's copy");
    }

    #[test]
    fn a_copy_from_the_future_is_no_copy() {
        let far = ProductKey(3).entries(&copy(Some(product(3)), unix_ms() + 3_600_000), &policy());
        assert!(ProductKey(3).decode(&far[0].1).is_none());
        let skewed = ProductKey(3).entries(&copy(Some(product(3)), unix_ms() + 1_000), &policy());
        assert!(
            ProductKey(3).decode(&skewed[0].1).is_some(),
            "a little skew is fine"
        );
    }

    #[test]
    fn not_found_is_short_lived_and_never_stale() {
        let entries = ProductKey(99).entries(&copy(None, unix_ms()), &policy());
        assert_eq!(entries[0].2, NOT_FOUND_TTL.min(Duration::from_secs(60)));
        let stored = ProductKey(99).decode(&entries[0].1).expect("decodes");
        assert_eq!(stored.value, None);
        assert_eq!(policy().age(&stored), Age::Fresh);
    }

    #[test]
    fn the_catalog_is_stored_whole_and_product_by_product() {
        let all = Arc::new(vec![product(1), product(2)]);
        let entries = CatalogKey.entries(&copy(Arc::clone(&all), unix_ms()), &policy());
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
