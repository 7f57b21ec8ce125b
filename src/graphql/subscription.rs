//! Live updates: `favoritesChanged`, served over WebSocket at `/graphql/ws`.

use async_graphql::{Context, Subscription};
use futures::Stream;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::error::ApiError;
use super::guards::AdminGuard;
use super::loaders::RequestLoaders;
use super::types::Client;
use crate::db::changes::{ChangeFeed, ChangeKind};
use crate::db::repositories::clients;

pub struct SubscriptionRoot;

/// Live updates, over WebSocket at `/graphql/ws` (graphql-transport-ws, or the older
/// graphql-ws). Send the token in `connection_init`: `{"Authorization": "Bearer <token>"}`.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The client, each time a product is added to or removed from their list, through any
    /// instance of the service. Ends when the client is deleted. `NOT_FOUND` if there is no
    /// such client.
    #[graphql(guard = "AdminGuard")]
    async fn favorites_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client to watch.")] client_id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = Client> + use<>> {
        let db = ctx.data::<DatabaseConnection>()?.clone();
        let loaders = ctx.data::<RequestLoaders>()?.clone();
        // Listening before the look-up, so that a change made in between is not missed.
        let mut changes = ctx.data::<ChangeFeed>()?.subscribe();
        clients::find(&db, client_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(ApiError::client_not_found)?;
        Ok(async_stream::stream! {
            loop {
                match changes.recv().await {
                    Ok(change) if change.client_id != client_id => continue,
                    Ok(change) if change.kind == ChangeKind::Deleted => break,
                    // Missed changes are covered by sending the list as it is now.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
                match clients::find(&db, client_id).await {
                    Ok(Some(client)) => {
                        loaders.catalog_budget.renew();
                        yield Client::new(client);
                    }
                    Ok(None) => break,
                    Err(error) => {
                        // The next change tries again; the subscriber keeps its place.
                        tracing::warn!(error = %error, "cannot read a changed client");
                    }
                }
            }
        })
    }
}
