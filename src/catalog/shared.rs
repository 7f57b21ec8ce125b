//! The product cache every instance shares, in Redis (`REDIS_URL`). The in-process cache stays
//! in front of it; this is where an instance looks on a miss before it asks the upstream, and
//! where it leaves what it fetched for the others.
//!
//! Across the fleet, one instance at a time fetches a key: it takes a short lock
//! (`SET {prefix}:lock:{key} <token> NX PX`), fetches, writes the copy, and releases the lock if
//! it still holds it (compare-and-delete). The others poll for the copy meanwhile. If the fetch
//! failed, the holder leaves "failed" in place of its lock for a moment: its waiters share that
//! outcome (and serve their stale copies) instead of calling a failing upstream one after the
//! other, as the in-process single flight does within one instance.
//!
//! Redis is an optimisation, never a dependency: every command is bounded by a short timeout,
//! any failure sends the caller on without Redis (to the in-process cache and the upstream), and
//! `health` logs the outage once and keeps Redis out of the way until it answers again. The
//! connection is made on first use, so the service starts whether Redis is up or not.

mod entry;
mod health;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub use entry::{CatalogKey, ProductKey, SharedKey, Stored};

use super::cache::Freshness;
use super::{CatalogError, Product};
use crate::telemetry::CatalogMetrics;
use health::Health;

/// The longest any Redis command may take: well under what a cache is worth waiting for.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after a failure before one request tries it again.
const BACK_OFF: Duration = Duration::from_secs(1);
/// How often an instance waiting on another's fetch looks for its copy.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// The lock outlives the holder's whole upstream budget by this much, so it expires only when
/// the holder has gone (crashed, or its request was dropped without a release).
const LOCK_MARGIN: Duration = Duration::from_millis(500);
/// Left in place of the lock when the holder's upstream call failed; long enough for every
/// waiter's next poll to see it.
const FAILED_MARKER: &str = "failed";
const FAILED_MARKER_LIFE: Duration = Duration::from_millis(250);

/// Reads values, leaving out (as missing) any over `ARGV[1]` bytes: they never cross the wire.
const READ_SCRIPT: &str = r"
local values = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and string.len(value) > tonumber(ARGV[1]) then value = false end
  values[i] = value
end
return values
";

/// A waiter's look: the value (capped like `READ_SCRIPT`) and the lock. A lock without an expiry
/// is none of ours (ours always expire) and would hold every waiter of the fleet: it goes.
const POLL_SCRIPT: &str = r"
local value = redis.call('GET', KEYS[1])
if value and string.len(value) > tonumber(ARGV[1]) then value = false end
local lock = redis.call('GET', KEYS[2])
if lock and redis.call('PTTL', KEYS[2]) == -1 then
  redis.call('DEL', KEYS[2])
  lock = false
end
return {value, lock}
";

/// Releases a lock only if it still holds the caller's token (it may have expired and been
/// taken by another instance), leaving `ARGV[2]` in its place for `ARGV[3]` ms if given.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

