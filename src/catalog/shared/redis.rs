//! Talking to Redis for the shared tier: one connection manager, made on first use (so the
//! service starts, and answers, whether Redis is up or not); every command bounded by a short
//! timeout and guarded by a circuit breaker (after a failure Redis is left alone for a second,
//! then one command probes it); and the few commands the tier needs: capped reads, writes, and
//! the fleet-wide lock.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use super::super::breaker::CircuitBreaker;
use super::super::freshness::Freshness;
use super::super::layer::Copy;
use super::entry::SharedKey;
use super::scripts::{POLL_SCRIPT, READ_SCRIPT, RELEASE_SCRIPT};
use crate::sync::lock;
use crate::telemetry::{CatalogMetrics, traces};
use lock::FAILED_MARKER;
pub use lock::Lock;

/// The longest any Redis command may take: well under what a cache is worth waiting for.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after a failure before one command tries it again.
const BACK_OFF: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RedisUnavailable {
    #[error("redis did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis is being left alone after a failure")]
    BackingOff,
}

mod lock;

pub struct Redis {
    client: redis::Client,
    /// Made on first use and dropped after a failure (see `run`).
    connection: Mutex<Option<ConnectionManager>>,
    breaker: CircuitBreaker,
    prefix: String,
    read: redis::Script,
    poll: redis::Script,
    release: redis::Script,
    metrics: CatalogMetrics,
}

/// What a waiter saw of another instance's lock.
pub enum LockSeen {
    Held,
    /// The holder's upstream call failed just now.
    Failed,
    Gone,
}

