//! The change feed: every committed change to a client or a list, for `favoritesChanged`
//! subscribers, for whatever keeps copies of answers (the response cache), on every instance,
//! and for the consumers still to come (webhooks, counters).
//!
//! A change is a row of the change log, appended by the transaction that makes it (so it exists
//! if and only if the change committed). Each instance tails the log (`tail`): on PostgreSQL
//! woken by a coalesced signal that writers send after they commit, from outside their
//! transaction (`signal`), and by a slow poll should a signal be lost; on SQLite (one process)
//! by its own commits. No write transaction carries a `NOTIFY`.

mod signal;
mod tail;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};
use tokio::sync::{Notify, broadcast, watch};
use uuid::Uuid;

use crate::db::repositories::{change_log, clients, guests, now};
use crate::domain::FavoritesVersion;
use crate::telemetry::ChangeFeedMetrics;

/// Subscribers that fall this far behind skip ahead (they are sent the list as it is then).
const BUFFERED_CHANGES: usize = 1024;

/// What happened. The names are the log's (and the webhook event types of later work). A
/// change concerns one list's owner: a client, or a guest (the `guest.` kinds, whose
/// `client_id` is the guest's id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    ClientCreated,
    /// The client's name or e-mail changed.
    ClientUpdated,
    /// The client is gone, and its list with it.
    ClientDeleted,
    FavoriteAdded,
    FavoriteRemoved,
    /// The note on a favorite was set, changed or cleared.
    FavoriteNoteSet,
    /// A guest's list was merged into the client's (`mergeGuestFavorites`).
    FavoritesMerged,
    /// A share link of the list was made (replacing any before it), or revoked.
    FavoritesShared,
    FavoritesShareRevoked,
    GuestFavoriteAdded,
    GuestFavoriteRemoved,
    GuestFavoriteNoteSet,
    GuestFavoritesShared,
    GuestFavoritesShareRevoked,
    /// The guest's list went to a client: its token acts on nothing from now on.
    GuestMerged,
    /// The guest's list was untouched for its retention and is gone.
    GuestExpired,
    /// A kind this build does not know (a newer instance wrote it during a rolling deploy):
    /// taken as a change to anything of the client's.
    Other,
}

impl ChangeKind {
    const NAMES: [(Self, &'static str); 16] = [
        (Self::ClientCreated, "client.created"),
        (Self::ClientUpdated, "client.updated"),
        (Self::ClientDeleted, "client.deleted"),
        (Self::FavoriteAdded, "favorite.added"),
        (Self::FavoriteRemoved, "favorite.removed"),
        (Self::FavoriteNoteSet, "favorite.note_set"),
        (Self::FavoritesMerged, "favorites.merged"),
        (Self::FavoritesShared, "favorites.shared"),
        (Self::FavoritesShareRevoked, "favorites.share_revoked"),
        (Self::GuestFavoriteAdded, "guest.favorite_added"),
        (Self::GuestFavoriteRemoved, "guest.favorite_removed"),
        (Self::GuestFavoriteNoteSet, "guest.favorite_note_set"),
        (Self::GuestFavoritesShared, "guest.favorites_shared"),
        (
            Self::GuestFavoritesShareRevoked,
            "guest.favorites_share_revoked",
        ),
        (Self::GuestMerged, "guest.merged"),
        (Self::GuestExpired, "guest.expired"),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("other", |(_, name)| name)
    }

    pub(crate) fn from_name(name: &str) -> Self {
        Self::NAMES
            .iter()
            .find(|(_, known)| *known == name)
            .map_or(Self::Other, |(kind, _)| *kind)
    }

    /// Whether the change makes a new version of the owner's list.
    pub fn changes_list(self) -> bool {
        matches!(
            self,
            Self::FavoriteAdded
                | Self::FavoriteRemoved
                | Self::FavoriteNoteSet
                | Self::FavoritesMerged
                | Self::GuestFavoriteAdded
                | Self::GuestFavoriteRemoved
                | Self::GuestFavoriteNoteSet
                | Self::Other
        )
    }

    /// Whether the change is to a guest (its `client_id` is the guest's id).
    pub fn of_guest(self) -> bool {
        matches!(
            self,
            Self::GuestFavoriteAdded
                | Self::GuestFavoriteRemoved
                | Self::GuestFavoriteNoteSet
                | Self::GuestFavoritesShared
                | Self::GuestFavoritesShareRevoked
                | Self::GuestMerged
                | Self::GuestExpired
        )
    }

    /// Whether the change may leave an id of `products_ref` that no list holds.
    pub fn may_unreference_products(self) -> bool {
        matches!(
            self,
            Self::FavoriteRemoved
                | Self::ClientDeleted
                | Self::GuestFavoriteRemoved
                | Self::GuestExpired
        )
    }
}

/// A committed change, as the log numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub client_id: Uuid,
    pub kind: ChangeKind,
    pub product_id: Option<i32>,
    pub changed_at: DateTime<Utc>,
}