#[derive(Clone, Debug)]
pub struct SharedSettings {
    pub url: SecretString,
    /// Every key starts with `{key_prefix}:`, so several services can share one Redis.
    pub key_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SharedCacheError {
    #[error("redis did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("redis failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis is being left alone after a failure")]
    BackingOff,
}

/// What the fleet had to say about a key.
pub enum FromFleet<V> {
    /// A fresh copy: in Redis already, or written by the instance we waited for.
    Copy(Stored<V>),
    /// The outcome of our own upstream call (or of the failed call of the instance we waited
    /// for), and the fleet's stale copy to fall back on, if it has one.
    Fetched {
        result: Result<V, CatalogError>,
        stale: Option<V>,
    },
}

#[derive(Clone)]
pub struct SharedCache {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// Made on first use and dropped after a failure (see `run`).
    connection: Mutex<Option<ConnectionManager>>,
    health: Health,
    prefix: String,
    freshness: Freshness,
    lock_for: Duration,
    release: redis::Script,
    read: redis::Script,
    poll: redis::Script,
    metrics: CatalogMetrics,
}

/// Whose turn it is to call the upstream for a key.
enum Turn<V> {
    Ours(Lock),
    /// Another instance fetched it while we waited.
    Copy(Stored<V>),
    /// Another instance's call failed just now.
    FailedElsewhere,
    /// No lock to be had (Redis is failing, or the wait ran out): call without one.
    Anyway,
}

impl SharedCache {
    /// Reads the URL only: nothing is connected until the first command.
    pub fn new(
        settings: &SharedSettings,
        freshness: Freshness,
        upstream_timeout: Duration,
        metrics: CatalogMetrics,
    ) -> Result<Self, redis::RedisError> {
        let url = settings.url.expose_secret();
        if url.starts_with("rediss:") {
            // Two rustls crypto providers are compiled in (by other dependencies), so rustls
            // cannot choose the process default itself, and redis-rs asks for that default.
            // An error means one was installed already, which is as good.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client: redis::Client::open(url)?,
                connection: Mutex::new(None),
                health: Health::new(BACK_OFF, COMMAND_TIMEOUT * 2),
                prefix: settings.key_prefix.clone(),
                freshness,
                lock_for: upstream_timeout + LOCK_MARGIN,
                release: redis::Script::new(RELEASE_SCRIPT),
                read: redis::Script::new(READ_SCRIPT),
                poll: redis::Script::new(POLL_SCRIPT),
                metrics,
            }),
        })
    }

    /// A fresh copy of `key` from Redis, or else the upstream through `fetch`, called at most
    /// once at a time across the fleet. `may_fetch` false (the request's budget is spent, or
    /// the breaker is open) skips the lock: `fetch` then fails fast or probes on its own.
    pub async fn fetch<K, F, Fut>(&self, key: &K, may_fetch: bool, fetch: F) -> FromFleet<K::Value>
    where
        K: SharedKey,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<K::Value, CatalogError>>,
    {
        let mut stale = None;
        match self.read(key).await {
            Ok(Some(stored)) if K::is_fresh(&stored, self.inner.freshness) => {
                self.inner.metrics.shared_cache_hits.inc();
                return FromFleet::Copy(stored);
            }
            Ok(Some(stored)) if K::is_usable_stale(&stored, self.inner.freshness) => {
                stale = Some(stored.value);
            }
            Ok(_) => {}
            Err(_) => {
                return FromFleet::Fetched {
                    result: fetch().await,
                    stale,
                };
            }
        }
        self.inner.metrics.shared_cache_misses.inc();
        let lock = if may_fetch {
            match self.lock_or_wait(key).await {
                Turn::Ours(lock) => Some(lock),
                Turn::Copy(stored) => return FromFleet::Copy(stored),
                Turn::FailedElsewhere => {
                    return FromFleet::Fetched {
                        result: Err(CatalogError::FailedOnAnotherInstance),
                        stale,
                    };
                }
                Turn::Anyway => None,
            }
        } else {
            None
        };
        let result = fetch().await;
        if let Ok(value) = &result {
            self.write(key, value).await;
        }
        if let Some(lock) = lock {
            let failed = result.as_ref().is_err_and(CatalogError::reached_upstream);
            lock.release(failed).await;
        }
        FromFleet::Fetched { result, stale }
    }

    /// The fresh copies Redis has of these products, in one round trip.
    pub async fn fresh_products(&self, ids: &[i32]) -> Vec<(i32, Stored<Option<Product>>)> {
        let Some(&first) = ids.first() else {
            return Vec::new();
        };
        let mut invocation = self.inner.read.prepare_invoke();
        for &id in ids {
            invocation.key(self.key(&ProductKey(id).name()));
        }
        invocation.arg(ProductKey(first).max_bytes());
        let Ok(values) = self
            .run(|mut connection| async move {
                invocation
                    .invoke_async::<Vec<Option<String>>>(&mut connection)
                    .await
            })
            .await
        else {
            return Vec::new();
        };
        let fresh: Vec<_> = ids
            .iter()
            .zip(values)
            .filter_map(|(&id, json)| Some((id, ProductKey(id).decode(&json?)?)))
            .filter(|(_, stored)| ProductKey::is_fresh(stored, self.inner.freshness))
            .collect();
        self.inner
            .metrics
            .shared_cache_hits
            .inc_by(fresh.len() as u64);
        fresh
    }

    /// Takes the lock for `key`, or waits for the copy of the instance that holds it.
    async fn lock_or_wait<K: SharedKey>(&self, key: &K) -> Turn<K::Value> {
        let name = key.name();
        // One bound for the whole wait, however often the lock changes hands.
        let deadline = Instant::now() + self.inner.lock_for + POLL_INTERVAL;
        let mut took_over = false;
        loop {
            match self.try_lock(&name).await {
                Err(_) => return Turn::Anyway,
                Ok(Some(lock)) => {
                    // A holder may have written its copy and gone between our read and now.
                    return match self.read(key).await {
                        Ok(Some(stored)) if K::is_fresh(&stored, self.inner.freshness) => {
                            lock.release(false).await;
                            self.inner.metrics.shared_cache_hits.inc();
                            Turn::Copy(stored)
                        }
                        _ => Turn::Ours(lock),
                    };
                }
                Ok(None) => {}
            }
            match self.wait(key, deadline).await {
                Waited::Copy(stored) => return Turn::Copy(stored),
                Waited::Failed => return Turn::FailedElsewhere,
                // The holder went without a copy or a word (it crashed, or gave up without
                // calling): take over, once.
                Waited::LockGone if !took_over => took_over = true,
                Waited::LockGone | Waited::TimedOut | Waited::Unavailable => return Turn::Anyway,
            }
        }
    }

    async fn wait<K: SharedKey>(&self, key: &K, deadline: Instant) -> Waited<K::Value> {
        self.inner.metrics.shared_lock_waits.inc();
        let name = key.name();
        let (value_key, lock_key) = (self.key(&name), self.lock_key(&name));
        loop {
            if Instant::now() + POLL_INTERVAL > deadline {
                return Waited::TimedOut;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            let mut invocation = self.inner.poll.prepare_invoke();
            invocation
                .key(&value_key)
                .key(&lock_key)
                .arg(key.max_bytes());
            let polled = self
                .run(|mut connection| async move {
                    invocation
                        .invoke_async::<(Option<String>, Option<String>)>(&mut connection)
                        .await
                })
                .await;
            let Ok((value, lock)) = polled else {
                return Waited::Unavailable;
            };
            if let Some(stored) = value.and_then(|json| key.decode(&json))
                && K::is_fresh(&stored, self.inner.freshness)
            {
                self.inner.metrics.shared_cache_hits.inc();
                return Waited::Copy(stored);
            }
            match lock.as_deref() {
                None => return Waited::LockGone,
                Some(FAILED_MARKER) => return Waited::Failed,
                Some(_) => {}
            }
        }
    }

    async fn read<K: SharedKey>(
        &self,
        key: &K,
    ) -> Result<Option<Stored<K::Value>>, SharedCacheError> {
        let mut invocation = self.inner.read.prepare_invoke();
        invocation.key(self.key(&key.name())).arg(key.max_bytes());
        let values = self
            .run(|mut connection| async move {
                invocation
                    .invoke_async::<Vec<Option<String>>>(&mut connection)
                    .await
            })
            .await?;
        Ok(values
            .into_iter()
            .next()
            .flatten()
            .and_then(|json| key.decode(&json)))
    }

    /// Best effort: a copy that could not be written is fetched again by the next instance.
    async fn write<K: SharedKey>(&self, key: &K, value: &K::Value) {
        let mut pipeline = redis::pipe();
        let entries = key.entries(value, entry::unix_ms(), self.inner.freshness);
        for (name, json, keep) in entries {
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
            .run(|mut connection| async move { pipeline.query_async::<()>(&mut connection).await })
            .await;
    }

    async fn try_lock(&self, name: &str) -> Result<Option<Lock>, SharedCacheError> {
        let key = self.lock_key(name);
        let token = uuid::Uuid::new_v4().to_string();
        let mut command = redis::cmd("SET");
        command
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.inner.lock_for));
        let set = self
            .run(|mut connection| async move {
                command.query_async::<redis::Value>(&mut connection).await
            })
            .await?;
        Ok((set != redis::Value::Nil).then(|| Lock {
            cache: self.clone(),
            key,
            token,
            released: false,
        }))
    }

    async fn unlock(&self, key: &str, token: &str, leave: Option<(&str, Duration)>) {
        let (marker, life) = leave.unwrap_or(("", Duration::ZERO));
        let mut invocation = self.inner.release.prepare_invoke();
        invocation.key(key).arg(token).arg(marker).arg(millis(life));
        let _ =
            self.run(|mut connection| async move {
                invocation.invoke_async::<i64>(&mut connection).await
            })
            .await;
    }

    /// Runs one Redis command within `COMMAND_TIMEOUT`, unless Redis is being left alone;
    /// reports the outcome to `health`.
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, SharedCacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &self.inner;
        if !inner.health.admit() {
            return Err(SharedCacheError::BackingOff);
        }
        let outcome = match self.connection() {
            Ok(connection) => {
                match tokio::time::timeout(COMMAND_TIMEOUT, command(connection)).await {
                    Ok(result) => result.map_err(SharedCacheError::from),
                    Err(_) => Err(SharedCacheError::Timeout(COMMAND_TIMEOUT)),
                }
            }
            Err(error) => Err(error.into()),
        };
        match &outcome {
            Ok(_) => inner.health.succeeded(),
            Err(error) => {
                inner.metrics.shared_cache_errors.inc();
                inner.health.failed(error);
                // The next try starts on a new connection. The manager reconnects by itself
                // after a connection is dropped, but not after a timeout on one that hangs
                // (a vanished host), nor after its first connection attempt timed out.
                *lock(&inner.connection) = None;
            }
        }
        outcome
    }

    /// The connection manager, made on first use: making one connects nothing (the first
    /// command does), so neither start-up nor a request waits on an absent Redis for long.
    fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = lock(&self.inner.connection);
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            // Retries would outlast the command's timeout; `health` paces the next attempt.
            .set_number_of_retries(0);
        let connection =
            ConnectionManager::new_lazy_with_config(self.inner.client.clone(), config)?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.inner.prefix)
    }

    fn lock_key(&self, name: &str) -> String {
        format!("{}:lock:{name}", self.inner.prefix)
    }
}