impl Redis {
    /// Reads the URL only: nothing is connected until the first command.
    pub fn new(
        url: &SecretString,
        prefix: &str,
        metrics: CatalogMetrics,
    ) -> redis::RedisResult<Self> {
        let url = url.expose_secret();
        if url.starts_with("rediss:") {
            // Two rustls crypto providers are compiled in (by other dependencies), so rustls
            // cannot choose the process default itself, and redis-rs asks for that default.
            // An error means one was installed already, which is as good.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Mutex::new(None),
            breaker: CircuitBreaker::new("redis", 1, BACK_OFF),
            prefix: prefix.to_owned(),
            read: redis::Script::new(READ_SCRIPT),
            poll: redis::Script::new(POLL_SCRIPT),
            release: redis::Script::new(RELEASE_SCRIPT),
            metrics,
        })
    }

    /// Copies of `keys` (all of one kind), in order; `None` where there is none worth having.
    pub async fn read<K: SharedKey>(
        &self,
        keys: &[K],
    ) -> Result<Vec<Option<Copy<K::Value>>>, RedisUnavailable> {
        let Some(first) = keys.first() else {
            return Ok(Vec::new());
        };
        let mut invocation = self.read.prepare_invoke();
        for key in keys {
            invocation.key(self.key(&key.name()));
        }
        invocation.arg(first.max_bytes());
        let values = self
            .run("EVALSHA read", |mut connection| async move {
                invocation
                    .invoke_async::<Vec<Option<String>>>(&mut connection)
                    .await
            })
            .await?;
        Ok(keys
            .iter()
            .zip(values)
            .map(|(key, json)| key.decode(&json?))
            .collect())
    }

    /// Best effort: a copy that could not be written is fetched again by the next instance.
    pub async fn write<K: SharedKey>(&self, key: &K, copy: &Copy<K::Value>, policy: &Freshness) {
        let mut pipeline = redis::pipe();
        for (name, json, keep) in key.entries(copy, policy) {
            if json.len() > key.max_bytes() {
                tracing::warn!(
                    entry = name,
                    bytes = json.len(),
                    "not sharing an entry over its size cap"
                );
                continue;
            }
            pipeline
                .cmd("SET")
                .arg(self.key(&name))
                .arg(json)
                .arg("PX")
                .arg(millis(keep))
                .ignore();
        }
        let _ = self
            .run("SET", |mut connection| async move {
                pipeline.query_async::<()>(&mut connection).await
            })
            .await;
    }

    /// The value of `key` as a waiter sees it, and the state of its lock.
    pub async fn poll<K: SharedKey>(
        &self,
        key: &K,
    ) -> Result<(Option<Copy<K::Value>>, LockSeen), RedisUnavailable> {
        let name = key.name();
        let mut invocation = self.poll.prepare_invoke();
        invocation
            .key(self.key(&name))
            .key(self.lock_key(&name))
            .arg(key.max_bytes());
        let (value, lock) = self
            .run("EVALSHA poll", |mut connection| async move {
                invocation
                    .invoke_async::<(Option<String>, Option<String>)>(&mut connection)
                    .await
            })
            .await?;
        let seen = match lock.as_deref() {
            None => LockSeen::Gone,
            Some(FAILED_MARKER) => LockSeen::Failed,
            Some(_) => LockSeen::Held,
        };
        Ok((value.and_then(|json| key.decode(&json)), seen))
    }

    /// Runs one command (`name`, for its span) within `COMMAND_TIMEOUT`, unless the breaker
    /// keeps Redis alone.
    async fn run<T, F, Fut>(&self, name: &'static str, command: F) -> Result<T, RedisUnavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !traces::enabled() {
            return self.run_untraced(command).await;
        }
        let span = tracing::info_span!(
            "redis",
            otel.name = %format_args!("redis {name}"),
            otel.kind = "client",
            db.system.name = "redis",
            db.operation.name = name,
            otel.status_code = tracing::field::Empty,
        );
        let outcome = self.run_untraced(command).instrument(span.clone()).await;
        if outcome.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        outcome
    }

    async fn run_untraced<T, F, Fut>(&self, command: F) -> Result<T, RedisUnavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Some(permit) = self.breaker.allow() else {
            return Err(RedisUnavailable::BackingOff);
        };
        let outcome = match self.connection() {
            Ok(connection) => {
                match tokio::time::timeout(COMMAND_TIMEOUT, command(connection)).await {
                    Ok(result) => result.map_err(RedisUnavailable::from),
                    Err(_) => Err(RedisUnavailable::Timeout(COMMAND_TIMEOUT)),
                }
            }
            Err(error) => Err(error.into()),
        };
        match &outcome {
            Ok(_) => permit.succeeded(),
            Err(error) => {
                self.metrics.shared_cache_errors.inc();
                permit.failed(error);
                // The next try starts on a new connection. The manager reconnects by itself
                // after a connection is dropped, but not after a timeout on one that hangs
                // (a vanished host), nor after its first connection attempt timed out.
                *lock(&self.connection) = None;
            }
        }
        outcome
    }

    /// The connection manager, made on first use: making one connects nothing (the first
    /// command does), so neither start-up nor a request waits on an absent Redis for long.
    fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = lock(&self.connection);
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            // Retries would outlast the command's timeout; the breaker paces the next attempt.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn lock_key(&self, name: &str) -> String {
        format!("{}:lock:{name}", self.prefix)
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::shared::entry::ProductKey;

    fn redis(url: &str) -> Redis {
        Redis::new(&url.to_owned().into(), "unit", CatalogMetrics::default()).expect("a valid URL")
    }

    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("an address").port()
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_then_left_alone() {
        let redis = redis(&format!("redis://127.0.0.1:{}", closed_port()));
        let started = std::time::Instant::now();
        assert!(matches!(
            redis.read(&[ProductKey(1)]).await,
            Err(RedisUnavailable::Redis(_))
        ));
        assert!(matches!(
            redis.read(&[ProductKey(1)]).await,
            Err(RedisUnavailable::BackingOff)
        ));
        assert!(started.elapsed() < COMMAND_TIMEOUT * 2);
        assert_eq!(redis.metrics.shared_cache_errors.get(), 1);
    }

    /// TLS needs a crypto provider chosen before the first handshake (see `new`); without one
    /// rustls panics while building the connection.
    #[tokio::test]
    async fn a_tls_url_fails_cleanly_when_redis_is_unreachable() {
        let redis = redis(&format!("rediss://127.0.0.1:{}", closed_port()));
        assert!(redis.read(&[ProductKey(1)]).await.is_err());
    }
}
