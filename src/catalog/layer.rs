//! The one interface every layer of the catalog stack implements over the layer below it (the
//! shared tier over resilience, resilience over the source), and the copies they pass up: a
//! value and when the upstream gave it, so that every layer and every instance ages it alike.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{CatalogError, Product, RequestBudget};

/// Something the catalog said, and when (milliseconds since 1970: instances share the clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Copy<V> {
    pub value: V,
    pub fetched_at_ms: u64,
}

impl<V> Copy<V> {
    /// Said just now.
    pub fn now(value: V) -> Self {
        Self {
            value,
            fetched_at_ms: unix_ms(),
        }
    }

    pub fn age(&self) -> Duration {
        Duration::from_millis(unix_ms().saturating_sub(self.fetched_at_ms))
    }
}

/// One product, or the catalog's word that there is none.
pub type ProductCopy = Copy<Option<Product>>;
/// The whole catalog, in its order.
pub type CatalogCopy = Copy<Arc<Vec<Product>>>;

#[async_trait]
pub trait Layer: Send + Sync + 'static {
    async fn product(&self, id: i32, budget: &RequestBudget) -> Result<ProductCopy, CatalogError>;

    async fn catalog(&self, budget: &RequestBudget) -> Result<CatalogCopy, CatalogError>;

    /// Fresh copies of `ids` this layer holds, without calling the upstream (one round trip to
    /// the shared tier; nothing below it holds any).
    async fn fresh_products(&self, _ids: &[i32]) -> Vec<(i32, ProductCopy)> {
        Vec::new()
    }

    /// Whether a call now would reach the upstream (the request's budget is not spent and the
    /// breaker is closed): if not, waiting on the fleet for it is pointless.
    fn may_call(&self, budget: &RequestBudget) -> bool;
}

/// Now, as the fleet's common clock: wall time (instances' clocks are assumed roughly in step).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
