//! A client's list of favorite products: the `Favorite` type and its pages, the writes
//! (`addFavorite`, `removeFavorite`) and the live feed (`favoritesChanged`).

use std::cmp::Ordering;

use async_graphql::{Context, Enum, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::clients::Client;
use super::paging::{PageInfo, decode_favorite_cursor, encode_favorite_cursor, page_size};
use super::products::Product;
use super::session;
use crate::domain::{self, Place};
use crate::service::{Arranged, ListView, Session};

/// A product in a client's list.
#[derive(Clone, Debug)]
pub struct Favorite(domain::Favorite);

impl From<&domain::Favorite> for Favorite {
    fn from(favorite: &domain::Favorite) -> Self {
        Self(favorite.clone())
    }
}

/// A product in a list (a client's or a guest's).
#[Object]
impl Favorite {
    /// Catalog id of the product.
    async fn product_id(&self) -> i32 {
        self.0.product_id
    }

    /// When the product was added to the list.
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }

    /// The shopper's note on it (up to 500 characters); null when there is none.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// The catalog's price (US dollars) when the product was added; null for favorites saved
    /// before prices were kept.
    async fn price_when_added(&self) -> Option<f64> {
        self.0.price_when_added
    }

    /// How much cheaper the product is now than when it was added, to the cent; null when it
    /// is not cheaper, or when either price is not known (a favorite saved before prices were
    /// kept, a product gone from the catalog, a catalog that cannot be asked).
    async fn price_drop(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        let product = session(ctx)?.products().get(self.0.product_id).await;
        let price_now = product.ok().flatten().map(|product| product.price);
        Ok(self.0.price_drop(price_now))
    }

    /// False when the catalog no longer has the product: the favorite stays in the list (with
    /// `product: null`) so that a storefront can say "no longer available" and offer to remove
    /// it. True while the catalog cannot be asked (`product` then carries the error): an outage
    /// does not mark a list's products gone.
    async fn available(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let product = session(ctx)?.products().get(self.0.product_id).await;
        Ok(!matches!(product, Ok(None)))
    }

    /// The product's details from the catalog; null (with an error at this path) when the
    /// catalog cannot be reached, or null when it no longer has the product (`available`).
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let product = session(ctx)?.products().get(self.0.product_id).await?;
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

/// A page of a list. Cursors are made only for the fields that show them (`edges`,
/// `pageInfo`): most queries ask for `nodes` alone.
pub struct FavoriteConnection {
    page: Vec<Favorite>,
    /// The places of the page's favorites in `order`, for their cursors.
    places: Vec<Place>,
    order: domain::FavoriteOrder,
    has_previous: bool,
    has_next: bool,
    total_count: u64,
}

/// A page of a list, in the order asked for (oldest first by default).
#[Object]
impl FavoriteConnection {
    /// The favorites of this page with their cursors.
    async fn edges(&self) -> Vec<FavoriteEdge> {
        self.page
            .iter()
            .zip(&self.places)
            .map(|(favorite, place)| FavoriteEdge {
                cursor: encode_favorite_cursor(self.order, place),
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

    /// Number of favorites in the whole list (with `category`, in the category).
    async fn total_count(&self) -> u64 {
        self.total_count
    }
}

impl FavoriteConnection {
    fn info(&self) -> PageInfo {
        let cursor = |place: &Place| encode_favorite_cursor(self.order, place);
        PageInfo::new(
            self.places.first().map(cursor),
            self.places.last().map(cursor),
            self.has_previous,
            self.has_next,
        )
    }
}

/// The orders a list can be read in. Products the catalog cannot price (or name) come last in
/// every order; ties break by product id.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[graphql(name = "FavoriteOrder", remote = "domain::FavoriteOrder")]
pub enum FavoriteOrderBy {
    /// Oldest first (the list's own order).
    #[default]
    AddedAtAsc,
    /// Newest first.
    AddedAtDesc,
    /// Cheapest first, at the catalog's price now.
    PriceAsc,
    /// Dearest first, at the catalog's price now.
    PriceDesc,
    /// By title, A to Z, without regard to case.
    TitleAsc,
}

/// The arguments of every paged read of a list.
pub struct ListPageArguments {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub order_by: FavoriteOrderBy,
    pub category: Option<String>,
}

impl ListPageArguments {
    /// A page of `list` as these arguments ask: `BAD_USER_INPUT` for a page size out of
    /// range, or a cursor that is malformed or from another order.
    pub async fn page_of(
        self,
        session: &Session,
        list: Vec<domain::Favorite>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let limit = page_size(self.first, "first")?;
        let order = domain::FavoriteOrder::from(self.order_by);
        let after = self
            .after
            .as_deref()
            .map(|cursor| decode_favorite_cursor(order, cursor))
            .transpose()?;
        let view = ListView {
            order,
            category: self.category,
        };
        let arranged = session.arrange(list, &view).await?;
        Ok(favorite_page(arranged, order, after, limit))
    }
}

/// The first page of a list in its own order (what writes and feeds answer with).
pub fn first_page(list: Vec<domain::Favorite>, limit: u64) -> FavoriteConnection {
    let order = domain::FavoriteOrder::AddedAtAsc;
    let arranged = list
        .into_iter()
        .map(|favorite| Arranged {
            place: order.place(&favorite, None),
            favorite,
        })
        .collect();
    favorite_page(arranged, order, None, limit)
}

/// Pages an arranged list in memory: a list is bounded (`MAX_FAVORITES_PER_CLIENT`), and
/// having it whole gives `totalCount` without another statement.
fn favorite_page(
    list: Vec<Arranged>,
    order: domain::FavoriteOrder,
    after: Option<Place>,
    limit: u64,
) -> FavoriteConnection {
    let start = match &after {
        Some(after) => {
            list.partition_point(|item| order.compare(&item.place, after) != Ordering::Greater)
        }
        None => 0,
    };
    let total = list.len();
    let end = start.saturating_add(limit as usize).min(total);
    let (page, places) = list
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|item| (Favorite(item.favorite), item.place))
        .unzip();
    FavoriteConnection {
        page,
        places,
        order,
        has_previous: start > 0,
        has_next: end < total,
        total_count: total as u64,
    }
}

#[derive(Default)]
pub struct FavoritesMutation;

#[Object]
impl FavoritesMutation {
    /// Adds a catalog product to a client's list, keeping the catalog's price now
    /// (`priceWhenAdded`). Adding one already there keeps its `addedAt` and price, and sets its
    /// note if `note` is given. `PRODUCT_NOT_FOUND` when the catalog has no such product;
    /// `UPSTREAM_UNAVAILABLE` when the catalog cannot be asked; `FAVORITES_LIMIT_REACHED` when
    /// the list is full; `BAD_USER_INPUT` for a note that breaks its rules. In each case
    /// nothing is written.
    async fn add_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to add to.")] client_id: Uuid,
        #[graphql(desc = "A product id of the catalog.")] product_id: i32,
        #[graphql(
            desc = "A note to keep with it (up to 500 characters once trimmed, no control characters); left out, a note the favorite has stays."
        )]
        note: Option<String>,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .favorites()
            .add(client_id, product_id, note.as_deref())
            .await?;
        Ok(Client::new(client))
    }

    /// Sets the note on a product of a client's list; null (or only spaces) clears it.
    /// `BAD_USER_INPUT` for a note that breaks its rules; `NOT_FOUND` when the list does not
    /// hold the product. Setting the note it has already changes nothing.
    async fn set_favorite_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list holds the product.")] client_id: Uuid,
        #[graphql(desc = "The product in the list.")] product_id: i32,
        #[graphql(
            desc = "The note: up to 500 characters once trimmed, no control characters (line breaks included). Null, or only spaces, clears it."
        )]
        note: Option<String>,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .favorites()
            .set_note(client_id, product_id, note.as_deref())
            .await?;
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
        Ok(changes.map(move |list| first_page(list, limit)))
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
                note: None,
                price_when_added: None,
            })
            .collect()
    }

    #[test]
    fn pages_walk_the_whole_list() {
        let order = domain::FavoriteOrder::AddedAtAsc;
        let first = first_page(list(5), 2);
        assert_eq!(first.total_count, 5);
        assert_eq!(
            first
                .page
                .iter()
                .map(|f| f.0.product_id)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        let info = first.info();
        assert!(info.has_next_page && !info.has_previous_page);
        let after = decode_favorite_cursor(order, info.end_cursor.as_deref().unwrap()).unwrap();
        let arranged = list(5)
            .into_iter()
            .map(|favorite| Arranged {
                place: order.place(&favorite, None),
                favorite,
            })
            .collect();
        let second = favorite_page(arranged, order, Some(after), 10);
        assert_eq!(
            second
                .page
                .iter()
                .map(|f| f.0.product_id)
                .collect::<Vec<_>>(),
            [3, 4, 5]
        );
        let info = second.info();
        assert!(!info.has_next_page && info.has_previous_page);
    }
}