/// What the feed tells its subscribers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedEvent {
    Change(Change),
    /// Changes may have been missed (more late commits to wait for than the feed keeps track
    /// of): whatever depends on them should be read again.
    Missed,
}

type Hook = Box<dyn Fn(&Change) + Send + Sync>;

/// How an instance learns of other instances' changes (PostgreSQL).
#[derive(Clone, Copy, Debug)]
pub struct FeedOptions {
    /// The slowest the log is read when no signal comes.
    pub poll_interval: Duration,
}

#[derive(Clone)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<FeedEvent>,
    hooks: RwLock<Vec<Hook>>,
    /// Wakes this instance's tail after one of its commits.
    wake: Arc<Notify>,
    /// Wakes the task that tells other instances (PostgreSQL).
    signal: Option<Arc<Notify>>,
    /// Dropped with the last copy of the feed: its tasks end.
    stop: watch::Sender<()>,
}

impl ChangeFeed {
    /// Starts tailing the log from its current end. `schema` names the signal's channel, so
    /// that deployments (or tests) sharing a database but not a schema do not wake each other.
    pub async fn start(
        db: &DatabaseConnection,
        schema: Option<&str>,
        options: FeedOptions,
        metrics: ChangeFeedMetrics,
    ) -> Result<Self, DbErr> {
        let (stop, stopped) = watch::channel(());
        let wake = Arc::new(Notify::new());
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let start = tail::Tail::start(db).await?;
        let signal = if postgres {
            Some(
                signal::start(
                    db,
                    schema.unwrap_or("public"),
                    Arc::clone(&wake),
                    stopped.clone(),
                )
                .await?,
            )
        } else {
            None
        };
        let (sender, _) = broadcast::channel(BUFFERED_CHANGES);
        tokio::spawn(tail::run(tail::Reader {
            db: db.clone(),
            tail: start,
            sender: sender.clone(),
            wake: Arc::clone(&wake),
            poll_interval: postgres.then_some(options.poll_interval),
            metrics,
            stopped,
        }));
        Ok(Self {
            inner: Arc::new(Inner {
                sender,
                hooks: RwLock::default(),
                wake,
                signal,
                stop,
            }),
        })
    }

    /// A feed that reads nothing back: for tools and tests that write without subscribers to
    /// tell (the changes are still logged, and an application's own feed reads them).
    pub fn local() -> Self {
        Self {
            inner: Arc::new(Inner {
                sender: broadcast::channel(1).0,
                hooks: RwLock::default(),
                wake: Arc::default(),
                signal: None,
                stop: watch::channel(()).0,
            }),
        }
    }

