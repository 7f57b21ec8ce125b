//! Waking other instances' readers of the change log (PostgreSQL): after a commit, a writer
//! sends a `NOTIFY` of its own, outside every write transaction, at most once per
//! `SIGNAL_INTERVAL` however many writes it commits; every instance `LISTEN`s and reads the log
//! when woken. A lost signal costs only time: the reader polls anyway.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};

use crate::db::repositories::change_log;

/// The most often one instance signals: PostgreSQL serializes every commit that carries a
/// notification, cluster-wide, so writes must not each send one.
const SIGNAL_INTERVAL: Duration = Duration::from_millis(100);
/// How long the listener waits before listening again after losing its connection.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// Starts listening on the schema's channel (waking `wake` on each signal), and the task that
/// signals after local commits; returns what wakes that task.
pub(super) async fn start(
    db: &DatabaseConnection,
    schema: &str,
    wake: Arc<Notify>,
    stopped: watch::Receiver<()>,
) -> Result<Arc<Notify>, DbErr> {
    let channel = channel_name(schema);
    let pool = db.get_postgres_connection_pool().clone();
    let mut listener = PgListener::connect_with(&pool)
        .await
        .map_err(connection_error)?;
    listener.listen(&channel).await.map_err(connection_error)?;
    tokio::spawn(listen(listener, pool, wake, stopped.clone()));
    let signal = Arc::new(Notify::new());
    tokio::spawn(send(db.clone(), channel, Arc::clone(&signal), stopped));
    Ok(signal)
}

fn connection_error(error: sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into()))
}

/// Wakes the reader on each signal. `PgListener` reconnects by itself after a lost connection;
/// the reader is woken then too, to read what was written meanwhile.
async fn listen(
    mut listener: PgListener,
    pool: sqlx::PgPool,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        let received = tokio::select! {
            received = listener.recv() => received,
            _ = stopped.changed() => return,
        };
        match received {
            Ok(_) => wake.notify_one(),
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                tracing::warn!(%error, "lost the change signal's connection; listening again");
                tokio::time::sleep(RELISTEN_DELAY).await;
                wake.notify_one();
            }
        }
    }
}

/// Sends one signal for all the commits made since the last one, at most once an interval.
async fn send(
    db: DatabaseConnection,
    channel: String,
    signal: Arc<Notify>,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = signal.notified() => {}
            _ = stopped.changed() => return,
        }
        if let Err(error) = change_log::signal(&db, &channel).await {
            // The others' poll covers a signal that could not be sent.
            tracing::debug!(%error, "could not signal a change");
        }
        tokio::time::sleep(SIGNAL_INTERVAL).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_fit_postgresql_and_stay_apart() {
        assert_eq!(channel_name("public"), "favorites_changed_public");
        let long_a = format!("{}a", "s".repeat(62));
        let long_b = format!("{}b", "s".repeat(62));
        assert!(channel_name(&long_a).len() <= MAX_CHANNEL_BYTES);
        assert_ne!(channel_name(&long_a), channel_name(&long_b));
    }
}
