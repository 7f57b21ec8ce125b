//! Product data shared by a fleet through Redis (`REDIS_URL`): a fleet of instances calls the
//! upstream once per product, whichever instance is asked, and shares what it got (a failure
//! too, and a stale copy that covers a failing upstream). What another instance left in Redis is
//! not trusted blindly: a copy "fetched" in the future, an entry over its size cap, or a lock
//! that never expires cannot take over or hold up reads. Runs against a real Redis
//! (`support::fleet`).

use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::support::app::error_codes;
use crate::support::catalog::{FIXTURE, fixture_products, title};
use crate::support::fleet::{Fleet, options, with_fleet};
use crate::support::metrics::metric;
use favorites_api::db::changes::ChangeFeed;

const PRODUCT: &str = "query($id: Int!) { product(id: $id) { id title } }";
const FAVORITE_TITLES: &str =
    "query($id: UUID!) { client(id: $id) { favorites { nodes { product { title } } } } }";

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
                &favorites_api::domain::NewFavorite::product(product),
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
        let waits = metric(&instances[0], "catalog_shared_lock_waits_total").await
            + metric(&instances[1], "catalog_shared_lock_waits_total").await;
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
        assert_eq!(metric(&b, "catalog_shared_cache_hits_total").await, 1);

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
        assert_eq!(metric(&b, "catalog_stale_serves_total").await, 1);
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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

async fn set(fleet: &Fleet, name: &str, value: &str) {
    redis::cmd("SET")
        .arg(format!("{}:{name}", fleet.prefix))
        .arg(value)
        .query_async::<()>(&mut fleet.connection().await)
        .await
        .expect("SET");
}

fn poisoned(id: usize, fetched_at_ms: u64, description: &str) -> String {
    let mut product = fixture_products()[id - 1].clone();
    product["title"] = json!("Poisoned");
    product["description"] = json!(description);
    json!({ "product": product, "fetched_at_ms": fetched_at_ms }).to_string()
}

#[tokio::test]
async fn a_copy_from_the_future_or_over_its_size_is_ignored() {
    with_fleet(options(), |app, fleet| async move {
        set(
            &fleet,
            "product:3",
            &poisoned(3, now_ms() + 86_400_000, "from tomorrow"),
        )
        .await;
        set(
            &fleet,
            "product:4",
            &poisoned(4, now_ms(), &"x".repeat(1024 * 1024)),
        )
        .await;
        let instance = fleet.instance(&app).await;
        for id in [3, 4] {
            let data = instance.data(PRODUCT, json!({ "id": id })).await;
            assert_eq!(
                data["product"]["title"],
                fixture_products()[id - 1]["title"],
                "product {id}"
            );
        }
        assert_eq!(app.catalog.requests_to("/products/3").await, 1);
        assert_eq!(app.catalog.requests_to("/products/4").await, 1);
    })
    .await;
}

#[tokio::test]
async fn a_lock_without_an_expiry_holds_nobody_up_and_goes() {
    with_fleet(options(), |app, fleet| async move {
        set(&fleet, "lock:product:5", "left-by-something-else").await;
        let instance = fleet.instance(&app).await;
        let started = Instant::now();
        let data = instance.data(PRODUCT, json!({ "id": 5 })).await;
        assert_eq!(data["product"]["title"], fixture_products()[4]["title"]);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "waited {:?}",
            started.elapsed()
        );
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{}:lock:product:5", fleet.prefix))
            .query_async(&mut fleet.connection().await)
            .await
            .expect("PTTL");
        assert_ne!(ttl, -1, "the lock still has no expiry");
    })
    .await;
}
