//! A client's favorites: product details come from the catalog, adding and removing are
//! idempotent, `products_ref` holds exactly the listed products, unknown products and clients
//! are refused without writing, and a catalog outage is survived where it can be. A list is
//! bounded (`MAX_FAVORITES_PER_CLIENT`): one more is refused and writes nothing, a favorite
//! already there stays idempotent, and concurrent adds cannot overshoot.

use favorites_api::db::changes::ChangeFeed;
use futures::future::join_all;
use serde_json::json;
use wiremock::ResponseTemplate;

use favorites_api::db::repositories::favorites;

use crate::support::app::{Options, each_backend, each_backend_with, error_codes};

const WITH_PRODUCTS: &str = "query($id: UUID!) { client(id: $id) { favorites { totalCount nodes { productId addedAt product { id title price rating { rate count } } } } } }";

#[tokio::test]
async fn favorites_resolve_product_details_from_the_catalog() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        for product in [2, 5, 7] {
            let body = app.add_favorite(&id, product).await;
            assert!(body.get("errors").is_none(), "{body}");
        }
        let data = app.data(WITH_PRODUCTS, json!({ "id": id })).await;
        let nodes = data["client"]["favorites"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(nodes.len(), 3);
        // Titles keep their trailing space; integer prices and rates come out as numbers.
        assert_eq!(
            nodes[0]["product"]["title"],
            "Mens Casual Premium Slim Fit T-Shirts "
        );
        assert_eq!(nodes[1]["product"]["price"].as_f64(), Some(695.0));
        assert_eq!(nodes[2]["product"]["rating"]["rate"].as_f64(), Some(3.0));
        assert_eq!(nodes[2]["product"]["rating"]["count"], 400);
        assert_eq!(app.product_refs().await, [2, 5, 7]);
    })
    .await;
}

#[tokio::test]
async fn adding_twice_and_removing_an_absent_product_change_nothing() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        let first = app.add_favorite(&id, 3).await;
        let added_at = app
            .data(WITH_PRODUCTS, json!({ "id": id }))
            .await["client"]["favorites"]["nodes"][0]["addedAt"]
            .clone();
        let again = app.add_favorite(&id, 3).await;
        assert!(again.get("errors").is_none(), "{again}");
        assert_eq!(first["data"], again["data"]);
        let after = app.data(WITH_PRODUCTS, json!({ "id": id })).await;
        assert_eq!(after["client"]["favorites"]["totalCount"], 1);
        assert_eq!(
            after["client"]["favorites"]["nodes"][0]["addedAt"],
            added_at
        );

        let removed_absent = app.remove_favorite(&id, 4).await;
        assert!(removed_absent.get("errors").is_none(), "{removed_absent}");
        assert_eq!(
            removed_absent["data"]["removeFavorite"]["favorites"]["totalCount"],
            1
        );

        let removed = app.remove_favorite(&id, 3).await;
        assert_eq!(
            removed["data"]["removeFavorite"]["favorites"]["totalCount"],
            0
        );
        let removed_again = app.remove_favorite(&id, 3).await;
        assert!(removed_again.get("errors").is_none());
        assert!(app.favorite_rows().await.is_empty());
        assert!(
            app.pruned_product_refs().await.is_empty(),
            "the last list let go of product 3"
        );
    })
    .await;
}

#[tokio::test]
async fn products_ref_holds_exactly_the_listed_products() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let bia = app.create_client("Bia", "bia@example.com").await;
        app.add_favorite(&ana, 1).await;
        app.add_favorite(&ana, 2).await;
        app.add_favorite(&bia, 2).await;
        app.add_favorite(&bia, 3).await;
        assert_eq!(app.product_refs().await, [1, 2, 3]);

        app.remove_favorite(&ana, 2).await;
        assert_eq!(app.product_refs().await, [1, 2, 3], "Bia still holds 2");

        app.data(
            "mutation($id: UUID!) { deleteClient(id: $id) }",
            json!({ "id": bia }),
        )
        .await;
        assert_eq!(
            app.pruned_product_refs().await,
            [1],
            "2 and 3 left their last list"
        );
        assert_eq!(app.favorite_rows().await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn unknown_products_and_clients_are_refused_without_writing() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        for product in [999, 0, -4] {
            let body = app.add_favorite(&id, product).await;
            assert_eq!(
                error_codes(&body),
                ["PRODUCT_NOT_FOUND"],
                "{product}: {body}"
            );
            assert!(body["data"].is_null());
        }
        let missing_client = app.add_favorite(&uuid::Uuid::now_v7().to_string(), 1).await;
        assert_eq!(error_codes(&missing_client), ["NOT_FOUND"]);
        let missing_client = app
            .remove_favorite(&uuid::Uuid::now_v7().to_string(), 1)
            .await;
        assert_eq!(error_codes(&missing_client), ["NOT_FOUND"]);
        assert!(app.favorite_rows().await.is_empty());
        assert!(app.product_refs().await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn catalog_down_means_upstream_unavailable_unless_cached() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        // Product 4 is cached by a successful add; then the catalog goes down.
        app.add_favorite(&id, 4).await;
        app.remove_favorite(&id, 4).await;
        app.catalog.go_down().await;

        let body = app.add_favorite(&id, 6).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        assert!(app.favorite_rows().await.is_empty(), "nothing written");
        assert!(app.pruned_product_refs().await.is_empty());

        let cached = app.add_favorite(&id, 4).await;
        assert!(
            cached.get("errors").is_none(),
            "a cached product needs no catalog: {cached}"
        );
        assert_eq!(app.product_refs().await, [4]);

        // Garbage from the catalog is no better than silence.
        app.catalog
            .answer_everything_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
            .await;
        let body = app.add_favorite(&id, 8).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        assert_eq!(app.product_refs().await, [4]);
    })
    .await;
}

