//! What a favorite keeps besides its product: a note (set on add or on its own, checked,
//! carried through a guest's merge), the price when it was added and the drop since, and
//! whether the catalog still has the product.

use std::time::Duration;

use favorites_api::db::entities::{client_favorite_product, guest_favorite_product};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend, each_backend_with, error_codes};

const LIST: &str = "query($id: UUID!) { client(id: $id) { favorites { nodes { productId addedAt note priceWhenAdded priceDrop available product { id } } } } }";
const ADD: &str = "mutation($id: UUID!, $p: Int!, $note: String) { addFavorite(clientId: $id, productId: $p, note: $note) { id } }";
const SET_NOTE: &str = "mutation($id: UUID!, $p: Int!, $note: String) { setFavoriteNote(clientId: $id, productId: $p, note: $note) { id } }";

async fn favorites(app: &TestApp, client: &str) -> Vec<Value> {
    app.data(LIST, json!({ "id": client })).await["client"]["favorites"]["nodes"]
        .as_array()
        .expect("a list")
        .clone()
}

async fn favorite(app: &TestApp, client: &str, product: i64) -> Value {
    favorites(app, client)
        .await
        .into_iter()
        .find(|node| node["productId"] == product)
        .unwrap_or_else(|| panic!("product {product} in the list"))
}

async fn rows(app: &TestApp) -> Vec<client_favorite_product::Model> {
    client_favorite_product::Entity::find()
        .order_by_asc(client_favorite_product::Column::ProductId)
        .all(&app.db)
        .await
        .expect("read favorites")
}

#[tokio::test]
async fn a_note_is_kept_trimmed_changed_by_a_second_add_and_cleared() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        app.data(
            ADD,
            json!({ "id": client, "p": 3, "note": "  for Dad's birthday  " }),
        )
        .await;
        let first = favorite(&app, &client, 3).await;
        assert_eq!(first["note"], "for Dad's birthday");

        // Added again with a note: the note changes, `addedAt` stays.
        app.data(ADD, json!({ "id": client, "p": 3, "note": "size L" }))
            .await;
        let again = favorite(&app, &client, 3).await;
        assert_eq!(again["note"], "size L");
        assert_eq!(again["addedAt"], first["addedAt"]);

        // Added again without one: the note stays.
        app.data(ADD, json!({ "id": client, "p": 3 })).await;
        assert_eq!(favorite(&app, &client, 3).await["note"], "size L");

        app.data(SET_NOTE, json!({ "id": client, "p": 3, "note": "in blue" }))
            .await;
        assert_eq!(favorite(&app, &client, 3).await["note"], "in blue");
        app.data(SET_NOTE, json!({ "id": client, "p": 3, "note": null }))
            .await;
        assert_eq!(favorite(&app, &client, 3).await["note"], Value::Null);
        app.data(SET_NOTE, json!({ "id": client, "p": 3, "note": "   " }))
            .await;
        assert_eq!(favorite(&app, &client, 3).await["note"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn a_bad_note_is_refused_and_nothing_is_written() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        app.data(ADD, json!({ "id": client, "p": 1, "note": "kept" }))
            .await;
        let before = rows(&app).await;
        let too_long = "é".repeat(501);
        for note in [too_long.as_str(), "two\nlines", "tab\there", "bell\u{7}"] {
            for (document, product) in [(ADD, 2), (ADD, 1), (SET_NOTE, 1)] {
                let body = app
                    .graphql(
                        document,
                        json!({ "id": client, "p": product, "note": note }),
                    )
                    .await;
                assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{note:?}: {body}");
                assert!(
                    body["errors"][0]["message"]
                        .as_str()
                        .is_some_and(|message| message.starts_with("note:")),
                    "{body}"
                );
            }
        }
        assert_eq!(rows(&app).await, before, "nothing was written");
        // 500 characters are fine, whatever their size in bytes.
        let longest = "é".repeat(500);
        app.data(SET_NOTE, json!({ "id": client, "p": 1, "note": longest }))
            .await;
        assert_eq!(favorite(&app, &client, 1).await["note"], longest.as_str());
    })
    .await;
}

