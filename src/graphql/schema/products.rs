//! Catalog products: the `Product` type, and the reads `product` and `products`.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use super::session;
use crate::domain;

/// Shares the catalog's copy rather than owning one: the same product is often in many lists
/// of one answer.
#[derive(Clone, Debug)]
pub struct Product(Arc<domain::Product>);

/// A product from the catalog (FakeStoreAPI). Details are cached for an hour by default.
#[Object]
impl Product {
    /// Catalog id of the product.
    async fn id(&self) -> i32 {
        self.0.id
    }

    /// Title as the catalog spells it (trailing spaces included).
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Price in US dollars.
    async fn price(&self) -> f64 {
        self.0.price
    }

    /// Long description.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Catalog category, such as "electronics".
    async fn category(&self) -> &str {
        &self.0.category
    }

    /// URL of the product image.
    async fn image(&self) -> &str {
        &self.0.image
    }

    /// Customer rating, when the catalog has one.
    async fn rating(&self) -> Option<Rating> {
        self.0.rating.as_ref().map(|rating| Rating {
            rate: rating.rate,
            count: rating.count,
        })
    }
}

/// Customer rating of a product.
#[derive(Clone, Debug, SimpleObject)]
pub struct Rating {
    /// Average rate, 0 to 5.
    pub rate: f64,
    /// Number of ratings.
    pub count: i32,
}

impl From<Arc<domain::Product>> for Product {
    fn from(product: Arc<domain::Product>) -> Self {
        Self(product)
    }
}

impl From<domain::Product> for Product {
    fn from(product: domain::Product) -> Self {
        Self(Arc::new(product))
    }
}

#[derive(Default)]
pub struct ProductsQuery;

#[Object]
impl ProductsQuery {
    /// A catalog product by id; null when the catalog has no such product.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A catalog product id.")] id: i32,
    ) -> async_graphql::Result<Option<Product>> {
        Ok(session(ctx)?.products().get(id).await?.map(Product::from))
    }

    /// The whole catalog.
    #[graphql(complexity = "1 + 20 * child_complexity")]
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let products = session(ctx)?.products().all().await?;
        Ok(products.iter().cloned().map(Product::from).collect())
    }
}
