//! A client's list of favorite products: the `Favorite` type and its pages, the writes
//! (`addFavorite`, `removeFavorite`) and the live feed (`favoritesChanged`).

use async_graphql::{ComplexObject, Context, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::clients::Client;
use super::paging::{FavoriteKey, PageInfo, encode_favorite_cursor, page_size};
use super::products::Product;
use super::session;
use crate::domain;

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

/// A favorite and its cursor.
#[derive(Clone, Debug, SimpleObject)]
pub struct FavoriteEdge {
    /// Opaque cursor for `after`.
    pub cursor: String,
    /// The favorite.
    pub node: Favorite,
}

/// A page of a client's favorites, oldest first. Cursors are made only for the fields that
/// show them (`edges`, `pageInfo`): most queries ask for `nodes` alone.
pub struct FavoriteConnection {
    page: Vec<Favorite>,
    has_previous: bool,
    has_next: bool,
    total_count: u64,
}

/// A page of a client's favorites, oldest first.
#[Object]
impl FavoriteConnection {
    /// The favorites of this page with their cursors.
    async fn edges(&self) -> Vec<FavoriteEdge> {
        self.page
            .iter()
            .map(|favorite| FavoriteEdge {
                cursor: favorite.cursor(),
                node: favorite.clone(),
            })
            .collect()
    }

    /// The favorites of this page.
    async fn nodes(&self) -> &[Favorite] {
        &self.page
    }

    /// Paging information.
    async fn page_info(&self) -> PageInfo {
        self.info()
    }

    /// Number of favorites in the client's whole list.
    async fn total_count(&self) -> u64 {
        self.total_count
    }
}

impl FavoriteConnection {
    fn info(&self) -> PageInfo {
        PageInfo::new(
            self.page.first().map(Favorite::cursor),
            self.page.last().map(Favorite::cursor),
            self.has_previous,
            self.has_next,
        )
    }
}

impl Favorite {
    fn cursor(&self) -> String {
        encode_favorite_cursor((self.added_at, self.product_id))
    }
}

/// Pages a client's list in memory: a list is bounded (`MAX_FAVORITES_PER_CLIENT`), and having
/// it whole gives `totalCount` without another statement.
pub fn favorite_page(
    list: &[domain::Favorite],
    after: Option<FavoriteKey>,
    limit: u64,
) -> FavoriteConnection {
    let key = domain::Favorite::position;
    let start = match after {
        Some(after) => list.partition_point(|favorite| key(favorite) <= after),
        None => 0,
    };
    let end = start.saturating_add(limit as usize).min(list.len());
    FavoriteConnection {
        page: list[start..end].iter().map(Favorite::from).collect(),
        has_previous: start > 0,
        has_next: end < list.len(),
        total_count: list.len() as u64,
    }
}

#[derive(Default)]
pub struct FavoritesMutation;

#[Object]
impl FavoritesMutation {
    /// Adds a catalog product to a client's list. Adding one already there changes nothing.
    /// `PRODUCT_NOT_FOUND` when the catalog has no such product; `UPSTREAM_UNAVAILABLE` when the
    /// catalog cannot be asked; `FAVORITES_LIMIT_REACHED` when the list is full. In each case
    /// nothing is written.
    async fn add_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to add to.")] client_id: Uuid,
        #[graphql(desc = "A product id of the catalog.")] product_id: i32,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?.favorites().add(client_id, product_id).await?;
        Ok(Client::new(client))
    }

    /// Removes a product from a client's list. Removing one that is not there changes nothing.
    async fn remove_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to remove from.")] client_id: Uuid,
        #[graphql(desc = "The product to remove.")] product_id: i32,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .favorites()
            .remove(client_id, product_id)
            .await?;
        Ok(Client::new(client))
    }
}

#[derive(Default)]
pub struct SubscriptionRoot;

/// Live updates, over WebSocket at `/graphql/ws` (graphql-transport-ws, or the older
/// graphql-ws). Send the token in `connection_init`: `{"Authorization": "Bearer <token>"}`.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The client, each time a product is added to or removed from their list, through any
    /// instance of the service. Ends when the client is deleted. `NOT_FOUND` if there is no
    /// such client. A client token may watch its own client only. To resume after a lost
    /// connection, pass the last `favoritesVersion` received as `after`: if the list changed
    /// since, the client is sent at once, then each change as before.
    async fn favorites_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to watch.")] client_id: Uuid,
        #[graphql(
            desc = "The last `favoritesVersion` seen: the current list is sent at once if it has changed since. `BAD_USER_INPUT` if it is not a version this API gave out."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = Client> + use<>> {
        let changes = session(ctx)?
            .favorites()
            .watch(client_id, after.as_deref())
            .await?;
        Ok(changes.map(Client::new))
    }

    /// The caller's own list (a guest's or a client token's), its first page each time it
    /// changes, through any instance. Ends when the guest's list is merged into a client's, or
    /// the client is deleted. `FORBIDDEN` with the admin's token. After a lost connection,
    /// read `myFavorites` again: changes made meanwhile are not replayed.
    async fn my_favorites_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = FavoriteConnection> + use<>> {
        let limit = page_size(first, "first")?;
        let changes = session(ctx)?.my_favorites().watch().await?;
        Ok(changes.map(move |list| favorite_page(&list, None, limit)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::paging::decode_favorite_cursor;
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
        let first = favorite_page(&list(5), None, 2);
        assert_eq!(first.total_count, 5);
        assert_eq!(
            first.page.iter().map(|f| f.product_id).collect::<Vec<_>>(),
            [1, 2]
        );
        let info = first.info();
        assert!(info.has_next_page && !info.has_previous_page);
        let after = decode_favorite_cursor(info.end_cursor.as_deref().unwrap()).unwrap();
        let second = favorite_page(&list(5), Some(after), 10);
        assert_eq!(
            second.page.iter().map(|f| f.product_id).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        let info = second.info();
        assert!(!info.has_next_page && info.has_previous_page);
    }
}
