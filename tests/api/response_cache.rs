//! The response cache never serves a stale answer: not after a change through this instance,
//! not after one through another (PostgreSQL), not after a client is deleted or created; and a
//! hit is byte for byte the answer a miss gave.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend, each_backend_with, error_codes};
use crate::support::database::Backend;
use crate::support::metrics::response_cache_hits;

const FAVORITES: &str = "query($id: UUID!) { client(id: $id) { name email favorites { totalCount nodes { productId product { title } } } } }";

async fn raw(app: &TestApp, token: &str, query: &str, variables: Value) -> String {
    app.http
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a body")
}

#[tokio::test]
async fn a_hit_is_byte_for_byte_the_answer_of_the_miss() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&ana, 3).await;
        let before = response_cache_hits(&app).await;
        let miss = raw(&app, &app.token, FAVORITES, json!({ "id": ana })).await;
        let hit = raw(&app, &app.token, FAVORITES, json!({ "id": ana })).await;
        assert_eq!(
            response_cache_hits(&app).await,
            before + 1,
            "the second was a hit"
        );
        assert_eq!(miss, hit);
        assert!(miss.contains("Mens Cotton Jacket"), "{miss}");
    })
    .await;
}

#[tokio::test]
async fn changes_through_this_instance_are_seen_at_once() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let read = |app: TestApp, ana: String| async move {
            app.data(FAVORITES, json!({ "id": ana })).await["client"].clone()
        };
        assert_eq!(
            read(app.clone(), ana.clone()).await["favorites"]["totalCount"],
            0
        );
        app.add_favorite(&ana, 1).await;
        assert_eq!(
            read(app.clone(), ana.clone()).await["favorites"]["totalCount"],
            1
        );
        app.remove_favorite(&ana, 1).await;
        assert_eq!(
            read(app.clone(), ana.clone()).await["favorites"]["totalCount"],
            0
        );
        app.data(
            "mutation($id: UUID!) { updateClient(id: $id, input: { name: \"Ana Maria\" }) { id } }",
            json!({ "id": ana }),
        )
        .await;
        assert_eq!(read(app.clone(), ana.clone()).await["name"], "Ana Maria");
        app.data(
            "mutation($id: UUID!) { deleteClient(id: $id) }",
            json!({ "id": ana }),
        )
        .await;
        assert!(read(app.clone(), ana.clone()).await.is_null(), "deleted");
    })
    .await;
}

#[tokio::test]
async fn the_list_and_lookups_by_email_follow_creates_deletes_and_new_addresses() {
    each_backend(|app| async move {
        let count = || async { app.data("{ clients { totalCount } }", json!({})).await["clients"]["totalCount"].clone() };
        assert_eq!(count().await, 0);
        let ana = app.create_client("Ana", "ana@example.com").await;
        assert_eq!(count().await, 1);
        let by_email = || async {
            app.data("{ clientByEmail(email: \"new@example.com\") { id } }", json!({}))
                .await["clientByEmail"]
                .clone()
        };
        assert!(by_email().await.is_null());
        app.data(
            "mutation($id: UUID!) { updateClient(id: $id, input: { email: \"new@example.com\" }) { id } }",
            json!({ "id": ana }),
        )
        .await;
        assert_eq!(by_email().await["id"], ana.as_str());
        app.data("mutation($id: UUID!) { deleteClient(id: $id) }", json!({ "id": ana }))
            .await;
        assert_eq!(count().await, 0);
        assert!(by_email().await.is_null());
    })
    .await;
}

#[tokio::test]
async fn answers_are_per_caller_and_never_kept_with_errors() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let token = app.client_token(&ana).await;
        let admin = app.data("{ viewer { id } }", json!({})).await;
        assert!(admin["viewer"].is_null());
        let own = app
            .graphql_as(Some(&token), "{ viewer { id } }", json!({}))
            .await;
        assert_eq!(
            own["data"]["viewer"]["id"],
            ana.as_str(),
            "not the admin's answer"
        );

        app.catalog.go_down().await;
        let failed = app.graphql("{ product(id: 9) { title } }", json!({})).await;
        assert_eq!(error_codes(&failed), ["UPSTREAM_UNAVAILABLE"]);
        app.catalog.recover().await;
        let fine = app.data("{ product(id: 9) { title } }", json!({})).await;
        assert!(
            fine["product"]["title"].is_string(),
            "the failure was not kept"
        );
    })
    .await;
}

#[tokio::test]
async fn an_answer_with_product_data_lives_no_longer_than_the_data_is_fresh() {
    let options = Options::default().with("PRODUCT_CACHE_TTL_SECONDS", 1);
    each_backend_with(options, |app| async move {
        app.data("{ product(id: 2) { title } }", json!({})).await;
        app.data("{ product(id: 2) { title } }", json!({})).await;
        assert_eq!(app.catalog.requests_to("/products/2").await, 1);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        app.data("{ product(id: 2) { title } }", json!({})).await;
        assert_eq!(
            app.catalog.requests_to("/products/2").await,
            2,
            "asked the catalog again"
        );
    })
    .await;
}

#[tokio::test]
async fn a_change_through_another_instance_is_seen_within_the_notify_delay() {
    each_backend(|app| async move {
        if app.backend == Backend::Sqlite {
            eprintln!("skipped on SQLite: one process owns the database");
            return;
        }
        let other = app.another_instance_with(Options::default()).await;
        let ana = app.create_client("Ana", "ana@example.com").await;
        let total = |instance: TestApp, ana: String| async move {
            instance.data(FAVORITES, json!({ "id": ana })).await["client"]["favorites"]["totalCount"].clone()
        };
        assert_eq!(total(app.clone(), ana.clone()).await, 0);
        assert_eq!(total(app.clone(), ana.clone()).await, 0, "now cached on the first instance");
        other.add_favorite(&ana, 4).await;
        let written = Instant::now();
        while total(app.clone(), ana.clone()).await != 1 {
            assert!(written.elapsed() < Duration::from_secs(1), "still stale after a second");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        eprintln!("a write through another instance was seen after {:?}", written.elapsed());
    })
    .await;
}
