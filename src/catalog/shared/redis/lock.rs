//! The fleet-wide lock of the shared tier: one instance at a time calls the upstream for a key.
//! Taken with `SET NX PX` (it always expires), released only by the token that took it.

use std::sync::Arc;
use std::time::Duration;

use super::{Redis, RedisUnavailable, millis};

/// Left in place of the lock when the holder's upstream call failed; long enough for every
/// waiter's next poll to see it.
pub const FAILED_MARKER: &str = "failed";
const FAILED_MARKER_LIFE: Duration = Duration::from_millis(250);

impl Redis {
    /// Takes the lock of `name` for `life`, or `None` if another instance holds it.
    pub async fn try_lock(
        self: &Arc<Self>,
        name: &str,
        life: Duration,
    ) -> Result<Option<Lock>, RedisUnavailable> {
        let key = self.lock_key(name);
        let token = uuid::Uuid::new_v4().to_string();
        let mut command = redis::cmd("SET");
        command
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(millis(life));
        let set = self
            .run("SET NX", |mut connection| async move {
                command.query_async::<redis::Value>(&mut connection).await
            })
            .await?;
        Ok((set != redis::Value::Nil).then(|| Lock {
            redis: Arc::clone(self),
            key,
            token,
            released: false,
        }))
    }

    async fn unlock(&self, key: &str, token: &str, leave: Option<(&str, Duration)>) {
        let (marker, life) = leave.unwrap_or(("", Duration::ZERO));
        let mut invocation = self.release.prepare_invoke();
        invocation.key(key).arg(token).arg(marker).arg(millis(life));
        let _ = self
            .run("EVALSHA release", |mut connection| async move {
                invocation.invoke_async::<i64>(&mut connection).await
            })
            .await;
    }
}

/// A held lock. Released by its holder once the copy is written; if the holder's future is
/// dropped first (its request went away), released in the background, so waiters do not wait
/// out the lock's whole life.
pub struct Lock {
    redis: Arc<Redis>,
    key: String,
    token: String,
    released: bool,
}

impl Lock {
    /// `failed`: the upstream call failed, and the waiters are told so.
    pub async fn release(mut self, failed: bool) {
        self.released = true;
        let leave = failed.then_some((FAILED_MARKER, FAILED_MARKER_LIFE));
        self.redis.unlock(&self.key, &self.token, leave).await;
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let redis = Arc::clone(&self.redis);
            let (key, token) = (
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.token),
            );
            runtime.spawn(async move { redis.unlock(&key, &token, None).await });
        }
    }
}
