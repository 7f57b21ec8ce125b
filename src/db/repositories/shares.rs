//! The `favorite_shares` table: one read-only share link per list at most, found by the hash
//! of its token. Writes take the list owner's row first, as every write to the list does.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LockType;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{clients, guests, now, with_retry};
use crate::db::RepoError;
use crate::db::changes::{ChangeFeed, ChangeKind};
use crate::db::entities::favorite_share as share;
use crate::domain::ListOwner;

/// A share, as its token finds it: whose list it shows, and whether with notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub owner: ListOwner,
    pub include_notes: bool,
}

/// Makes the list's share link (the token's hash), replacing the one it had; answers when.
/// A guest gets its row here if it has none yet; `GuestEnded` for a merged guest,
/// `ClientNotFound` for a client that does not exist.
pub async fn create(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    owner: ListOwner,
    token_hash: &str,
    include_notes: bool,
) -> Result<DateTime<Utc>, RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        let at = now();
        let (client_id, guest_id, kind) = match owner {
            ListOwner::Client(id) => {
                clients::lock(&*txn, id, LockType::NoKeyUpdate).await?;
                (Some(id), None, ChangeKind::FavoritesShared)
            }
            ListOwner::Guest(id) => {
                guests::open(&*txn, id, at).await?;
                (None, Some(id), ChangeKind::GuestFavoritesShared)
            }
        };
        delete_of(&*txn, owner).await?;
        share::Entity::insert(share::ActiveModel {
            id: Set(Uuid::now_v7()),
            token_hash: Set(token_hash.to_owned()),
            client_id: Set(client_id),
            guest_id: Set(guest_id),
            include_notes: Set(include_notes),
            created_at: Set(at),
        })
        .exec_without_returning(&*txn)
        .await?;
        txn.record(owner.id(), kind, None).await?;
        txn.commit().await?;
        Ok(at)
    })
    .await
}

/// Revokes the list's share link; `false` when it had none.
pub async fn revoke(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    owner: ListOwner,
) -> Result<bool, RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        let kind = match owner {
            ListOwner::Client(id) => {
                clients::lock(&*txn, id, LockType::NoKeyUpdate).await?;
                ChangeKind::FavoritesShareRevoked
            }
            ListOwner::Guest(id) => {
                if guests::lock(&*txn, id).await?.is_none() {
                    return Ok(false);
                }
                ChangeKind::GuestFavoritesShareRevoked
            }
        };
        let revoked = delete_of(&*txn, owner).await? > 0;
        if revoked {
            txn.record(owner.id(), kind, None).await?;
        }
        txn.commit().await?;
        Ok(revoked)
    })
    .await
}

/// The share whose token hashes to `token_hash`, if there is one.
pub async fn find(db: &DatabaseConnection, token_hash: &str) -> Result<Option<Share>, RepoError> {
    let Some(row) = share::Entity::find()
        .filter(share::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let owner = match (row.client_id, row.guest_id) {
        (Some(id), _) => ListOwner::Client(id),
        (None, Some(id)) => ListOwner::Guest(id),
        (None, None) => return Ok(None),
    };
    Ok(Some(Share {
        owner,
        include_notes: row.include_notes,
    }))
}

async fn delete_of(txn: &impl ConnectionTrait, owner: ListOwner) -> Result<u64, RepoError> {
    let of_owner = match owner {
        ListOwner::Client(id) => share::Column::ClientId.eq(id),
        ListOwner::Guest(id) => share::Column::GuestId.eq(id),
    };
    Ok(share::Entity::delete_many()
        .filter(of_owner)
        .exec(txn)
        .await?
        .rows_affected)
}
