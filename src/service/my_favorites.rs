//! The caller's own list, the same for a guest and for a client token (the "my" operations: a
//! storefront never handles ids), and the merge of a guest's list into a client's at login.

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::policy::Action;
use super::{Result, ServiceError, Session};
use crate::auth::{Caller, Credential};
use crate::db::changes::{ChangeKind, FeedEvent};
use crate::db::repositories::{guest_merge, guests};
use crate::domain::{Favorite, ListOwner, Note};

/// What a merge did, besides the client's list it answers with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Guest favorites the client's cap (`MAX_FAVORITES_PER_CLIENT`) left out.
    pub left_out: u32,
}

pub struct MyFavorites<'a> {
    session: &'a Session,
}

impl<'a> MyFavorites<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// `myFavorites`: the caller's whole list, oldest first.
    pub async fn list(&self) -> Result<Vec<Favorite>> {
        let owner = self.owner(Action::ReadMyFavorites)?;
        self.read(owner).await
    }

    /// `addMyFavorite`: the rules of `addFavorite` (the product must be in the catalog, the cap
    /// applies, adding one already there changes nothing, nothing is written on refusal), for a
    /// guest too. Answers the list as it is after the write.
    pub async fn add(&self, product_id: i32, note: Option<&str>) -> Result<Vec<Favorite>> {
        match self.owner(Action::AddMyFavorite)? {
            ListOwner::Client(id) => {
                self.session
                    .favorites()
                    .add_authorized(id, product_id, note)
                    .await?;
                self.read(ListOwner::Client(id)).await
            }
            ListOwner::Guest(id) => {
                let new = self.session.new_favorite(product_id, note).await?;
                let services = self.session.services();
                Ok(guests::add(
                    &services.db,
                    &services.changes,
                    id,
                    &new,
                    services.options.max_favorites_per_client,
                )
                .await?)
            }
        }
    }

    /// `setMyFavoriteNote`: the rules of `setFavoriteNote`, for a guest too. Answers the list
    /// as it is after the write.
    pub async fn set_note(&self, product_id: i32, note: Option<&str>) -> Result<Vec<Favorite>> {
        match self.owner(Action::SetMyFavoriteNote)? {
            ListOwner::Client(id) => {
                self.session
                    .favorites()
                    .set_note_authorized(id, product_id, note)
                    .await?;
                self.read(ListOwner::Client(id)).await
            }
            ListOwner::Guest(id) => {
                let note = Note::parse_nullable(note)?;
                let services = self.session.services();
                Ok(guests::set_note(
                    &services.db,
                    &services.changes,
                    id,
                    product_id,
                    note.as_ref().map(Note::as_str),
                )
                .await?)
            }
        }
    }

    /// `removeMyFavorite`: removing a product that is not there changes nothing.
    pub async fn remove(&self, product_id: i32) -> Result<Vec<Favorite>> {
        match self.owner(Action::RemoveMyFavorite)? {
            ListOwner::Client(id) => {
                self.session
                    .favorites()
                    .remove_authorized(id, product_id)
                    .await?;
                self.read(ListOwner::Client(id)).await
            }
            ListOwner::Guest(id) => {
                let services = self.session.services();
                Ok(guests::remove(&services.db, &services.changes, id, product_id).await?)
            }
        }
    }

    /// `mergeGuestFavorites`: moves the list of the guest that `guest_token` speaks for into a
    /// client's (the caller's own, or for the admin the one `client_id` names), and answers the
    /// client's list with what the cap left out. A guest without a list, or merged before, is a
    /// no-op. `guest_token` is an argument, not the caller's credential: one that is expired,
    /// forged or not a guest's is `BAD_USER_INPUT` (`UNAUTHENTICATED` would tell a storefront
    /// that the shopper's own token had failed).
    pub async fn merge_guest(
        &self,
        guest_token: &str,
        client_id: Option<Uuid>,
    ) -> Result<(Vec<Favorite>, MergeReport)> {
        // A client token merges into its own client unless it names one (the policy decides
        // whether it may); every other caller names it, or the policy refuses it first.
        let client_id = match self.session.caller() {
            Caller::Client(own) => client_id.or(Some(own.client_id)),
            _ => client_id,
        };
        self.session
            .authorize(Action::MergeGuestFavorites, client_id)?;
        let Some(client_id) = client_id else {
            return Err(ServiceError::BadUserInput(
                "`clientId` names the client to merge into; the admin has no list of its own"
                    .to_owned(),
            ));
        };
        let services = self.session.services();
        let guest_id = match services.tokens.verify(guest_token.trim()) {
            Ok(Credential::Guest(guest)) => guest.guest_id,
            Ok(_) | Err(_) => {
                return Err(ServiceError::BadUserInput(
                    "`guestToken` is not a valid guest token (expired, forged, or not a guest's)"
                        .to_owned(),
                ));
            }
        };
        let merged = guest_merge::merge_into_client(
            &services.db,
            &services.changes,
            guest_id,
            client_id,
            services.options.max_favorites_per_client,
        )
        .await?;
        let list = self.session.read().favorites(client_id).await?;
        Ok((
            list,
            MergeReport {
                left_out: merged.left_out,
            },
        ))
    }

    /// `myFavoritesChanged`: the caller's list each time it changes, through any instance.
    /// Ends when the list's owner is gone: a guest merged into a client, a deleted client.
    pub async fn watch(&self) -> Result<impl Stream<Item = Vec<Favorite>> + use<>> {
        let owner = self.owner(Action::WatchMyFavorites)?;
        let id = owner.id();
        // Listening before the first read, so that a change made in between is not missed.
        let mut changes = self.session.services().changes.subscribe();
        self.read(owner).await?;
        let session = self.session.clone();
        Ok(async_stream::stream! {
            loop {
                match changes.recv().await {
                    Ok(FeedEvent::Change(change)) if change.client_id != id => continue,
                    Ok(FeedEvent::Change(change)) if ends_the_list(change.kind) => break,
                    Ok(FeedEvent::Change(change)) if !changes_the_list(change.kind) => continue,
                    // Missed changes are covered by reading the list as it is now.
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
                match MyFavorites::new(&session).read(owner).await {
                    Ok(list) => {
                        session.renew_catalog_budget();
                        yield list;
                    }
                    Err(ServiceError::Unauthenticated(_)) => break,
                    Err(error) => tracing::warn!(
                        code = %error.code(),
                        "cannot read a changed list; waiting for the next change"
                    ),
                }
            }
        })
    }

    /// The one decision of a "my" operation, then whose list it is. The admin has none (the
    /// policy refuses it); neither has an anonymous caller.
    pub(super) fn owner(&self, action: Action) -> Result<ListOwner> {
        self.session.authorize(action, None)?;
        match self.session.caller() {
            Caller::Client(own) => Ok(ListOwner::Client(own.client_id)),
            Caller::Guest(guest) => Ok(ListOwner::Guest(guest.guest_id)),
            Caller::Admin(_) | Caller::Anonymous | Caller::Rejected => Err(ServiceError::Forbidden),
        }
    }

    async fn read(&self, owner: ListOwner) -> Result<Vec<Favorite>> {
        let read = self.session.read();
        match owner {
            ListOwner::Client(id) => read.favorites(id).await,
            ListOwner::Guest(id) => read.guest_favorites(id).await,
        }
    }
}

/// The changes after which the owner has no list to watch: a guest merged into a client, a
/// deleted client.
fn ends_the_list(kind: ChangeKind) -> bool {
    matches!(kind, ChangeKind::ClientDeleted | ChangeKind::GuestMerged)
}

/// The changes that make the owner's list another: an expired guest list is empty from then on.
fn changes_the_list(kind: ChangeKind) -> bool {
    kind.changes_list() || kind == ChangeKind::GuestExpired
}
