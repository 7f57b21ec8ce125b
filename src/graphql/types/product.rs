use async_graphql::SimpleObject;

use crate::catalog;

/// A product from the catalog (FakeStoreAPI). Details are cached for an hour by default.
#[derive(Clone, Debug, SimpleObject)]
pub struct Product {
    /// Catalog id of the product.
    pub id: i32,
    /// Title as the catalog spells it (trailing spaces included).
    pub title: String,
    /// Price in US dollars.
    pub price: f64,
    /// Long description.
    pub description: String,
    /// Catalog category, such as "electronics".
    pub category: String,
    /// URL of the product image.
    pub image: String,
    /// Customer rating, when the catalog has one.
    pub rating: Option<Rating>,
}

/// Customer rating of a product.
#[derive(Clone, Debug, SimpleObject)]
pub struct Rating {
    /// Average rate, 0 to 5.
    pub rate: f64,
    /// Number of ratings.
    pub count: i32,
}

impl From<catalog::Product> for Product {
    fn from(product: catalog::Product) -> Self {
        Self {
            id: product.id,
            title: product.title,
            price: product.price,
            description: product.description,
            category: product.category,
            image: product.image,
            rating: product.rating.map(|rating| Rating {
                rate: rating.rate,
                count: rating.count,
            }),
        }
    }
}
