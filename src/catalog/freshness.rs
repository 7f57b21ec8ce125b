//! How long what the catalog said is good for, as one policy for every layer that keeps copies
//! (the in-process tier and the shared tier):
//! - a product is fresh for the TTL, then kept as a stale copy for `stale_for` more;
//! - "no such product" is believed for `NOT_FOUND_TTL` (at most the TTL), and never served stale
//!   (a product may appear);
//! - the whole catalog is fresh for the TTL, then stale like a product;
//! - stale-if-error: when a call fails, a stale copy stands in for the answer (logged and
//!   counted), else the failure goes up.

use std::sync::Arc;
use std::time::Duration;

use super::layer::Copy;
use super::{CatalogError, Product};
use crate::telemetry::CatalogMetrics;

/// How long "no such product" is believed.
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(60);

/// What a kept copy is good for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Age {
    Fresh,
    /// Too old to serve normally; good enough when the upstream fails.
    Stale,
    /// Of no use any more.
    Expired,
}

/// The kinds of value the catalog keeps: one product (or none), and the whole list.
pub trait Kept {
    /// How long a copy is served as it is.
    fn fresh_for(&self, policy: &Freshness) -> Duration;
    /// Whether an expired copy may stand in for a failing upstream.
    fn may_serve_stale(&self) -> bool;
    /// How many products it holds, for the stale-serve log.
    fn products(&self) -> usize;
}

impl Kept for Option<Product> {
    fn fresh_for(&self, policy: &Freshness) -> Duration {
        match self {
            Some(_) => policy.ttl,
            None => NOT_FOUND_TTL.min(policy.ttl),
        }
    }

    fn may_serve_stale(&self) -> bool {
        self.is_some()
    }

    fn products(&self) -> usize {
        usize::from(self.is_some())
    }
}

/// A product known to exist (the catalog's answer for one id, once "none" is set aside).
impl Kept for Product {
    fn fresh_for(&self, policy: &Freshness) -> Duration {
        policy.ttl
    }

    fn may_serve_stale(&self) -> bool {
        true
    }

    fn products(&self) -> usize {
        1
    }
}

impl Kept for Arc<Vec<Product>> {
    fn fresh_for(&self, policy: &Freshness) -> Duration {
        policy.ttl
    }

    fn may_serve_stale(&self) -> bool {
        true
    }

    fn products(&self) -> usize {
        self.len()
    }
}

#[derive(Clone)]
pub struct Freshness {
    ttl: Duration,
    stale_for: Duration,
    metrics: CatalogMetrics,
}

impl Freshness {
    pub fn new(ttl: Duration, stale_for: Duration, metrics: CatalogMetrics) -> Self {
        Self {
            ttl,
            stale_for,
            metrics,
        }
    }

    pub fn age<V: Kept>(&self, copy: &Copy<V>) -> Age {
        let age = copy.age();
        if age < copy.value.fresh_for(self) {
            Age::Fresh
        } else if copy.value.may_serve_stale() && age < self.ttl.saturating_add(self.stale_for) {
            Age::Stale
        } else {
            Age::Expired
        }
    }

    /// Until when (unix ms) a copy may be served as it is; in the past for a stale copy.
    pub fn fresh_until<V: Kept>(&self, copy: &Copy<V>) -> u64 {
        let fresh_for = u64::try_from(copy.value.fresh_for(self).as_millis()).unwrap_or(u64::MAX);
        copy.fetched_at_ms.saturating_add(fresh_for)
    }

    /// How long a store should keep a copy at all (Redis drops it after that).
    pub fn keep_for<V: Kept>(&self, value: &V) -> Duration {
        if value.may_serve_stale() {
            self.ttl.saturating_add(self.stale_for)
        } else {
            value.fresh_for(self)
        }
    }

    /// A copy worth keeping as a fallback: a stale one (a fresh one is served, not kept back).
    pub fn fallback<V: Kept>(&self, copy: Option<Copy<V>>) -> Option<Copy<V>> {
        copy.filter(|copy| self.age(copy) != Age::Expired)
    }

    /// Stale-if-error: the outcome of a call, or `stale` standing in for its failure.
    pub fn or_stale<V: Kept>(
        &self,
        outcome: Result<Copy<V>, CatalogError>,
        stale: Option<Copy<V>>,
    ) -> Result<Copy<V>, CatalogError> {
        match (outcome, stale) {
            (Ok(copy), _) => Ok(copy),
            (Err(error), Some(stale)) if stale.value.may_serve_stale() => {
                self.served_stale(&error, stale.value.products());
                Ok(stale)
            }
            (Err(error), _) => Err(error),
        }
    }

    /// Logs each stale serve with the running total, so operators can see how often the
    /// catalog's failures were papered over (`/metrics` shows the same counter).
    pub fn served_stale(&self, error: &CatalogError, products: usize) {
        let total = self.metrics.stale_serves.inc() + 1;
        tracing::warn!(%error, products, stale_serves_total = total, "catalog failed; serving stale product data");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> Product {
        Product {
            id: 1,
            title: "t".into(),
            price: 1.0,
            description: "d".into(),
            category: "c".into(),
            image: "i".into(),
            rating: None,
        }
    }

    fn aged<V>(value: V, seconds: u64) -> Copy<V> {
        Copy {
            value,
            fetched_at_ms: super::super::layer::unix_ms() - seconds * 1000,
        }
    }

    #[test]
    fn products_go_fresh_stale_expired_and_not_found_is_never_stale() {
        let policy = Freshness::new(
            Duration::from_secs(100),
            Duration::from_secs(100),
            CatalogMetrics::default(),
        );
        assert_eq!(policy.age(&aged(Some(product()), 10)), Age::Fresh);
        assert_eq!(policy.age(&aged(Some(product()), 150)), Age::Stale);
        assert_eq!(policy.age(&aged(Some(product()), 250)), Age::Expired);
        assert_eq!(policy.age(&aged(None::<Product>, 10)), Age::Fresh);
        assert_eq!(policy.age(&aged(None::<Product>, 70)), Age::Expired);
        assert_eq!(policy.keep_for(&None::<Product>), NOT_FOUND_TTL);
    }
}
