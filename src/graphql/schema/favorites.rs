//! A client's list of favorite products: the `Favorite` type (its pages: `favorite_page`), the
//! writes (`addFavorite`, `removeFavorite`, `setFavoriteNote`) and the live feeds.

use async_graphql::{Context, Object, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::clients::Client;
use super::favorite_page::{FavoriteConnection, first_page};
use super::paging::page_size;
use super::products::Product;
use super::session;
use std::sync::Arc;

use crate::domain;
use crate::service::ServiceError;

/// A product in a client's list.
#[derive(Clone, Debug)]
pub struct Favorite {
    pub(super) favorite: domain::Favorite,
    /// Read through a share link: its product is shown to whoever holds the link.
    pub(super) through_share: bool,
}

impl Favorite {
    async fn product_of(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Result<Option<Arc<domain::Product>>, ServiceError>> {
        let products = session(ctx)?.products();
        let id = self.favorite.product_id;
        Ok(if self.through_share {
            products.of_shared_list(id).await
        } else {
            products.get(id).await
        })
    }
}

/// A product in a list (a client's or a guest's).
#[Object]
impl Favorite {
    /// Catalog id of the product.
    async fn product_id(&self) -> i32 {
        self.favorite.product_id
    }

    /// When the product was added to the list.
    async fn added_at(&self) -> DateTime<Utc> {
        self.favorite.added_at
    }

    /// The shopper's note on it (up to 500 characters); null when there is none.
    async fn note(&self) -> Option<&str> {
        self.favorite.note.as_deref()
    }

    /// The catalog's price (US dollars) when the product was added; null for favorites saved
    /// before prices were kept.
    async fn price_when_added(&self) -> Option<f64> {
        self.favorite.price_when_added
    }

    /// How much cheaper the product is now than when it was added, to the cent; null when it
    /// is not cheaper, or when either price is not known (a favorite saved before prices were
    /// kept, a product gone from the catalog, a catalog that cannot be asked).
    async fn price_drop(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        let product = self.product_of(ctx).await?;
        let price_now = product.ok().flatten().map(|product| product.price);
        Ok(self.favorite.price_drop(price_now))
    }

    /// False when the catalog no longer has the product: the favorite stays in the list (with
    /// `product: null`) so that a storefront can say "no longer available" and offer to remove
    /// it. True while the catalog cannot be asked (`product` then carries the error): an outage
    /// does not mark a list's products gone.
    async fn available(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let product = self.product_of(ctx).await?;
        Ok(!matches!(product, Ok(None)))
    }

    /// The product's details from the catalog; null (with an error at this path) when the
    /// catalog cannot be reached, or null when it no longer has the product (`available`).
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let product = self.product_of(ctx).await??;
        Ok(product.map(Product::from))
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
