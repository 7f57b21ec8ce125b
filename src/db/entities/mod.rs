//! sea-orm entities: one file per table, nothing but the mapping.

pub mod change_log;
pub mod client;
pub mod client_favorite_product;
pub mod favorite_share;
pub mod guest;
pub mod guest_favorite_product;
pub mod product_ref;
