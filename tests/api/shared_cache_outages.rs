//! Redis failing never fails a request: while it is down, unreachable, or hangs on an open
//! connection, instances serve from the upstream and their own cache, start without it, and use
//! it again by themselves once it is back; a fleet's subscribers keep hearing changes made
//! through another instance. Runs against a real Redis (`support::fleet`), reached through a
//! `TcpProxy` the test can cut.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::app::error_codes;
use crate::support::catalog::title;
use crate::support::database::Backend;
use crate::support::fleet::{options, redis_address, with_fleet};
use crate::support::metrics::metric;
use crate::support::tcp_proxy::TcpProxy;
use crate::support::websocket;

const PRODUCT: &str = "query($id: Int!) { product(id: $id) { id title } }";
const FAVORITE_TITLES: &str =
    "query($id: UUID!) { client(id: $id) { favorites { nodes { product { title } } } } }";

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
        assert!(metric(&a, "catalog_shared_cache_errors_total").await >= 1);

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
        assert!(metric(&a, "catalog_shared_cache_errors_total").await >= 1);
        assert!(fleet.keys().await.is_empty());
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
        let mut socket = websocket::subscribe(&a.address, &a.token, &client).await;

        for (product, redis_up) in [(1, true), (2, false), (3, false)] {
            if !redis_up {
                proxy.go_down();
            }
            let started = Instant::now();
            // `add_favorite` fails on any error in the answer.
            b.add_favorite(&client, product).await;
            let next = websocket::receive(&mut socket)
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
