use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::{Catalog, CatalogError, Product};

/// Batches the product lookups of one request. Build one per request: a DataLoader keeps what
/// it loaded for its whole life, and the catalog's cache is where freshness is decided.
///
/// Each id gets its own outcome, so one product the catalog could not give does not take the
/// others of its batch down with it.
pub struct ProductLoader {
    catalog: Catalog,
}

impl ProductLoader {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }
}

impl Loader<i32> for ProductLoader {
    type Value = Result<Product, CatalogError>;
    type Error = CatalogError;

    async fn load(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Result<Product, CatalogError>>, Self::Error> {
        Ok(self.catalog.products_by_ids(ids).await)
    }
}
