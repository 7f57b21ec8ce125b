use async_graphql::dataloader::Loader;
use std::collections::HashMap;

use super::{Catalog, CatalogError, Product};

/// Batches the product lookups of one request. Build one per request: a DataLoader keeps what
/// it loaded for its whole life, and the catalog's TTL cache is where freshness is decided.
pub struct ProductLoader {
    catalog: Catalog,
}

impl ProductLoader {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }
}

impl Loader<i32> for ProductLoader {
    type Value = Product;
    type Error = CatalogError;

    async fn load(&self, ids: &[i32]) -> Result<HashMap<i32, Product>, Self::Error> {
        self.catalog.products_by_ids(ids).await
    }
}
