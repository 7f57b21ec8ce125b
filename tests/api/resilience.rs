//! The catalog as a third party that goes down, hangs, answers garbage, or redirects elsewhere
//! (a redirect is not followed: it is a failure).

use favorites_api::db::changes::ChangeFeed;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::support::app::{Options, each_backend, each_backend_with, error_codes};

const PRODUCT: &str = "query($id: Int!) { product(id: $id) { id title } }";
const FAVORITES: &str = "query($id: UUID!) { client(id: $id) { name favorites { totalCount nodes { productId addedAt product { title } } } } }";

#[tokio::test]
async fn one_failure_is_retried_within_the_budget() {
    each_backend(|app| async move {
        app.catalog
            .answer_path_times("/products/5", ResponseTemplate::new(503), 1)
            .await;
        let data = app.data(PRODUCT, json!({ "id": 5 })).await;
        assert_eq!(data["product"]["id"], 5);
        assert_eq!(app.catalog.requests().await, 2, "the failure and its retry");
    })
    .await;
}

#[tokio::test]
async fn a_hanging_catalog_costs_one_budget_and_favorites_still_answer() {
    let budget = Duration::from_millis(500);
    each_backend_with(
        Options::default().with_millis("UPSTREAM_TIMEOUT_MS", budget),
        |app| async move {
            let id = app.create_client("Ana", "ana@example.com").await;
            let client_id = uuid::Uuid::parse_str(&id).unwrap();
            for product in [1, 2, 3] {
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
            app.catalog.hang().await;
            let started = Instant::now();
            let body = app.graphql(FAVORITES, json!({ "id": id })).await;
            let elapsed = started.elapsed();
            eprintln!(
                "{:?}: favorites with a hanging catalog answered in {elapsed:?}",
                app.backend
            );
            // A bound on behaviour (the request ends within its budget and a margin), not a speed
            // target: the catalog would hang for 30 s.
            assert!(elapsed < budget + Duration::from_secs(1), "{elapsed:?}");
            assert_eq!(
                body["data"]["client"]["favorites"]["totalCount"], 3,
                "{body}"
            );
            assert!(body["data"]["client"]["favorites"]["nodes"][2]["product"].is_null());
            assert!(
                error_codes(&body)
                    .iter()
                    .all(|code| code == "UPSTREAM_UNAVAILABLE"),
                "{body}"
            );
            assert_eq!(error_codes(&body).len(), 3);
        },
    )
    .await;
}

#[tokio::test]
async fn the_breaker_opens_after_five_failures_and_probes_after_cooling_down() {
    each_backend_with(
        Options::default().with("UPSTREAM_BREAKER_COOL_DOWN_MS", 700),
        |app| async move {
            app.catalog.go_down().await;
            for id in 1..=5 {
                let body = app.graphql(PRODUCT, json!({ "id": id })).await;
                assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"]);
            }
            let calls = app.catalog.requests().await;
            assert_eq!(calls, 10, "five calls, each retried once");
            for id in 6..=10 {
                let body = app.graphql(PRODUCT, json!({ "id": id })).await;
                assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "fails fast");
            }
            assert_eq!(
                app.catalog.requests().await,
                calls,
                "open: nothing reaches the catalog"
            );

            app.catalog.recover().await;
            tokio::time::sleep(Duration::from_millis(800)).await;
            let data = app.data(PRODUCT, json!({ "id": 11 })).await;
            assert_eq!(
                data["product"]["id"], 11,
                "the probe went through and closed it"
            );
            app.data(PRODUCT, json!({ "id": 12 })).await;
            assert_eq!(app.catalog.requests().await, 2);
        },
    )
    .await;
}

