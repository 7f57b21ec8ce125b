//! A product in a client's list, as every layer sees it (the database's own entities stay in
//! `db`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A product in a client's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Favorite {
    pub client_id: Uuid,
    pub product_id: i32,
    pub added_at: DateTime<Utc>,
}

impl Favorite {
    /// Its place in the list: by time added, then product id.
    pub fn position(&self) -> (DateTime<Utc>, i32) {
        (self.added_at, self.product_id)
    }
}
