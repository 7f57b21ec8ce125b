//! The feed of changes to clients and their lists: for `favoritesChanged` subscribers, and for
//! whatever keeps copies of answers (the response cache), on every instance.
//!
//! On PostgreSQL a change is announced with `NOTIFY` inside the transaction that makes it, so it
//! is delivered when (and only if) that transaction commits, to every instance that `LISTEN`s on
//! the shared database, this one included. SQLite is one process's database: an in-process
//! channel carries the change once the transaction has committed.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Subscribers that fall this far behind skip ahead (they are sent the list as it is then).
const BUFFERED_CHANGES: usize = 1024;
/// How long the listener waits before listening again after losing its connection.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A product was added to or removed from the list.
    Favorites,
    /// The client is gone, and its list with it.
    Deleted,
    /// A new client.
    Created,
    /// The client's name or e-mail changed.
    Updated,
    /// Not a change: this instance may have missed some (its `LISTEN` connection was lost).
    Missed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientChange {
    pub client_id: Uuid,
    pub kind: ChangeKind,
}

type Hook = Box<dyn Fn(&ClientChange) + Send + Sync>;

#[derive(Clone)]
pub struct ChangeFeed {
    sender: broadcast::Sender<ClientChange>,
    /// The PostgreSQL channel, when changes travel through the database.
    channel: Option<String>,
    hooks: Arc<RwLock<Vec<Hook>>>,
}

impl ChangeFeed {
    /// Starts listening. `schema` names the channel, so that deployments (or tests) sharing a
    /// database but not a schema do not hear each other.
    pub async fn start(db: &DatabaseConnection, schema: Option<&str>) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self::local());
        }
        let (sender, _) = broadcast::channel(BUFFERED_CHANGES);
        let channel = channel_name(schema.unwrap_or("public"));
        let mut listener = PgListener::connect_with(db.get_postgres_connection_pool())
            .await
            .map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())))?;
        listener
            .listen(&channel)
            .await
            .map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())))?;
        tokio::spawn(relay(
            listener,
            db.get_postgres_connection_pool().clone(),
            sender.clone(),
        ));
        Ok(Self {
            sender,
            channel: Some(channel),
            hooks: Arc::default(),
        })
    }

    /// A feed that only this process hears, whatever the database: for tools and tests that
    /// write without subscribers to tell.
    pub fn local() -> Self {
        Self {
            sender: broadcast::channel(BUFFERED_CHANGES).0,
            channel: None,
            hooks: Arc::default(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClientChange> {
        self.sender.subscribe()
    }

    /// Calls `hook` for each change this process commits, before `commit` returns (changes
    /// made elsewhere arrive through `subscribe`, a moment later): what this process serves
    /// can then never be older than what it wrote.
    pub fn on_commit(&self, hook: impl Fn(&ClientChange) + Send + Sync + 'static) {
        crate::sync::write(&self.hooks).push(Box::new(hook));
    }

    /// A transaction whose changes are announced with it: only if and when it commits. The
    /// only way to announce a change, so announcing cannot be half done.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<ChangeTransaction<'_>, DbErr> {
        Ok(ChangeTransaction {
            txn: db.begin().await?,
            feed: self,
            announced: Vec::new(),
        })
    }
}

/// A database transaction that carries change announcements. Dropped without `commit`, it rolls
/// back and announces nothing.
pub struct ChangeTransaction<'a> {
    txn: DatabaseTransaction,
    feed: &'a ChangeFeed,
    announced: Vec<ClientChange>,
}

