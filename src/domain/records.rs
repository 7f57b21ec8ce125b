//! What the service stores about clients, as the layers above see it (the database's own
//! entities stay in `db`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

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
