//! A corner of a real Redis for one test run (`TEST_REDIS_URL`, or `redis://127.0.0.1:6379`): a
//! key prefix of its own, instances of the app that share product data under it, and the keys
//! removed at the end, pass or fail. Without a Redis (and without `TEST_REDIS_URL`) a test is
//! skipped.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use uuid::Uuid;

use crate::support::app::{Options, TestApp, each_backend_with};

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// `TEST_REDIS_URL` makes Redis required (CI sets it). Without it, a Redis on the default port
/// is used if one answers, and the test is skipped otherwise, so that `cargo test` works on a
/// machine that has none.
pub fn redis_missing() -> bool {
    if std::env::var("TEST_REDIS_URL").is_ok_and(|url| !url.is_empty()) {
        return false;
    }
    let reachable =
        std::net::TcpStream::connect_timeout(&redis_address(), Duration::from_millis(200)).is_ok();
    if !reachable {
        eprintln!(
            "skipped {}: no Redis on {} (set TEST_REDIS_URL to require one)",
            std::thread::current().name().unwrap_or("a test"),
            redis_address()
        );
    }
    !reachable
}

/// Runs `test` on each backend with a corner of Redis of its own (its keys removed afterwards,
/// pass or fail); without a Redis (and without `TEST_REDIS_URL`), says it is skipped instead.
pub async fn with_fleet<F, Fut>(options: Options, test: F)
where
    F: Fn(TestApp, Arc<Fleet>) -> Fut,
    Fut: Future<Output = ()>,
{
    if redis_missing() {
        return;
    }
    each_backend_with(options, |app| {
        let fleet = Arc::new(Fleet::new());
        let test = test(app, Arc::clone(&fleet));
        async move { fleet.run(test).await }
    })
    .await;
}

/// Short lives, so that keys a crashed run could not remove go away soon by themselves.
pub fn options() -> Options {
    Options::default()
        .with("PRODUCT_CACHE_TTL_SECONDS", 300)
        .with("PRODUCT_STALE_SECONDS", 300)
}

/// One test run's corner of Redis: its key prefix, and a connection to look at its keys.
pub struct Fleet {
    pub prefix: String,
    redis: redis::Client,
}

impl Fleet {
    pub fn new() -> Self {
        Self {
            prefix: format!("favorites-test-{}", Uuid::new_v4().simple()),
            redis: redis::Client::open(redis_url()).expect("TEST_REDIS_URL is a Redis URL"),
        }
    }

    /// Another instance of `app`'s service that shares product data through Redis at `url`.
    pub async fn instance_via(&self, app: &TestApp, url: &str) -> TestApp {
        app.another_instance_with(
            Options::default()
                .with("REDIS_URL", url)
                .with("REDIS_KEY_PREFIX", &self.prefix),
        )
        .await
    }

    pub async fn instance(&self, app: &TestApp) -> TestApp {
        self.instance_via(app, &redis_url()).await
    }

    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.redis
            .get_multiplexed_async_connection()
            .await
            .expect("Redis is running (start it, or set TEST_REDIS_URL)")
    }

    /// Whether Redis holds `{prefix}:{name}`, e.g. `product:3`.
    pub async fn holds(&self, name: &str) -> bool {
        redis::cmd("EXISTS")
            .arg(format!("{}:{name}", self.prefix))
            .query_async::<bool>(&mut self.connection().await)
            .await
            .expect("EXISTS")
    }

    pub async fn keys(&self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut self.connection().await)
            .await
            .expect("KEYS")
    }

    async fn clear(&self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut self.connection().await)
                .await
                .expect("DEL");
        }
    }

    /// Runs `test`, then removes the run's keys whether it passed or not.
    pub async fn run(&self, test: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(test).catch_unwind().await;
        self.clear().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Where `TEST_REDIS_URL` (or the default) points, for a `TcpProxy` to stand in front of it.
pub fn redis_address() -> SocketAddr {
    let url = reqwest::Url::parse(&redis_url()).expect("a URL");
    format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().unwrap_or(6379)
    )
    .parse()
    .expect("TEST_REDIS_URL names an IP address and port")
}
