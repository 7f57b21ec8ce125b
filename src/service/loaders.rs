//! Per-request batching (`batch`): loads made while a request resolves one level of its answer
//! become one SQL statement or one catalog look-up per kind. They do not cache: a mutation
//! followed by a read in the same document must see the write; the catalog's own cache is what
//! saves upstream calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cached::{Cached, LruTtlCache};

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::batch::{BatchLoad, Batcher};
use crate::catalog::{Catalog, CatalogError, Fresh, RequestBudget, unix_ms};
use crate::db::RepoError;
use crate::db::repositories::{clients, favorites, popularity};
use crate::domain::{Client, Favorite, Product};
use crate::sync::lock;

/// Many clients by id with one `WHERE id IN (...)`.
pub struct ClientLoader {
    db: DatabaseConnection,
}

impl BatchLoad<Uuid> for ClientLoader {
    type Value = Client;
    type Error = Arc<RepoError>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Client>, Self::Error> {
        clients::find_many(&self.db, ids).await.map_err(Arc::new)
    }
}

/// Many clients by id, each with its favorites, with one statement (a join).
pub struct ClientWithFavoritesLoader {
    db: DatabaseConnection,
}

impl BatchLoad<Uuid> for ClientWithFavoritesLoader {
    type Value = (Client, Vec<Favorite>);
    type Error = Arc<RepoError>;

    async fn load(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (Client, Vec<Favorite>)>, Self::Error> {
        clients::find_many_with_favorites(&self.db, ids)
            .await
            .map_err(Arc::new)
    }
}

/// The favorites of many clients with one `WHERE client_id IN (...)`.
pub struct FavoritesLoader {
    db: DatabaseConnection,
}

impl BatchLoad<Uuid> for FavoritesLoader {
    type Value = Vec<Favorite>;
    type Error = Arc<RepoError>;

    async fn load(&self, client_ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Favorite>>, Self::Error> {
        favorites::for_clients(&self.db, client_ids)
            .await
            .map_err(Arc::new)
    }
}

/// Many products from the catalog at once. Each id gets its own outcome, so one product the
/// catalog could not give does not take the others of its batch down with it. Shared, because
/// the loader hands every caller of a key its own copy: a page of 100 clients with 5 favorites
/// each would otherwise copy 500 products, descriptions and all.
pub struct ProductLoader {
    catalog: Catalog,
    budget: Arc<RequestBudget>,
}

impl BatchLoad<i32> for ProductLoader {
    type Value = Result<Fresh<Arc<Product>>, CatalogError>;
    type Error = CatalogError;

    async fn load(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Result<Fresh<Arc<Product>>, CatalogError>>, Self::Error> {
        let products = self.catalog.products_by_ids(ids, &self.budget).await;
        Ok(products
            .into_iter()
            .map(|(id, outcome)| {
                let shared = outcome.map(|fresh| Fresh {
                    value: Arc::new(fresh.value),
                    until_ms: fresh.until_ms,
                });
                (id, shared)
            })
            .collect())
    }
}

/// How many lists hold a product, as this instance last counted it, and until when that count
/// stands (unix ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub holders: u64,
    pub until_ms: u64,
}

/// This instance's counts, shared by its requests, so that a product many pages show is
/// counted once per `ttl` (`FAVORITES_COUNT_TTL_SECONDS`), not once per request.
pub struct CountCache {
    counted: Mutex<LruTtlCache<i32, Counted>>,
    ttl: Duration,
}

impl CountCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            counted: Mutex::new(LruTtlCache::new(10_000, ttl)),
            ttl,
        }
    }

    /// Until when (unix ms) a count made now stands: the most a count or a ranking lags.
    pub fn stands_until_ms(&self) -> u64 {
        unix_ms().saturating_add(self.ttl.as_millis() as u64)
    }
}

/// The counts of many products: the ones this instance counted lately, and the others with
/// one statement.
pub struct FavoriteCountLoader {
    db: DatabaseConnection,
    cache: Arc<CountCache>,
}

impl BatchLoad<i32> for FavoriteCountLoader {
    type Value = Counted;
    type Error = Arc<RepoError>;

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, Counted>, Self::Error> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let mut cache = lock(&self.cache.counted);
            for id in ids {
                match cache.cache_get(id) {
                    Some(counted) => {
                        found.insert(*id, *counted);
                    }
                    None => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let counts = popularity::counts(&self.db, &missing)
            .await
            .map_err(Arc::new)?;
        let until_ms = self.cache.stands_until_ms();
        let mut cache = lock(&self.cache.counted);
        for id in missing {
            let counted = Counted {
                holders: counts.get(&id).copied().unwrap_or(0),
                until_ms,
            };
            cache.cache_set(id, counted);
            found.insert(id, counted);
        }
        Ok(found)
    }
}

/// The loaders of one request (or one WebSocket connection).
pub struct Loaders {
    pub clients: Batcher<Uuid, ClientLoader>,
    pub clients_with_favorites: Batcher<Uuid, ClientWithFavoritesLoader>,
    pub favorites: Batcher<Uuid, FavoritesLoader>,
    pub products: Batcher<i32, ProductLoader>,
    pub favorite_counts: Batcher<i32, FavoriteCountLoader>,
    /// Shared by every catalog call of the request, the product loader's included.
    pub catalog_budget: Arc<RequestBudget>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection, catalog: &Catalog, counts: &Arc<CountCache>) -> Self {
        let catalog_budget = Arc::new(RequestBudget::default());
        Self {
            clients: Batcher::new(ClientLoader { db: db.clone() }),
            clients_with_favorites: Batcher::new(ClientWithFavoritesLoader { db: db.clone() }),
            favorites: Batcher::new(FavoritesLoader { db: db.clone() }),
            products: Batcher::new(ProductLoader {
                catalog: catalog.clone(),
                budget: Arc::clone(&catalog_budget),
            }),
            favorite_counts: Batcher::new(FavoriteCountLoader {
                db: db.clone(),
                cache: Arc::clone(counts),
            }),
            catalog_budget,
        }
    }
}
