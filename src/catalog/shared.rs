//! The shared tier: product data every instance shares, in Redis (`REDIS_URL`), between the
//! in-process tier above and resilience below. On a miss here, one instance of the fleet at a
//! time goes below for a key: it takes a short lock (`SET {prefix}:lock:{key} <token> NX PX`),
//! calls, writes the copy, and releases the lock if it still holds it (compare-and-delete). The
//! others poll for the copy meanwhile. If the call failed, the holder leaves "failed" in place
//! of its lock for a moment: its waiters share that outcome (and serve stale copies) instead of
//! calling a failing upstream one after the other, as single flight does within one instance.
//! A call that fails falls back on the fleet's stale copy (`Freshness::or_stale`).
//!
//! Redis is an optimisation, never a dependency: any failure of it sends the call straight
//! below (`redis.rs` bounds and paces the commands).

mod entry;
mod redis;
mod scripts;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::time::Instant;

use self::redis::{LockSeen, Redis};
use super::freshness::{Age, Freshness};
use super::layer::{CatalogCopy, Copy, Layer, ProductCopy};
use super::{CatalogError, RequestBudget};
use crate::telemetry::CatalogMetrics;
use entry::{CatalogKey, ProductKey, SharedKey};

/// How often an instance waiting on another's call looks for its copy.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// The lock outlives the holder's whole upstream budget by this much, so it expires only when
/// the holder has gone (crashed, or its request was dropped without a release).
const LOCK_MARGIN: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
pub struct SharedSettings {
    pub url: SecretString,
    /// Every key starts with `{key_prefix}:`, so several services can share one Redis.
    pub key_prefix: String,
}

pub struct SharedTier {
    below: Arc<dyn Layer>,
    redis: Arc<Redis>,
    policy: Freshness,
    lock_for: Duration,
    metrics: CatalogMetrics,
}

/// Whose turn it is to go below for a key.
enum Turn<V> {
    Ours(self::redis::Lock),
    /// Another instance fetched it while we waited.
    Copy(Copy<V>),
    /// Another instance's call failed just now.
    FailedElsewhere,
    /// No lock to be had (Redis is failing, or the wait ran out): call without one.
    Anyway,
}

impl SharedTier {
    /// Reads the URL only: nothing is connected until the first command.
    pub fn new(
        below: Arc<dyn Layer>,
        settings: &SharedSettings,
        policy: Freshness,
        upstream_timeout: Duration,
        metrics: CatalogMetrics,
    ) -> ::redis::RedisResult<Self> {
        Ok(Self {
            below,
            redis: Arc::new(Redis::new(
                &settings.url,
                &settings.key_prefix,
                metrics.clone(),
            )?),
            policy,
            lock_for: upstream_timeout + LOCK_MARGIN,
            metrics,
        })
    }

    /// A fresh copy of `key` from Redis, or else from below through `fetch`, called by one
    /// instance at a time across the fleet.
    async fn read_through<K, F, Fut>(
        &self,
        key: K,
        budget: &RequestBudget,
        fetch: F,
    ) -> Result<Copy<K::Value>, CatalogError>
    where
        K: SharedKey,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Copy<K::Value>, CatalogError>>,
    {
        let stale = match self.redis.read(std::slice::from_ref(&key)).await {
            Ok(copies) => {
                let copy = copies.into_iter().next().flatten();
                if let Some(copy) = copy
                    .as_ref()
                    .filter(|copy| self.policy.age(copy) == Age::Fresh)
                {
                    self.metrics.shared_cache_hits.inc();
                    return Ok(copy.clone());
                }
                self.policy.fallback(copy)
            }
            Err(_) => return fetch().await,
        };
        self.metrics.shared_cache_misses.inc();
        // A call that will fail fast (budget spent, breaker open) takes no fleet-wide lock: that
        // would only keep other instances waiting on a call that will not be made.
        let lock = if self.below.may_call(budget) {
            match self.lock_or_wait(&key).await {
                Turn::Ours(lock) => Some(lock),
                Turn::Copy(copy) => return Ok(copy),
                Turn::FailedElsewhere => {
                    return self
                        .policy
                        .or_stale(Err(CatalogError::FailedOnAnotherInstance), stale);
                }
                Turn::Anyway => None,
            }
        } else {
            None
        };
        let outcome = fetch().await;
        if let Ok(copy) = &outcome {
            self.redis.write(&key, copy, &self.policy).await;
        }
        if let Some(lock) = lock {
            lock.release(outcome.as_ref().is_err_and(CatalogError::reached_upstream))
                .await;
        }
        self.policy.or_stale(outcome, stale)
    }

