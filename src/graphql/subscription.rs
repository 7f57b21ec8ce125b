//! The subscription root, served over WebSocket at `/graphql/ws`.

use async_graphql::{Context, Subscription};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::session;
use super::types::Client;

pub struct SubscriptionRoot;

/// Live updates, over WebSocket at `/graphql/ws` (graphql-transport-ws, or the older
/// graphql-ws). Send the token in `connection_init`: `{"Authorization": "Bearer <token>"}`.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The client, each time a product is added to or removed from their list, through any
    /// instance of the service. Ends when the client is deleted. `NOT_FOUND` if there is no
    /// such client. A client token may watch its own client only.
    async fn favorites_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to watch.")] client_id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = Client> + use<>> {
        let changes = session(ctx)?.favorites().watch(client_id).await?;
        Ok(changes.map(Client::new))
    }
}
