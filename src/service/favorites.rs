//! A client's list of favorite products: reading it, adding and removing (each checked against
//! the catalog and the client first), and watching it change.

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::policy::Action;
use super::{Result, ServiceError, Session};
use crate::db::changes::{ChangeKind, FeedEvent};
use crate::db::repositories::favorites;
use crate::domain::{Client, Favorite, FavoritesVersion};

pub struct Favorites<'a> {
    session: &'a Session,
}

impl<'a> Favorites<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// A client's whole list, oldest first. The lists of a page of clients are one statement.
    pub async fn of(&self, client_id: Uuid) -> Result<Vec<Favorite>> {
        self.session
            .authorize(Action::ReadClient, Some(client_id))?;
        self.session.read().favorites(client_id).await
    }

    /// Adds a catalog product to a client's list; adding one already there changes nothing, and
    /// a full list (`MAX_FAVORITES_PER_CLIENT`) is `FAVORITES_LIMIT_REACHED`.
    /// The client is checked first (that spares the catalog a call for a request that must
    /// fail), then the catalog: `PRODUCT_NOT_FOUND`, or `UPSTREAM_UNAVAILABLE` when it cannot be
    /// asked. In both cases nothing is written.
    pub async fn add(&self, client_id: Uuid, product_id: i32) -> Result<Client> {
        self.session
            .authorize(Action::AddFavorite, Some(client_id))?;
        let services = self.session.services();
        self.session.clients().current(client_id).await?;
        services
            .catalog
            .product(product_id, &self.session.loaders().catalog_budget)
            .await?
            .value
            .ok_or(ServiceError::ProductNotFound(product_id))?;
        favorites::add(
            &services.db,
            &services.changes,
            client_id,
            product_id,
            services.options.max_favorites_per_client,
        )
        .await?;
        self.session.clients().current(client_id).await
    }

    /// Removes a product from a client's list; removing one that is not there changes nothing.
    pub async fn remove(&self, client_id: Uuid, product_id: i32) -> Result<Client> {
        self.session
            .authorize(Action::RemoveFavorite, Some(client_id))?;
        let services = self.session.services();
        favorites::remove(&services.db, &services.changes, client_id, product_id).await?;
        self.session.clients().current(client_id).await
    }

    /// The client each time their list changes, through any instance; ends when the client is
    /// deleted. `NOT_FOUND` if there is no such client. With `after` (a `favoritesVersion` the
    /// caller saw; `BAD_USER_INPUT` if it is not one), the client is sent at once if the list
    /// changed since. A client is never
    /// sent at a version older than (or the same as) one sent before.
    pub async fn watch(
        &self,
        client_id: Uuid,
        after: Option<&str>,
    ) -> Result<impl Stream<Item = Client> + use<>> {
        self.session
            .authorize(Action::WatchFavorites, Some(client_id))?;
        let after = after
            .map(|raw| FavoritesVersion::parse(raw, "after"))
            .transpose()?;
        let services = self.session.services();
        // Listening before the look-up, so that a change made in between is not missed.
        let mut changes = services.changes.subscribe();
        let current = self.session.clients().current(client_id).await?;
        let session = self.session.clone();
        Ok(async_stream::stream! {
            let mut sent = after.unwrap_or(current.favorites_version);
            if current.favorites_version > sent {
                sent = current.favorites_version;
                yield current;
            }
            loop {
                match changes.recv().await {
                    Ok(FeedEvent::Change(change)) if change.client_id != client_id => continue,
                    Ok(FeedEvent::Change(change)) if change.kind == ChangeKind::ClientDeleted => break,
                    // A new name or e-mail is not a change to the list.
                    Ok(FeedEvent::Change(change)) if !change.kind.changes_list() => continue,
                    Ok(FeedEvent::Change(change)) if FavoritesVersion::new(change.seq) <= sent => continue,
                    // Missed changes are covered by reading the list as it is now.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
                match session.read().client_now(client_id).await {
                    Ok(Some(client)) if client.favorites_version > sent => {
                        sent = client.favorites_version;
                        session.renew_catalog_budget();
                        yield client;
                    }
                    // Already sent (the change was one of several read together).
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(error) => {
                        // The next change tries again; the subscriber keeps its place.
                        tracing::warn!(code = %error.code(), "cannot read a changed client");
                    }
                }
            }
        })
    }
}
