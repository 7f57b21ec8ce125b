//! A guest's list merged into a client's at login: one transaction over the `guests`,
//! `guest_favorite_products` and `client_favorite_products` tables.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::{clients, guests, now, with_retry};
use crate::db::RepoError;
use crate::db::changes::{ChangeFeed, ChangeKind};
use crate::db::entities::{
    client_favorite_product as client_favorite, guest, guest_favorite_product as favorite,
};

/// What became of a merge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Guest favorites that did not fit under the client's cap, and were dropped.
    pub left_out: u32,
}

/// Moves a guest's list into a client's, in one transaction: the union of the two, a product
/// in both keeping the earlier `added_at` (with the price of that add, when it is known) and
/// the client's note, or the guest's when the client has none; past `limit`, the client's own
/// favorites stay and the guest's earliest fill the room left. The guest becomes a tombstone, also one that never
/// had a list (so its token can never start one). A guest merged before, into this client or
/// another, changes nothing.
///
/// Locks the client, then the guest: two merges of one guest wait for each other, and the
/// second finds the tombstone; an add to the guest waits for the merge, then is refused.
pub async fn merge_into_client(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    guest_id: Uuid,
    client_id: Uuid,
    limit: u32,
) -> Result<Merged, RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        clients::lock(&*txn, client_id, LockType::NoKeyUpdate).await?;
        let at = now();
        let guest = match guests::lock(&*txn, guest_id).await? {
            Some(guest) => guest,
            None if guests::insert_tombstone(&*txn, guest_id, client_id, at).await? => {
                txn.record(guest_id, ChangeKind::GuestMerged, None).await?;
                txn.commit().await?;
                return Ok(Merged::default());
            }
            // Its first favorite was being written: that list is merged like any other.
            None => guests::lock(&*txn, guest_id)
                .await?
                .ok_or_else(|| RepoError::Internal(DbErr::RecordNotFound("guest".into())))?,
        };
        if guest.merged_into.is_some() {
            return Ok(Merged::default());
        }
        let guest_list = favorite::Entity::find()
            .filter(favorite::Column::GuestId.eq(guest_id))
            .order_by_asc(favorite::Column::AddedAt)
            .order_by_asc(favorite::Column::ProductId)
            .all(&*txn)
            .await?;
        let own: HashMap<i32, client_favorite::Model> = client_favorite::Entity::find()
            .filter(client_favorite::Column::ClientId.eq(client_id))
            .all(&*txn)
            .await?
            .into_iter()
            .map(|row| (row.product_id, row))
            .collect();
        let mut room = (limit as usize).saturating_sub(own.len());
        let (mut new, mut left_out, mut changed) = (Vec::new(), 0u32, false);
        for item in guest_list {
            match own.get(&item.product_id) {
                Some(mine) => {
                    let earlier = item.added_at < mine.added_at;
                    let note = mine.note.clone().or(item.note);
                    if !earlier && note == mine.note {
                        continue;
                    }
                    let mut update = client_favorite::Entity::update_many()
                        .col_expr(client_favorite::Column::Note, Expr::value(note));
                    if earlier {
                        // The earlier add's price, unless it was saved before prices were kept:
                        // a known price is never traded for an unknown one.
                        let price = item.price_when_added.or(mine.price_when_added);
                        update = update
                            .col_expr(client_favorite::Column::AddedAt, Expr::value(item.added_at))
                            .col_expr(client_favorite::Column::PriceWhenAdded, Expr::value(price));
                    }
                    update
                        .filter(client_favorite::Column::ClientId.eq(client_id))
                        .filter(client_favorite::Column::ProductId.eq(item.product_id))
                        .exec(&*txn)
                        .await?;
                    changed = true;
                }
                None if room > 0 => {
                    room -= 1;
                    new.push(client_favorite::ActiveModel {
                        client_id: Set(client_id),
                        product_id: Set(item.product_id),
                        added_at: Set(item.added_at),
                        note: Set(item.note),
                        price_when_added: Set(item.price_when_added),
                    });
                }
                None => left_out += 1,
            }
        }
        if !new.is_empty() {
            changed = true;
            client_favorite::Entity::insert_many(new)
                .exec_without_returning(&*txn)
                .await?;
        }
        favorite::Entity::delete_many()
            .filter(favorite::Column::GuestId.eq(guest_id))
            .exec(&*txn)
            .await?;
        guest::Entity::update_many()
            .col_expr(guest::Column::MergedInto, client_id.into())
            .col_expr(guest::Column::MergedAt, at.into())
            .col_expr(guest::Column::TouchedAt, at.into())
            .filter(guest::Column::Id.eq(guest_id))
            .exec(&*txn)
            .await?;
        if changed {
            txn.record(client_id, ChangeKind::FavoritesMerged, None)
                .await?;
        }
        txn.record(guest_id, ChangeKind::GuestMerged, None).await?;
        txn.commit().await?;
        Ok(Merged { left_out })
    })
    .await
}
