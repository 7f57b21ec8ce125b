//! The product catalog (FakeStoreAPI): an HTTP client that owns its cache (in-process, and
//! optionally shared by every instance through Redis).

mod breaker;
mod cache;
mod client;
mod error;
mod shared;
mod single_flight;

pub use crate::domain::{Product, Rating};
pub use client::{Catalog, CatalogSettings, RequestBudget};
pub use error::{CatalogBuildError, CatalogError};
pub use shared::SharedSettings;