impl ChangeTransaction<'_> {
    /// Announces `change` as part of this transaction (on PostgreSQL, `NOTIFY` inside it).
    pub async fn announce(&mut self, change: ClientChange) -> Result<(), DbErr> {
        if let Some(channel) = &self.feed.channel {
            let payload =
                serde_json::to_string(&change).map_err(|error| DbErr::Custom(error.to_string()))?;
            self.txn
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [channel.clone().into(), payload.into()],
                ))
                .await?;
        }
        self.announced.push(change);
        Ok(())
    }

    /// Commits, then runs this process's commit hooks, then tells this process's subscribers
    /// (PostgreSQL tells them itself, through `LISTEN`).
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        let hooks = crate::sync::read(&self.feed.hooks);
        for change in &self.announced {
            for hook in hooks.iter() {
                hook(change);
            }
        }
        drop(hooks);
        if self.feed.channel.is_none() {
            for change in self.announced {
                // No subscriber is not an error.
                let _ = self.feed.sender.send(change);
            }
        }
        Ok(())
    }
}

impl std::ops::Deref for ChangeTransaction<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// PostgreSQL's longest identifier, which a channel name is.
const MAX_CHANNEL_BYTES: usize = 63;
const CHANNEL_PREFIX: &str = "favorites_changed_";

/// The channel of a schema: `favorites_changed_{schema}`, or, when that is longer than
/// PostgreSQL allows, the schema's start and a hash of the whole (two long schemas that share
/// their start still get channels of their own).
fn channel_name(schema: &str) -> String {
    let plain = format!("{CHANNEL_PREFIX}{schema}");
    if plain.len() <= MAX_CHANNEL_BYTES {
        return plain;
    }
    use sha2::{Digest, Sha256};
    let hash = format!("{:x}", Sha256::digest(schema.as_bytes()));
    // The schema is ASCII (a plain identifier), so any cut is on a character boundary.
    let keep = MAX_CHANNEL_BYTES - CHANNEL_PREFIX.len() - 1 - 16;
    format!("{CHANNEL_PREFIX}{}_{}", &schema[..keep], &hash[..16])
}

/// Hands each notification to the local subscribers. `PgListener` reconnects by itself after a
/// lost connection; notifications sent while it was away are lost, which subscribers survive
/// (the next change brings the whole list).
async fn relay(
    mut listener: PgListener,
    pool: sqlx::PgPool,
    sender: broadcast::Sender<ClientChange>,
) {
    loop {
        match listener.recv().await {
            Ok(notification) => {
                match serde_json::from_str::<ClientChange>(notification.payload()) {
                    Ok(change) => {
                        let _ = sender.send(change);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "ignoring a malformed change notification")
                    }
                }
            }
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                tracing::warn!(%error, "lost the change feed's connection; listening again");
                tokio::time::sleep(RELISTEN_DELAY).await;
                let _ = sender.send(ClientChange {
                    client_id: Uuid::nil(),
                    kind: ChangeKind::Missed,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn commit_runs_the_hooks_before_it_returns_and_a_rollback_announces_nothing() {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("SQLite");
        let feed = ChangeFeed::local();
        let seen = Arc::new(Mutex::new(Vec::new()));
        feed.on_commit({
            let seen = Arc::clone(&seen);
            move |change| seen.lock().unwrap().push(*change)
        });
        let change = ClientChange {
            client_id: Uuid::now_v7(),
            kind: ChangeKind::Favorites,
        };
        let mut rolled_back = feed.begin(&db).await.unwrap();
        rolled_back.announce(change).await.unwrap();
        drop(rolled_back);
        let mut txn = feed.begin(&db).await.unwrap();
        txn.announce(change).await.unwrap();
        assert!(seen.lock().unwrap().is_empty(), "not before the commit");
        txn.commit().await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [change],
            "once, by the time commit returned"
        );
    }

    #[test]
    fn channel_names_fit_postgresql_and_stay_apart() {
        assert_eq!(channel_name("public"), "favorites_changed_public");
        let long_a = format!("{}a", "s".repeat(62));
        let long_b = format!("{}b", "s".repeat(62));
        assert!(channel_name(&long_a).len() <= MAX_CHANNEL_BYTES);
        assert_ne!(channel_name(&long_a), channel_name(&long_b));
    }
}
