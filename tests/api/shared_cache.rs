//! Product data shared by a fleet through Redis (`REDIS_URL`): a fleet of instances calls the
//! upstream once per product, whichever instance is asked; and Redis failing never fails a
//! request. Runs against a real Redis: `TEST_REDIS_URL`, or `redis://127.0.0.1:6379`. Each test
//! works under a key prefix of its own and removes its keys at the end.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::json;
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::fake_catalog::{FIXTURE, fixture_products};
use crate::helpers::{Backend, Options, TestApp, each_backend_with, error_codes};
use crate::subscriptions;
use crate::tcp_proxy::TcpProxy;
use favorites_api::db::changes::ChangeFeed;

const PRODUCT: &str = "query($id: Int!) { product(id: $id) { id title } }";
const FAVORITE_TITLES: &str =
    "query($id: UUID!) { client(id: $id) { favorites { nodes { product { title } } } } }";

fn redis_url() -> String {
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
    async fn instance_via(&self, app: &TestApp, url: &str) -> TestApp {
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
    async fn holds(&self, name: &str) -> bool {
        redis::cmd("EXISTS")
            .arg(format!("{}:{name}", self.prefix))
            .query_async::<bool>(&mut self.connection().await)
            .await
            .expect("EXISTS")
    }

    async fn keys(&self) -> Vec<String> {
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

fn redis_address() -> SocketAddr {
    let url = reqwest::Url::parse(&redis_url()).expect("a URL");
    format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().unwrap_or(6379)
    )
    .parse()
    .expect("TEST_REDIS_URL names an IP address and port")
}

/// A counter's value from an instance's `/metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn title(id: usize) -> String {
    fixture_products()[id - 1]["title"]
        .as_str()
        .expect("a title")
        .to_owned()
}

#[tokio::test]
async fn cold_reads_spread_over_two_instances_call_the_upstream_once() {
    with_fleet(options(), |app, fleet| async move {
        // Through the repository: no cache, in-process or shared, has seen a product.
        let id = app.create_client("Ana", "ana@example.com").await;
        let client_id = Uuid::parse_str(&id).unwrap();
        for product in [3, 8, 13, 18, 20] {
            favorites_api::db::repositories::favorites::add(
                &app.db,
                &ChangeFeed::local(),
                client_id,
                product,
                1_000,
            )
            .await
            .unwrap();
        }
        // A slow upstream, so the second instance surely finds the first one's call
        // under way (and has to wait for it, not just read its result).
        app.catalog
            .answer_path_with(
                "/products",
                ResponseTemplate::new(200)
                    .set_body_raw(FIXTURE, "application/json")
                    .set_delay(Duration::from_millis(300)),
            )
            .await;
        let instances = [fleet.instance(&app).await, fleet.instance(&app).await];

        let started = Instant::now();
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let instance = instances[i % 2].clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let data = instance.data(FAVORITE_TITLES, json!({ "id": id })).await;
                    (i % 2, data, started.elapsed())
                })
            })
            .collect();
        let mut slowest = [Duration::ZERO; 2];
        for task in tasks {
            let (instance, data, elapsed) = task.await.unwrap();
            let nodes = data["client"]["favorites"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), 5, "{data}");
            assert!(
                nodes
                    .iter()
                    .all(|node| node["product"]["title"].is_string())
            );
            slowest[instance] = slowest[instance].max(elapsed);
        }
        let paths = app.catalog.request_paths().await;
        let waits = counter(&instances[0], "catalog_shared_lock_waits_total").await
            + counter(&instances[1], "catalog_shared_lock_waits_total").await;
        eprintln!(
            "{:?}: 40 cold reads over 2 instances: upstream calls {paths:?}, {waits} \
             wait(s) on the other instance, slowest read on each {slowest:?} \
             (the upstream takes 300 ms), all in {:?}",
            app.backend,
            started.elapsed()
        );
        assert_eq!(
            paths,
            ["/products"],
            "one upstream call for the whole fleet"
        );
        assert!(waits >= 1, "one instance waited for the other's call");
        assert!(fleet.holds("catalog").await && fleet.holds("product:13").await);
    })
    .await;
}

