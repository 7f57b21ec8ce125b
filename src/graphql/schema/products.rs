//! Catalog products: the `Product` type, and the reads `product` and `products`.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};

use super::paging::page_size;
use super::{list_weight, session};
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

    /// How many shoppers' lists hold the product (clients' and guests'), for social proof
    /// ("1.2k shoppers love this"). Lags the lists by up to 10 seconds.
    async fn favorites_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(session(ctx)?.products().favorites_count(self.0.id).await?)
    }
}

/// A product and how many lists hold it.
pub struct PopularProduct {
    product_id: i32,
    favorites_count: u64,
}

/// A product of the ranking, and how many lists hold it.
#[Object]
impl PopularProduct {
    /// Catalog id of the product.
    async fn product_id(&self) -> i32 {
        self.product_id
    }

    /// How many lists (clients' and guests') hold it.
    async fn favorites_count(&self) -> u64 {
        self.favorites_count
    }

    /// The product's details from the catalog; null when it no longer has the product (or,
    /// with an error at this path, when it cannot be reached).
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let product = session(ctx)?.products().get(self.product_id).await?;
        Ok(product.map(Product::from))
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

    /// The products most lists hold, most held first (ties by product id): admin only. Counted
    /// when asked (one statement over both kinds of list); a product no list holds is not in
    /// it. `BAD_USER_INPUT` when `first` is not 1 to 100.
    #[graphql(complexity = "1 + list_weight(Some(first)) * child_complexity")]
    async fn popular_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, desc = "How many, 1 to 100.")] first: i32,
        #[graphql(desc = "Only the products of this catalog category (as the catalog spells it).")]
        category: Option<String>,
    ) -> async_graphql::Result<Vec<PopularProduct>> {
        let limit = page_size(Some(first), "first")?;
        let ranking = session(ctx)?
            .products()
            .most_popular(limit, category.as_deref())
            .await?;
        Ok(ranking
            .into_iter()
            .map(|(product_id, favorites_count)| PopularProduct {
                product_id,
                favorites_count,
            })
            .collect())
    }

    /// The whole catalog.
    #[graphql(complexity = "1 + 20 * child_complexity")]
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let products = session(ctx)?.products().all().await?;
        Ok(products.iter().cloned().map(Product::from).collect())
    }
}
