//! One SQL statement per nesting level and no upstream call on a warm cache, however many
//! clients a page holds; and a cold cache filled by one upstream call for many requests.

use favorites_api::db::changes::ChangeFeed;
use serde_json::json;

use crate::support::app::{Options, each_backend, each_backend_with};

const NESTED: &str = "query($first: Int!) { clients(first: $first) { nodes { id favorites { totalCount nodes { product { title } } } } } }";

#[tokio::test]
async fn nested_favorites_cost_the_same_statements_for_1_10_and_60_clients() {
    // The execution path is what is counted: no answer comes from the response cache.
    let options = Options::default().with("RESPONSE_CACHE_MAX_BYTES", 0);
    each_backend_with(options, |app| async move {
        for i in 0..60 {
            let id = app
                .create_client(&format!("C{i}"), &format!("c{i}@example.com"))
                .await;
            for product in [1 + i % 20, 1 + (i + 7) % 20] {
                app.add_favorite(&id, product as i64).await;
            }
        }
        app.data(NESTED, json!({ "first": 60 })).await; // warm every product
        let upstream_before = app.catalog.requests().await;

        let mut counts = Vec::new();
        for n in [1, 10, 60] {
            let before = app.statements.get();
            let data = app.data(NESTED, json!({ "first": n })).await;
            let statements = app.statements.get() - before;
            let nodes = data["clients"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), n);
            assert!(
                nodes
                    .iter()
                    .all(|node| node["favorites"]["totalCount"] == 2)
            );
            assert!(
                nodes
                    .iter()
                    .all(|node| node["favorites"]["nodes"][1]["product"]["title"].is_string())
            );
            eprintln!("{:?}: N = {n}: {statements} SQL statements", app.backend);
            counts.push(statements);
        }
        assert_eq!(counts[0], counts[1], "{:?}: {counts:?}", app.backend);
        assert_eq!(counts[1], counts[2], "{:?}: {counts:?}", app.backend);
        assert!(counts[0] <= 3, "one statement per level: {counts:?}");
        assert_eq!(
            app.catalog.requests().await,
            upstream_before,
            "warm cache: no upstream call"
        );
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_cold_requests_share_upstream_calls() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        let client_id = uuid::Uuid::parse_str(&id).unwrap();
        for product in [3, 8, 13, 18, 20] {
            // Through the repository, so the app's cache stays cold.
            favorites_api::db::repositories::favorites::add(&app.db, &ChangeFeed::local(), client_id, &favorites_api::domain::NewFavorite::product(product), 1_000)
                .await
                .unwrap();
        }
        assert_eq!(app.catalog.requests().await, 0);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let app = app.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    app.data(
                        "query($id: UUID!) { client(id: $id) { favorites { nodes { product { title price } } } } }",
                        json!({ "id": id }),
                    )
                    .await
                })
            })
            .collect();
        for task in tasks {
            let data = task.await.unwrap();
            assert_eq!(data["client"]["favorites"]["nodes"].as_array().unwrap().len(), 5);
        }
        let calls = app.catalog.requests().await;
        eprintln!("{:?}: 50 concurrent cold requests made {calls} upstream call(s)", app.backend);
        assert_eq!(calls, 1);
    })
    .await;
}

#[tokio::test]
async fn single_clients_and_their_favorites_are_one_statement_batched_through_the_dataloader() {
    each_backend(|app| async move {
        let mut ids = Vec::new();
        for i in 0..5 {
            let id = app.create_client(&format!("C{i}"), &format!("c{i}@example.com")).await;
            app.add_favorite(&id, i + 1).await;
            ids.push(id);
        }
        let query = format!(
            "{{ {} }}",
            ids.iter()
                .enumerate()
                .map(|(i, id)| format!("c{i}: client(id: \"{id}\") {{ favorites {{ nodes {{ product {{ title }} }} }} }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let before = app.statements.get();
        let data = app.data(&query, json!({})).await;
        let statements = app.statements.get() - before;
        assert!(data["c4"]["favorites"]["nodes"][0]["product"]["title"].is_string());
        eprintln!("{:?}: 5 aliased clients: {statements} SQL statements", app.backend);
        assert_eq!(
            statements, 1,
            "one statement for the clients and their favorites (a join)"
        );
        // Without the favorites, no join.
        let before = app.statements.get();
        let data = app
            .data(&format!("{{ client(id: \"{}\") {{ name }} }}", ids[0]), json!({}))
            .await;
        assert_eq!(data["client"]["name"], "C0");
        assert_eq!(app.statements.get() - before, 1);
    })
    .await;
}
