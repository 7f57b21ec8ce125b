use std::sync::Arc;

use tokio::sync::Barrier;

use serde_json::json;

use crate::support::app::{TestApp, each_backend, error_codes};

/// `products_ref` must come to hold exactly the product ids found in some list.
async fn assert_products_ref_consistent(app: &TestApp) {
    app.pruned_product_refs().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_email_make_one_client() {
    each_backend(|app| async move {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move {
                    app.graphql(
                        "mutation($input: CreateClientInput!) { createClient(input: $input) { id } }",
                        json!({ "input": { "name": format!("Racer {i}"), "email": "race@example.com" } }),
                    )
                    .await
                })
            })
            .collect();
        let mut created = 0;
        let mut taken = 0;
        for task in tasks {
            let body = task.await.unwrap();
            match error_codes(&body).as_slice() {
                [] => created += 1,
                [code] if code == "EMAIL_TAKEN" => taken += 1,
                other => panic!("unexpected {other:?}: {body}"),
            }
        }
        assert_eq!((created, taken), (1, 19));
        let count = app.data("{ clients { totalCount } }", json!({})).await;
        assert_eq!(count["clients"]["totalCount"], 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_adds_of_one_favorite_make_one_row() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let app = app.clone();
                let id = id.clone();
                tokio::spawn(async move { app.add_favorite(&id, 7).await })
            })
            .collect();
        for task in tasks {
            let body = task.await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
        }
        assert_eq!(app.favorite_rows().await.len(), 1);
        assert_eq!(app.product_refs().await, [7]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_adds_and_removes_keep_products_ref_exact() {
    each_backend(|app| async move {
        let mut ids = Vec::new();
        for i in 0..8 {
            ids.push(
                app.create_client(&format!("C{i}"), &format!("c{i}@example.com"))
                    .await,
            );
        }
        // Warm the cache so the race is between database transactions, not catalog calls.
        app.data("{ products { id } }", json!({})).await;
        let tasks: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let app = app.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let mut bodies = Vec::new();
                    for round in 0..6 {
                        let body = if (i + round) % 2 == 0 {
                            app.add_favorite(&id, 1).await
                        } else {
                            app.remove_favorite(&id, 1).await
                        };
                        bodies.push(body);
                    }
                    bodies
                })
            })
            .collect();
        for task in tasks {
            for body in task.await.unwrap() {
                assert!(body.get("errors").is_none(), "{body}");
            }
        }
        assert_products_ref_consistent(&app).await;
    })
    .await;
}

#[tokio::test]
async fn deleting_a_client_while_others_add_keeps_products_ref_exact() {
    each_backend(|app| async move {
        app.data("{ products { id } }", json!({})).await;
        let other = app.create_client("Other", "other@example.com").await;
        for round in 0..5 {
            let doomed = app
                .create_client("Doomed", &format!("doomed{round}@example.com"))
                .await;
            for product in 1..=5 {
                app.add_favorite(&doomed, product).await;
            }
            // Everyone starts at once: adds to both lists and the deletion race each other.
            let start = Arc::new(Barrier::new(11));
            let mut tasks = Vec::new();
            for product in 1..=5 {
                for client in [doomed.clone(), other.clone()] {
                    let (app, start) = (app.clone(), Arc::clone(&start));
                    tasks.push(tokio::spawn(async move {
                        start.wait().await;
                        app.add_favorite(&client, product + round).await
                    }));
                }
            }
            let (app_delete, start_delete, doomed_id) =
                (app.clone(), Arc::clone(&start), doomed.clone());
            let delete = tokio::spawn(async move {
                start_delete.wait().await;
                app_delete
                    .graphql(
                        "mutation($id: UUID!) { deleteClient(id: $id) }",
                        json!({ "id": doomed_id }),
                    )
                    .await
            });
            for task in tasks {
                let body = task.await.unwrap();
                let codes = error_codes(&body);
                assert!(codes.is_empty() || codes == ["NOT_FOUND"], "{body}");
            }
            let deleted = delete.await.unwrap();
            assert!(deleted.get("errors").is_none(), "{deleted}");
            assert_products_ref_consistent(&app).await;
            let doomed_uuid = uuid::Uuid::parse_str(&doomed).unwrap();
            assert!(
                app.favorite_rows()
                    .await
                    .iter()
                    .all(|(client, _)| *client != doomed_uuid)
            );
        }
    })
    .await;
}
