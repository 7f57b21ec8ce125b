//! Reading the change log as it grows, and never skipping a row that commits late.
//!
//! Numbers are taken before commit, so rows become visible out of order: a reader that sees
//! rows 7 and 9 may be looking at the hole of a transaction that holds 8 and has not committed
//! yet (or one that rolled back: sequences have holes for good too). The rule: a number missing
//! below a row we have read was taken by a transaction that already had its id when that row
//! was read (`change_log::append` gives it one before it takes a number), so if that
//! transaction is still at work it is in the snapshot of the read. The reader keeps each hole,
//! with the transactions at work when it first saw it, and asks for the hole's number again on
//! every read until all of those transactions have finished: then the row is there (and read
//! in that very statement, which shares the snapshot) or never will be.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Notify, broadcast, watch};

use super::{Change, FeedEvent};
use crate::db::repositories::change_log::{self, Snapshot};
use crate::telemetry::ChangeFeedMetrics;

/// Rows read at most per statement; a reader further behind reads again at once.
const BATCH: u64 = 1_000;
/// Holes kept at most; past it the oldest are given up, and the feed says it may have missed
/// changes. Holes close within milliseconds (their transactions commit or roll back).
const MAX_HOLES: usize = 10_000;
/// How soon a reader with holes reads again, to pick up the late rows.
const HOLE_RECHECK: Duration = Duration::from_millis(20);
/// The least time between two reads: under a storm of writes, one read takes many rows.
const MIN_READ_INTERVAL: Duration = Duration::from_millis(10);
/// How long a reader that could not read waits before reading again (from the same place).
const RETRY_DELAY: Duration = Duration::from_millis(500);
/// Holes younger than this are asked for again every `HOLE_RECHECK`; older ones (a writer that
/// sits in its transaction) only as often as the log is polled.
const HOLE_PATIENCE: Duration = Duration::from_secs(1);

/// Where a reader is: every row up to `after` is read, except the holes.
#[derive(Debug, Default)]
pub(super) struct Tail {
    after: i64,
    holes: BTreeMap<i64, Hole>,
}

/// A missing number, with the transactions at work when it was first seen missing.
#[derive(Debug, Clone)]
struct Hole {
    writers: Arc<[u64]>,
    seen: Instant,
}

/// What one read brought.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Absorbed {
    pub changes: Vec<Change>,
    /// Rows that filled holes.
    pub late: u64,
    /// Holes were given up (too many to keep).
    pub missed: bool,
}

impl Tail {
    /// A reader at the end of the log. On PostgreSQL, transactions at work now may hold numbers
    /// below the end and commit later: the last `MAX_HOLES` numbers are read once, as a running
    /// reader would have (without handing the rows on: they committed before this instance
    /// served anything), so that the numbers missing among them start out as holes.
    pub async fn start(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let end = change_log::latest(db).await?;
        if db.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(Self {
                after: end,
                holes: BTreeMap::new(),
            });
        }
        let mut tail = Self {
            after: (end - MAX_HOLES as i64).max(0),
            holes: BTreeMap::new(),
        };
        loop {
            let (snapshot, rows) = change_log::since(db, tail.after, &[], BATCH).await?;
            let full = rows.len() as u64 == BATCH;
            tail.absorb(snapshot.as_ref(), rows);
            if !full {
                return Ok(tail);
            }
        }
    }

    fn has_young_holes(&self) -> bool {
        self.holes
            .values()
            .any(|hole| hole.seen.elapsed() < HOLE_PATIENCE)
    }

    /// The numbers to ask for again.
    pub fn holes(&self) -> Vec<i64> {
        self.holes.keys().copied().collect()
    }

    /// Takes in what a read returned (in order), with the snapshot it was read in (`None`:
    /// SQLite, one writer at a time, where a number missing is one rolled back).
    pub fn absorb(&mut self, snapshot: Option<&Snapshot>, rows: Vec<Change>) -> Absorbed {
        let at_work: Arc<[u64]> =
            snapshot.map_or_else(|| Arc::from([]), |s| s.in_progress.clone().into());
        let mut absorbed = Absorbed::default();
        for row in rows {
            if row.seq <= self.after {
                if self.holes.remove(&row.seq).is_some() {
                    absorbed.late += 1;
                    absorbed.changes.push(row);
                }
                continue;
            }
            // Nobody at work: nobody holds the numbers skipped, they are holes for good.
            if !at_work.is_empty() {
                let mut first = self.after + 1;
                if row.seq - first > MAX_HOLES as i64 {
                    first = row.seq - MAX_HOLES as i64;
                    absorbed.missed = true;
                }
                for missing in first..row.seq {
                    let hole = Hole {
                        writers: Arc::clone(&at_work),
                        seen: Instant::now(),
                    };
                    self.holes.insert(missing, hole);
                }
            }
            self.after = row.seq;
            absorbed.changes.push(row);
        }
        let at_work: HashSet<u64> = at_work.iter().copied().collect();
        self.holes
            .retain(|_, hole| hole.writers.iter().any(|xid| at_work.contains(xid)));
        while self.holes.len() > MAX_HOLES {
            self.holes.pop_first();
            absorbed.missed = true;
        }
        absorbed
    }
}

/// One instance's reader of the log, and what it hands the rows to.
pub(super) struct Reader {
    pub db: DatabaseConnection,
    pub tail: Tail,
    pub sender: broadcast::Sender<FeedEvent>,
    pub wake: Arc<Notify>,
    /// `None`: only woken (SQLite, where every write is this process's).
    pub poll_interval: Option<Duration>,
    pub metrics: ChangeFeedMetrics,
    pub stopped: watch::Receiver<()>,
}

