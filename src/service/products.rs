//! Catalog products, for any authenticated caller, and what shoppers love: how many lists hold
//! each (social proof, for anyone who may read products) and the ranking (the admin's).

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

    /// How many lists (clients' and guests') hold the product; lags the lists by up to
    /// `FAVORITES_COUNT_TTL_SECONDS`. The products of one level of an answer are counted with one
    /// statement.
    pub async fn favorites_count(&self, id: i32) -> Result<u64> {
        self.session.authorize(Action::ReadProducts, None)?;
        self.session.read().favorites_count(id).await
    }

    /// The `limit` products most lists hold, most held first (ties by product id), with their
    /// counts; with `category`, among that catalog category's products only
    /// (`UPSTREAM_UNAVAILABLE` when the catalog cannot say which those are).
    pub async fn most_popular(
        &self,
        limit: u64,
        category: Option<&str>,
    ) -> Result<Vec<(i32, u64)>> {
        self.session.authorize(Action::ReadPopularProducts, None)?;
        let read = self.session.read();
        let only: Option<Vec<i32>> = match category {
            Some(category) => Some(
                read.catalog()
                    .await?
                    .iter()
                    .filter(|product| product.category == category)
                    .map(|product| product.id)
                    .collect(),
            ),
            None => None,
        };
        read.most_held(only.as_deref(), limit).await
    }

    /// A product of a list opened through its share link, for whoever holds the link (an
    /// anonymous caller included): the link was the authorization, and a product is what the
    /// share shows.
    pub async fn of_shared_list(&self, id: i32) -> Result<Option<Arc<Product>>> {
        self.session.read().product(id).await
    }

    /// The whole catalog, in the catalog's order.
    pub async fn all(&self) -> Result<Arc<Vec<Product>>> {
        self.session.authorize(Action::ReadProducts, None)?;
        self.session.read().catalog().await
    }
}
