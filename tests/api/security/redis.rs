//! What another instance left in Redis is not trusted blindly: a copy "fetched" in the future,
//! an entry over its size cap, or a lock that never expires cannot take over or hold up reads.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fake_catalog::fixture_products;
use crate::shared_cache::{Fleet, options, with_fleet};

const PRODUCT: &str = "query($id: Int!) { product(id: $id) { id title } }";

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
