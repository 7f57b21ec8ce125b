//! Where products come from: a catalog API. Each source is one file of this folder implementing
//! `ProductSource` (FakeStoreAPI: `fakestore.rs`), holding everything particular to that API (its
//! paths, how it says "no such product", its JSON); the layers above are the same for all, and
//! one setting (`CATALOG_SOURCE`) picks the source (`source_from_settings`).

mod fakestore;

pub use fakestore::FakeStoreApi;

use std::sync::Arc;

use async_trait::async_trait;

use super::{CatalogBuildError, CatalogError, Product};
use crate::config::{CatalogSource, Settings};

#[async_trait]
pub trait ProductSource: Send + Sync + 'static {
    /// One product; `None` when the catalog has no such product. One attempt, no retry: the
    /// resilience layer decides about retries and time.
    async fn product(&self, id: i32) -> Result<Option<Product>, CatalogError>;

    /// The whole catalog, in its order.
    async fn catalog(&self) -> Result<Vec<Product>, CatalogError>;
}

/// The source `CATALOG_SOURCE` names. Another catalog API is one file here implementing
/// `ProductSource`, its `mod` line above, a value of that setting (`config/values.rs`), and an
/// arm below.
pub fn source_from_settings(
    settings: &Settings,
) -> Result<Arc<dyn ProductSource>, CatalogBuildError> {
    match settings.catalog_source {
        CatalogSource::FakeStore => Ok(Arc::new(FakeStoreApi::new(
            settings.fakestoreapi_url.as_str(),
            settings.upstream_timeout,
        )?)),
    }
}
