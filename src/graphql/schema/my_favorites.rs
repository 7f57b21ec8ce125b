//! The caller's own list, for storefronts: a guest session (`startGuestSession`), the "my"
//! operations that work the same with a guest's and a client's token, and the merge of a guest's
//! list into the client's at login (`mergeGuestFavorites`).

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::favorite_page::{FavoriteConnection, FavoriteOrderBy, ListPageArguments, first_page};
use super::paging::{DEFAULT_PAGE_SIZE, page_size};
use super::{list_weight, session};
use crate::graphql::pipeline::AnswerExtensions;

/// The `extensions` entry of a `mergeGuestFavorites` answer: how many of the guest's favorites
/// the client's cap left out.
pub const LEFT_OUT_EXTENSION: &str = "guestFavoritesLeftOut";

/// A guest shopper's token: send it as `Authorization: Bearer <accessToken>` to keep a list
/// before logging in.
#[derive(Clone, Debug, SimpleObject)]
pub struct GuestSession {
    /// The JWT; it acts on the guest's own list (`myFavorites`...) and reads the catalog.
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// When the token stops being accepted (`GUEST_TOKEN_EXPIRE_DAYS` after it was issued).
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct MyFavoritesQuery;

#[Object]
impl MyFavoritesQuery {
    /// The caller's own list, oldest first: a guest's (empty until its first favorite) or a
    /// client token's. `FORBIDDEN` with the admin's token (the admin has no list);
    /// `UNAUTHENTICATED` with a guest token whose list was merged into a client's.
    #[graphql(complexity = "1 + list_weight(first) * child_complexity")]
    async fn my_favorites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(
            desc = "Cursor of the favorite to start after (from a page read in the same `orderBy`)."
        )]
        after: Option<String>,
        #[graphql(
            default,
            desc = "The order to read the list in (default oldest first)."
        )]
        order_by: FavoriteOrderBy,
        #[graphql(
            desc = "Only the products of this catalog category (as the catalog spells it, e.g. \"electronics\"); `totalCount` counts those."
        )]
        category: Option<String>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let session = session(ctx)?;
        let list = session.my_favorites().list().await?;
        ListPageArguments {
            first,
            after,
            order_by,
            category,
        }
        .page_of(session, list, false)
        .await
    }
}

#[derive(Default)]
pub struct MyFavoritesMutation;

#[Object]
impl MyFavoritesMutation {
    /// A token for a new guest shopper, who can keep a list before logging in. Needs no token.
    /// Nothing is stored until the guest's first favorite. `RATE_LIMITED` past
    /// `GUEST_SESSIONS_PER_MINUTE` from one network.
    async fn start_guest_session(&self, ctx: &Context<'_>) -> async_graphql::Result<GuestSession> {
        let token = session(ctx)?.tokens().start_guest_session()?;
        Ok(GuestSession {
            access_token: token.token,
            token_type: "Bearer".to_owned(),
            expires_at: token.expires_at,
        })
    }

    /// Adds a catalog product to the caller's own list (a guest's or a client token's) and
    /// answers the list's first page. The rules of `addFavorite`: `PRODUCT_NOT_FOUND`,
    /// `UPSTREAM_UNAVAILABLE`, `FAVORITES_LIMIT_REACHED`, `BAD_USER_INPUT` write nothing;
    /// adding a product already there keeps its `addedAt` and price, and sets its note if
    /// `note` is given. `FORBIDDEN` with the admin's token.
    async fn add_my_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A product id of the catalog.")] product_id: i32,
        #[graphql(
            desc = "A note to keep with it (up to 500 characters once trimmed, no control characters); left out, a note the favorite has stays."
        )]
        note: Option<String>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let list = session(ctx)?
            .my_favorites()
            .add(product_id, note.as_deref())
            .await?;
        Ok(first_page(list, DEFAULT_PAGE_SIZE))
    }

    /// Sets the note on a product of the caller's own list (a guest's or a client token's)
    /// and answers the list's first page. The rules of `setFavoriteNote`. `FORBIDDEN` with the
    /// admin's token.
    async fn set_my_favorite_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product in the list.")] product_id: i32,
        #[graphql(
            desc = "The note: up to 500 characters once trimmed, no control characters (line breaks included). Null, or only spaces, clears it."
        )]
        note: Option<String>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let list = session(ctx)?
            .my_favorites()
            .set_note(product_id, note.as_deref())
            .await?;
        Ok(first_page(list, DEFAULT_PAGE_SIZE))
    }

    /// Removes a product from the caller's own list and answers the list's first page.
    /// Removing one that is not there changes nothing. `FORBIDDEN` with the admin's token.
    async fn remove_my_favorite(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product to remove.")] product_id: i32,
    ) -> async_graphql::Result<FavoriteConnection> {
        let list = session(ctx)?.my_favorites().remove(product_id).await?;
        Ok(first_page(list, DEFAULT_PAGE_SIZE))
    }

    /// Moves a guest's list into a client's, at login: with the shopper's client token (or the
    /// admin's, naming `clientId`). The union of both lists, oldest first; a product in both
    /// keeps the earlier `addedAt`. Past `MAX_FAVORITES_PER_CLIENT`, the client's own favorites
    /// stay and the guest's earliest fill the room: the answer's
    /// `extensions.guestFavoritesLeftOut` says how many were left out (0 when none). One
    /// transaction; the guest's list is gone afterwards and its token acts on nothing. Merging
    /// the same guest again (or one without a list) changes nothing and answers the client's
    /// list. `BAD_USER_INPUT` when `guestToken` is not a valid guest token; nothing is written.
    async fn merge_guest_favorites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The guest's token, from `startGuestSession`.")] guest_token: String,
        #[graphql(
            desc = "The client to merge into: the admin's token must name it; a client token may leave it out (its own client)."
        )]
        client_id: Option<Uuid>,
        #[graphql(desc = "Page size of the answer, 1 to 100 (default 20).")] first: Option<i32>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let limit = page_size(first, "first")?;
        let (list, report) = session(ctx)?
            .my_favorites()
            .merge_guest(&guest_token, client_id)
            .await?;
        AnswerExtensions::add(ctx, LEFT_OUT_EXTENSION, report.left_out);
        Ok(first_page(list, limit))
    }
}
