//! What shoppers love: `Product.favoritesCount` (clients' and guests' lists, right after a
//! burst of concurrent adds, within its lag) and the admin's `popularProducts` ranking.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend_with, error_codes};

const COUNT: &str = "query($id: Int!) { product(id: $id) { favoritesCount } }";
const RANKING: &str = "query($first: Int!, $category: String) { popularProducts(first: $first, category: $category) { productId favoritesCount product { id } } }";

/// Counts stand one second, so that the tests see them move.
fn options() -> Options {
    Options::default().with("FAVORITES_COUNT_TTL_SECONDS", 1)
}

async fn count(app: &TestApp, product: i64) -> Value {
    app.data(COUNT, json!({ "id": product })).await["product"]["favoritesCount"].clone()
}

async fn guest_adds(app: &TestApp, product: i64) {
    let guest = app
        .data("mutation { startGuestSession { accessToken } }", json!({}))
        .await["startGuestSession"]["accessToken"]
        .as_str()
        .expect("a guest token")
        .to_owned();
    let body = app
        .graphql_as(
            Some(&guest),
            "mutation($p: Int!) { addMyFavorite(productId: $p) { totalCount } }",
            json!({ "p": product }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn a_count_holds_every_list_after_a_burst_of_concurrent_adds() {
    each_backend_with(options(), |app| async move {
        assert_eq!(count(&app, 7).await, 0);
        let mut clients = Vec::new();
        for n in 0..12 {
            clients.push(
                app.create_client("Fan", &format!("fan{n}@example.com"))
                    .await,
            );
        }
        let adds = clients.iter().map(|client| app.add_favorite(client, 7));
        let guests = (0..4).map(|_| guest_adds(&app, 7));
        futures::join!(join_all(adds), join_all(guests));
        // The count read before the burst stands for its second at most.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(count(&app, 7).await, 16);

        app.remove_favorite(&clients[0], 7).await;
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(count(&app, 7).await, 15);

        // Many products in one answer: each its own count.
        let products = app
            .data("{ products { id favoritesCount } }", json!({}))
            .await;
        for product in products["products"].as_array().expect("products") {
            let expected = if product["id"] == 7 { 15 } else { 0 };
            assert_eq!(product["favoritesCount"], expected, "{product}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_ranking_puts_the_most_held_first_and_can_keep_one_category() {
    each_backend_with(options(), |app| async move {
        // Product 9 (electronics) in three lists, 2 (men's clothing) in two, 14 (electronics)
        // and 1 (men's clothing) in one each; one of product 2's lists is a guest's.
        let lists: [&[i64]; 3] = [&[9, 2, 14], &[9, 1], &[9]];
        for (n, list) in lists.iter().enumerate() {
            let client = app
                .create_client("Fan", &format!("fan{n}@example.com"))
                .await;
            for product in *list {
                app.add_favorite(&client, *product).await;
            }
        }
        guest_adds(&app, 2).await;

        let ranking = |first: i64, category: Option<&str>| {
            let app = app.clone();
            let variables = json!({ "first": first, "category": category });
            async move { app.data(RANKING, variables).await["popularProducts"].clone() }
        };
        let pairs = |ranking: Value| -> Vec<(i64, i64)> {
            ranking
                .as_array()
                .expect("a ranking")
                .iter()
                .map(|entry| {
                    assert_eq!(entry["product"]["id"], entry["productId"]);
                    (
                        entry["productId"].as_i64().expect("an id"),
                        entry["favoritesCount"].as_i64().expect("a count"),
                    )
                })
                .collect()
        };
        // Ties (1 and 14) by product id.
        assert_eq!(
            pairs(ranking(10, None).await),
            [(9, 3), (2, 2), (1, 1), (14, 1)]
        );
        assert_eq!(pairs(ranking(2, None).await), [(9, 3), (2, 2)]);
        assert_eq!(
            pairs(ranking(10, Some("electronics")).await),
            [(9, 3), (14, 1)]
        );
        assert_eq!(pairs(ranking(10, Some("jewelery")).await), []);

        for first in [0, 101] {
            let body = app.graphql(RANKING, json!({ "first": first })).await;
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        }
    })
    .await;
}
