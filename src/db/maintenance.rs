//! Upkeep off the request path, on every instance: ids no list holds leave `products_ref`
//! (soon after a remove, and every `PRUNE_EVERY` in any case), the change log is trimmed to
//! its retention, and guest lists left alone past theirs are deleted. All work in small
//! batches, so no statement holds locks for long, and several instances doing it at once only
//! share the work.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, watch};

use super::changes::ChangeFeed;
use super::repositories::{change_log, favorites, guests};

/// Ids pruned per statement.
const PRUNE_BATCH: u64 = 500;
/// How often ids are pruned without a remove to prompt it (another instance's removes, a
/// prune that failed): so no id stays unreferenced for much longer than this.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// How long after a remove the prune runs: removes in a burst share one prune.
const PRUNE_DELAY: Duration = Duration::from_millis(500);
/// Change-log rows deleted per statement, and the pause between two statements.
const TRIM_BATCH: u64 = 1_000;
const TRIM_PAUSE: Duration = Duration::from_millis(50);
const TRIM_EVERY: Duration = Duration::from_secs(60);
/// Guests deleted per transaction, and how often the sweep looks (also once at start-up).
const SWEEP_BATCH: u64 = 100;
const SWEEP_EVERY: Duration = Duration::from_secs(5 * 60);

/// How long what the upkeep deletes is kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub change_log: Duration,
    /// A guest's list, from its last write.
    pub guest_list: Duration,
    /// A merged guest's tombstone, from the merge: as long as a guest token lives, so that no
    /// token issued before the merge can start the list again.
    pub guest_tombstone: Duration,
}

/// Starts them all, until the feed is dropped.
pub fn start(db: &DatabaseConnection, changes: &ChangeFeed, retention: Retention) {
    let removed = Arc::new(Notify::new());
    changes.on_commit({
        let removed = Arc::clone(&removed);
        move |change| {
            if change.kind.may_unreference_products() {
                removed.notify_one();
            }
        }
    });
    tokio::spawn(prune(db.clone(), removed, changes.stopped()));
    tokio::spawn(trim(db.clone(), retention.change_log, changes.stopped()));
    tokio::spawn(sweep_guests(db.clone(), changes.clone(), retention));
}

async fn prune(db: DatabaseConnection, removed: Arc<Notify>, mut stopped: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = removed.notified() => tokio::time::sleep(PRUNE_DELAY).await,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = stopped.changed() => return,
        }
        loop {
            match favorites::prune_product_refs(&db, PRUNE_BATCH).await {
                Ok(deleted) if deleted == PRUNE_BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot prune products_ref; trying again later");
                    break;
                }
            }
        }
    }
}

async fn trim(db: DatabaseConnection, retention: Duration, mut stopped: watch::Receiver<()>) {
    loop {
        let cutoff = chrono::Utc::now()
            - chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::MAX);
        loop {
            match change_log::trim(&db, cutoff, TRIM_BATCH).await {
                // Not "while a batch is full": a row dated ahead (a skewed clock) among the
                // oldest would stop a pass that must go on behind it.
                Ok(deleted) if deleted > 0 => tokio::time::sleep(TRIM_PAUSE).await,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot trim the change log; trying again later");
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TRIM_EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn sweep_guests(db: DatabaseConnection, changes: ChangeFeed, retention: Retention) {
    let mut stopped = changes.stopped();
    loop {
        let now = chrono::Utc::now();
        let ago = |age: Duration| {
            now - chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX)
        };
        let (untouched_since, merged_before) =
            (ago(retention.guest_list), ago(retention.guest_tombstone));
        loop {
            match guests::sweep(&db, &changes, untouched_since, merged_before, SWEEP_BATCH).await {
                Ok(deleted) if deleted > 0 => tokio::time::sleep(TRIM_PAUSE).await,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot sweep expired guest lists; trying again later");
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}
