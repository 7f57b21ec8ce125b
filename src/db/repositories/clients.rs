//! The `clients` table.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{now, with_retry};
use crate::db::RepoError;
use crate::db::changes::{ChangeFeed, ChangeKind};
use crate::db::entities::{client, client_favorite_product as favorite};
use crate::domain::{
    Client, ClientEmail, ClientName, Favorite, FavoritesVersion, Page, PageDirection,
};

impl From<client::Model> for Client {
    fn from(row: client::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            created_at: row.created_at,
            updated_at: row.updated_at,
            favorites_version: FavoritesVersion::new(row.favorites_version),
        }
    }
}

pub async fn create(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    name: ClientName,
    email: ClientEmail,
) -> Result<Client, RepoError> {
    let created_at = now();
    let client = client::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.into_inner()),
        email: Set(email.into_inner()),
        created_at: Set(created_at),
        updated_at: Set(created_at),
        favorites_version: Set(0),
    };
    let mut txn = changes.begin(db).await?;
    let client: Client = client.insert(&*txn).await?.into();
    txn.record(client.id, ChangeKind::ClientCreated, None)
        .await?;
    txn.commit().await?;
    Ok(client)
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Client>, RepoError> {
    Ok(client::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Client::from))
}

/// The clients among `ids` that exist, with one statement.
pub async fn find_many(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Client>, RepoError> {
    let rows = client::Entity::find()
        .filter(client::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.into())).collect())
}

/// The clients among `ids` that exist, each with its favorites (ordered by `added_at` then
/// product id), with one statement: a `LEFT JOIN`, so a client without favorites comes too.
/// What a query asking for a client and its list costs: one round trip instead of two.
pub async fn find_many_with_favorites(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (Client, Vec<Favorite>)>, RepoError> {
    let rows = client::Entity::find()
        .filter(client::Column::Id.is_in(ids.iter().copied()))
        .find_with_related(favorite::Entity)
        .order_by_asc(favorite::Column::AddedAt)
        .order_by_asc(favorite::Column::ProductId)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(row, favorites)| {
            let list = favorites.into_iter().map(Favorite::from).collect();
            (row.id, (row.into(), list))
        })
        .collect())
}

pub async fn find_by_email(
    db: &DatabaseConnection,
    email: &ClientEmail,
) -> Result<Option<Client>, RepoError> {
    Ok(client::Entity::find()
        .filter(client::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .map(Client::from))
}

/// Changes the given fields; absent ones stay as they are. With nothing to change, the client
/// is returned untouched (and `updated_at` keeps its value).
pub async fn update(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    id: Uuid,
    name: Option<ClientName>,
    email: Option<ClientEmail>,
) -> Result<Client, RepoError> {
    if name.is_none() && email.is_none() {
        return find(db, id).await?.ok_or(RepoError::ClientNotFound);
    }
    let mut update = client::Entity::update_many()
        .col_expr(client::Column::UpdatedAt, Expr::value(now()))
        .filter(client::Column::Id.eq(id));
    if let Some(name) = name {
        update = update.col_expr(client::Column::Name, Expr::value(name.into_inner()));
    }
    if let Some(email) = email {
        update = update.col_expr(client::Column::Email, Expr::value(email.into_inner()));
    }
    let mut txn = changes.begin(db).await?;
    let client = update
        .exec_with_returning(&*txn)
        .await?
        .into_iter()
        .next()
        .map(Client::from)
        .ok_or(RepoError::ClientNotFound)?;
    txn.record(id, ChangeKind::ClientUpdated, None).await?;
    txn.commit().await?;
    Ok(client)
}

/// Deletes a client and its favorites (by cascade), in one transaction. The product ids no
/// list holds any more leave `products_ref` soon after (`favorites::prune_product_refs`), off
/// the request path.
pub async fn delete(
    db: &DatabaseConnection,
    changes: &ChangeFeed,
    id: Uuid,
) -> Result<(), RepoError> {
    with_retry(move || async move {
        let mut txn = changes.begin(db).await?;
        // Locking the client first keeps concurrent writes to its list waiting.
        lock(&*txn, id, LockType::Update).await?;
        client::Entity::delete_by_id(id).exec(&*txn).await?;
        txn.record(id, ChangeKind::ClientDeleted, None).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Moves the list's version to the change the transaction just logged.
pub(crate) async fn set_favorites_version(
    txn: &impl ConnectionTrait,
    id: Uuid,
    version: FavoritesVersion,
) -> Result<(), sea_orm::DbErr> {
    client::Entity::update_many()
        .col_expr(client::Column::FavoritesVersion, Expr::value(version.seq()))
        .filter(client::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes a row lock on the client (PostgreSQL; SQLite has one writer and ignores it), or
/// reports that it does not exist.
pub(crate) async fn lock(
    txn: &impl ConnectionTrait,
    id: Uuid,
    lock: LockType,
) -> Result<(), RepoError> {
    client::Entity::find_by_id(id)
        .select_only()
        .column(client::Column::Id)
        .lock(lock)
        .into_tuple::<Uuid>()
        .one(txn)
        .await?
        .map(|_| ())
        .ok_or(RepoError::ClientNotFound)
}

pub async fn count(db: &DatabaseConnection) -> Result<u64, RepoError> {
    Ok(client::Entity::find().count(db).await?)
}

/// A page of clients in creation order (UUIDv7 ids sort by creation time).
pub async fn page(
    db: &DatabaseConnection,
    direction: PageDirection<Uuid>,
    limit: u64,
) -> Result<Page<Client>, RepoError> {
    let id = client::Column::Id;
    // One row more than asked tells whether there is a further page.
    let fetch = limit + 1;
    match direction {
        PageDirection::Forward { after } => {
            let mut query = client::Entity::find().order_by_asc(id).limit(fetch);
            if let Some(after) = after {
                query = query.filter(id.gt(after));
            }
            let mut items = rows(query.all(db).await?);
            let has_next = items.len() as u64 > limit;
            items.truncate(limit as usize);
            let has_previous = match after {
                Some(after) => exists(db, id.lte(after)).await?,
                None => false,
            };
            Ok(Page {
                items,
                has_previous,
                has_next,
            })
        }
        PageDirection::Backward { before } => {
            let mut query = client::Entity::find().order_by_desc(id).limit(fetch);
            if let Some(before) = before {
                query = query.filter(id.lt(before));
            }
            let mut items = rows(query.all(db).await?);
            let has_previous = items.len() as u64 > limit;
            items.truncate(limit as usize);
            items.reverse();
            let has_next = match before {
                Some(before) => exists(db, id.gte(before)).await?,
                None => false,
            };
            Ok(Page {
                items,
                has_previous,
                has_next,
            })
        }
    }
}

fn rows(models: Vec<client::Model>) -> Vec<Client> {
    models.into_iter().map(Client::from).collect()
}

async fn exists(
    db: &DatabaseConnection,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<bool, RepoError> {
    Ok(client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .filter(condition)
        .into_tuple::<Uuid>()
        .one(db)
        .await?
        .is_some())
}
