//! The `client_favorite_products` and `products_ref` tables: `products_ref` holds the product
//! ids that are in at least one list (a client's, or a guest's: `guests`).
//!
//! No write locks a product: an add inserts the id with `DO NOTHING` (an id already there is
//! left alone, and the favorite's foreign key only takes a key-share lock on it, which every
//! other add shares), and a remove leaves the id behind. `prune_product_refs`, off the request
//! path, deletes ids no list holds. The foreign key keeps the two honest under any race: a
//! favorite cannot exist without its id, and an id a new favorite still references cannot be
//! deleted (the prune skips it; an add whose id was pruned in between fails its foreign key and
//! runs again, through `with_retry`).
//!
//! Writes to one list take the client's row first: they wait for each other, so that two adds
//! cannot both see room for one more, and each gets a later number of the change log than the
//! one before (the list's versions grow in commit order).

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, SqlErr,
};
use uuid::Uuid;

use super::{clients, now, with_retry};
use crate::db::RepoError;
use crate::db::changes::{ChangeFeed, ChangeKind};
use crate::db::entities::{
    client_favorite_product as favorite, guest_favorite_product as guest_favorite, product_ref,
};
use crate::domain::{Favorite, NewFavorite};

impl From<favorite::Model> for Favorite {
    fn from(row: favorite::Model) -> Self {
        Self {
            client_id: row.client_id,
            product_id: row.product_id,
            added_at: row.added_at,
            note: row.note,
            price_when_added: row.price_when_added,
        }
    }
}

/// Adds a product to a client's list. Adding one already there keeps its `added_at` and price,
/// and changes its note if the add gives one; adding one to a list that holds `limit` products
/// already is `ListFull`, and writes nothing.
pub async fn add(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    client_id: Uuid,
    new: &NewFavorite,
    limit: u32,
) -> Result<(), RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        clients::lock(&*txn, client_id, LockType::NoKeyUpdate).await?;
        let product_id = new.product_id;
        if let Some(existing) = find(&*txn, client_id, product_id).await? {
            let note = new.note_after(existing.note.as_deref());
            if note != existing.note {
                write_note(&*txn, client_id, product_id, note).await?;
                txn.record(client_id, ChangeKind::FavoriteNoteSet, Some(product_id))
                    .await?;
            }
        } else {
            if list_length(&*txn, client_id).await? >= u64::from(limit) {
                return Err(RepoError::ListFull { limit });
            }
            reference_product(&*txn, product_id).await?;
            // The client's row is locked: no other write to this list can insert it meanwhile.
            favorite::Entity::insert(favorite::ActiveModel {
                client_id: Set(client_id),
                product_id: Set(product_id),
                added_at: Set(now()),
                note: Set(new.note_after(None)),
                price_when_added: Set(new.price),
            })
            .exec_without_returning(&*txn)
            .await?;
            txn.record(client_id, ChangeKind::FavoriteAdded, Some(product_id))
                .await?;
        }
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Sets (or with `None` clears) the note on a product of a client's list; `NotInList` when the
/// list does not hold it. Setting the note it has already changes nothing.
pub async fn set_note(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    client_id: Uuid,
    product_id: i32,
    note: Option<&str>,
) -> Result<(), RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        clients::lock(&*txn, client_id, LockType::NoKeyUpdate).await?;
        let existing = find(&*txn, client_id, product_id)
            .await?
            .ok_or(RepoError::NotInList)?;
        if existing.note.as_deref() != note {
            write_note(&*txn, client_id, product_id, note.map(str::to_owned)).await?;
            txn.record(client_id, ChangeKind::FavoriteNoteSet, Some(product_id))
                .await?;
        }
        txn.commit().await?;
        Ok(())
    })
    .await
}

async fn find(
    txn: &impl ConnectionTrait,
    client_id: Uuid,
    product_id: i32,
) -> Result<Option<favorite::Model>, DbErr> {
    favorite::Entity::find_by_id((client_id, product_id))
        .one(txn)
        .await
}