    /// Changes when the last copy of the feed is dropped: tasks that live as long as it watch it.
    pub fn stopped(&self) -> watch::Receiver<()> {
        self.inner.stop.subscribe()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedEvent> {
        self.inner.sender.subscribe()
    }

    /// Calls `hook` for each change this process commits, before `commit` returns (changes
    /// made elsewhere arrive through `subscribe`, a moment later): what this process serves
    /// can then never be older than what it wrote.
    pub fn on_commit(&self, hook: impl Fn(&Change) + Send + Sync + 'static) {
        crate::sync::write(&self.inner.hooks).push(Box::new(hook));
    }

    /// A transaction whose changes are logged with it: only if and when it commits. The only
    /// way to record a change, so recording cannot be half done.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<ChangeTransaction<'_>, DbErr> {
        Ok(ChangeTransaction {
            txn: db.begin().await?,
            feed: self,
            recorded: Vec::new(),
        })
    }
}

/// A database transaction that logs its changes. Dropped without `commit`, it rolls back and
/// nothing of it is logged.
pub struct ChangeTransaction<'a> {
    txn: DatabaseTransaction,
    feed: &'a ChangeFeed,
    recorded: Vec<Change>,
}

impl ChangeTransaction<'_> {
    /// Logs a change as part of this transaction, after the write it describes. A change to the
    /// list also makes the list's new version, so a write cannot forget it.
    pub async fn record(
        &mut self,
        client_id: Uuid,
        kind: ChangeKind,
        product_id: Option<i32>,
    ) -> Result<Change, DbErr> {
        let changed_at = now();
        let seq = change_log::append(&self.txn, client_id, kind, product_id, changed_at).await?;
        if kind.changes_list() {
            let version = FavoritesVersion::new(seq);
            if kind.of_guest() {
                guests::set_favorites_version(&self.txn, client_id, version).await?;
            } else {
                clients::set_favorites_version(&self.txn, client_id, version).await?;
            }
        }
        let change = Change {
            seq,
            client_id,
            kind,
            product_id,
            changed_at,
        };
        self.recorded.push(change);
        Ok(change)
    }

    /// Commits, then runs this process's commit hooks, then wakes the readers of the log (this
    /// instance's at once, the others' through the coalesced signal).
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        if self.recorded.is_empty() {
            return Ok(());
        }
        let hooks = crate::sync::read(&self.feed.inner.hooks);
        for change in &self.recorded {
            for hook in hooks.iter() {
                hook(change);
            }
        }
        drop(hooks);
        self.feed.inner.wake.notify_one();
        if let Some(signal) = &self.feed.inner.signal {
            signal.notify_one();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn kinds_read_back_their_names_and_unknown_names_are_other() {
        for (kind, name) in ChangeKind::NAMES {
            assert_eq!(ChangeKind::from_name(name), kind);
            assert_eq!(kind.name(), name);
        }
        assert_eq!(ChangeKind::from_name("favorite.noted"), ChangeKind::Other);
    }

    #[tokio::test]
    async fn commit_runs_the_hooks_before_it_returns_and_a_rollback_records_nothing() {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("SQLite");
        <migration::Migrator as migration::MigratorTrait>::up(&db, None)
            .await
            .expect("migrations");
        let feed = ChangeFeed::local();
        let seen = Arc::new(Mutex::new(Vec::new()));
        feed.on_commit({
            let seen = Arc::clone(&seen);
            move |change| seen.lock().unwrap().push(change.seq)
        });
        let client = Uuid::now_v7();
        let mut rolled_back = feed.begin(&db).await.unwrap();
        rolled_back
            .record(client, ChangeKind::ClientCreated, None)
            .await
            .unwrap();
        drop(rolled_back);
        let mut txn = feed.begin(&db).await.unwrap();
        let change = txn
            .record(client, ChangeKind::ClientCreated, None)
            .await
            .unwrap();
        assert!(seen.lock().unwrap().is_empty(), "not before the commit");
        txn.commit().await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [change.seq],
            "once, by the time commit returned"
        );
        let (_, rows) = change_log::since(&db, 0, &[], 10).await.unwrap();
        assert_eq!(
            rows.len(),
            1,
            "the rolled-back change left no row: {rows:?}"
        );
    }
}
