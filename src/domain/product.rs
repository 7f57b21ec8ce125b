//! A catalog product as every layer sees it, whatever catalog it came from.

use serde::{Deserialize, Serialize};

/// A product as FakeStoreAPI describes it. Prices and rates may arrive as JSON integers (serde
/// reads them into `f64` all the same) and titles may end in a space, which we keep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: i32,
    pub title: String,
    pub price: f64,
    pub description: String,
    pub category: String,
    pub image: String,
    #[serde(default)]
    pub rating: Option<Rating>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    pub rate: f64,
    pub count: i32,
}
