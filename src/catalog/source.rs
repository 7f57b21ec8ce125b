//! Where products come from: a catalog API. Each source is one file implementing this trait
//! (FakeStoreAPI: `fakestore.rs`), holding everything particular to that API (its paths, how it
//! says "no such product", its JSON); the layers above are the same for all, and one setting
//! (`CATALOG_SOURCE`) picks the source when the stack is built (`Catalog::new`).

use async_trait::async_trait;

use super::{CatalogError, Product};

#[async_trait]
pub trait ProductSource: Send + Sync + 'static {
    /// One product; `None` when the catalog has no such product. One attempt, no retry: the
    /// resilience layer decides about retries and time.
    async fn product(&self, id: i32) -> Result<Option<Product>, CatalogError>;

    /// The whole catalog, in its order.
    async fn catalog(&self) -> Result<Vec<Product>, CatalogError>;
}