#[tokio::test]
async fn a_product_fetched_through_one_instance_is_served_by_another_from_redis() {
    with_fleet(options(), |app, fleet| async move {
        let a = fleet.instance(&app).await;
        let b = fleet.instance(&app).await;
        let data = a.data(PRODUCT, json!({ "id": 6 })).await;
        assert_eq!(data["product"]["title"], title(6));
        assert_eq!(app.catalog.requests_to("/products/6").await, 1);
        assert!(fleet.holds("product:6").await);

        let started = Instant::now();
        let data = b.data(PRODUCT, json!({ "id": 6 })).await;
        eprintln!(
            "{:?}: B read A's copy from Redis in {:?}",
            app.backend,
            started.elapsed()
        );
        assert_eq!(data["product"]["title"], title(6));
        assert_eq!(
            app.catalog.requests().await,
            1,
            "B asked Redis, not the upstream"
        );
        assert_eq!(counter(&b, "catalog_shared_cache_hits_total").await, 1);

        // "No such product" is shared too (for its shorter life).
        for instance in [&a, &b] {
            let data = instance.data(PRODUCT, json!({ "id": 21 })).await;
            assert!(data["product"].is_null(), "{data}");
        }
        assert_eq!(app.catalog.requests_to("/products/21").await, 1);
    })
    .await;
}

