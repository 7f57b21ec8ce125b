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

/// Shared, because the DataLoader hands every caller of a key its own copy of the value: a page
/// of 100 clients with 5 favorites each would otherwise copy 500 products, descriptions and all.
impl Loader<i32> for ProductLoader {
    type Value = Result<Arc<Product>, CatalogError>;
    type Error = CatalogError;

    async fn load(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Result<Arc<Product>, CatalogError>>, Self::Error> {
        let products = self.catalog.products_by_ids(ids, &self.budget).await;
        Ok(products
            .into_iter()
            .map(|(id, outcome)| (id, outcome.map(Arc::new)))
            .collect())
    }
}
