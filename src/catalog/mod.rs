//! The product catalog (FakeStoreAPI): an HTTP client that owns its cache (in-process, and
//! optionally shared by every instance through Redis), and the per-request DataLoader that
//! batches product lookups.

mod breaker;
mod cache;
mod client;
mod error;
mod loader;
mod model;
mod shared;
mod single_flight;

pub use client::{Catalog, CatalogSettings, RequestBudget};
pub use error::{CatalogBuildError, CatalogError};
pub use loader::ProductLoader;
pub use model::{Product, Rating};
pub use shared::SharedSettings;
