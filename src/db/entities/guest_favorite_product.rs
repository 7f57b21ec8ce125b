//! The `guest_favorite_products` table: one row per product in a guest's list.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "guest_favorite_products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub guest_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: i32,
    pub added_at: DateTimeUtc,
    /// The shopper's note, up to 500 characters.
    pub note: Option<String>,
    /// The catalog's price when the product was added; null for favorites saved before prices
    /// were kept.
    pub price_when_added: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
