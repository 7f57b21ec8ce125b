//! Clients: the `Client` type and its pages, the reads (`viewer`, `client`, `clientByEmail`,
//! `clients`) and the writes (`createClient`, `updateClient`, `deleteClient`).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::favorite_page::{FavoriteConnection, FavoriteOrderBy, ListPageArguments};
use super::paging::{PageInfo, decode_client_cursor, encode_client_cursor, page_request};
use super::{list_weight, session};
use crate::domain;

/// A client of the store and their list of favorite products.
#[derive(Clone, Debug)]
pub struct Client(domain::Client);

impl Client {
    pub fn new(row: domain::Client) -> Self {
        Self(row)
    }
}

/// A customer of the store, with one list of favorite products.
#[Object]
impl Client {
    /// Unique id (a UUIDv7: ids sort by creation time).
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// Display name, trimmed, 1 to 100 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address, trimmed and lower-cased; unique among clients.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// When the client was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the client's name or e-mail last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The version of the client's list: an opaque string that changes whenever the list
    /// changes. Pass the last one seen as `favoritesChanged(after:)` to resume a feed without
    /// missing a change.
    async fn favorites_version(&self) -> String {
        self.0.favorites_version.to_string()
    }

    /// The client's favorite products, oldest first (by time added, then product id) unless
    /// `orderBy` says otherwise.
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
        #[graphql(
            desc = "Only the products of this catalog category (as the catalog spells it, e.g. \"electronics\"); `totalCount` counts those."
        )]
        category: Option<String>,
    ) -> async_graphql::Result<FavoriteConnection> {
        let session = session(ctx)?;
        let list = session.favorites().of(self.0.id).await?;
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

/// A client and its cursor.
#[derive(Clone, Debug, SimpleObject)]
pub struct ClientEdge {
    /// Opaque cursor for `after`/`before`.
    pub cursor: String,
    /// The client.
    pub node: Client,
}

/// A page of clients, in creation order. Cursors are made only for the fields that show them.
pub struct ClientConnection {
    page: Vec<Client>,
    has_previous: bool,
    has_next: bool,
}

/// A page of clients, in creation order.
#[Object]
impl ClientConnection {
    /// The clients of this page with their cursors.
    async fn edges(&self) -> Vec<ClientEdge> {
        self.page
            .iter()
            .map(|client| ClientEdge {
                cursor: encode_client_cursor(client.0.id),
                node: client.clone(),
            })
            .collect()
    }

    /// The clients of this page.
    async fn nodes(&self) -> &[Client] {
        &self.page
    }

    /// Paging information.
    async fn page_info(&self) -> PageInfo {
        let cursor = |client: &Client| encode_client_cursor(client.0.id);
        PageInfo::new(
            self.page.first().map(cursor),
            self.page.last().map(cursor),
            self.has_previous,
            self.has_next,
        )
    }

    /// Number of clients in all pages. Costs one count query, made only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(session(ctx)?.clients().count().await?)
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

/// Whether a `clients` field goes on to its clients' favorites.
fn asks_for_favorites(ctx: &Context<'_>) -> bool {
    let page = ctx.look_ahead();
    page.field("nodes").field("favorites").exists()
        || page
            .field("edges")
            .field("node")
            .field("favorites")
            .exists()
}

#[derive(Default)]
pub struct ClientsQuery;

#[Object]
impl ClientsQuery {
    /// The client the token acts for (a client token, or an identity provider's); null for the
    /// admin, or when that client has been deleted.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Client>> {
        let its_favorites = ctx.look_ahead().field("favorites").exists();
        Ok(session(ctx)?
            .clients()
            .viewer(its_favorites)
            .await?
            .map(Client))
    }

    /// A client by id; null when there is none. A client token may read its own client only.
    async fn client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client's id.")] id: Uuid,
    ) -> async_graphql::Result<Option<Client>> {
        let its_favorites = ctx.look_ahead().field("favorites").exists();
        Ok(session(ctx)?
            .clients()
            .get(id, its_favorites)
            .await?
            .map(Client))
    }

    /// A client by e-mail address (case-insensitive); null when there is none. Admin only.
    async fn client_by_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The e-mail address, in any case.")] email: String,
    ) -> async_graphql::Result<Option<Client>> {
        Ok(session(ctx)?.clients().by_email(&email).await?.map(Client))
    }

    /// Clients in creation order, a page at a time. Page forward with `first`/`after` or
    /// backward with `last`/`before`; sizes are 1 to 100 (default 20). Admin only.
    #[graphql(complexity = "1 + list_weight(first.or(last)) * child_complexity")]
    async fn clients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size when paging forward, 1 to 100 (default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Cursor of the client to start after.")] after: Option<String>,
        #[graphql(desc = "Page size when paging backward, 1 to 100 (default 20).")] last: Option<
            i32,
        >,
        #[graphql(desc = "Cursor of the client to end before.")] before: Option<String>,
    ) -> async_graphql::Result<ClientConnection> {
        let (direction, limit) = page_request(first, after, last, before, decode_client_cursor)?;
        let page = session(ctx)?
            .clients()
            .page(direction, limit, asks_for_favorites(ctx))
            .await?;
        Ok(ClientConnection {
            page: page.items.into_iter().map(Client).collect(),
            has_previous: page.has_previous,
            has_next: page.has_next,
        })
    }
}

#[derive(Default)]
pub struct ClientsMutation;

#[Object]
impl ClientsMutation {
    /// Creates a client. `EMAIL_TAKEN` when another client has the address. Admin only.
    async fn create_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new client's name and e-mail.")] input: CreateClientInput,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .clients()
            .create(&input.name, &input.email)
            .await?;
        Ok(Client(client))
    }

    /// Changes a client's name and/or e-mail; absent fields stay as they are. A client token may
    /// rename its own client, and not change its e-mail.
    async fn update_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to change.")] id: Uuid,
        #[graphql(desc = "The fields to change; those left out keep their value.")]
        input: UpdateClientInput,
    ) -> async_graphql::Result<Client> {
        let client = session(ctx)?
            .clients()
            .update(id, input.name.as_deref(), input.email.as_deref())
            .await?;
        Ok(Client(client))
    }

    /// Deletes a client and their list; returns the deleted id. Admin only.
    async fn delete_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to delete.")] id: Uuid,
    ) -> async_graphql::Result<Uuid> {
        Ok(session(ctx)?.clients().delete(id).await?)
    }
}
