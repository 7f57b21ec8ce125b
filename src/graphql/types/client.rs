//! A client and their favorites, as the schema shows them.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
#[cfg(test)]
use uuid::Uuid;

use super::Product;
use super::connection::{FavoriteConnection, FavoriteEdge, PageInfo};
use crate::domain;
use crate::graphql::pagination::{
    FavoriteKey, decode_favorite_cursor, encode_favorite_cursor, page_size,
};
use crate::graphql::session;

/// A client of the store and their list of favorite products.
#[derive(Clone, Debug)]
pub struct Client {
    row: domain::Client,
    /// The favorites, when the parent resolver already loaded them for a whole page.
    prefetched_favorites: Option<Vec<domain::Favorite>>,
}

impl Client {
    pub fn new(row: domain::Client) -> Self {
        Self {
            row,
            prefetched_favorites: None,
        }
    }

    pub fn with_favorites(row: domain::Client, favorites: Vec<domain::Favorite>) -> Self {
        Self {
            row,
            prefetched_favorites: Some(favorites),
        }
    }
}

/// A customer of the store, with one list of favorite products.
#[Object]
impl Client {
    /// Unique id (a UUIDv7: ids sort by creation time).
    async fn id(&self) -> uuid::Uuid {
        self.row.id
    }

    /// Display name, trimmed, 1 to 100 characters.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// E-mail address, trimmed and lower-cased; unique among clients.
    async fn email(&self) -> &str {
        &self.row.email
    }

    /// When the client was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When the client's name or e-mail last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }

    /// The client's favorite products, oldest first (by time added, then product id).
    #[graphql(complexity = "1 + crate::graphql::list_weight(first) * child_complexity")]
    async fn favorites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the favorite to start after.")] after: Option<String>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let limit = page_size(first, "first")?;
        let after = after.as_deref().map(decode_favorite_cursor).transpose()?;
        let list = match &self.prefetched_favorites {
            Some(list) => list.clone(),
            None => session(ctx)?.favorites().of(self.row.id).await?,
        };
        Ok(favorite_page(list, after, limit))
    }
}

/// Pages a client's list in memory: a list is bounded by the catalog's size, and having it
/// whole gives `totalCount` without another statement.
fn favorite_page(
    list: Vec<domain::Favorite>,
    after: Option<FavoriteKey>,
    limit: u64,
) -> FavoriteConnection {
    let total_count = list.len() as u64;
    let key = domain::Favorite::position;
    let start = match after {
        Some(after) => list.partition_point(|favorite| key(favorite) <= after),
        None => 0,
    };
    let end = start.saturating_add(limit as usize).min(list.len());
    let edges: Vec<FavoriteEdge> = list[start..end]
        .iter()
        .map(|favorite| FavoriteEdge {
            cursor: encode_favorite_cursor(key(favorite)),
            node: Favorite::from(favorite),
        })
        .collect();
    let cursors: Vec<String> = edges.iter().map(|edge| edge.cursor.clone()).collect();
    FavoriteConnection {
        nodes: edges.iter().map(|edge| edge.node.clone()).collect(),
        page_info: PageInfo::new(&cursors, start > 0, end < list.len()),
        edges,
        total_count,
    }
}

/// A product in a client's list.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Favorite {
    /// Catalog id of the product.
    pub product_id: i32,
    /// When the product was added to the list.
    pub added_at: DateTime<Utc>,
}

impl From<&domain::Favorite> for Favorite {
    fn from(favorite: &domain::Favorite) -> Self {
        Self {
            product_id: favorite.product_id,
            added_at: favorite.added_at,
        }
    }
}

#[ComplexObject]
impl Favorite {
    /// The product's details from the catalog; null (with an error at this path) when the
    /// catalog cannot be reached, or null when it no longer has the product.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let product = session(ctx)?.products().get(self.product_id).await?;
        Ok(product.map(Product::from))
    }
}

/// A new client.
#[derive(Debug, InputObject)]
pub struct CreateClientInput {
    /// Display name; trimmed, 1 to 100 characters.
    pub name: String,
    /// E-mail address; trimmed, lower-cased, unique.
    pub email: String,
}

/// Changes to a client; absent (or null) fields stay as they are.
#[derive(Debug, InputObject)]
pub struct UpdateClientInput {
    /// New display name; trimmed, 1 to 100 characters.
    pub name: Option<String>,
    /// New e-mail address; trimmed, lower-cased, unique.
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: i32) -> Vec<domain::Favorite> {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        (1..=n)
            .map(|product_id| domain::Favorite {
                client_id: Uuid::nil(),
                product_id,
                added_at: at,
            })
            .collect()
    }

    #[test]
    fn pages_walk_the_whole_list() {
        let first = favorite_page(list(5), None, 2);
        assert_eq!(first.total_count, 5);
        assert_eq!(
            first.nodes.iter().map(|f| f.product_id).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(first.page_info.has_next_page && !first.page_info.has_previous_page);
        let after = decode_favorite_cursor(first.page_info.end_cursor.as_deref().unwrap()).unwrap();
        let second = favorite_page(list(5), Some(after), 10);
        assert_eq!(
            second
                .nodes
                .iter()
                .map(|f| f.product_id)
                .collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert!(!second.page_info.has_next_page && second.page_info.has_previous_page);
    }
}
