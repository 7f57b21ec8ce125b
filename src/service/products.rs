//! Catalog products, for any authenticated caller.

use std::sync::Arc;

use super::policy::Action;
use super::{Result, Session};
use crate::domain::Product;

pub struct Products<'a> {
    session: &'a Session,
}

impl<'a> Products<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// One product, or `None` when the catalog has no such product. Loads of one request are
    /// batched into one catalog look-up.
    pub async fn get(&self, id: i32) -> Result<Option<Arc<Product>>> {
        self.session.authorize(Action::ReadProducts, None)?;
        self.session.read().product(id).await
    }

    /// The whole catalog, in the catalog's order.
    pub async fn all(&self) -> Result<Arc<Vec<Product>>> {
        self.session.authorize(Action::ReadProducts, None)?;
        self.session.read().catalog().await
    }
}