#[tokio::test]
async fn stale_data_stands_in_while_the_catalog_fails() {
    each_backend_with(
        Options::default().with("PRODUCT_CACHE_TTL_SECONDS", 1),
        |app| async move {
            app.data(PRODUCT, json!({ "id": 3 })).await;
            app.data("{ products { id } }", json!({})).await;
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            app.catalog.go_down().await;
            let data = app.data(PRODUCT, json!({ "id": 3 })).await;
            assert_eq!(data["product"]["id"], 3, "the expired copy served");
            let all = app.data("{ products { id } }", json!({})).await;
            assert_eq!(all["products"].as_array().unwrap().len(), 20);
            let body = app.graphql(PRODUCT, json!({ "id": 30 })).await;
            assert_eq!(
                error_codes(&body),
                ["UPSTREAM_UNAVAILABLE"],
                "nothing stale to serve"
            );
        },
    )
    .await;
    // Past the stale window, an error again.
    each_backend_with(
        Options::default()
            .with("PRODUCT_CACHE_TTL_SECONDS", 1)
            .with("PRODUCT_STALE_SECONDS", 0),
        |app| async move {
            app.data(PRODUCT, json!({ "id": 3 })).await;
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            app.catalog.go_down().await;
            let body = app.graphql(PRODUCT, json!({ "id": 3 })).await;
            assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"]);
        },
    )
    .await;
}

#[tokio::test]
async fn unknown_ids_are_remembered_briefly() {
    each_backend(|app| async move {
        for _ in 0..5 {
            let data = app.data(PRODUCT, json!({ "id": 99 })).await;
            assert!(data["product"].is_null());
        }
        assert_eq!(app.catalog.requests().await, 1);
        let id = app.create_client("Ana", "ana@example.com").await;
        let body = app.add_favorite(&id, 99).await;
        assert_eq!(error_codes(&body), ["PRODUCT_NOT_FOUND"]);
        assert_eq!(app.catalog.requests().await, 1);
    })
    .await;
}

#[tokio::test]
async fn aliased_mutations_against_a_hanging_catalog_share_one_budget() {
    let budget = Duration::from_millis(500);
    each_backend_with(
        Options::default().with_millis("UPSTREAM_TIMEOUT_MS", budget),
        |app| async move {
            let id = app.create_client("Ana", "ana@example.com").await;
            app.catalog.hang().await;
            let aliases: Vec<String> = (1..=6)
                .map(|product| {
                    format!(
                        "a{product}: addFavorite(clientId: \"{id}\", productId: {product}) {{ id }}"
                    )
                })
                .collect();
            let started = Instant::now();
            let body = app
                .graphql(&format!("mutation {{ {} }}", aliases.join(" ")), json!({}))
                .await;
            let elapsed = started.elapsed();
            assert_eq!(
                error_codes(&body),
                vec!["UPSTREAM_UNAVAILABLE"; 6],
                "{body}"
            );
            assert!(
                elapsed < budget + Duration::from_secs(1),
                "one budget, not six: {elapsed:?}"
            );
            assert_eq!(
                app.catalog.requests().await,
                1,
                "later aliases did not wait on the catalog"
            );
            assert!(app.favorite_rows().await.is_empty(), "nothing written");
        },
    )
    .await;
}

#[tokio::test]
async fn garbage_and_slow_answers_leave_favorites_standing() {
    each_backend_with(
        Options::default().with("UPSTREAM_TIMEOUT_MS", 500),
        |app| async move {
            let id = app.create_client("Ana", "ana@example.com").await;
            let client_id = uuid::Uuid::parse_str(&id).unwrap();
            for product in [1, 2] {
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
            for response in [
                ResponseTemplate::new(200).set_body_string("{\"not\": \"products\"}"),
                ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
            ] {
                app.catalog.answer_everything_with(response).await;
                let body = app.graphql(FAVORITES, json!({ "id": id })).await;
                assert_eq!(
                    body["data"]["client"]["favorites"]["totalCount"], 2,
                    "{body}"
                );
                assert_eq!(
                    error_codes(&body),
                    ["UPSTREAM_UNAVAILABLE", "UPSTREAM_UNAVAILABLE"],
                    "{body}"
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_redirect_from_the_catalog_is_not_followed() {
    each_backend(|app| async move {
        app.catalog
            .answer_path_with(
                "/products/3",
                ResponseTemplate::new(302).insert_header("location", "/products/4"),
            )
            .await;
        let body = app.graphql("{ product(id: 3) { title } }", json!({})).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        assert_eq!(
            app.catalog.requests_to("/products/4").await,
            0,
            "the redirect was followed"
        );
    })
    .await;
}
