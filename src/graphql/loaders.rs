//! Per-request DataLoaders: each nesting level of a query costs one SQL statement, however many
//! parents it has.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::catalog::{Catalog, ProductLoader, RequestBudget};
use crate::db::RepoError;
use crate::db::repositories::clients;
use crate::db::repositories::favorites::{self, Favorite};

/// Loads many clients by id with one `WHERE id IN (...)`: several `client(id:)` fields in one
/// document cost one statement, and their favorites then load together too.
pub struct ClientLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for ClientLoader {
    type Value = clients::Client;
    type Error = Arc<RepoError>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, clients::Client>, Self::Error> {
        clients::find_many(&self.db, ids).await.map_err(Arc::new)
    }
}

/// Loads the favorites of many clients with one `WHERE client_id IN (...)`.
pub struct FavoritesLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for FavoritesLoader {
    type Value = Vec<Favorite>;
    type Error = Arc<RepoError>;

    async fn load(&self, client_ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Favorite>>, Self::Error> {
        favorites::for_clients(&self.db, client_ids)
            .await
            .map_err(Arc::new)
    }
}

/// The loaders of one request. They do not cache: a mutation followed by a read in the same
/// document must see the write; the catalog's own cache is what saves upstream calls.
/// Cloning shares the loaders: every operation of a batch request batches together.
#[derive(Clone)]
pub struct RequestLoaders {
    pub clients: Arc<DataLoader<ClientLoader>>,
    pub favorites: Arc<DataLoader<FavoritesLoader>>,
    pub products: Arc<DataLoader<ProductLoader>>,
    /// Shared by every catalog call of the request, the loader's included.
    pub catalog_budget: Arc<RequestBudget>,
}

impl RequestLoaders {
    pub fn new(db: DatabaseConnection, catalog: Catalog) -> Self {
        let catalog_budget = Arc::new(RequestBudget::default());
        Self {
            clients: Arc::new(DataLoader::new(
                ClientLoader { db: db.clone() },
                tokio::spawn,
            )),
            favorites: Arc::new(DataLoader::new(FavoritesLoader { db }, tokio::spawn)),
            products: Arc::new(DataLoader::new(
                ProductLoader::new(catalog, Arc::clone(&catalog_budget)),
                tokio::spawn,
            )),
            catalog_budget,
        }
    }
}
