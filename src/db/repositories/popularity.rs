//! How many lists hold a product, counted from the `product_id` indexes of both lists (a
//! client's and a guest's), never kept in a counter row that every add would have to lock.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query, SelectStatement, UnionType};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};

use crate::db::RepoError;
use crate::db::entities::{client_favorite_product as client_favorite, guest_favorite_product};

/// How many lists hold each of `ids`; an id no list holds is left out. One statement.
pub async fn counts(db: &DatabaseConnection, ids: &[i32]) -> Result<HashMap<i32, u64>, RepoError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let query = counted(Some(ids));
    let rows = db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?;
    rows.iter().map(count_of).collect()
}

/// The `limit` products most lists hold (among `only`, when given), most held first, ties by
/// product id. One statement over both lists.
pub async fn most_held(
    db: &DatabaseConnection,
    only: Option<&[i32]>,
    limit: u64,
) -> Result<Vec<(i32, u64)>, RepoError> {
    if only.is_some_and(<[i32]>::is_empty) {
        return Ok(Vec::new());
    }
    let query = counted(only)
        .order_by_expr(Expr::col(Alias::new("holders")), Order::Desc)
        .order_by(Alias::new("product_id"), Order::Asc)
        .limit(limit)
        .to_owned();
    let rows = db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?;
    rows.iter().map(count_of).collect()
}

/// `product_id, holders` for every product held (among `only`), grouped.
fn counted(only: Option<&[i32]>) -> SelectStatement {
    let mut clients = Query::select()
        .column(client_favorite::Column::ProductId)
        .from(client_favorite::Entity)
        .to_owned();
    let mut guests = Query::select()
        .column(guest_favorite_product::Column::ProductId)
        .from(guest_favorite_product::Entity)
        .to_owned();
    if let Some(ids) = only {
        clients.and_where(Expr::col(client_favorite::Column::ProductId).is_in(ids.iter().copied()));
        guests.and_where(
            Expr::col(guest_favorite_product::Column::ProductId).is_in(ids.iter().copied()),
        );
    }
    let held = clients.union(UnionType::All, guests).to_owned();
    Query::select()
        .column(Alias::new("product_id"))
        .expr_as(
            Func::count(Expr::col(Alias::new("product_id"))),
            Alias::new("holders"),
        )
        .from_subquery(held, Alias::new("held"))
        .group_by_col(Alias::new("product_id"))
        .to_owned()
}

fn count_of(row: &QueryResult) -> Result<(i32, u64), RepoError> {
    let product_id: i32 = row.try_get("", "product_id")?;
    let holders: i64 = row.try_get("", "holders")?;
    Ok((product_id, u64::try_from(holders).unwrap_or(0)))
}
