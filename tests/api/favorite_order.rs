//! Reading a list in another order (`orderBy`) and one category at a time (`category`): every
//! order walked page by page gives the whole list once, in order; unpriced products come last;
//! a cursor is good only in the order it came from.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend, each_backend_with, error_codes};
use crate::support::catalog::fixture_products;

const PAGE: &str = "query($id: UUID!, $order: FavoriteOrder!, $category: String, $first: Int, $after: String) {
  client(id: $id) { favorites(orderBy: $order, category: $category, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { productId } } } } }";

/// The list's products as the fixture describes them: (id, price, title, category).
fn fixture(ids: &[i64]) -> Vec<(i64, f64, String, String)> {
    let products = fixture_products();
    ids.iter()
        .map(|id| {
            let product = &products[*id as usize - 1];
            (
                *id,
                product["price"].as_f64().expect("a price"),
                product["title"].as_str().expect("a title").to_owned(),
                product["category"].as_str().expect("a category").to_owned(),
            )
        })
        .collect()
}

/// Every page of the list in `order`, `first` at a time: the ids, in the order read.
async fn walk(app: &TestApp, client: &str, order: &str, category: Option<&str>) -> Vec<i64> {
    let (mut ids, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let variables = json!({ "id": client, "order": order, "category": category, "first": 3, "after": after });
        let favorites = &app.data(PAGE, variables).await["client"]["favorites"];
        let edges = favorites["edges"].as_array().expect("edges").clone();
        assert_eq!(favorites["pageInfo"]["hasPreviousPage"], pages > 0);
        ids.extend(
            edges
                .iter()
                .map(|edge| edge["node"]["productId"].as_i64().expect("an id")),
        );
        pages += 1;
        if favorites["pageInfo"]["hasNextPage"] == false {
            assert_eq!(favorites["totalCount"], ids.len(), "{order}");
            return ids;
        }
        after = favorites["pageInfo"]["endCursor"].clone();
        assert!(pages < 20, "no end");
    }
}

async fn client_with(app: &TestApp, ids: &[i64]) -> String {
    let client = app.create_client("Ana", "ana@example.com").await;
    for id in ids {
        app.add_favorite(&client, *id).await;
    }
    client
}

const LIST: [i64; 9] = [9, 2, 17, 5, 14, 1, 20, 11, 3];

#[tokio::test]
async fn every_order_pages_through_the_whole_list_once_in_order() {
    each_backend(|app| async move {
        let client = client_with(&app, &LIST).await;
        let products = fixture(&LIST);
        let ids = |sorted: Vec<(i64, f64, String, String)>| -> Vec<i64> {
            sorted.into_iter().map(|(id, ..)| id).collect()
        };

        assert_eq!(walk(&app, &client, "ADDED_AT_ASC", None).await, LIST);
        let mut newest_first = LIST.to_vec();
        newest_first.reverse();
        assert_eq!(
            walk(&app, &client, "ADDED_AT_DESC", None).await,
            newest_first
        );

        let mut by_price = products.clone();
        by_price.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        assert_eq!(
            walk(&app, &client, "PRICE_ASC", None).await,
            ids(by_price.clone())
        );
        by_price.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(walk(&app, &client, "PRICE_DESC", None).await, ids(by_price));

        let mut by_title = products.clone();
        by_title.sort_by(|a, b| {
            a.2.to_lowercase()
                .cmp(&b.2.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        assert_eq!(walk(&app, &client, "TITLE_ASC", None).await, ids(by_title));
    })
    .await;
}

#[tokio::test]
async fn a_category_keeps_its_products_and_counts_them() {
    each_backend(|app| async move {
        let client = client_with(&app, &LIST).await;
        for category in [
            "electronics",
            "jewelery",
            "men's clothing",
            "women's clothing",
        ] {
            let expected: Vec<i64> = fixture(&LIST)
                .into_iter()
                .filter(|(.., of)| of == category)
                .map(|(id, ..)| id)
                .collect();
            assert!(!expected.is_empty(), "the list has some {category}");
            assert_eq!(
                walk(&app, &client, "ADDED_AT_ASC", Some(category)).await,
                expected,
                "{category}"
            );
        }
        assert!(
            walk(&app, &client, "PRICE_ASC", Some("toys"))
                .await
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn products_the_catalog_cannot_price_come_last_both_ways() {
    let options = Options::default().with("PRODUCT_CACHE_TTL_SECONDS", 1);
    each_backend_with(options, |app| async move {
        let client = client_with(&app, &[1, 2, 3, 4]).await;
        app.catalog.withdraw(2).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        // Prices: 1 is 109.95, 3 is 55.99, 4 is 15.99; 2 is gone.
        assert_eq!(walk(&app, &client, "PRICE_ASC", None).await, [4, 3, 1, 2]);
        assert_eq!(walk(&app, &client, "PRICE_DESC", None).await, [1, 3, 4, 2]);
        assert_eq!(
            walk(&app, &client, "TITLE_ASC", None).await.last(),
            Some(&2)
        );
    })
    .await;
}

#[tokio::test]
async fn a_cursor_is_good_only_in_the_order_it_came_from() {
    each_backend(|app| async move {
        let client = client_with(&app, &LIST).await;
        let first = |order: &str, after: Value| {
            let app = app.clone();
            let variables = json!({ "id": client, "order": order, "first": 2, "after": after });
            async move { app.graphql(PAGE, variables).await }
        };
        let page = first("PRICE_ASC", Value::Null).await;
        let cursor = page["data"]["client"]["favorites"]["pageInfo"]["endCursor"].clone();
        assert!(
            first("PRICE_ASC", cursor.clone())
                .await
                .get("errors")
                .is_none()
        );
        for other in ["ADDED_AT_ASC", "ADDED_AT_DESC", "PRICE_DESC", "TITLE_ASC"] {
            let body = first(other, cursor.clone()).await;
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{other}: {body}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|message| message.contains("another `orderBy`")),
                "{body}"
            );
        }
        let oldest_first = first("ADDED_AT_ASC", Value::Null).await;
        let cursor = oldest_first["data"]["client"]["favorites"]["pageInfo"]["endCursor"].clone();
        let body = first("TITLE_ASC", cursor).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        let body = first("TITLE_ASC", json!("bm90IGEgY3Vyc29y")).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    })
    .await;
}

#[tokio::test]
async fn my_favorites_reads_in_any_order_too() {
    each_backend(|app| async move {
        let client = client_with(&app, &[1, 4, 3]).await;
        let token = app.client_token(&client).await;
        let body = app
            .graphql_as(
                Some(&token),
                "{ myFavorites(orderBy: PRICE_ASC, category: \"men's clothing\") { totalCount nodes { productId } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"]["myFavorites"],
            json!({ "totalCount": 3, "nodes": [{ "productId": 4 }, { "productId": 3 }, { "productId": 1 }] }),
            "{body}"
        );
    })
    .await;
}