#[tokio::test]
async fn a_note_on_a_product_not_in_the_list_is_not_found() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        let body = app
            .graphql(SET_NOTE, json!({ "id": client, "p": 4, "note": "x" }))
            .await;
        assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
        assert!(rows(&app).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_guest_keeps_notes_and_the_merge_carries_them() {
    each_backend(|app| async move {
        let guest = app
            .data("mutation { startGuestSession { accessToken } }", json!({}))
            .await["startGuestSession"]["accessToken"]
            .as_str()
            .expect("a guest token")
            .to_owned();
        let as_guest = |document: &'static str, variables: Value| {
            let app = app.clone();
            let guest = guest.clone();
            async move {
                let body = app.graphql_as(Some(&guest), document, variables).await;
                assert!(body.get("errors").is_none(), "{body}");
                body["data"].clone()
            }
        };
        as_guest(
            "mutation { addMyFavorite(productId: 2, note: \"for me\") { totalCount } }",
            json!({}),
        )
        .await;
        as_guest(
            "mutation { addMyFavorite(productId: 5) { totalCount } }",
            json!({}),
        )
        .await;
        let set = as_guest(
            "mutation { setMyFavoriteNote(productId: 5, note: \"anniversary\") { nodes { productId note priceWhenAdded } } }",
            json!({}),
        )
        .await;
        assert_eq!(
            set["setMyFavoriteNote"]["nodes"],
            json!([
                { "productId": 2, "note": "for me", "priceWhenAdded": 22.3 },
                { "productId": 5, "note": "anniversary", "priceWhenAdded": 695.0 },
            ])
        );
        let missing = app
            .graphql_as(
                Some(&guest),
                "mutation { setMyFavoriteNote(productId: 9, note: \"x\") { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(error_codes(&missing), ["NOT_FOUND"], "{missing}");

        // The client has product 2 with a note of its own, and product 5 without one.
        let client = app.create_client("Ana", "ana@example.com").await;
        app.data(ADD, json!({ "id": client, "p": 2, "note": "the client's" }))
            .await;
        app.data(ADD, json!({ "id": client, "p": 5 })).await;
        let token = app.client_token(&client).await;
        let merged = app
            .graphql_as(
                Some(&token),
                "mutation($g: String!) { mergeGuestFavorites(guestToken: $g) { nodes { productId note priceWhenAdded } } }",
                json!({ "g": guest }),
            )
            .await;
        assert_eq!(
            merged["data"]["mergeGuestFavorites"]["nodes"],
            json!([
                { "productId": 2, "note": "the client's", "priceWhenAdded": 22.3 },
                { "productId": 5, "note": "anniversary", "priceWhenAdded": 695.0 },
            ]),
            "{merged}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_price_when_added_is_kept_and_a_drop_since_is_shown() {
    let options = Options::default().with("PRODUCT_CACHE_TTL_SECONDS", 1);
    each_backend_with(options, |app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&client, 1).await;
        app.add_favorite(&client, 2).await;
        let saved = favorite(&app, &client, 1).await;
        assert_eq!(saved["priceWhenAdded"], 109.95);
        assert_eq!(saved["priceDrop"], Value::Null, "not cheaper yet");

        app.catalog.reprice(1, 99.9).await;
        app.catalog.reprice(2, 25.0).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let list = favorites(&app, &client).await;
        assert_eq!(list[0]["priceWhenAdded"], 109.95);
        assert_eq!(list[0]["priceDrop"], 10.05);
        assert_eq!(list[1]["priceDrop"], Value::Null, "dearer, not cheaper");

        // Added again at the lower price: the first price stays, as `addedAt` does.
        app.add_favorite(&client, 1).await;
        assert_eq!(favorite(&app, &client, 1).await["priceWhenAdded"], 109.95);
    })
    .await;
}

#[tokio::test]
async fn a_product_gone_from_the_catalog_stays_in_the_list_as_unavailable() {
    let options = Options::default().with("PRODUCT_CACHE_TTL_SECONDS", 1);
    each_backend_with(options, |app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&client, 7).await;
        app.add_favorite(&client, 8).await;
        assert_eq!(favorite(&app, &client, 7).await["available"], true);

        app.catalog.withdraw(7).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let body = app.graphql(LIST, json!({ "id": client })).await;
        assert!(body.get("errors").is_none(), "{body}");
        let list = &body["data"]["client"]["favorites"]["nodes"];
        assert_eq!(list[0]["productId"], 7);
        assert_eq!(list[0]["available"], false);
        assert_eq!(list[0]["product"], Value::Null);
        assert_eq!(list[1]["available"], true);
        assert_eq!(list[1]["product"]["id"], 8);

        // It can still be removed.
        app.remove_favorite(&client, 7).await;
        assert_eq!(favorites(&app, &client).await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_catalog_does_not_mark_products_gone() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        // Written outside the API: no cache has seen product 11.
        favorites_api::db::repositories::favorites::add(
            &app.db,
            &favorites_api::db::changes::ChangeFeed::local(),
            uuid::Uuid::parse_str(&client).expect("a uuid"),
            &favorites_api::domain::NewFavorite::product(11),
            1_000,
        )
        .await
        .expect("written");
        app.catalog.go_down().await;
        let body = app.graphql(LIST, json!({ "id": client })).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        let node = &body["data"]["client"]["favorites"]["nodes"][0];
        assert_eq!(node["available"], true, "{body}");
        assert_eq!(node["priceWhenAdded"], Value::Null, "saved without a price");
        assert_eq!(node["priceDrop"], Value::Null);
        assert_eq!(node["product"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn a_merge_never_trades_a_known_price_for_an_unknown_one() {
    each_backend(|app| async move {
        // A guest saved product 2 before prices were kept (written outside the API), then the
        // client saved it at the catalog's price.
        let guest = uuid::Uuid::now_v7();
        let changes = favorites_api::db::changes::ChangeFeed::local();
        favorites_api::db::repositories::guests::add(
            &app.db,
            &changes,
            guest,
            &favorites_api::domain::NewFavorite::product(2),
            1_000,
        )
        .await
        .expect("written");
        let guest_added_at = guest_favorite_product::Entity::find()
            .all(&app.db)
            .await
            .expect("read guest favorites")[0]
            .added_at;
        let client = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&client, 2).await;
        favorites_api::db::repositories::guest_merge::merge_into_client(
            &app.db,
            &changes,
            guest,
            uuid::Uuid::parse_str(&client).expect("a uuid"),
            1_000,
        )
        .await
        .expect("merged");
        // Straight from the table: the merge went around this instance's cache.
        let merged = &rows(&app).await[0];
        assert_eq!(merged.added_at, guest_added_at, "the guest's earlier add");
        assert_eq!(merged.price_when_added, Some(22.3), "the known price stays");
    })
    .await;
}
