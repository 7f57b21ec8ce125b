//! The `guests` and `guest_favorite_products` tables: guest shoppers' lists and their expiry
//! (their merge into a client's list: `guest_merge`).
//!
//! A guest has no row until its first favorite (starting a session writes nothing). Writes to
//! one guest's list, and its merge, take the guest's row first: they wait for each other, so a
//! favorite added while the list is merged is either merged with it or refused, never left
//! behind. A merged guest keeps its row as a tombstone (`merged_into`), so that its token,
//! still valid, acts on nothing and a second merge is a no-op; the sweep deletes tombstones once
//! every token issued before the merge has expired.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{favorites, now, with_retry};
use crate::db::RepoError;
use crate::db::changes::{ChangeFeed, ChangeKind};
use crate::db::entities::{guest, guest_favorite_product as favorite};
use crate::domain::{Favorite, FavoritesVersion, NewFavorite};

impl From<favorite::Model> for Favorite {
    fn from(row: favorite::Model) -> Self {
        Self {
            client_id: row.guest_id,
            product_id: row.product_id,
            added_at: row.added_at,
            note: row.note,
            price_when_added: row.price_when_added,
        }
    }
}

/// A guest's list, oldest first (by time added, then product id). Empty for a guest without a
/// row (no favorite yet, or expired); `GuestEnded` for one whose list went to a client.
pub async fn list(db: &DatabaseConnection, guest_id: Uuid) -> Result<Vec<Favorite>, RepoError> {
    let favorites = favorites_of(db, guest_id).await?;
    // Read after the list: a merge that came in between shows here, and a list read before
    // the merge is not handed out as if the guest still had it.
    ensure_active(db, guest_id).await?;
    Ok(favorites)
}

async fn favorites_of(
    db: &impl ConnectionTrait,
    guest_id: Uuid,
) -> Result<Vec<Favorite>, RepoError> {
    Ok(favorite::Entity::find()
        .filter(favorite::Column::GuestId.eq(guest_id))
        .order_by_asc(favorite::Column::AddedAt)
        .order_by_asc(favorite::Column::ProductId)
        .all(db)
        .await?
        .into_iter()
        .map(Favorite::from)
        .collect())
}

/// Adds a product to a guest's list, creating the guest at its first favorite, and answers the
/// list as the write left it (read in its transaction: a merge right after cannot make a write
/// that succeeded look refused). Adding one already there keeps its `added_at` and price, and
/// changes its note if the add gives one; a list that holds `limit` products already is
/// `ListFull`, and nothing is written.
pub async fn add(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    guest_id: Uuid,
    new: &NewFavorite,
    limit: u32,
) -> Result<Vec<Favorite>, RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        let at = now();
        let product_id = new.product_id;
        open(&*txn, guest_id, at).await?;
        if let Some(existing) = find(&*txn, guest_id, product_id).await? {
            let note = new.note_after(existing.note.as_deref());
            if note != existing.note {
                write_note(&*txn, guest_id, product_id, note).await?;
                txn.record(guest_id, ChangeKind::GuestFavoriteNoteSet, Some(product_id))
                    .await?;
            }
        } else {
            if list_length(&*txn, guest_id).await? >= u64::from(limit) {
                return Err(RepoError::ListFull { limit });
            }
            favorites::reference_product(&*txn, product_id).await?;
            // The guest's row is locked: no other write to this list can insert it meanwhile.
            favorite::Entity::insert(favorite::ActiveModel {
                guest_id: Set(guest_id),
                product_id: Set(product_id),
                added_at: Set(at),
                note: Set(new.note_after(None)),
                price_when_added: Set(new.price),
            })
            .exec_without_returning(&*txn)
            .await?;
            txn.record(guest_id, ChangeKind::GuestFavoriteAdded, Some(product_id))
                .await?;
        }
        let list = favorites_of(&*txn, guest_id).await?;
        txn.commit().await?;
        Ok(list)
    })
    .await
}

/// Removes a product from a guest's list, and answers the list as the write left it; removing
/// one that is not there (or from a guest without a list) changes nothing.
pub async fn remove(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    guest_id: Uuid,
    product_id: i32,
) -> Result<Vec<Favorite>, RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        let Some(guest) = lock(&*txn, guest_id).await? else {
            return Ok(Vec::new());
        };
        if guest.merged_into.is_some() {
            return Err(RepoError::GuestEnded);
        }
        let deleted = favorite::Entity::delete_many()
            .filter(favorite::Column::GuestId.eq(guest_id))
            .filter(favorite::Column::ProductId.eq(product_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        if deleted > 0 {
            touch(&*txn, guest_id, now()).await?;
            txn.record(guest_id, ChangeKind::GuestFavoriteRemoved, Some(product_id))
                .await?;
        }
        let list = favorites_of(&*txn, guest_id).await?;
        txn.commit().await?;
        Ok(list)
    })
    .await
}

/// Sets (or with `None` clears) the note on a product of a guest's list, and answers the list
/// as the write left it; `NotInList` when the list does not hold it.
pub async fn set_note(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    guest_id: Uuid,
    product_id: i32,
    note: Option<&str>,
) -> Result<Vec<Favorite>, RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        let Some(guest) = lock(&*txn, guest_id).await? else {
            return Err(RepoError::NotInList);
        };
        if guest.merged_into.is_some() {
            return Err(RepoError::GuestEnded);
        }
        let existing = find(&*txn, guest_id, product_id)
            .await?
            .ok_or(RepoError::NotInList)?;
        if existing.note.as_deref() != note {
            write_note(&*txn, guest_id, product_id, note.map(str::to_owned)).await?;
            touch(&*txn, guest_id, now()).await?;
            txn.record(guest_id, ChangeKind::GuestFavoriteNoteSet, Some(product_id))
                .await?;
        }
        let list = favorites_of(&*txn, guest_id).await?;
        txn.commit().await?;
        Ok(list)
    })
    .await
}

