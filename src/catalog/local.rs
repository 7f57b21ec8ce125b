//! The in-process tier, on top of the stack: what this instance already has costs nothing.
//! Concurrent misses for the same key share one call below (single flight), and a miss whose
//! call fails falls back to this instance's stale copy (`Freshness::or_stale`). It owns its memory
//! (not a global static), so every `Catalog`, and so every test, starts cold and isolated.
//!
//! Look-ups are counted here, once each: `catalog_cache_hits_total` / `_misses_total`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cached::LruCache;
use cached::prelude::*;

use super::freshness::{Age, Freshness};
use super::layer::{CatalogCopy, Copy, Layer, ProductCopy};
use super::single_flight::SingleFlight;
use super::{CatalogError, Product, RequestBudget};
use crate::sync::lock;
use crate::telemetry::CatalogMetrics;

/// The catalog has 20 products; room for many more keeps memory bounded if it grows.
const MAX_ENTRIES: usize = 10_000;
/// Unknown ids live apart, so a flood of bad ids cannot push out the stale copies of real ones.
const MAX_MISSING_ENTRIES: usize = 10_000;
/// Above this many misses in one batch, one look at the whole catalog is cheaper than one call
/// per id.
const MAX_SINGLE_FETCHES: usize = 1;

/// What this instance has for one id.
enum Cached {
    Fresh(ProductCopy),
    Miss { stale: Option<ProductCopy> },
}

/// Puts one id's outcome among the found: a product, or a failure; "no such product" is left
/// out.
fn record(
    found: &mut HashMap<i32, Result<Copy<Product>, CatalogError>>,
    id: i32,
    outcome: Result<ProductCopy, CatalogError>,
) {
    match outcome {
        Ok(Copy {
            value: Some(value),
            fetched_at_ms,
        }) => {
            found.insert(
                id,
                Ok(Copy {
                    value,
                    fetched_at_ms,
                }),
            );
        }
        Ok(_) => {}
        Err(error) => {
            found.insert(id, Err(error));
        }
    }
}

pub struct LocalTier {
    below: Arc<dyn Layer>,
    policy: Freshness,
    metrics: CatalogMetrics,
    found: Mutex<LruCache<i32, ProductCopy>>,
    /// When "no such product" was learnt, by id.
    missing: Mutex<LruCache<i32, u64>>,
    catalog: Mutex<Option<CatalogCopy>>,
    product_flights: SingleFlight<i32, Result<ProductCopy, CatalogError>>,
    catalog_flights: SingleFlight<(), Result<CatalogCopy, CatalogError>>,
}

impl LocalTier {
    pub fn new(below: Arc<dyn Layer>, policy: Freshness, metrics: CatalogMetrics) -> Self {
        Self {
            below,
            policy,
            metrics,
            found: Mutex::new(LruCache::new(MAX_ENTRIES)),
            missing: Mutex::new(LruCache::new(MAX_MISSING_ENTRIES)),
            catalog: Mutex::new(None),
            product_flights: SingleFlight::new(),
            catalog_flights: SingleFlight::new(),
        }
    }

    /// One product, or `None` when the catalog has no such product.
    pub async fn product(
        &self,
        id: i32,
        budget: &RequestBudget,
    ) -> Result<ProductCopy, CatalogError> {
        match self.lookup(id) {
            Cached::Fresh(copy) => Ok(copy),
            Cached::Miss { stale } => self.fetch(id, stale, budget).await,
        }
    }

