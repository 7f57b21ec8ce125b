//! Settings at the edge of what is accepted work (no arithmetic overflows at the largest values;
//! beyond them, start-up refuses with a line naming the key: `config` unit tests), and a
//! PostgreSQL schema of the longest name still carries changes between instances.

use serde_json::json;
use uuid::Uuid;

use crate::support::app::{Options, each_backend_with, error_codes, run_on};
use crate::support::database::{Backend, backends};
use crate::support::websocket::{receive, subscribe};

#[tokio::test]
async fn every_duration_and_lifetime_at_its_largest_is_served_without_a_panic() {
    let largest = Options::default()
        .with("REQUEST_TIMEOUT_MS", 600_000)
        .with("UPSTREAM_TIMEOUT_MS", 60_000)
        .with("UPSTREAM_BREAKER_THRESHOLD", 1)
        .with("UPSTREAM_BREAKER_COOL_DOWN_MS", 3_600_000)
        .with("PRODUCT_CACHE_TTL_SECONDS", 30 * 86_400)
        .with("PRODUCT_STALE_SECONDS", 30 * 86_400)
        .with("MASTER_TOKEN_EXPIRE_MINUTES", 525_600)
        .with("CLIENT_TOKEN_EXPIRE_MINUTES", 1_440)
        .with("DATABASE_ACQUIRE_TIMEOUT_MS", 600_000)
        .with("HTTP_HEADER_TIMEOUT_MS", 300_000)
        .with("CLIENT_REQUESTS_PER_MINUTE", 1_000_000)
        .with("MAX_CONNECTIONS", 1_000_000);
    each_backend_with(largest, |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&ana, 1).await;
        let token = app.client_token(&ana).await;
        let viewer = app
            .graphql_as(
                Some(&token),
                "{ viewer { favorites { totalCount } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            viewer["data"]["viewer"]["favorites"]["totalCount"], 1,
            "{viewer}"
        );
        // The breaker opens for its longest cool-down.
        app.catalog.go_down().await;
        let body = app.graphql("{ product(id: 9) { title } }", json!({})).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"]);
        let body = app
            .graphql("{ product(id: 10) { title } }", json!({}))
            .await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"]);
        app.catalog.recover().await;
    })
    .await;
}

#[tokio::test]
async fn a_schema_with_the_longest_name_still_carries_changes_between_instances() {
    let postgres: Vec<Backend> = backends()
        .into_iter()
        .filter(|backend| matches!(backend, Backend::Postgres(_)))
        .collect();
    if postgres.is_empty() {
        eprintln!("skipped: needs PostgreSQL (set TEST_DATABASE_URL)");
        return;
    }
    // 63 bytes, PostgreSQL's longest identifier: the channel would be 81 without care.
    let schema: String = format!(
        "test_{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
    .chars()
    .take(63)
    .collect();
    let options = Options::default().with("DATABASE_SCHEMA", &schema);
    for backend in postgres {
        run_on(
            &backend,
            &options,
            &|app: crate::support::app::TestApp| async move {
                let other = app.another_instance_with(Options::default()).await;
                let ana = app.create_client("Ana", "ana@example.com").await;
                let mut socket = subscribe(&app.address, &app.token, &ana).await;
                let added = other.add_favorite(&ana, 2).await;
                assert!(added.get("errors").is_none(), "{added}");
                let next = receive(&mut socket)
                    .await
                    .expect("the change, through NOTIFY");
                assert_eq!(next["type"], "next", "{next}");
            },
        )
        .await;
    }
}