/// Deletes up to `batch` guests of each kind: lists untouched since `untouched_since` (each a
/// change, `guest.expired`), and tombstones of merges before `merged_before`; returns how many
/// went. Guests being written to are locked, and skipped (`SKIP LOCKED`).
pub async fn sweep(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    untouched_since: DateTime<Utc>,
    merged_before: DateTime<Utc>,
    batch: u64,
) -> Result<u64, RepoError> {
    let mut txn = changes.begin(db).await?;
    // A tombstone's `touched_at` is its merge.
    let lists = touched_before(
        &*txn,
        guest::Column::MergedInto.is_null(),
        untouched_since,
        batch,
    )
    .await?;
    let tombstones = touched_before(
        &*txn,
        guest::Column::MergedInto.is_not_null(),
        merged_before,
        batch,
    )
    .await?;
    for id in &lists {
        txn.record(*id, ChangeKind::GuestExpired, None).await?;
    }
    let gone: Vec<Uuid> = lists.into_iter().chain(tombstones).collect();
    if !gone.is_empty() {
        guest::Entity::delete_many()
            .filter(guest::Column::Id.is_in(gone.iter().copied()))
            .exec(&*txn)
            .await?;
    }
    txn.commit().await?;
    Ok(gone.len() as u64)
}

/// Up to `batch` guests of a kind untouched since `touched_before`, oldest first, locked.
async fn touched_before(
    txn: &impl ConnectionTrait,
    kind: sea_orm::sea_query::SimpleExpr,
    before: DateTime<Utc>,
    batch: u64,
) -> Result<Vec<Uuid>, RepoError> {
    Ok(guest::Entity::find()
        .select_only()
        .column(guest::Column::Id)
        .filter(kind)
        .filter(guest::Column::TouchedAt.lt(before))
        .order_by_asc(guest::Column::TouchedAt)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(txn)
        .await?)
}

/// Moves the list's version to the change the transaction just logged.
pub(crate) async fn set_favorites_version(
    txn: &impl ConnectionTrait,
    id: Uuid,
    version: FavoritesVersion,
) -> Result<(), sea_orm::DbErr> {
    guest::Entity::update_many()
        .col_expr(guest::Column::FavoritesVersion, version.seq().into())
        .filter(guest::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Creates the guest, or touches it; either way its row is locked until the transaction ends.
/// `GuestEnded` for a guest whose list went to a client.
pub(super) async fn open(
    txn: &impl ConnectionTrait,
    guest_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), RepoError> {
    guest::Entity::insert(guest::ActiveModel {
        id: Set(guest_id),
        created_at: Set(at),
        touched_at: Set(at),
        favorites_version: Set(0),
        merged_into: Set(None),
        merged_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(guest::Column::Id)
            .update_column(guest::Column::TouchedAt)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    ensure_active(txn, guest_id).await
}

/// The guest's row, locked until the transaction ends (PostgreSQL; SQLite has one writer).
pub(super) async fn lock(
    txn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<guest::Model>, RepoError> {
    Ok(guest::Entity::find_by_id(id)
        .lock(LockType::Update)
        .one(txn)
        .await?)
}

/// Writes the tombstone of a guest that has no row; `false` when a row appeared meanwhile (a
/// first favorite committed while this waited for it).
pub(super) async fn insert_tombstone(
    txn: &impl ConnectionTrait,
    id: Uuid,
    client_id: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, RepoError> {
    let inserted = guest::Entity::insert(guest::ActiveModel {
        id: Set(id),
        created_at: Set(at),
        touched_at: Set(at),
        favorites_version: Set(0),
        merged_into: Set(Some(client_id)),
        merged_at: Set(Some(at)),
    })
    .on_conflict(
        OnConflict::column(guest::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(inserted > 0)
}

async fn ensure_active(txn: &impl ConnectionTrait, id: Uuid) -> Result<(), RepoError> {
    match guest::Entity::find_by_id(id).one(txn).await? {
        Some(guest) if guest.merged_into.is_some() => Err(RepoError::GuestEnded),
        _ => Ok(()),
    }
}

async fn touch(txn: &impl ConnectionTrait, id: Uuid, at: DateTime<Utc>) -> Result<(), RepoError> {
    guest::Entity::update_many()
        .col_expr(guest::Column::TouchedAt, at.into())
        .filter(guest::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn list_length(txn: &impl ConnectionTrait, guest_id: Uuid) -> Result<u64, RepoError> {
    Ok(favorite::Entity::find()
        .filter(favorite::Column::GuestId.eq(guest_id))
        .count(txn)
        .await?)
}

async fn find(
    txn: &impl ConnectionTrait,
    guest_id: Uuid,
    product_id: i32,
) -> Result<Option<favorite::Model>, RepoError> {
    Ok(favorite::Entity::find_by_id((guest_id, product_id))
        .one(txn)
        .await?)
}

async fn write_note(
    txn: &impl ConnectionTrait,
    guest_id: Uuid,
    product_id: i32,
    note: Option<String>,
) -> Result<(), RepoError> {
    favorite::Entity::update_many()
        .col_expr(favorite::Column::Note, Expr::value(note))
        .filter(favorite::Column::GuestId.eq(guest_id))
        .filter(favorite::Column::ProductId.eq(product_id))
        .exec(txn)
        .await?;
    Ok(())
}
