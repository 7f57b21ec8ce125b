use std::time::Duration;

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::app::{Options, each_backend, each_backend_with, error_codes};
use crate::support::catalog::fixture_products;

const PRODUCT: &str = "query($id: Int!) { product(id: $id) { id title price description category image rating { rate count } } }";

#[tokio::test]
async fn product_reads_the_catalog_and_caches_it() {
    each_backend(|app| async move {
        let data = app.data(PRODUCT, json!({ "id": 6 })).await;
        let expected = &fixture_products()[5];
        let product = &data["product"];
        assert_eq!(product["title"], expected["title"]);
        assert_eq!(product["price"].as_f64(), expected["price"].as_f64());
        assert_eq!(product["description"], expected["description"]);
        assert_eq!(product["category"], expected["category"]);
        assert_eq!(product["image"], expected["image"]);
        assert_eq!(product["rating"]["count"], expected["rating"]["count"]);
        let calls = app.catalog.requests().await;
        assert_eq!(calls, 1);
        app.data(PRODUCT, json!({ "id": 6 })).await;
        assert_eq!(
            app.catalog.requests().await,
            calls,
            "the second read is a cache hit"
        );
    })
    .await;
}

#[tokio::test]
async fn unknown_products_are_null() {
    each_backend(|app| async move {
        // 200 with an empty body (FakeStoreAPI's answer), `null`, and a 404 all mean "none".
        app.catalog
            .answer_path_with(
                "/products/30",
                ResponseTemplate::new(200).set_body_string("null"),
            )
            .await;
        app.catalog
            .answer_path_with("/products/31", ResponseTemplate::new(404))
            .await;
        for id in [21, 30, 31] {
            let data = app.data(PRODUCT, json!({ "id": id })).await;
            assert!(data["product"].is_null(), "{id}: {data}");
        }
    })
    .await;
}

#[tokio::test]
async fn catalog_failures_are_upstream_unavailable() {
    each_backend_with(
        Options::default().with("UPSTREAM_TIMEOUT_MS", 300),
        |app| async move {
            app.catalog
                .answer_path_with("/products/1", ResponseTemplate::new(500))
                .await;
            app.catalog
                .answer_path_with(
                    "/products/2",
                    ResponseTemplate::new(200).set_body_string(r#"{"id": "two"}"#),
                )
                .await;
            app.catalog
                .answer_path_with(
                    "/products/3",
                    ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
                )
                .await;
            for id in [1, 2, 3] {
                let body = app.graphql(PRODUCT, json!({ "id": id })).await;
                assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{id}: {body}");
                let message = body["errors"][0]["message"].as_str().unwrap();
                assert!(
                    !message.contains("500") && !message.contains("invalid type"),
                    "{message}"
                );
            }
            app.catalog.go_down().await;
            let body = app.graphql("{ products { id } }", json!({})).await;
            assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"]);
        },
    )
    .await;
}

#[tokio::test]
async fn products_lists_the_whole_catalog_once() {
    each_backend(|app| async move {
        let data = app.data("{ products { id title } }", json!({})).await;
        let products = data["products"].as_array().unwrap();
        assert_eq!(products.len(), 20);
        assert_eq!(products[17]["title"], fixture_products()[17]["title"]);
        assert_eq!(app.catalog.requests().await, 1);
        // The whole-catalog call filled the per-product cache too.
        app.data(PRODUCT, json!({ "id": 12 })).await;
        app.data("{ products { id } }", json!({})).await;
        assert_eq!(app.catalog.requests().await, 1);
    })
    .await;
}

#[tokio::test]
async fn cached_products_expire_after_the_ttl() {
    each_backend_with(
        Options::default().with("PRODUCT_CACHE_TTL_SECONDS", 1),
        |app| async move {
            app.data(PRODUCT, json!({ "id": 3 })).await;
            app.data(PRODUCT, json!({ "id": 3 })).await;
            assert_eq!(app.catalog.requests().await, 1);
            tokio::time::sleep(Duration::from_millis(1_200)).await;
            app.data(PRODUCT, json!({ "id": 3 })).await;
            assert_eq!(app.catalog.requests().await, 2, "the entry expired");
        },
    )
    .await;
}

#[tokio::test]
async fn concurrent_misses_make_one_upstream_call() {
    each_backend(|app| async move {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                app.data(PRODUCT, json!({ "id": 9 })).await
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(app.catalog.requests().await, 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_misses_share_a_not_found_or_a_failure() {
    each_backend(|app| async move {
        let slow = Duration::from_millis(300);
        app.catalog
            .answer_path_with("/products/77", ResponseTemplate::new(200).set_delay(slow))
            .await;
        app.catalog
            .answer_path_with("/products/15", ResponseTemplate::new(503).set_delay(slow))
            .await;
        // A 503 is retried once inside the budget: two calls, still shared by all ten callers.
        for (id, expected, calls) in [(77, None, 1), (15, Some("UPSTREAM_UNAVAILABLE"), 2)] {
            let before = app.catalog.requests().await;
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let app = app.clone();
                    tokio::spawn(async move { app.graphql(PRODUCT, json!({ "id": id })).await })
                })
                .collect();
            for task in tasks {
                let body = task.await.unwrap();
                assert_eq!(
                    error_codes(&body).first().map(String::as_str),
                    expected,
                    "{body}"
                );
                assert!(body["data"]["product"].is_null());
            }
            assert_eq!(app.catalog.requests().await - before, calls, "product {id}");
        }
    })
    .await;
}

#[tokio::test]
async fn an_empty_catalog_is_a_fault_and_is_not_cached() {
    each_backend(|app| async move {
        app.catalog
            .answer_everything_with(ResponseTemplate::new(200))
            .await;
        let body = app.graphql("{ products { id } }", json!({})).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        app.catalog.recover().await;
        let data = app.data("{ products { id } }", json!({})).await;
        assert_eq!(data["products"].as_array().unwrap().len(), 20);
    })
    .await;
}

#[tokio::test]
async fn another_product_than_the_one_asked_for_is_a_fault() {
    each_backend(|app| async move {
        let product_three = fixture_products()[2].to_string();
        app.catalog
            .answer_path_with(
                "/products/4",
                ResponseTemplate::new(200).set_body_raw(product_three, "application/json"),
            )
            .await;
        let body = app.graphql(PRODUCT, json!({ "id": 4 })).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
    })
    .await;
}
