//! `GET /metrics`: what an operator's Prometheus scrapes. Operation names become labels only
//! for an authenticated caller's valid operation.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::app::{Options, TestApp, each_backend, each_backend_with};

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    response.text().await.unwrap()
}

/// The value of one sample line, e.g. `graphql_requests_total{operation="Names"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_operations_errors_catalog_and_database_work() {
    // The work of each read is what is counted: no answer comes from the response cache.
    let options = Options::default().with("RESPONSE_CACHE_MAX_BYTES", 0);
    each_backend_with(options, |app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&client, 1).await;
        let before = scrape(&app).await;
        let statements_before = sample(&before, "db_statements_total").expect("db_statements_total");

        let query = "query Names($id: UUID!) { client(id: $id) { name favorites { nodes { product { title } } } } }";
        for _ in 0..3 {
            app.data(query, json!({ "id": client })).await;
        }
        app.graphql_as(None, "query Anonymous { clients { totalCount } }", json!({}))
            .await;
        app.graphql("{ nope }", json!({})).await;

        let after = scrape(&app).await;
        assert_eq!(
            sample(&after, "graphql_requests_total{operation=\"Names\"}"),
            Some(3.0),
            "{after}"
        );
        assert_eq!(
            sample(&after, "graphql_request_duration_seconds_count{operation=\"Names\"}"),
            Some(3.0),
            "{after}"
        );
        assert!(sample(&after, "graphql_requests_total{operation=\"anonymous\"}").is_some());
        assert_eq!(
            sample(&after, "graphql_errors_total{code=\"UNAUTHENTICATED\"}"),
            Some(1.0),
            "{after}"
        );
        assert_eq!(
            sample(&after, "graphql_errors_total{code=\"GRAPHQL_VALIDATION_FAILED\"}"),
            Some(1.0),
            "{after}"
        );
        // Product 1 was fetched once (by addFavorite); the three reads hit the cache.
        assert_eq!(
            sample(&after, "catalog_upstream_calls_total{outcome=\"Found\"}"),
            Some(1.0),
            "{after}"
        );
        assert!(sample(&after, "catalog_cache_hits_total").unwrap_or(0.0) >= 3.0, "{after}");
        assert_eq!(sample(&after, "catalog_breaker_open"), Some(0.0), "{after}");
        let statements_after = sample(&after, "db_statements_total").unwrap();
        assert!(statements_after > statements_before, "{before}\n{after}");
        assert!(sample(&after, "db_pool_connections{state=\"idle\"}").is_some(), "{after}");
        assert!(
            sample(&after, "http_responses_total{status=\"200\"}").unwrap_or(0.0) >= 5.0,
            "{after}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_cache_miss_is_counted_once() {
    each_backend(|app| async move {
        // Through the repository, so that no cache has seen product 7.
        let client = app.create_client("Ana", "ana@example.com").await;
        favorites_api::db::repositories::favorites::add(
            &app.db,
            &favorites_api::db::changes::ChangeFeed::local(),
            uuid::Uuid::parse_str(&client).unwrap(),
            &favorites_api::domain::NewFavorite::product(7),
            1_000,
        )
        .await
        .unwrap();
        let before = scrape(&app).await;
        app.data(
            "query($id: UUID!) { client(id: $id) { favorites { nodes { product { title } } } } }",
            json!({ "id": client }),
        )
        .await;
        let after = scrape(&app).await;
        let misses = |text: &str| sample(text, "catalog_cache_misses_total").unwrap_or(0.0);
        assert_eq!(misses(&after) - misses(&before), 1.0, "{before}\n{after}");
    })
    .await;
}

#[tokio::test]
async fn metrics_show_the_catalog_failing() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        app.catalog.go_down().await;
        for _ in 0..6 {
            app.graphql(
                "mutation($c: UUID!) { addFavorite(clientId: $c, productId: 2) { id } }",
                json!({ "c": client }),
            )
            .await;
        }
        let text = scrape(&app).await;
        assert!(
            sample(&text, "catalog_upstream_calls_total{outcome=\"Failed\"}").unwrap_or(0.0) >= 5.0,
            "{text}"
        );
        assert_eq!(sample(&text, "catalog_breaker_open"), Some(1.0), "{text}");
        assert!(
            sample(&text, "graphql_errors_total{code=\"UPSTREAM_UNAVAILABLE\"}").unwrap_or(0.0)
                >= 6.0,
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn operation_names_become_labels_only_for_authenticated_valid_operations() {
    each_backend(|app| async move {
        for n in 0..5 {
            app.graphql_as(None, &format!("query Junk{n} {{ __typename }}"), json!({}))
                .await;
            app.graphql(&format!("query Broken{n} {{ nope }}"), json!({}))
                .await;
        }
        app.data("query Legit { clients { totalCount } }", json!({}))
            .await;
        let metrics = app.get("/metrics").await.text().await.expect("metrics");
        assert!(
            !metrics.contains("Junk"),
            "an anonymous name became a label:\n{metrics}"
        );
        assert!(
            !metrics.contains("Broken"),
            "an invalid document's name became a label"
        );
        assert!(
            metrics.contains("graphql_requests_total{operation=\"Legit\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("graphql_requests_total{operation=\"unauthenticated\"}"));
        assert!(
            metrics.contains("graphql_requests_total{operation=\"invalid\"} 5"),
            "{metrics}"
        );
    })
    .await;
}
