//! The `change_log` table: a change appended inside the transaction that makes it, what was
//! appended after a mark (with the PostgreSQL snapshot that says which writers are still at
//! work), and the trimming of what is older than the retention.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::db::changes::{Change, ChangeKind};
use crate::db::entities::change_log::{self, Column};

/// Which transactions were still at work when a read was made (PostgreSQL's
/// `pg_current_snapshot()`): their rows were invisible to it and may become visible later.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub in_progress: Vec<u64>,
}

impl Snapshot {
    /// `xmin:xmax:xip,xip,...`, PostgreSQL's text form of a snapshot.
    fn parse(text: &str) -> Result<Self, DbErr> {
        let malformed = || DbErr::Custom(format!("not a pg_snapshot: {text:?}"));
        let list = text.splitn(3, ':').nth(2).ok_or_else(malformed)?;
        let in_progress = list
            .split(',')
            .filter(|xid| !xid.is_empty())
            .map(|xid| xid.parse::<u64>().map_err(|_| malformed()))
            .collect::<Result<_, _>>()?;
        Ok(Self { in_progress })
    }
}

/// Appends a change inside `txn`; returns the number it got.
///
/// On PostgreSQL the statement makes sure the transaction has its id before it takes a
/// number: a reader that sees a gap in the numbers then finds the writer that holds it among
/// the transactions its snapshot lists as still at work (the tail's rule relies on it). The
/// sub-select calls a volatile function, so the planner keeps it a subquery scan below the
/// insert's projection, where the `seq` default (`nextval`) is evaluated: the id comes first.
pub(crate) async fn append(
    txn: &impl ConnectionTrait,
    client_id: Uuid,
    kind: ChangeKind,
    product_id: Option<i32>,
    changed_at: DateTime<Utc>,
) -> Result<i64, DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let inserted = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO change_log (client_id, kind, product_id, changed_at) \
                 SELECT $1, $2, $3, $4 FROM (SELECT pg_current_xact_id()) AS writer \
                 RETURNING seq",
                [
                    client_id.into(),
                    kind.name().into(),
                    product_id.into(),
                    changed_at.into(),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("INSERT ... RETURNING returned no row".into()))?;
        return inserted.try_get("", "seq");
    }
    let inserted = change_log::Entity::insert(change_log::ActiveModel {
        seq: sea_orm::NotSet,
        client_id: Set(client_id),
        kind: Set(kind.name().to_owned()),
        product_id: Set(product_id),
        changed_at: Set(changed_at),
    })
    .exec(txn)
    .await?;
    Ok(inserted.last_insert_id)
}

/// The rows numbered `seq` among `also` (late commits a reader waits for), then up to `limit`
/// rows after `after`, in order; on PostgreSQL with the snapshot the rows were read in, taken
/// by the same statement so that "invisible" and "still at work" agree.
pub(crate) async fn since(
    db: &DatabaseConnection,
    after: i64,
    also: &[i64],
    limit: u64,
) -> Result<(Option<Snapshot>, Vec<Change>), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        let rows = change_log::Entity::find()
            .filter(
                Column::Seq
                    .gt(after)
                    .or(Column::Seq.is_in(also.iter().copied())),
            )
            .order_by_asc(Column::Seq)
            .limit(limit)
            .all(db)
            .await?;
        return Ok((None, rows.into_iter().map(Change::from).collect()));
    }
    const COLUMNS: &str = "seq, client_id, kind::text AS kind, product_id, changed_at";
    let also = format!(
        "{{{}}}",
        also.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let results = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT pg_current_snapshot()::text AS snapshot, NULL::bigint AS seq, \
                        NULL::uuid AS client_id, NULL::text AS kind, NULL::integer AS product_id, \
                        NULL::timestamptz AS changed_at \
                 UNION ALL \
                 SELECT NULL, {COLUMNS} FROM change_log WHERE seq = ANY($2::bigint[]) \
                 UNION ALL \
                 (SELECT NULL, {COLUMNS} FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $3)"
            ),
            [after.into(), also.into(), (limit as i64).into()],
        ))
        .await?;
    let mut snapshot = None;
    let mut rows = Vec::with_capacity(results.len());
    for result in &results {
        match result.try_get::<Option<String>>("", "snapshot")? {
            Some(text) => snapshot = Some(Snapshot::parse(&text)?),
            None => rows.push(row_of(result)?),
        }
    }
    rows.sort_by_key(|row| row.seq);
    Ok((snapshot, rows))
}

fn row_of(result: &QueryResult) -> Result<Change, DbErr> {
    Ok(Change {
        seq: result.try_get("", "seq")?,
        client_id: result.try_get("", "client_id")?,
        kind: ChangeKind::from_name(&result.try_get::<String>("", "kind")?),
        product_id: result.try_get("", "product_id")?,
        changed_at: result.try_get("", "changed_at")?,
    })
}

/// The highest number in the log (0 when it is empty).
pub(crate) async fn latest(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let latest = change_log::Entity::find()
        .select_only()
        .column_as(Column::Seq.max(), "latest")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(latest.unwrap_or(0))
}

/// Wakes the instances that listen on `channel` (PostgreSQL). Sent on its own, never inside a
/// write transaction: PostgreSQL serializes every commit that carries a notification.
pub(crate) async fn signal(db: &DatabaseConnection, channel: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, '')",
        [channel.into()],
    ))
    .await?;
    Ok(())
}

/// Deletes, among the `batch` oldest rows, those changed before `cutoff`; returns how many.
/// Looking only at the oldest rows keeps each pass cheap however long the log is (numbers and
/// times run together, so the oldest rows are the expired ones).
pub(crate) async fn trim(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbErr> {
    let oldest = Query::select()
        .columns([Column::Seq, Column::ChangedAt])
        .from(change_log::Entity)
        .order_by(Column::Seq, Order::Asc)
        .limit(batch)
        .to_owned();
    let expired = Query::select()
        .column(Column::Seq)
        .from_subquery(oldest, Alias::new("oldest"))
        .and_where(Expr::col(Column::ChangedAt).lt(cutoff))
        .to_owned();
    Ok(change_log::Entity::delete_many()
        .filter(Column::Seq.in_subquery(expired))
        .exec(db)
        .await?
        .rows_affected)
}

impl From<change_log::Model> for Change {
    fn from(row: change_log::Model) -> Self {
        Self {
            seq: row.seq,
            client_id: row.client_id,
            kind: ChangeKind::from_name(&row.kind),
            product_id: row.product_id,
            changed_at: row.changed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_lists_the_transactions_at_work() {
        assert_eq!(
            Snapshot::parse("748:752:748,750").unwrap().in_progress,
            [748, 750]
        );
        assert!(Snapshot::parse("748:748:").unwrap().in_progress.is_empty());
        assert!(Snapshot::parse("nonsense").is_err());
    }
}
