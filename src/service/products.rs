//! Catalog products, for any authenticated caller.

use std::sync::Arc;

use super::policy::Action;
use super::{Result, ServiceError, Session};
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
        let loaded = self
            .session
            .loaders()
            .products
            .load_one(id)
            .await
            .map_err(ServiceError::from)?;
        match loaded.transpose().map_err(ServiceError::from)? {
            Some(fresh) => {
                self.session.reads().product_data(fresh.until_ms);
                Ok(Some(fresh.value))
            }
            None => {
                // The catalog's "no such product" is believed for a short while only, and the
                // batch does not say how long: an answer holding it is not kept.
                self.session.reads().product_data(0);
                Ok(None)
            }
        }
    }

    /// The whole catalog, in the catalog's order.
    pub async fn all(&self) -> Result<Arc<Vec<Product>>> {
        self.session.authorize(Action::ReadProducts, None)?;
        let fresh = self
            .session
            .services()
            .catalog
            .all_products(&self.session.loaders().catalog_budget)
            .await?;
        self.session.reads().product_data(fresh.until_ms);
        Ok(fresh.value)
    }
}
