//! Read-only share links: made and revoked by the list's owner (`shareMyFavorites`,
//! `revokeMyFavoritesShare`) or the admin (`shareFavorites`, `revokeFavoritesShare`), opened by
//! anyone who has one (`sharedFavorites`, no token needed).

use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::favorite_page::{FavoriteConnection, FavoriteOrderBy, ListPageArguments};
use super::{list_weight, session};
use crate::domain;
use crate::service::{NewShare, SharedList};

/// A share link of a list, as it is made. Put the token in your storefront's share URL
/// (`https://shop.example.com/wishlist/<token>`), and open it with `sharedFavorites(token:)`.
#[derive(Clone, Debug, SimpleObject)]
pub struct FavoritesShare {
    /// The link's secret: 256 random bits, URL-safe. Shown only here: it is stored only as a
    /// hash, so a lost one cannot be shown again (make a new share instead).
    pub token: String,
    /// When the share was made.
    pub created_at: DateTime<Utc>,
    /// Whether the shared list shows the favorites' notes.
    pub include_notes: bool,
}

impl From<NewShare> for FavoritesShare {
    fn from(share: NewShare) -> Self {
        Self {
            token: share.token,
            created_at: share.created_at,
            include_notes: share.include_notes,
        }
    }
}

/// A list as its share link shows it: the owner's display name and the favorites, nothing
/// else (no e-mail, no ids of the owner; notes only if the share was made with them).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SharedFavorites {
    /// The client's name; null for a guest's list.
    pub owner_name: Option<String>,
    #[graphql(skip)]
    list: Vec<domain::Favorite>,
}

#[ComplexObject]
impl SharedFavorites {
    /// The favorites, oldest first unless `orderBy` says otherwise.
    #[graphql(complexity = "1 + list_weight(first) * child_complexity")]
    async fn favorites(
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
        #[graphql(desc = "Only the products of this catalog category; `totalCount` counts those.")]
        category: Option<String>,
    ) -> async_graphql::Result<FavoriteConnection> {
        ListPageArguments {
            first,
            after,
            order_by,
            category,
        }
        .page_of(session(ctx)?, self.list.clone(), true)
        .await
    }
}

impl From<SharedList> for SharedFavorites {
    fn from(shared: SharedList) -> Self {
        Self {
            owner_name: shared.owner_name,
            list: shared.favorites,
        }
    }
}

#[derive(Default)]
pub struct SharesQuery;

#[Object]
impl SharesQuery {
    /// The list a share link shows. Needs no token. Null when the token is unknown, revoked,
    /// replaced by a newer share, malformed, or its list is gone: the same answer, by the same
    /// path, whatever the token. `RATE_LIMITED` past `SHARED_READS_PER_MINUTE` from one
    /// network.
    async fn shared_favorites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token of the share link.")] token: String,
    ) -> async_graphql::Result<Option<SharedFavorites>> {
        let shared = session(ctx)?.shares().open(&token).await?;
        Ok(shared.map(SharedFavorites::from))
    }
}

#[derive(Default)]
pub struct SharesMutation;

#[Object]
impl SharesMutation {
    /// A read-only share link of the caller's own list (a guest's or a client token's),
    /// replacing the one it had (whose link stops working). `FORBIDDEN` with the admin's
    /// token (see `shareFavorites`).
    async fn share_my_favorites(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Whether the shared list shows the favorites' notes.")]
        include_notes: bool,
    ) -> async_graphql::Result<FavoritesShare> {
        let share = session(ctx)?.shares().share_mine(include_notes).await?;
        Ok(share.into())
    }

    /// Revokes the caller's share link, at once and on every instance. False when there was
    /// none.
    async fn revoke_my_favorites_share(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(session(ctx)?.shares().revoke_mine().await?)
    }

    /// A read-only share link of a client's list, replacing the one it had: the admin's, or a
    /// client token's for its own client. `NOT_FOUND` for a client nobody has.
    async fn share_favorites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose list to share.")] client_id: Uuid,
        #[graphql(default, desc = "Whether the shared list shows the favorites' notes.")]
        include_notes: bool,
    ) -> async_graphql::Result<FavoritesShare> {
        let share = session(ctx)?
            .shares()
            .share_client(client_id, include_notes)
            .await?;
        Ok(share.into())
    }

    /// Revokes a client's share link, at once and on every instance. False when there was
    /// none.
    async fn revoke_favorites_share(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client whose link to revoke.")] client_id: Uuid,
    ) -> async_graphql::Result<bool> {
        Ok(session(ctx)?.shares().revoke_client(client_id).await?)
    }
}
