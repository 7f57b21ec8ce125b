//! A client's list of favorite products: reading it, adding and removing (each checked against
//! the catalog and the client first), and watching it change.

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::policy::Action;
use super::{Result, Session};
use crate::db::changes::{ChangeKind, FeedEvent};
use crate::db::repositories::favorites;
use crate::domain::{Client, Favorite, FavoritesVersion, Note};

/// How soon a subscription reads a changed list again after failing to.
const REREAD_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

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

    /// Adds a catalog product to a client's list, keeping its price now; adding one already
    /// there keeps its `addedAt` and price, and sets its note if `note` is given. A full list
    /// (`MAX_FAVORITES_PER_CLIENT`) is `FAVORITES_LIMIT_REACHED`. The client is checked first
    /// (that spares the catalog a call for a request that must fail), then the catalog:
    /// `PRODUCT_NOT_FOUND`, or `UPSTREAM_UNAVAILABLE` when it cannot be asked. In each case
    /// nothing is written.
    pub async fn add(
        &self,
        client_id: Uuid,
        product_id: i32,
        note: Option<&str>,
    ) -> Result<Client> {
        self.session
            .authorize(Action::AddFavorite, Some(client_id))?;
        self.add_authorized(client_id, product_id, note).await?;
        self.session.clients().current(client_id).await
    }

    /// `add`, once the caller's right to it has been decided (here, or by `mine`).
    pub(super) async fn add_authorized(
        &self,
        client_id: Uuid,
        product_id: i32,
        note: Option<&str>,
    ) -> Result<()> {
        let services = self.session.services();
        self.session.clients().current(client_id).await?;
        let new = self.session.new_favorite(product_id, note).await?;
        favorites::add(
            &services.db,
            &services.changes,
            client_id,
            &new,
            services.options.max_favorites_per_client,
        )
        .await?;
        Ok(())
    }

    /// Sets the note on a product of a client's list (`None`, or only spaces, clears it):
    /// `BAD_USER_INPUT` for a note that breaks its rules, `NOT_FOUND` when the list does not
    /// hold the product.
    pub async fn set_note(
        &self,
        client_id: Uuid,
        product_id: i32,
        note: Option<&str>,
    ) -> Result<Client> {
        self.session
            .authorize(Action::SetFavoriteNote, Some(client_id))?;
        self.set_note_authorized(client_id, product_id, note)
            .await?;
        self.session.clients().current(client_id).await
    }

    /// `set_note`, once the caller's right to it has been decided.
    pub(super) async fn set_note_authorized(
        &self,
        client_id: Uuid,
        product_id: i32,
        note: Option<&str>,
    ) -> Result<()> {
        let note = Note::parse_nullable(note)?;
        let services = self.session.services();
        favorites::set_note(
            &services.db,
            &services.changes,
            client_id,
            product_id,
            note.as_ref().map(Note::as_str),
        )
        .await?;
        Ok(())
    }

    /// Removes a product from a client's list; removing one that is not there changes nothing.
    pub async fn remove(&self, client_id: Uuid, product_id: i32) -> Result<Client> {
        self.session
            .authorize(Action::RemoveFavorite, Some(client_id))?;
        self.remove_authorized(client_id, product_id).await?;
        self.session.clients().current(client_id).await
    }

    /// `remove`, once the caller's right to it has been decided.
    pub(super) async fn remove_authorized(&self, client_id: Uuid, product_id: i32) -> Result<()> {
        let services = self.session.services();
        favorites::remove(&services.db, &services.changes, client_id, product_id).await?;
        Ok(())
    }

    /// The client each time their list changes, through any instance; ends when the client is
    /// deleted. `NOT_FOUND` if there is no such client. With `after` (a `favoritesVersion` the
    /// caller saw; `BAD_USER_INPUT` if it is not one), the client is sent at once if the list
    /// changed since, or if `after` is ahead of the list (it cannot be this list's). A client is never
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
            // An `after` ahead of the list (another list's version, a restored database) is
            // not a place to resume from: the list as it is is sent at once.
            let mut sent = match after {
                Some(after) if after > current.favorites_version => None,
                Some(after) => Some(after),
                None => Some(current.favorites_version),
            };
            if Some(current.favorites_version) > sent {
                sent = Some(current.favorites_version);
                yield current;
            }
            // Set when reading the list failed: it is read again after `REREAD_AFTER`, so the
            // last change is not left unsent until another one comes.
            let mut reread = false;
            loop {
                let event = if reread {
                    tokio::time::timeout(REREAD_AFTER, changes.recv()).await.ok()
                } else {
                    Some(changes.recv().await)
                };
                match event {
                    Some(Ok(FeedEvent::Change(change))) if change.client_id != client_id => continue,
                    Some(Ok(FeedEvent::Change(change))) if change.kind == ChangeKind::ClientDeleted => break,
                    // A new name or e-mail is not a change to the list.
                    Some(Ok(FeedEvent::Change(change))) if !change.kind.changes_list() => continue,
                    Some(Ok(FeedEvent::Change(change))) if Some(FavoritesVersion::new(change.seq)) <= sent => continue,
                    // Missed changes are covered by reading the list as it is now.
                    None | Some(Ok(_)) | Some(Err(RecvError::Lagged(_))) => {}
                    Some(Err(RecvError::Closed)) => break,
                }
                match session.read().client_now(client_id).await {
                    Ok(Some(client)) => {
                        reread = false;
                        if Some(client.favorites_version) > sent {
                            sent = Some(client.favorites_version);
                            session.renew_catalog_budget();
                            yield client;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        reread = true;
                        tracing::warn!(code = %error.code(), "cannot read a changed client; trying again");
                    }
                }
            }
        })
    }
}