    /// Takes the lock for `key`, or waits for the copy of the instance that holds it.
    async fn lock_or_wait<K: SharedKey>(&self, key: &K) -> Turn<K::Value> {
        let name = key.name();
        // One bound for the whole wait, however often the lock changes hands.
        let deadline = Instant::now() + self.lock_for + POLL_INTERVAL;
        let mut took_over = false;
        loop {
            match self.redis.try_lock(&name, self.lock_for).await {
                Err(_) => return Turn::Anyway,
                Ok(Some(lock)) => {
                    // A holder may have written its copy and gone between our read and now.
                    return match self.redis.read(std::slice::from_ref(key)).await {
                        Ok(copies) => match copies.into_iter().next().flatten() {
                            Some(copy) if self.policy.age(&copy) == Age::Fresh => {
                                lock.release(false).await;
                                self.metrics.shared_cache_hits.inc();
                                Turn::Copy(copy)
                            }
                            _ => Turn::Ours(lock),
                        },
                        Err(_) => Turn::Ours(lock),
                    };
                }
                Ok(None) => {}
            }
            match self.wait(key, deadline).await {
                Some(Waited::Copy(copy)) => return Turn::Copy(copy),
                Some(Waited::Failed) => return Turn::FailedElsewhere,
                // The holder went without a copy or a word (it crashed, or gave up without
                // calling): take over, once.
                Some(Waited::LockGone) if !took_over => took_over = true,
                Some(Waited::LockGone) | None => return Turn::Anyway,
            }
        }
    }

    /// Polls until the holder's copy, its failure, or its lock's end; `None` when the wait ran
    /// out or Redis failed.
    async fn wait<K: SharedKey>(&self, key: &K, deadline: Instant) -> Option<Waited<K::Value>> {
        self.metrics.shared_lock_waits.inc();
        loop {
            if Instant::now() + POLL_INTERVAL > deadline {
                return None;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            let (copy, lock) = self.redis.poll(key).await.ok()?;
            if let Some(copy) = copy.filter(|copy| self.policy.age(copy) == Age::Fresh) {
                self.metrics.shared_cache_hits.inc();
                return Some(Waited::Copy(copy));
            }
            match lock {
                LockSeen::Gone => return Some(Waited::LockGone),
                LockSeen::Failed => return Some(Waited::Failed),
                LockSeen::Held => {}
            }
        }
    }
}

enum Waited<V> {
    Copy(Copy<V>),
    Failed,
    LockGone,
}

#[async_trait]
impl Layer for SharedTier {
    async fn product(&self, id: i32, budget: &RequestBudget) -> Result<ProductCopy, CatalogError> {
        self.read_through(ProductKey(id), budget, || self.below.product(id, budget))
            .await
    }

    async fn catalog(&self, budget: &RequestBudget) -> Result<CatalogCopy, CatalogError> {
        self.read_through(CatalogKey, budget, || self.below.catalog(budget))
            .await
    }

    /// The fresh copies Redis has of these products, in one round trip.
    async fn fresh_products(&self, ids: &[i32]) -> Vec<(i32, ProductCopy)> {
        let keys: Vec<ProductKey> = ids.iter().map(|&id| ProductKey(id)).collect();
        let Ok(copies) = self.redis.read(&keys).await else {
            return Vec::new();
        };
        let fresh: Vec<(i32, ProductCopy)> = ids
            .iter()
            .zip(copies)
            .filter_map(|(&id, copy)| Some((id, copy?)))
            .filter(|(_, copy)| self.policy.age(copy) == Age::Fresh)
            .collect();
        self.metrics.shared_cache_hits.inc_by(fresh.len() as u64);
        fresh
    }

    fn may_call(&self, budget: &RequestBudget) -> bool {
        self.below.may_call(budget)
    }
}