/// Reads the log whenever woken (or polled), until the feed is dropped or the pool closed.
/// A failed read is retried from the same place: a reader that lost its connection resumes
/// where it was, so nothing committed meanwhile is skipped.
pub(super) async fn run(mut reader: Reader) {
    loop {
        let started = Instant::now();
        let full = match change_log::since(
            &reader.db,
            reader.tail.after,
            &reader.tail.holes(),
            BATCH,
        )
        .await
        {
            Ok((snapshot, rows)) => {
                // Rows that filled holes come on top of the batch.
                let after = reader.tail.after;
                let full = rows.iter().filter(|row| row.seq > after).count() as u64 == BATCH;
                let absorbed = reader.tail.absorb(snapshot.as_ref(), rows);
                reader.publish(absorbed);
                full
            }
            Err(_) if reader.db_closed() => return,
            Err(error) => {
                reader.metrics.read_errors.inc();
                tracing::warn!(%error, "cannot read the change log; reading again from the same place");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_DELAY) => {}
                    _ = reader.stopped.changed() => return,
                }
                continue;
            }
        };
        let wait = if full {
            Duration::ZERO
        } else if reader.tail.has_young_holes() {
            HOLE_RECHECK
        } else if !reader.tail.holes.is_empty() {
            reader.poll_interval.unwrap_or(HOLE_PATIENCE)
        } else {
            reader.poll_interval.unwrap_or(Duration::MAX)
        };
        tokio::select! {
            _ = reader.wake.notified() => {}
            _ = sleep_for(wait) => {}
            _ = reader.stopped.changed() => return,
        }
        let since = started.elapsed();
        if since < MIN_READ_INTERVAL {
            tokio::time::sleep(MIN_READ_INTERVAL - since).await;
        }
    }
}

async fn sleep_for(wait: Duration) {
    match tokio::time::Instant::now().checked_add(wait) {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Reader {
    fn publish(&self, absorbed: Absorbed) {
        let now = chrono::Utc::now();
        self.metrics.read.inc_by(absorbed.changes.len() as u64);
        self.metrics.late.inc_by(absorbed.late);
        for change in absorbed.changes {
            let delay = (now - change.changed_at).to_std().unwrap_or_default();
            self.metrics.delay.observe(delay.as_secs_f64());
            // No subscriber is not an error.
            let _ = self.sender.send(FeedEvent::Change(change));
        }
        if absorbed.missed {
            self.metrics.missed.inc();
            tracing::warn!("gave up waiting for late changes; cached answers are dropped");
            let _ = self.sender.send(FeedEvent::Missed);
        }
    }

    fn db_closed(&self) -> bool {
        match self.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => self.db.get_postgres_connection_pool().is_closed(),
            _ => self.db.get_sqlite_connection_pool().is_closed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn row(seq: i64) -> Change {
        Change {
            seq,
            client_id: Uuid::nil(),
            kind: super::super::ChangeKind::FavoriteAdded,
            product_id: Some(1),
            changed_at: Utc::now(),
        }
    }

    fn at_work(xids: &[u64]) -> Snapshot {
        Snapshot {
            in_progress: xids.to_vec(),
        }
    }

    fn seqs(absorbed: &Absorbed) -> Vec<i64> {
        absorbed.changes.iter().map(|row| row.seq).collect()
    }

    #[test]
    fn a_late_commit_below_the_mark_is_read_once_it_lands() {
        let mut tail = Tail::default();
        // 2 is missing while transaction 100 is at work.
        let first = tail.absorb(Some(&at_work(&[100])), vec![row(1), row(3)]);
        assert_eq!(seqs(&first), [1, 3]);
        assert_eq!(tail.holes(), [2]);
        // Still at work: the hole is kept, nothing new.
        let second = tail.absorb(Some(&at_work(&[100, 101])), vec![]);
        assert!(second.changes.is_empty());
        assert_eq!(tail.holes(), [2]);
        // It committed: the row comes back through the hole, once.
        let third = tail.absorb(Some(&at_work(&[101])), vec![row(2), row(4)]);
        assert_eq!(seqs(&third), [2, 4]);
        assert_eq!(third.late, 1);
        assert!(tail.holes().is_empty());
        let again = tail.absorb(Some(&at_work(&[])), vec![row(2)]);
        assert!(again.changes.is_empty(), "never twice");
    }

    #[test]
    fn a_hole_whose_writers_all_finished_is_a_rollback_and_is_dropped() {
        let mut tail = Tail::default();
        tail.absorb(Some(&at_work(&[100])), vec![row(1), row(3)]);
        let finished = tail.absorb(Some(&at_work(&[102])), vec![]);
        assert!(finished.changes.is_empty() && !finished.missed);
        assert!(tail.holes().is_empty());
    }

    #[test]
    fn with_nobody_at_work_or_on_sqlite_a_missing_number_is_no_hole() {
        let mut tail = Tail::default();
        tail.absorb(Some(&at_work(&[])), vec![row(1), row(5)]);
        assert!(tail.holes().is_empty());
        tail.absorb(None, vec![row(7)]);
        assert!(tail.holes().is_empty());
        assert_eq!(tail.after, 7);
    }

    #[test]
    fn too_many_holes_are_given_up_and_said_so() {
        let mut tail = Tail::default();
        let absorbed = tail.absorb(
            Some(&at_work(&[100])),
            vec![row(1), row(MAX_HOLES as i64 + 10)],
        );
        assert!(absorbed.missed);
        assert_eq!(tail.holes().len(), MAX_HOLES);
    }
}
