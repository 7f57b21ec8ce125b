use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::{Catalog, CatalogError, Product, RequestBudget};

/// Batches the product lookups of one request. Build one per request: a DataLoader keeps what
/// it loaded for its whole life, and the catalog's cache is where freshness is decided.
///
/// Each id gets its own outcome, so one product the catalog could not give does not take the
/// others of its batch down with it.
pub struct ProductLoader {
    catalog: Catalog,
    budget: Arc<RequestBudget>,
}

impl ProductLoader {
    pub fn new(catalog: Catalog, budget: Arc<RequestBudget>) -> Self {
        Self { catalog, budget }
    }
}

impl Loader<i32> for ProductLoader {
    type Value = Result<Product, CatalogError>;
    type Error = CatalogError;

    async fn load(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Result<Product, CatalogError>>, Self::Error> {
        Ok(self.catalog.products_by_ids(ids, &self.budget).await)
    }
}
