//! A list as a caller asked to see it: in one of the orders (`domain::FavoriteOrder`) and,
//! optionally, only the products of one catalog category. The list itself comes from the
//! use case that authorized reading it; this only arranges it.

use std::sync::Arc;

use futures::future::join_all;

use super::{Result, ServiceError, Session};
use crate::domain::{Favorite, FavoriteOrder, Place, Product};

/// How a caller asked to see a list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListView {
    pub order: FavoriteOrder,
    /// Keep only the products of this catalog category (as the catalog spells it).
    pub category: Option<String>,
}

/// A favorite and its place in the view's order.
#[derive(Clone, Debug)]
pub struct Arranged {
    pub favorite: Favorite,
    pub place: Place,
}

impl ListView {
    fn needs_products(&self) -> bool {
        self.order.needs_product() || self.category.is_some()
    }
}

impl Session {
    /// `list` in `view`'s order, filtered by its category. Ordering by price or title reads the
    /// products (one batch for the whole list, through the request's loader); one the catalog
    /// cannot say anything of (gone, or not reachable) sorts last. A category filter needs to
    /// know each product's category: `UPSTREAM_UNAVAILABLE` when the catalog cannot be asked,
    /// rather than a list that silently leaves products out.
    pub async fn arrange(&self, list: Vec<Favorite>, view: &ListView) -> Result<Vec<Arranged>> {
        let products: Vec<Option<Arc<Product>>> = if view.needs_products() {
            let read = self.read();
            let found = join_all(
                list.iter()
                    .map(|favorite| read.product(favorite.product_id)),
            );
            let found = found.await;
            if view.category.is_some()
                && let Some(Err(error)) = found.iter().find(|found| found.is_err())
            {
                tracing::debug!(code = %error.code(), "cannot filter a list by category");
                return Err(ServiceError::UpstreamUnavailable);
            }
            found
                .into_iter()
                .map(|found| found.ok().flatten())
                .collect()
        } else {
            vec![None; list.len()]
        };
        let mut arranged: Vec<Arranged> = list
            .into_iter()
            .zip(products)
            .filter(|(_, product)| match &view.category {
                Some(category) => product
                    .as_ref()
                    .is_some_and(|product| product.category == *category),
                None => true,
            })
            .map(|(favorite, product)| Arranged {
                place: view.order.place(&favorite, product.as_deref()),
                favorite,
            })
            .collect();
        arranged.sort_by(|a, b| view.order.compare(&a.place, &b.place));
        Ok(arranged)
    }
}
