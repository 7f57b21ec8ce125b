//! Read-only share links of a list: made and revoked by the list's owner (a client token or a
//! guest's, with the "my" operations; the admin for any client's list), opened by anyone who
//! has the link. The token is 256 random bits, shown once and stored only as its SHA-256, so
//! the database cannot give one away; a lookup goes by that hash whatever the token looks like,
//! so unknown, revoked and malformed tokens take the same path and all answer nothing.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::Limited;
use super::policy::Action;
use super::{Result, ServiceError, Session};
use crate::db::repositories::shares;
use crate::domain::{Favorite, ListOwner};

/// Random bytes in a token (256 bits; the issue asks for at least 128).
const TOKEN_BYTES: usize = 32;

/// A share link as it is made: the token is shown here and never again.
#[derive(Clone, Debug)]
pub struct NewShare {
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub include_notes: bool,
}

/// A list opened through its share link: what the link shows, and nothing else.
#[derive(Clone, Debug)]
pub struct SharedList {
    /// The client's name; `None` for a guest's list.
    pub owner_name: Option<String>,
    /// Oldest first; notes only if the share was made with them.
    pub favorites: Vec<Favorite>,
}

pub struct Shares<'a> {
    session: &'a Session,
}

impl<'a> Shares<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// `shareMyFavorites`: a new link to the caller's own list, replacing the one it had.
    pub async fn share_mine(&self, include_notes: bool) -> Result<NewShare> {
        let owner = self.mine(Action::ShareMyFavorites)?;
        self.share(owner, include_notes).await
    }

    /// `shareFavorites`: the same for a client's list named by id.
    pub async fn share_client(&self, client_id: Uuid, include_notes: bool) -> Result<NewShare> {
        self.session
            .authorize(Action::ShareFavorites, Some(client_id))?;
        self.share(ListOwner::Client(client_id), include_notes)
            .await
    }

    /// `revokeMyFavoritesShare`: the caller's link stops working at once, on every instance;
    /// `false` when there was none.
    pub async fn revoke_mine(&self) -> Result<bool> {
        let owner = self.mine(Action::ShareMyFavorites)?;
        self.revoke(owner).await
    }

    /// `revokeFavoritesShare`: the same for a client's list named by id.
    pub async fn revoke_client(&self, client_id: Uuid) -> Result<bool> {
        self.session
            .authorize(Action::ShareFavorites, Some(client_id))?;
        self.revoke(ListOwner::Client(client_id)).await
    }

    /// `sharedFavorites`: the list a link shows, or `None` for a token that is unknown,
    /// revoked, replaced, malformed, or whose list is gone (a guest's merged at login). Needs
    /// no credentials; `RATE_LIMITED` past `SHARED_READS_PER_MINUTE` from one network.
    pub async fn open(&self, token: &str) -> Result<Option<SharedList>> {
        let services = self.session.services();
        services
            .shared_reads
            .spend(self.session.inner.address)
            .map_err(|retry_after| ServiceError::RateLimited {
                retry_after,
                what: Limited::SharedReads,
            })?;
        let read = self.session.read();
        let Some(share) = read.share(&token_hash(token)).await? else {
            return Ok(None);
        };
        let (owner_name, favorites) = match share.owner {
            ListOwner::Client(id) => {
                // The client and its list in one statement; `favorites` hands the list out.
                let Some(client) = read.client_and_favorites(id).await? else {
                    return Ok(None);
                };
                (Some(client.name), read.favorites(id).await?)
            }
            ListOwner::Guest(id) => match read.guest_favorites(id).await {
                Ok(list) => (None, list),
                Err(ServiceError::Unauthenticated(_)) => return Ok(None),
                Err(error) => return Err(error),
            },
        };
        let favorites = favorites
            .into_iter()
            .map(|mut favorite| {
                if !share.include_notes {
                    favorite.note = None;
                }
                favorite
            })
            .collect();
        Ok(Some(SharedList {
            owner_name,
            favorites,
        }))
    }

    async fn share(&self, owner: ListOwner, include_notes: bool) -> Result<NewShare> {
        let token = new_token()?;
        let services = self.session.services();
        let created_at = shares::create(
            &services.db,
            &services.changes,
            owner,
            &token_hash(&token),
            include_notes,
        )
        .await?;
        Ok(NewShare {
            token,
            created_at,
            include_notes,
        })
    }

    async fn revoke(&self, owner: ListOwner) -> Result<bool> {
        let services = self.session.services();
        Ok(shares::revoke(&services.db, &services.changes, owner).await?)
    }

    /// The caller's own list, once the policy allows `action` (the "my" operations' rule).
    fn mine(&self, action: Action) -> Result<ListOwner> {
        self.session.my_favorites().owner(action)
    }
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        tracing::error!("no random bytes for a share token");
        ServiceError::Internal
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a token. Any text hashes, so a malformed token is looked up like
/// any other, and found like an unknown one.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes in unpadded base64");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(token_hash(&a).len(), 64);
        assert_eq!(token_hash(&format!(" {a}\n")), token_hash(&a));
    }
}
