//! The `client_favorite_products` and `products_ref` tables, kept consistent together:
//! `products_ref` holds exactly the product ids that are in at least one list.
//!
//! Lock order, the same in every transaction: the client row first, then `products_ref` rows in
//! ascending id. With one order there is no deadlock cycle, and a remove that finds a product
//! unreferenced cannot race an add of the same product (the add holds the `products_ref` row
//! until it commits). `with_retry` is the safety net for whatever PostgreSQL still aborts.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, LockType, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{clients, now, with_retry};
use crate::db::RepoError;
use crate::db::changes::{ChangeFeed, ChangeKind, ClientChange};
use crate::db::entities::{client_favorite_product as favorite, product_ref};
use crate::domain::Favorite;

impl From<favorite::Model> for Favorite {
    fn from(row: favorite::Model) -> Self {
        Self {
            client_id: row.client_id,
            product_id: row.product_id,
            added_at: row.added_at,
        }
    }
}

/// Adds a product to a client's list. Adding one already there changes nothing; adding one to a
/// list that holds `limit` products already is `ListFull`, and writes nothing.
pub async fn add(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    client_id: Uuid,
    product_id: i32,
    limit: u32,
) -> Result<(), RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        // Not KEY SHARE as elsewhere: two adds to one list wait for each other, so that both
        // cannot see room for one more.
        clients::lock(&*txn, client_id, LockType::NoKeyUpdate).await?;
        if list_length(&*txn, client_id).await? >= u64::from(limit)
            && !holds(&*txn, client_id, product_id).await?
        {
            return Err(RepoError::ListFull { limit });
        }
        // `DO UPDATE` rather than `DO NOTHING`: it locks the row even when it already exists,
        // so a concurrent remove cannot delete it before this transaction commits.
        product_ref::Entity::insert(product_ref::ActiveModel {
            id: Set(product_id),
        })
        .on_conflict(
            OnConflict::column(product_ref::Column::Id)
                .update_column(product_ref::Column::Id)
                .to_owned(),
        )
        .exec_without_returning(&*txn)
        .await?;
        let inserted = favorite::Entity::insert(favorite::ActiveModel {
            client_id: Set(client_id),
            product_id: Set(product_id),
            added_at: Set(now()),
        })
        .on_conflict(
            OnConflict::columns([favorite::Column::ClientId, favorite::Column::ProductId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&*txn)
        .await?;
        if inserted > 0 {
            txn.announce(changed(client_id)).await?;
        }
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Removes a product from a client's list, and from `products_ref` when no list holds it any
/// more. Removing one that is not there changes nothing.
pub async fn remove(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    client_id: Uuid,
    product_id: i32,
) -> Result<(), RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        clients::lock(&*txn, client_id, LockType::KeyShare).await?;
        let locked = lock_product_refs(&*txn, &[product_id]).await?;
        if locked.is_empty() {
            // No list holds the product, so this one does not either.
            txn.commit().await?;
            return Ok(());
        }
        let deleted = favorite::Entity::delete_many()
            .filter(favorite::Column::ClientId.eq(client_id))
            .filter(favorite::Column::ProductId.eq(product_id))
            .exec(&*txn)
            .await?
            .rows_affected;
        delete_unreferenced_product_refs(&*txn, &[product_id]).await?;
        if deleted > 0 {
            txn.announce(changed(client_id)).await?;
        }
        txn.commit().await?;
        Ok(())
    })
    .await
}

fn changed(client_id: Uuid) -> ClientChange {
    ClientChange {
        client_id,
        kind: ChangeKind::Favorites,
    }
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

async fn holds(
    txn: &impl ConnectionTrait,
    client_id: Uuid,
    product_id: i32,
) -> Result<bool, RepoError> {
    Ok(favorite::Entity::find_by_id((client_id, product_id))
        .one(txn)
        .await?
        .is_some())
}

pub(crate) async fn product_ids_of(
    txn: &impl ConnectionTrait,
    client_id: Uuid,
) -> Result<Vec<i32>, RepoError> {
    Ok(favorite::Entity::find()
        .select_only()
        .column(favorite::Column::ProductId)
        .filter(favorite::Column::ClientId.eq(client_id))
        .order_by_asc(favorite::Column::ProductId)
        .into_tuple::<i32>()
        .all(txn)
        .await?)
}

/// Locks the existing `products_ref` rows among `ids`, in ascending order; returns their ids.
pub(crate) async fn lock_product_refs(
    txn: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<Vec<i32>, RepoError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(product_ref::Entity::find()
        .select_only()
        .column(product_ref::Column::Id)
        .filter(product_ref::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(product_ref::Column::Id)
        .lock(LockType::Update)
        .into_tuple::<i32>()
        .all(txn)
        .await?)
}

pub(crate) async fn delete_unreferenced_product_refs(
    txn: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<(), RepoError> {
    if ids.is_empty() {
        return Ok(());
    }
    let still_referenced = Query::select()
        .expr(Expr::val(1))
        .from(favorite::Entity)
        .and_where(
            Expr::col((favorite::Entity, favorite::Column::ProductId))
                .equals((product_ref::Entity, product_ref::Column::Id)),
        )
        .to_owned();
    product_ref::Entity::delete_many()
        .filter(product_ref::Column::Id.is_in(ids.iter().copied()))
        .filter(Expr::exists(still_referenced).not())
        .exec(txn)
        .await?;
    Ok(())
}