    /// The products among `ids`, each found, or failed when the catalog could not be asked and
    /// had no usable copy; ids the catalog does not have are left out. What this instance has
    /// costs nothing; the misses are looked for in one round trip below (the shared tier), and
    /// what is still missing costs one product call, or one look at the whole catalog for more.
    pub async fn products(
        &self,
        ids: &[i32],
        budget: &RequestBudget,
    ) -> HashMap<i32, Result<Copy<Product>, CatalogError>> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match self.lookup(id) {
                Cached::Fresh(copy) => record(&mut found, id, Ok(copy)),
                Cached::Miss { stale } => missing.push((id, stale)),
            }
        }
        if missing.len() > MAX_SINGLE_FETCHES {
            let ids: Vec<i32> = missing.iter().map(|(id, _)| *id).collect();
            for (id, copy) in self.below.fresh_products(&ids).await {
                self.keep_product(id, &copy);
                record(&mut found, id, Ok(copy));
                missing.retain(|(missing_id, _)| *missing_id != id);
            }
        }
        if missing.len() <= MAX_SINGLE_FETCHES {
            for (id, stale) in missing {
                let outcome = self.fetch(id, stale, budget).await;
                record(&mut found, id, outcome);
            }
            return found;
        }
        match self.catalog(budget).await {
            Ok(all) => {
                for product in all.value.iter() {
                    if missing.iter().any(|(id, _)| *id == product.id) {
                        let copy = Copy {
                            value: Some(product.clone()),
                            fetched_at_ms: all.fetched_at_ms,
                        };
                        record(&mut found, product.id, Ok(copy));
                    }
                }
            }
            // The list is down: each id falls back to its own stale copy, if it has one.
            Err(error) => {
                for (id, stale) in missing {
                    let outcome = self.policy.or_stale(Err(error.clone()), stale);
                    record(&mut found, id, outcome);
                }
            }
        }
        found
    }

    /// The whole catalog, in the catalog's order.
    pub async fn catalog(&self, budget: &RequestBudget) -> Result<CatalogCopy, CatalogError> {
        let kept = lock(&self.catalog).clone();
        if let Some(copy) = &kept
            && self.policy.age(copy) == Age::Fresh
        {
            return Ok(copy.clone());
        }
        let stale = self.policy.fallback(kept);
        self.catalog_flights
            .run((), || async {
                let outcome = self.below.catalog(budget).await;
                if let Ok(copy) = &outcome {
                    self.keep_catalog(copy);
                }
                self.policy.or_stale(outcome, stale)
            })
            .await
    }

    /// One call below per id at a time, shared by concurrent callers; `stale` stands in if it
    /// fails.
    async fn fetch(
        &self,
        id: i32,
        stale: Option<ProductCopy>,
        budget: &RequestBudget,
    ) -> Result<ProductCopy, CatalogError> {
        self.product_flights
            .run(id, || async {
                let outcome = self.below.product(id, budget).await;
                if let Ok(copy) = &outcome {
                    self.keep_product(id, copy);
                }
                self.policy.or_stale(outcome, stale)
            })
            .await
    }

    /// A look-up on behalf of a caller, counted as a hit or a miss.
    fn lookup(&self, id: i32) -> Cached {
        let found = lock(&self.found).get(&id).cloned();
        let fresh = match &found {
            Some(copy) if self.policy.age(copy) == Age::Fresh => Some(copy.clone()),
            _ => lock(&self.missing)
                .get(&id)
                .map(|&fetched_at_ms| Copy {
                    value: None,
                    fetched_at_ms,
                })
                .filter(|copy| self.policy.age(copy) == Age::Fresh),
        };
        match fresh {
            Some(copy) => {
                self.metrics.cache_hits.inc();
                Cached::Fresh(copy)
            }
            None => {
                self.metrics.cache_misses.inc();
                Cached::Miss {
                    stale: self.policy.fallback(found),
                }
            }
        }
    }

    /// Keeps a copy at the age it has (another instance may have fetched it a while ago), so no
    /// copy is served as fresh past its TTL.
    fn keep_product(&self, id: i32, copy: &ProductCopy) {
        match &copy.value {
            Some(_) => {
                lock(&self.missing).remove(&id);
                lock(&self.found).set(id, copy.clone());
            }
            None => {
                lock(&self.missing).set(id, copy.fetched_at_ms);
            }
        }
    }

    fn keep_catalog(&self, copy: &CatalogCopy) {
        for product in copy.value.iter() {
            self.keep_product(
                product.id,
                &Copy {
                    value: Some(product.clone()),
                    fetched_at_ms: copy.fetched_at_ms,
                },
            );
        }
        *lock(&self.catalog) = Some(copy.clone());
    }
}
