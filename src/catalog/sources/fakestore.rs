//! FakeStoreAPI (`GET {base}/products`, `GET {base}/products/{id}`), with every quirk of it:
//! ids start at 1 (nothing below is asked for), an unknown id answers 200 with an empty body
//! (sometimes `null`), which like a 404 means "no such product", prices and rates may be JSON
//! integers, titles may end in a space (kept), and answers are capped at 4 MiB (the whole list
//! is about 10 KiB).

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use tracing::Instrument;
use tracing::field::Empty;

use super::ProductSource;
use crate::catalog::{CatalogBuildError, CatalogError, Product, Rating};
use crate::telemetry::traces;

const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

pub struct FakeStoreApi {
    http: reqwest::Client,
    base_url: String,
}

impl FakeStoreApi {
    /// `timeout` bounds one attempt (the resilience layer bounds the whole call).
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, CatalogBuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .timeout(timeout)
            // The catalog answers where it is; a redirect (to another path, host or scheme) is
            // a fault, not somewhere to go.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("favorites-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CatalogBuildError::Http)?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// GETs `path` (of `route`, the span's name) and reads a `T`; a 404 or an empty (or
    /// `null`) body is `None`. Traced as a client span that carries the trace on.
    async fn get<T: DeserializeOwned>(
        &self,
        route: &'static str,
        path: &str,
    ) -> Result<Option<T>, CatalogError> {
        let span = if traces::enabled() {
            tracing::info_span!(
                "catalog",
                otel.name = route,
                otel.kind = "client",
                http.request.method = "GET",
                url.path = path,
                http.response.status_code = Empty,
                otel.status_code = Empty,
            )
        } else {
            tracing::Span::none()
        };
        let outcome = self.fetch(path, &span).instrument(span.clone()).await;
        if outcome.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        outcome
    }

    async fn fetch<T: DeserializeOwned>(
        &self,
        path: &str,
        span: &tracing::Span,
    ) -> Result<Option<T>, CatalogError> {
        let mut request = self
            .http
            .get(format!("{}{path}", self.base_url))
            .build()
            .map_err(CatalogError::transport)?;
        traces::propagate(request.headers_mut());
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(CatalogError::transport)?;
        let status = response.status();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(CatalogError::Status(status.as_u16()));
        }
        let too_large =
            || CatalogError::InvalidBody(format!("larger than {MAX_RESPONSE_BYTES} bytes"));
        if response
            .content_length()
            .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(CatalogError::transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let trimmed = body.trim_ascii();
        if trimmed.is_empty() || trimmed == b"null" {
            return Ok(None);
        }
        serde_json::from_slice(trimmed)
            .map(Some)
            .map_err(|error| CatalogError::InvalidBody(error.to_string()))
    }
}

#[async_trait]
impl ProductSource for FakeStoreApi {
    async fn product(&self, id: i32) -> Result<Option<Product>, CatalogError> {
        if id < 1 {
            return Ok(None);
        }
        let product = self
            .get::<WireProduct>("GET /products/{id}", &format!("/products/{id}"))
            .await?;
        Ok(product.map(Product::from))
    }

    async fn catalog(&self) -> Result<Vec<Product>, CatalogError> {
        let products = self
            .get::<Vec<WireProduct>>("GET /products", "/products")
            .await?;
        Ok(products
            .unwrap_or_default()
            .into_iter()
            .map(Product::from)
            .collect())
    }
}

/// A product as FakeStoreAPI writes it (serde reads integer prices and rates into `f64`).
#[derive(Deserialize)]
struct WireProduct {
    id: i32,
    title: String,
    price: f64,
    description: String,
    category: String,
    image: String,
    #[serde(default)]
    rating: Option<WireRating>,
}

#[derive(Deserialize)]
struct WireRating {
    rate: f64,
    count: i32,
}

impl From<WireProduct> for Product {
    fn from(wire: WireProduct) -> Self {
        Self {
            id: wire.id,
            title: wire.title,
            price: wire.price,
            description: wire.description,
            category: wire.category,
            image: wire.image,
            rating: wire.rating.map(|rating| Rating {
                rate: rating.rate,
                count: rating.count,
            }),
        }
    }
}