#[tokio::test]
async fn requests_keep_succeeding_while_redis_is_down_and_redis_is_used_again_after() {
    with_fleet(options(), |app, fleet| async move {
        let proxy = TcpProxy::start(redis_address()).await;
        let a = fleet
            .instance_via(&app, &format!("redis://{}", proxy.address))
            .await;
        let b = fleet.instance(&app).await; // straight to Redis: it never sees an outage
        a.data(PRODUCT, json!({ "id": 1 })).await;
        assert!(
            fleet.holds("product:1").await,
            "A uses Redis through the proxy"
        );

        proxy.go_down();
        let started = Instant::now();
        for id in [1, 2, 3, 1, 2, 3] {
            // `data` fails on any error in the answer.
            let data = a.data(PRODUCT, json!({ "id": id })).await;
            assert_eq!(data["product"]["title"], title(id), "{data}");
        }
        let elapsed = started.elapsed();
        eprintln!(
            "{:?}: 6 reads with Redis down took {elapsed:?}",
            app.backend
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(
            app.catalog.requests().await,
            3,
            "1 from A's in-process cache; 2 and 3 from the upstream, once each"
        );
        assert!(!fleet.holds("product:2").await);

        // A host that vanishes answers nothing: still bounded by the command timeout.
        proxy.vanish();
        tokio::time::sleep(Duration::from_millis(1_100)).await; // past the back-off
        let started = Instant::now();
        let data = a.data(PRODUCT, json!({ "id": 4 })).await;
        let elapsed = started.elapsed();
        eprintln!(
            "{:?}: a read with Redis unreachable took {elapsed:?}",
            app.backend
        );
        assert_eq!(data["product"]["title"], title(4));
        assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
        assert!(counter(&a, "catalog_shared_cache_errors_total").await >= 1);

        // Back: A reconnects by itself, and what it fetches reaches B through Redis.
        proxy.come_back();
        let started = Instant::now();
        let mut shared = None;
        for id in 5..=20 {
            a.data(PRODUCT, json!({ "id": id })).await;
            if fleet.holds(&format!("product:{id}")).await {
                shared = Some(id);
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let id = shared.expect("A went back to Redis by itself");
        eprintln!(
            "{:?}: A used Redis again {:?} after it came back",
            app.backend,
            started.elapsed()
        );
        let calls = app.catalog.requests().await;
        let data = b.data(PRODUCT, json!({ "id": id })).await;
        assert_eq!(data["product"]["title"], title(id));
        assert_eq!(
            app.catalog.requests().await,
            calls,
            "B found A's copy in Redis"
        );
    })
    .await;
}

#[tokio::test]
async fn an_instance_leaves_a_connection_that_hangs_and_uses_redis_again() {
    with_fleet(options(), |app, fleet| async move {
        let proxy = TcpProxy::start(redis_address()).await;
        let a = fleet
            .instance_via(&app, &format!("redis://{}", proxy.address))
            .await;
        a.data(PRODUCT, json!({ "id": 1 })).await;
        assert!(fleet.holds("product:1").await);

        // Its connection stops answering but stays open: no error, only timeouts,
        // which do not make redis-rs's ConnectionManager reconnect by itself.
        proxy.freeze();
        let started = Instant::now();
        let mut shared = None;
        for id in 2..=12 {
            let data = a.data(PRODUCT, json!({ "id": id })).await;
            assert_eq!(data["product"]["title"], title(id), "{data}");
            if fleet.holds(&format!("product:{id}")).await {
                shared = Some(id);
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let id = shared.expect("A went back to Redis on a new connection");
        eprintln!(
            "{:?}: A used Redis again {:?} after its connection hung (product {id})",
            app.backend,
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn the_service_starts_and_answers_with_redis_unreachable() {
    with_fleet(options(), |app, fleet| async move {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap(); // closed again once the listener is dropped, here
        let started = Instant::now();
        let a = fleet.instance_via(&app, &format!("redis://{closed}")).await;
        eprintln!(
            "{:?}: started with Redis unreachable in {:?}",
            app.backend,
            started.elapsed()
        );

        let client = a.create_client("Ana", "ana@example.com").await;
        let body = a.add_favorite(&client, 7).await;
        assert!(error_codes(&body).is_empty(), "{body}");
        for _ in 0..3 {
            let data = a.data(FAVORITE_TITLES, json!({ "id": client })).await;
            assert_eq!(
                data["client"]["favorites"]["nodes"][0]["product"]["title"],
                title(7)
            );
            let data = a.data(PRODUCT, json!({ "id": 7 })).await;
            assert_eq!(data["product"]["title"], title(7));
        }
        assert_eq!(
            app.catalog.requests_to("/products/7").await,
            1,
            "the in-process cache works without Redis"
        );
        assert!(counter(&a, "catalog_shared_cache_errors_total").await >= 1);
        assert!(fleet.keys().await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_stale_copy_in_redis_covers_a_failing_upstream_on_an_instance_that_never_saw_it() {
    let options = options().with("PRODUCT_CACHE_TTL_SECONDS", 1);
    with_fleet(options, |app, fleet| async move {
        let a = fleet.instance(&app).await;
        a.data(PRODUCT, json!({ "id": 5 })).await;
        tokio::time::sleep(Duration::from_millis(1_100)).await; // past the TTL
        app.catalog.go_down().await;

        let b = fleet.instance(&app).await;
        let data = b.data(PRODUCT, json!({ "id": 5 })).await;
        assert_eq!(data["product"]["title"], title(5), "stale, but served");
        assert!(
            app.catalog.requests().await >= 1,
            "B did try the upstream first"
        );
        assert_eq!(counter(&b, "catalog_stale_serves_total").await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_failed_call_is_shared_with_the_instances_that_waited_for_it() {
    with_fleet(options(), |app, fleet| async move {
        app.catalog
            .answer_everything_with(
                ResponseTemplate::new(503).set_delay(Duration::from_millis(100)),
            )
            .await;
        let instances = [fleet.instance(&app).await, fleet.instance(&app).await];
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let instance = instances[i % 2].clone();
                tokio::spawn(async move { instance.graphql(PRODUCT, json!({ "id": 9 })).await })
            })
            .collect();
        for task in tasks {
            let body = task.await.unwrap();
            assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        }
        let calls = app.catalog.requests().await;
        eprintln!(
            "{:?}: 10 reads of a failing product over 2 instances: {calls} upstream call(s)",
            app.backend
        );
        assert_eq!(
            calls, 2,
            "one instance's call and its one retry; the other waited"
        );
    })
    .await;
}

/// The whole fleet at once: two instances on one database and one Redis. A subscriber on A
/// hears, within a second, a favorite added through B, also while Redis is down, and no
/// request fails meanwhile. Across instances, changes travel through PostgreSQL: on SQLite
/// (one process's database) this test has nothing to check.
#[tokio::test]
async fn a_fleet_shares_live_favorites_and_keeps_answering_when_redis_goes_down() {
    with_fleet(options(), |app, fleet| async move {
        if app.backend == Backend::Sqlite {
            eprintln!("skipped on SQLite: the fleet shares changes through PostgreSQL");
            return;
        }
        let proxy = TcpProxy::start(redis_address()).await;
        let redis_via_proxy = format!("redis://{}", proxy.address);
        let a = fleet.instance_via(&app, &redis_via_proxy).await;
        let b = fleet.instance_via(&app, &redis_via_proxy).await;
        let client = b.create_client("Ana", "ana@example.com").await;
        let mut socket = subscriptions::subscribe(&a.address, &a.token, &client).await;

        for (product, redis_up) in [(1, true), (2, false), (3, false)] {
            if !redis_up {
                proxy.go_down();
            }
            let started = Instant::now();
            // `add_favorite` fails on any error in the answer.
            b.add_favorite(&client, product).await;
            let next = subscriptions::receive(&mut socket)
                .await
                .expect("a change within a second");
            let elapsed = started.elapsed();
            eprintln!(
                "{:?}: product {product} added through B (Redis {}) reached A's subscriber in {elapsed:?}",
                app.backend,
                if redis_up { "up" } else { "down" }
            );
            let nodes = &next["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"];
            let last = &nodes[nodes.as_array().unwrap().len() - 1];
            assert_eq!(last["productId"], product, "{next}");
            assert_eq!(last["product"]["title"], title(product as usize), "{next}");
            assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
            // Reads through either instance keep working.
            for instance in [&a, &b] {
                let data = instance
                    .data(FAVORITE_TITLES, json!({ "id": client }))
                    .await;
                assert_eq!(
                    data["client"]["favorites"]["nodes"].as_array().unwrap().len(),
                    product as usize
                );
            }
        }
    })
    .await;
}
