//! Resilience around a source: what it may cost to ask the upstream, and what an answer must be.
//! - A request's budget: once a call of the request fails, its later calls fail at once (five
//!   aliased `addFavorite`s against a hanging catalog cost one budget, not five);
//! - the circuit breaker: after repeated failures, calls fail fast for a while;
//! - a deadline for the whole call (`UPSTREAM_TIMEOUT_MS`), with at most one retry of a
//!   transient failure inside it;
//! - answers checked: the product asked for, and a catalog that is not empty (caching an empty
//!   one would hide every product for a whole TTL).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::layer::{CatalogCopy, Copy, Layer, ProductCopy};
use super::sources::ProductSource;
use super::{CatalogError, Product};
use crate::telemetry::{CatalogMetrics, UpstreamOutcome};

/// A retry is only worth starting with at least this much of the budget left.
const MIN_RETRY_BUDGET: Duration = Duration::from_millis(100);

/// One request's standing with the catalog (see the module's first point). Cached data is
/// still served after a failure.
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

pub struct Resilient {
    source: Arc<dyn ProductSource>,
    breaker: CircuitBreaker,
    timeout: Duration,
    metrics: CatalogMetrics,
}

impl Resilient {
    pub fn new(
        source: Arc<dyn ProductSource>,
        breaker: CircuitBreaker,
        timeout: Duration,
        metrics: CatalogMetrics,
    ) -> Self {
        Self {
            source,
            breaker,
            timeout,
            metrics,
        }
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// One call through the budget and the breaker, within the deadline, retried once.
    async fn call<T, F, Fut>(&self, budget: &RequestBudget, attempt: F) -> Result<T, CatalogError>
    where
        T: Answer,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, CatalogError>>,
    {
        if budget.spent() {
            return Err(CatalogError::FailedEarlierInRequest);
        }
        let Some(permit) = self.breaker.allow() else {
            budget.fail();
            return Err(CatalogError::CircuitOpen);
        };
        let deadline = Instant::now() + self.timeout;
        let once = || async {
            let outcome = tokio::time::timeout_at(deadline, attempt())
                .await
                .unwrap_or(Err(CatalogError::Timeout));
            self.metrics.upstream_call(match &outcome {
                Ok(answer) => answer.outcome(),
                Err(_) => UpstreamOutcome::Failed,
            });
            outcome
        };
        let mut outcome = once().await;
        if outcome.as_ref().is_err_and(CatalogError::is_transient)
            && deadline.saturating_duration_since(Instant::now()) >= MIN_RETRY_BUDGET
        {
            outcome = once().await;
        }
        match &outcome {
            Ok(_) => permit.succeeded(),
            Err(error) => {
                permit.failed(error);
                budget.fail();
            }
        }
        outcome
    }
}

#[async_trait]
impl Layer for Resilient {
    async fn product(&self, id: i32, budget: &RequestBudget) -> Result<ProductCopy, CatalogError> {
        let product = self.call(budget, || self.source.product(id)).await?;
        match product {
            Some(product) if product.id != id => Err(CatalogError::InvalidBody(format!(
                "asked for product {id}, got product {}",
                product.id
            ))),
            product => Ok(Copy::now(product)),
        }
    }

    async fn catalog(&self, budget: &RequestBudget) -> Result<CatalogCopy, CatalogError> {
        let products = self.call(budget, || self.source.catalog()).await?;
        if products.is_empty() {
            return Err(CatalogError::InvalidBody(
                "the product list is empty".to_owned(),
            ));
        }
        Ok(Copy::now(Arc::new(products)))
    }

    fn may_call(&self, budget: &RequestBudget) -> bool {
        !budget.spent() && !self.breaker.is_open()
    }
}

/// How an answer is counted in `catalog_upstream_calls_total`.
trait Answer {
    fn outcome(&self) -> UpstreamOutcome;
}

impl Answer for Option<Product> {
    fn outcome(&self) -> UpstreamOutcome {
        match self {
            Some(_) => UpstreamOutcome::Found,
            None => UpstreamOutcome::NotFound,
        }
    }
}

impl Answer for Vec<Product> {
    fn outcome(&self) -> UpstreamOutcome {
        UpstreamOutcome::Found
    }
}