async fn write_note(
    txn: &impl ConnectionTrait,
    client_id: Uuid,
    product_id: i32,
    note: Option<String>,
) -> Result<(), DbErr> {
    favorite::Entity::update_many()
        .col_expr(favorite::Column::Note, Expr::value(note))
        .filter(favorite::Column::ClientId.eq(client_id))
        .filter(favorite::Column::ProductId.eq(product_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Makes sure `products_ref` holds `product_id` before a list references it. An id already
/// there is left alone (`DO NOTHING`): no row lock, so adds of one product do not queue.
pub(super) async fn reference_product(
    txn: &impl ConnectionTrait,
    product_id: i32,
) -> Result<(), DbErr> {
    product_ref::Entity::insert(product_ref::ActiveModel {
        id: Set(product_id),
    })
    .on_conflict(
        OnConflict::column(product_ref::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Removes a product from a client's list; removing one that is not there changes nothing.
/// The product's id stays in `products_ref` until the next prune, should no list hold it.
pub async fn remove(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    client_id: Uuid,
    product_id: i32,
) -> Result<(), RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        clients::lock(&*txn, client_id, LockType::NoKeyUpdate).await?;
        let deleted = favorite::Entity::delete_many()
            .filter(favorite::Column::ClientId.eq(client_id))
            .filter(favorite::Column::ProductId.eq(product_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        if deleted > 0 {
            txn.record(client_id, ChangeKind::FavoriteRemoved, Some(product_id))
                .await?;
        }
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// The favorites of each given client, ordered by `added_at` then product id. One statement
/// for any number of clients: this is what the favorites batch loader calls.
pub async fn for_clients(
    db: &DatabaseConnection,
    client_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Favorite>>, RepoError> {
    let rows = favorite::Entity::find()
        .filter(favorite::Column::ClientId.is_in(client_ids.iter().copied()))
        .order_by_asc(favorite::Column::ClientId)
        .order_by_asc(favorite::Column::AddedAt)
        .order_by_asc(favorite::Column::ProductId)
        .all(db)
        .await?;
    let mut by_client: HashMap<Uuid, Vec<Favorite>> = HashMap::new();
    for row in rows {
        by_client.entry(row.client_id).or_default().push(row.into());
    }
    Ok(by_client)
}

async fn list_length(txn: &impl ConnectionTrait, client_id: Uuid) -> Result<u64, RepoError> {
    Ok(favorite::Entity::find()
        .filter(favorite::Column::ClientId.eq(client_id))
        .count(txn)
        .await?)
}

/// Deletes up to `batch` ids of `products_ref` that no list holds; returns how many went.
///
/// Ids an add is writing a favorite for right now are locked by its foreign key and skipped
/// (`SKIP LOCKED`). One that such an add committed between this statement's snapshot and its
/// lock makes the delete fail its foreign key; then each id is tried on its own, with a fresh
/// look, and the ones still referenced are left alone.
pub async fn prune_product_refs(db: &DatabaseConnection, batch: u64) -> Result<u64, RepoError> {
    match delete_unreferenced(db, None, batch).await {
        Err(error) if is_still_referenced(&error) => {}
        outcome => return Ok(outcome?),
    }
    let ids: Vec<i32> = unreferenced(batch).into_tuple().all(db).await?;
    let mut deleted = 0;
    for id in ids {
        match delete_unreferenced(db, Some(id), 1).await {
            Ok(count) => deleted += count,
            Err(error) if is_still_referenced(&error) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(deleted)
}

/// The ids no list holds (a client's or a guest's), lowest first, `batch` at most.
fn unreferenced(batch: u64) -> sea_orm::Select<product_ref::Entity> {
    let in_client_list = Query::select()
        .expr(Expr::val(1))
        .from(favorite::Entity)
        .and_where(
            Expr::col((favorite::Entity, favorite::Column::ProductId))
                .equals((product_ref::Entity, product_ref::Column::Id)),
        )
        .to_owned();
    let in_guest_list = Query::select()
        .expr(Expr::val(1))
        .from(guest_favorite::Entity)
        .and_where(
            Expr::col((guest_favorite::Entity, guest_favorite::Column::ProductId))
                .equals((product_ref::Entity, product_ref::Column::Id)),
        )
        .to_owned();
    product_ref::Entity::find()
        .select_only()
        .column(product_ref::Column::Id)
        .filter(Expr::exists(in_client_list).not())
        .filter(Expr::exists(in_guest_list).not())
        .order_by_asc(product_ref::Column::Id)
        .limit(batch)
}

async fn delete_unreferenced(
    db: &DatabaseConnection,
    only: Option<i32>,
    batch: u64,
) -> Result<u64, DbErr> {
    let mut candidates =
        unreferenced(batch).lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    if let Some(id) = only {
        candidates = candidates.filter(product_ref::Column::Id.eq(id));
    }
    Ok(product_ref::Entity::delete_many()
        .filter(product_ref::Column::Id.in_subquery(candidates.into_query()))
        .exec(db)
        .await?
        .rows_affected)
}

fn is_still_referenced(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    )
}
