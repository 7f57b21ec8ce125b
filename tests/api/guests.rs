//! Guest shoppers: a session that writes nothing until the first favorite, the "my" operations
//! with a guest's and a client's token, the merge at login (overlap, cap, twice, two clients at
//! once, adds racing it), the expiry sweep, the session limit, and every refusal.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use favorites_api::db::entities::{guest, guest_favorite_product};
use futures::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::support::app::{
    Options, SECRET_KEY, TestApp, each_backend, each_backend_with, error_codes,
};
use crate::support::websocket::{receive, start};

const MY_LIST: &str = "{ myFavorites { totalCount nodes { productId addedAt product { id } } } }";
const ADD: &str =
    "mutation($p: Int!) { addMyFavorite(productId: $p) { totalCount nodes { productId } } }";
const REMOVE: &str =
    "mutation($p: Int!) { removeMyFavorite(productId: $p) { totalCount nodes { productId } } }";
const MERGE: &str = "mutation($g: String!, $c: UUID) { mergeGuestFavorites(guestToken: $g, clientId: $c) { totalCount nodes { productId addedAt } } }";

async fn start_guest(app: &TestApp) -> String {
    let body = app
        .graphql_as(
            None,
            "mutation { startGuestSession { accessToken tokenType expiresAt } }",
            json!({}),
        )
        .await;
    let session = &body["data"]["startGuestSession"];
    assert_eq!(session["tokenType"], "Bearer", "{body}");
    session["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("a guest token: {body}"))
        .to_owned()
}

/// Runs `document` with `token` and returns its data, failing on any error.
async fn data_as(app: &TestApp, token: &str, document: &str, variables: Value) -> Value {
    let body = app.graphql_as(Some(token), document, variables).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

fn ids(connection: &Value) -> Vec<i64> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {connection}"))
        .iter()
        .map(|node| node["productId"].as_i64().expect("an id"))
        .collect()
}

async fn my_ids(app: &TestApp, token: &str) -> Vec<i64> {
    ids(&data_as(app, token, MY_LIST, json!({})).await["myFavorites"])
}

async fn guests(app: &TestApp) -> Vec<guest::Model> {
    guest::Entity::find()
        .order_by_asc(guest::Column::Id)
        .all(&app.db)
        .await
        .expect("read guests")
}

async fn guest_favorites(app: &TestApp) -> Vec<guest_favorite_product::Model> {
    guest_favorite_product::Entity::find()
        .order_by_asc(guest_favorite_product::Column::GuestId)
        .order_by_asc(guest_favorite_product::Column::ProductId)
        .all(&app.db)
        .await
        .expect("read guest favorites")
}

/// A client and a token that acts for it, as a storefront has them after the shopper logs in.
async fn logged_in(app: &TestApp, email: &str) -> (String, String) {
    let client = app.create_client("Shopper", email).await;
    let token = app.client_token(&client).await;
    (client, token)
}

/// A token signed with the service's key, of any role and expiry (unix seconds).
fn forge(role: &str, subject: &str, exp: i64, key: &str) -> String {
    let claims = json!({
        "sub": subject, "role": role, "iat": exp - 60, "exp": exp,
        "iss": "favorites-api", "aud": "favorites-api",
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("a token")
}

#[tokio::test]
async fn a_guest_keeps_a_list_then_merges_it_at_login() {
    each_backend(|app| async move {
        let guest = start_guest(&app).await;
        assert!(
            guests(&app).await.is_empty(),
            "a session alone writes nothing"
        );
        assert_eq!(my_ids(&app, &guest).await, Vec::<i64>::new());
        let viewer = app
            .graphql_as(Some(&guest), "{ viewer { id } }", json!({}))
            .await;
        assert_eq!(viewer["data"]["viewer"], Value::Null, "{viewer}");

        for product in [3, 1, 2] {
            data_as(&app, &guest, ADD, json!({ "p": product })).await;
        }
        // Idempotent: adding one already there changes nothing.
        let again = data_as(&app, &guest, ADD, json!({ "p": 1 })).await;
        assert_eq!(ids(&again["addMyFavorite"]), [3, 1, 2]);
        let listed = data_as(&app, &guest, MY_LIST, json!({})).await;
        assert_eq!(
            listed["myFavorites"]["nodes"][0]["product"]["id"], 3,
            "{listed}"
        );
        assert_eq!(guests(&app).await.len(), 1);

        let (client, token) = logged_in(&app, "shopper@example.com").await;
        let body = app
            .graphql_as(Some(&token), MERGE, json!({ "g": guest }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(ids(&body["data"]["mergeGuestFavorites"]), [3, 1, 2]);
        assert_eq!(body["extensions"]["guestFavoritesLeftOut"], 0, "{body}");
        assert_eq!(my_ids(&app, &token).await, [3, 1, 2]);
        let client_view = app
            .data(
                "query($id: UUID!) { client(id: $id) { favorites { nodes { productId } } } }",
                json!({ "id": client }),
            )
            .await;
        assert_eq!(ids(&client_view["client"]["favorites"]), [3, 1, 2]);

        // The guest's list is gone, and its token acts on nothing.
        assert!(guest_favorites(&app).await.is_empty());
        for (document, variables) in [
            (MY_LIST, json!({})),
            (ADD, json!({ "p": 4 })),
            (REMOVE, json!({ "p": 3 })),
        ] {
            let body = app.graphql_as(Some(&guest), document, variables).await;
            assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
        }
        assert!(
            guest_favorites(&app).await.is_empty(),
            "nothing written after the merge"
        );
        assert_eq!(my_ids(&app, &token).await, [3, 1, 2]);
    })
    .await;
}

#[tokio::test]
async fn the_same_operations_work_with_a_client_token_and_remove_is_idempotent() {
    each_backend(|app| async move {
        let (client, token) = logged_in(&app, "mine@example.com").await;
        data_as(&app, &token, ADD, json!({ "p": 5 })).await;
        data_as(&app, &token, ADD, json!({ "p": 6 })).await;
        let removed = data_as(&app, &token, REMOVE, json!({ "p": 5 })).await;
        assert_eq!(ids(&removed["removeMyFavorite"]), [6]);
        let again = data_as(&app, &token, REMOVE, json!({ "p": 5 })).await;
        assert_eq!(ids(&again["removeMyFavorite"]), [6]);
        let view = app
            .data(
                "query($id: UUID!) { client(id: $id) { favorites { nodes { productId } } } }",
                json!({ "id": client }),
            )
            .await;
        assert_eq!(
            ids(&view["client"]["favorites"]),
            [6],
            "the client's own list"
        );

        // A guest without a list removes nothing and gets no row.
        let guest = start_guest(&app).await;
        let removed = data_as(&app, &guest, REMOVE, json!({ "p": 1 })).await;
        assert_eq!(removed["removeMyFavorite"]["totalCount"], 0);
        assert!(guests(&app).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_merge_keeps_the_earlier_date_and_fills_the_cap_with_the_earliest_guest_favorites() {
    let options = Options::default().with("MAX_FAVORITES_PER_CLIENT", 4);
    each_backend_with(options, |app| async move {
        let guest = start_guest(&app).await;
        // The guest saves product 2 before the client does.
        data_as(&app, &guest, ADD, json!({ "p": 2 })).await;
        let (_, token) = logged_in(&app, "capped@example.com").await;
        data_as(&app, &token, ADD, json!({ "p": 1 })).await;
        data_as(&app, &token, ADD, json!({ "p": 2 })).await;
        for product in [3, 4, 5] {
            data_as(&app, &guest, ADD, json!({ "p": product })).await;
        }
        let guest_dates = data_as(&app, &guest, MY_LIST, json!({})).await;
        let guest_added_2 = guest_dates["myFavorites"]["nodes"][0]["addedAt"].clone();

        let body = app
            .graphql_as(Some(&token), MERGE, json!({ "g": guest }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let merged = &body["data"]["mergeGuestFavorites"];
        // The client's own two stay, the guest's earliest two fill the cap, product 5 is left out.
        assert_eq!(ids(merged), [2, 1, 3, 4], "{body}");
        assert_eq!(
            merged["nodes"][0]["addedAt"], guest_added_2,
            "the earlier date"
        );
        assert_eq!(body["extensions"]["guestFavoritesLeftOut"], 1, "{body}");
        assert!(guest_favorites(&app).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn merging_again_or_into_another_client_changes_nothing() {
    each_backend(|app| async move {
        let guest = start_guest(&app).await;
        data_as(&app, &guest, ADD, json!({ "p": 7 })).await;
        let (_, first) = logged_in(&app, "first@example.com").await;
        let (second_id, second) = logged_in(&app, "second@example.com").await;
        data_as(&app, &second, ADD, json!({ "p": 9 })).await;

        let merged = data_as(&app, &first, MERGE, json!({ "g": guest })).await;
        assert_eq!(ids(&merged["mergeGuestFavorites"]), [7]);
        let body = app
            .graphql_as(Some(&first), MERGE, json!({ "g": guest }))
            .await;
        assert!(
            body.get("errors").is_none(),
            "a second merge is not an error: {body}"
        );
        assert_eq!(ids(&body["data"]["mergeGuestFavorites"]), [7]);
        assert_eq!(body["extensions"]["guestFavoritesLeftOut"], 0);

        let elsewhere = data_as(&app, &second, MERGE, json!({ "g": guest })).await;
        assert_eq!(
            ids(&elsewhere["mergeGuestFavorites"]),
            [9],
            "the second client's own list"
        );
        // The store's backend merges with the admin token, naming the client.
        let by_admin = app.data(MERGE, json!({ "g": guest, "c": second_id })).await;
        assert_eq!(ids(&by_admin["mergeGuestFavorites"]), [9]);
        assert_eq!(my_ids(&app, &first).await, [7]);

        // A guest merged before its first favorite is spent all the same.
        let empty = start_guest(&app).await;
        let merged = data_as(&app, &first, MERGE, json!({ "g": empty })).await;
        assert_eq!(ids(&merged["mergeGuestFavorites"]), [7]);
        let body = app.graphql_as(Some(&empty), ADD, json!({ "p": 8 })).await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
        assert_eq!(my_ids(&app, &first).await, [7]);
    })
    .await;
}

#[tokio::test]
async fn two_clients_merging_one_guest_at_once_one_gets_everything() {
    each_backend(|app| async move {
        for round in 0..5 {
            let guest = start_guest(&app).await;
            for product in [1, 2, 3] {
                data_as(&app, &guest, ADD, json!({ "p": product })).await;
            }
            let (_, a) = logged_in(&app, &format!("a{round}@example.com")).await;
            let (_, b) = logged_in(&app, &format!("b{round}@example.com")).await;
            let answers = join_all([&a, &b].map(|token| {
                let (app, guest) = (&app, &guest);
                async move { data_as(app, token, MERGE, json!({ "g": guest })).await }
            }))
            .await;
            let mut lists: Vec<Vec<i64>> = answers
                .iter()
                .map(|answer| ids(&answer["mergeGuestFavorites"]))
                .collect();
            lists.sort();
            assert_eq!(lists, [vec![], vec![1, 2, 3]], "round {round}");
            assert_eq!(
                [my_ids(&app, &a).await.len(), my_ids(&app, &b).await.len()]
                    .iter()
                    .sum::<usize>(),
                3
            );
            assert!(guest_favorites(&app).await.is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn adds_racing_a_merge_are_merged_or_refused_never_lost_or_left_behind() {
    each_backend(|app| async move {
        for round in 0..3 {
            let guest = start_guest(&app).await;
            data_as(&app, &guest, ADD, json!({ "p": 1 })).await;
            let (_, token) = logged_in(&app, &format!("racer{round}@example.com")).await;
            let adds = (2..=13).map(|product| {
                let (app, guest) = (&app, &guest);
                async move {
                    let body = app
                        .graphql_as(Some(guest), ADD, json!({ "p": product }))
                        .await;
                    match error_codes(&body).as_slice() {
                        [] => Some(product),
                        [code] if code == "UNAUTHENTICATED" => None,
                        _ => panic!("unexpected answer: {body}"),
                    }
                }
            });
            let merge = async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                data_as(&app, &token, MERGE, json!({ "g": guest })).await
            };
            let (added, _) = tokio::join!(join_all(adds), merge);
            let mut expected: Vec<i64> = added.into_iter().flatten().collect();
            expected.push(1);
            expected.sort_unstable();
            let mut listed = my_ids(&app, &token).await;
            listed.sort_unstable();
            assert_eq!(
                listed, expected,
                "every add that succeeded, and nothing else, once"
            );
            assert!(
                guest_favorites(&app).await.is_empty(),
                "nothing left under the guest"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_guest_list_left_alone_past_its_retention_is_swept() {
    each_backend(|app| async move {
        let stale = start_guest(&app).await;
        let fresh = start_guest(&app).await;
        data_as(&app, &stale, ADD, json!({ "p": 11 })).await;
        data_as(&app, &fresh, ADD, json!({ "p": 12 })).await;
        let merged = start_guest(&app).await;
        data_as(&app, &merged, ADD, json!({ "p": 13 })).await;
        let (_, token) = logged_in(&app, "kept@example.com").await;
        data_as(&app, &token, MERGE, json!({ "g": merged })).await;
        let old = chrono::Utc::now() - chrono::TimeDelta::days(31);
        // Ages the stale guest (the one whose list holds product 11) and the tombstone.
        let stale_id = guest_favorites(&app)
            .await
            .into_iter()
            .find(|row| row.product_id == 11)
            .expect("the stale guest's favorite")
            .guest_id;
        guest::Entity::update_many()
            .col_expr(
                guest::Column::TouchedAt,
                sea_orm::sea_query::Expr::value(old),
            )
            .filter(
                Condition::any()
                    .add(guest::Column::Id.eq(stale_id))
                    .add(guest::Column::MergedInto.is_not_null()),
            )
            .exec(&app.db)
            .await
            .expect("age the guests");

        // The sweep runs as an instance starts, and every few minutes after.
        let _second = app.another_instance_with(Options::default()).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: BTreeSet<i32> = guest_favorites(&app)
                .await
                .iter()
                .map(|row| row.product_id)
                .collect();
            let rows = guests(&app).await;
            if left == BTreeSet::from([12]) && rows.len() == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "never swept: {rows:?}, {left:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Product 11 is in no list any more: its id leaves `products_ref`; 12 and 13 stay.
        let deadline = Instant::now() + Duration::from_secs(10);
        while app.product_refs().await != [12, 13] {
            assert!(
                Instant::now() < deadline,
                "products_ref: {:?}",
                app.product_refs().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The expired guest's token starts over with an empty list; the fresh one kept its own.
        assert_eq!(my_ids(&app, &stale).await, Vec::<i64>::new());
        assert_eq!(my_ids(&app, &fresh).await, [12]);
    })
    .await;
}

#[tokio::test]
async fn guest_sessions_are_limited_per_network() {
    let options = Options::default().with("GUEST_SESSIONS_PER_MINUTE", 3);
    each_backend_with(options, |app| async move {
        for _ in 0..3 {
            start_guest(&app).await;
        }
        let body = app
            .graphql_as(
                None,
                "mutation { startGuestSession { accessToken } }",
                json!({}),
            )
            .await;
        assert_eq!(error_codes(&body), ["RATE_LIMITED"], "{body}");
    })
    .await;
}

#[tokio::test]
async fn every_refusal_writes_nothing() {
    let options = Options::default().with("MAX_FAVORITES_PER_CLIENT", 2);
    each_backend_with(options, |app| async move {
        let guest = start_guest(&app).await;
        // Not in the catalog: no guest row either.
        let body = app.graphql_as(Some(&guest), ADD, json!({ "p": 999 })).await;
        assert_eq!(error_codes(&body), ["PRODUCT_NOT_FOUND"], "{body}");
        assert!(guests(&app).await.is_empty());
        // The cap applies to guests.
        data_as(&app, &guest, ADD, json!({ "p": 1 })).await;
        data_as(&app, &guest, ADD, json!({ "p": 2 })).await;
        let body = app.graphql_as(Some(&guest), ADD, json!({ "p": 3 })).await;
        assert_eq!(error_codes(&body), ["FAVORITES_LIMIT_REACHED"], "{body}");
        assert_eq!(my_ids(&app, &guest).await, [1, 2]);

        // The admin has no list of its own.
        for (document, variables) in [
            (MY_LIST, json!({})),
            (ADD, json!({ "p": 4 })),
            (REMOVE, json!({ "p": 1 })),
        ] {
            let body = app.graphql(document, variables).await;
            assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
        }
        let body = app.graphql(MERGE, json!({ "g": guest })).await;
        assert_eq!(
            error_codes(&body),
            ["BAD_USER_INPUT"],
            "the admin must name the client: {body}"
        );

        // A guest token that is expired, forged, another kind, or not a token at all.
        let (_, token) = logged_in(&app, "careful@example.com").await;
        let now = chrono::Utc::now().timestamp();
        let guest_id = guests(&app).await[0].id.to_string();
        let bad = [
            forge("guest", &guest_id, now - 3_600, SECRET_KEY),
            forge(
                "guest",
                &guest_id,
                now + 3_600,
                "another-key-0123456789abcdef0123456789",
            ),
            token.clone(),
            app.token.clone(),
            "not-a-token".to_owned(),
        ];
        for guest_token in bad {
            let body = app
                .graphql_as(Some(&token), MERGE, json!({ "g": guest_token }))
                .await;
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        }
        // A guest may not merge, and a client token may not merge into another client.
        let body = app
            .graphql_as(Some(&guest), MERGE, json!({ "g": guest }))
            .await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
        let other = app.create_client("Other", "other@example.com").await;
        let body = app
            .graphql_as(Some(&token), MERGE, json!({ "g": guest, "c": other }))
            .await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
        assert_eq!(
            my_ids(&app, &guest).await,
            [1, 2],
            "the guest's list is untouched"
        );
        assert_eq!(my_ids(&app, &token).await, Vec::<i64>::new());
        let rows = guest_favorites(&app).await;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|row| row.guest_id.to_string() == guest_id));
    })
    .await;
}

#[tokio::test]
async fn a_guest_watches_its_own_list_until_it_is_merged() {
    each_backend(|app| async move {
        let guest = start_guest(&app).await;
        let mut socket = start(
            &app.address,
            &guest,
            "subscription { myFavoritesChanged { totalCount nodes { productId } } }",
            json!({}),
        )
        .await;
        // Adds until one arrives: the subscription is in place once the server has run it.
        let mut product = 1;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < deadline, "no event");
            data_as(&app, &guest, ADD, json!({ "p": product })).await;
            product += 1;
            if let Ok(Ok(message)) =
                tokio::time::timeout(Duration::from_millis(300), receive(&mut socket)).await
            {
                assert_eq!(message["type"], "next", "{message}");
                let list = &message["payload"]["data"]["myFavoritesChanged"];
                assert!(list["totalCount"].as_u64() >= Some(1), "{message}");
                break;
            }
        }
        let (_, token) = logged_in(&app, "watched@example.com").await;
        data_as(&app, &token, MERGE, json!({ "g": guest })).await;
        // Whatever was still on its way, the subscription then completes.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(
                Instant::now() < deadline,
                "the subscription never completed"
            );
            let message = receive(&mut socket).await.expect("a message");
            if message["type"] == "complete" {
                break;
            }
            assert_eq!(message["type"], "next", "{message}");
        }
    })
    .await;
}
