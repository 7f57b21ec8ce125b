//! The product catalog (FakeStoreAPI): an HTTP client that owns its cache, and the per-request
//! DataLoader that batches product lookups.

mod breaker;
mod cache;
mod client;
mod error;
mod loader;
mod model;
mod single_flight;

pub use client::{Catalog, CatalogSettings, RequestBudget};
pub use error::CatalogError;
pub use loader::ProductLoader;
pub use model::{Product, Rating};
