/// Why the catalog could not answer. Every variant means "upstream unavailable" to a caller; the
/// detail is for the logs.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog request failed: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("catalog answered HTTP {0}")]
    Status(u16),
    #[error("catalog answered a body that is not a product: {0}")]
    InvalidBody(#[source] serde_json::Error),
}