enum Waited<V> {
    Copy(Stored<V>),
    Failed,
    LockGone,
    TimedOut,
    Unavailable,
}

/// A held lock. Released by its holder once the copy is written; if the holder's future is
/// dropped first (its request went away), released in the background, so waiters do not wait
/// out the lock's whole life.
struct Lock {
    cache: SharedCache,
    key: String,
    token: String,
    released: bool,
}

impl Lock {
    /// `failed`: the upstream call failed, and the waiters are told so.
    async fn release(mut self, failed: bool) {
        self.released = true;
        let leave = failed.then_some((FAILED_MARKER, FAILED_MARKER_LIFE));
        self.cache.unlock(&self.key, &self.token, leave).await;
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cache = self.cache.clone();
            let (key, token) = (
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.token),
            );
            runtime.spawn(async move { cache.unlock(&key, &token, None).await });
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The slot is set whole, so a poisoned lock still holds a valid value.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(url: &str) -> SharedCache {
        let settings = SharedSettings {
            url: url.to_owned().into(),
            key_prefix: "unit".to_owned(),
        };
        let freshness = Freshness {
            ttl: Duration::from_secs(60),
            stale_for: Duration::from_secs(60),
        };
        SharedCache::new(
            &settings,
            freshness,
            Duration::from_secs(1),
            CatalogMetrics::default(),
        )
        .expect("a valid URL")
    }

    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("an address").port()
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_then_left_alone() {
        let cache = cache(&format!("redis://127.0.0.1:{}", closed_port()));
        let started = std::time::Instant::now();
        assert!(matches!(
            cache.read(&ProductKey(1)).await,
            Err(SharedCacheError::Redis(_))
        ));
        assert!(matches!(
            cache.read(&ProductKey(1)).await,
            Err(SharedCacheError::BackingOff)
        ));
        assert!(started.elapsed() < COMMAND_TIMEOUT * 2);
        assert_eq!(cache.inner.metrics.shared_cache_errors.get(), 1);
    }

    /// TLS needs a crypto provider chosen before the first handshake (see `new`); without one
    /// rustls panics while building the connection.
    #[tokio::test]
    async fn a_tls_url_fails_cleanly_when_redis_is_unreachable() {
        let cache = cache(&format!("rediss://127.0.0.1:{}", closed_port()));
        assert!(cache.read(&ProductKey(1)).await.is_err());
    }
}