#[tokio::test]
async fn favorites_survive_a_catalog_outage_with_null_products() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        // Written through the repository, so the app's product cache has never seen them.
        let client_id = uuid::Uuid::parse_str(&id).unwrap();
        for product in [1, 2] {
            favorites::add(&app.db, &ChangeFeed::local(), client_id, &favorites_api::domain::NewFavorite::product(product), 1_000).await.unwrap();
        }
        app.catalog.go_down().await;
        let body = app
            .graphql(
                "query($id: UUID!) { client(id: $id) { name favorites { totalCount nodes { productId addedAt product { title } } } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE", "UPSTREAM_UNAVAILABLE"], "{body}");
        let client = &body["data"]["client"];
        assert_eq!(client["name"], "Ana");
        assert_eq!(client["favorites"]["totalCount"], 2);
        for (index, node) in client["favorites"]["nodes"].as_array().unwrap().iter().enumerate() {
            assert_eq!(node["productId"], index as i64 + 1);
            assert!(node["addedAt"].is_string());
            assert!(node.get("product").is_some_and(|product| product.is_null()), "{node}");
        }
        let paths: Vec<String> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["path"].to_string())
            .collect();
        assert!(paths.contains(&r#"["client","favorites","nodes",0,"product"]"#.to_owned()), "{paths:?}");
        // No upstream detail reaches the caller.
        for error in body["errors"].as_array().unwrap() {
            assert_eq!(error["message"], "the product catalog is unavailable, try again later");
        }

        app.catalog.recover().await;
        let data = app
            .data(
                "query($id: UUID!) { client(id: $id) { favorites { nodes { product { id } } } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(data["client"]["favorites"]["nodes"][1]["product"]["id"], 2);
    })
    .await;
}

fn limit_of(limit: u32) -> Options {
    Options::default().with("MAX_FAVORITES_PER_CLIENT", limit)
}

#[tokio::test]
async fn a_full_list_refuses_one_more_and_stays_idempotent() {
    each_backend_with(limit_of(3), |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        for product in 1..=3 {
            assert!(
                app.add_favorite(&ana, product)
                    .await
                    .get("errors")
                    .is_none()
            );
        }
        let rows = app.favorite_rows().await;
        let refs = app.product_refs().await;
        let full = app.add_favorite(&ana, 4).await;
        assert_eq!(error_codes(&full), ["FAVORITES_LIMIT_REACHED"], "{full}");
        assert_eq!(full["errors"][0]["extensions"]["limit"], 3);
        assert_eq!(app.favorite_rows().await, rows, "nothing written");
        assert_eq!(app.product_refs().await, refs, "nothing written");
        let again = app.add_favorite(&ana, 2).await;
        assert!(again.get("errors").is_none(), "one already there: {again}");
        app.remove_favorite(&ana, 1).await;
        let added = app.add_favorite(&ana, 4).await;
        assert_eq!(
            added["data"]["addFavorite"]["favorites"]["totalCount"], 3,
            "{added}"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_adds_to_an_almost_full_list_add_one() {
    each_backend_with(limit_of(3), |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&ana, 1).await;
        app.add_favorite(&ana, 2).await;
        let adds = (3..=8).map(|product| {
            let (app, ana) = (app.clone(), ana.clone());
            async move { app.add_favorite(&ana, product).await }
        });
        let answers = join_all(adds).await;
        let added = answers
            .iter()
            .filter(|body| body.get("errors").is_none())
            .count();
        assert_eq!(added, 1, "{answers:?}");
        for body in answers.iter().filter(|body| body.get("errors").is_some()) {
            assert_eq!(error_codes(body), ["FAVORITES_LIMIT_REACHED"], "{body}");
        }
        let count = app
            .data(
                "query($c: UUID!) { client(id: $c) { favorites { totalCount } } }",
                json!({ "c": ana }),
            )
            .await;
        assert_eq!(count["client"]["favorites"]["totalCount"], 3);
    })
    .await;
}
