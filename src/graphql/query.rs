//! The query root: thin resolvers over the session's use cases.

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::pagination::{decode_client_cursor, encode_client_cursor, page_request};
use super::session;
use super::types::{Client, ClientConnection, ClientEdge, PageInfo, Product};

pub struct QueryRoot;

fn asks_for_favorites(ctx: &Context<'_>) -> bool {
    let selection = ctx.look_ahead();
    selection.field("nodes").field("favorites").exists()
        || selection
            .field("edges")
            .field("node")
            .field("favorites")
            .exists()
}

/// Reads. Every field but `__typename` and introspection needs `Authorization: Bearer <token>`.
#[Object(name = "Query")]
impl QueryRoot {
    /// The client the token acts for (a client token, or an identity provider's); null for the
    /// admin, or when that client has been deleted.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Client>> {
        Ok(session(ctx)?.clients().viewer().await?.map(Client::new))
    }

    /// A client by id; null when there is none. A client token may read its own client only.
    async fn client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client's id.")] id: Uuid,
    ) -> async_graphql::Result<Option<Client>> {
        Ok(session(ctx)?.clients().get(id).await?.map(Client::new))
    }

    /// A client by e-mail address (case-insensitive); null when there is none. Admin only.
    async fn client_by_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The e-mail address, in any case.")] email: String,
    ) -> async_graphql::Result<Option<Client>> {
        Ok(session(ctx)?
            .clients()
            .by_email(&email)
            .await?
            .map(Client::new))
    }

    /// Clients in creation order, a page at a time. Page forward with `first`/`after` or
    /// backward with `last`/`before`; sizes are 1 to 100 (default 20). Admin only.
    #[graphql(complexity = "1 + super::list_weight(first.or(last)) * child_complexity")]
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
        let session = session(ctx)?;
        let (direction, limit) = page_request(first, after, last, before, decode_client_cursor)?;
        let page = session.clients().page(direction, limit).await?;
        // When the query asks for the page's favorites, load them all with one statement now:
        // the batch loader would come to the same statement, by way of a load per client.
        let mut favorites_by_client = if asks_for_favorites(ctx) {
            let ids: Vec<Uuid> = page.items.iter().map(|client| client.id).collect();
            Some(session.favorites().of_many(&ids).await?)
        } else {
            None
        };
        let edges: Vec<ClientEdge> = page
            .items
            .into_iter()
            .map(|client| {
                let cursor = encode_client_cursor(client.id);
                let node = match favorites_by_client.as_mut() {
                    Some(by_client) => {
                        let list = by_client.remove(&client.id).unwrap_or_default();
                        Client::with_favorites(client, list)
                    }
                    None => Client::new(client),
                };
                ClientEdge { cursor, node }
            })
            .collect();
        let cursors: Vec<String> = edges.iter().map(|edge| edge.cursor.clone()).collect();
        Ok(ClientConnection {
            page_info: PageInfo::new(&cursors, page.has_previous, page.has_next),
            edges,
        })
    }

    /// A catalog product by id; null when the catalog has no such product.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A catalog product id.")] id: i32,
    ) -> async_graphql::Result<Option<Product>> {
        Ok(session(ctx)?.products().get(id).await?.map(Product::from))
    }

    /// The whole catalog.
    #[graphql(complexity = "1 + 20 * child_complexity")]
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let products = session(ctx)?.products().all().await?;
        Ok(products.iter().cloned().map(Product::from).collect())
    }
}
