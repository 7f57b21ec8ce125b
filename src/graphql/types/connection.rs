//! Relay connections: pages of clients and of favorites.

use async_graphql::{Context, Object, SimpleObject};

use super::{Client, Favorite};
use crate::graphql::session;

/// Where a page sits in its list (Relay cursor connections).
#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    /// Whether there are items after this page.
    pub has_next_page: bool,
    /// Whether there are items before this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page, if any.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page, if any.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    pub fn new(cursors: &[String], has_previous_page: bool, has_next_page: bool) -> Self {
        Self {
            has_next_page,
            has_previous_page,
            start_cursor: cursors.first().cloned(),
            end_cursor: cursors.last().cloned(),
        }
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

/// A page of clients, in creation order.
pub struct ClientConnection {
    pub edges: Vec<ClientEdge>,
    pub page_info: PageInfo,
}

/// A page of clients, in creation order.
#[Object]
impl ClientConnection {
    /// The clients of this page with their cursors.
    async fn edges(&self) -> &[ClientEdge] {
        &self.edges
    }

    /// The clients of this page.
    async fn nodes(&self) -> Vec<&Client> {
        self.edges.iter().map(|edge| &edge.node).collect()
    }

    /// Paging information.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// Number of clients in all pages. Costs one count query, made only when asked for.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(session(ctx)?.clients().count().await?)
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

/// A page of a client's favorites, oldest first.
#[derive(Clone, Debug, SimpleObject)]
pub struct FavoriteConnection {
    /// The favorites of this page with their cursors.
    pub edges: Vec<FavoriteEdge>,
    /// The favorites of this page.
    pub nodes: Vec<Favorite>,
    /// Paging information.
    pub page_info: PageInfo,
    /// Number of favorites in the client's whole list.
    pub total_count: u64,
}
