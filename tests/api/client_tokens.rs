//! Access for storefronts with client tokens from `issueClientToken`: they last as asked within
//! bounds, act for their client alone (and nothing once it is deleted), and every client has a
//! request allowance of its own across all its tokens (`CLIENT_REQUESTS_PER_MINUTE`); the admin
//! has none.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{
    Options, each_backend, each_backend_with, error_codes, retry_after_seconds,
};

const VIEWER: &str =
    "{ viewer { id name email favorites { totalCount nodes { productId product { title } } } } }";
const ISSUE: &str = "mutation($id: UUID!, $m: Int) { issueClientToken(clientId: $id, expiresInMinutes: $m) { accessToken tokenType expiresAt } }";

fn minutes_until(expires_at: &Value) -> i64 {
    let at: chrono::DateTime<chrono::Utc> = expires_at
        .as_str()
        .expect("a time")
        .parse()
        .expect("RFC 3339");
    (at - chrono::Utc::now()).num_minutes()
}

#[tokio::test]
async fn client_tokens_last_as_asked_within_bounds_and_only_for_real_clients() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let default = app.data(ISSUE, json!({ "id": ana })).await;
        assert_eq!(default["issueClientToken"]["tokenType"], "Bearer");
        assert!((58..=60).contains(&minutes_until(&default["issueClientToken"]["expiresAt"])));
        let short = app.data(ISSUE, json!({ "id": ana, "m": 5 })).await;
        assert!((3..=5).contains(&minutes_until(&short["issueClientToken"]["expiresAt"])));
        for bad in [0, -1, 1_441] {
            let body = app.graphql(ISSUE, json!({ "id": ana, "m": bad })).await;
            assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{bad}: {body}");
        }
        let unknown = app
            .graphql(
                ISSUE,
                json!({ "id": "01890000-0000-7000-8000-000000000000" }),
            )
            .await;
        assert_eq!(error_codes(&unknown), ["NOT_FOUND"], "{unknown}");
    })
    .await;
}

#[tokio::test]
async fn a_shoppers_session_touches_their_own_list_and_nothing_else() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let bia = app.create_client("Bia", "bia@example.com").await;
        app.add_favorite(&bia, 7).await;
        let token = app.client_token(&ana).await;
        let shopper = |query: &'static str, variables: Value| {
            let (app, token) = (app.clone(), token.clone());
            async move { app.graphql_as(Some(&token), query, variables).await }
        };

        let viewer = shopper(VIEWER, json!({})).await;
        assert_eq!(viewer["data"]["viewer"]["id"], ana.as_str(), "{viewer}");
        let added = shopper(
            "mutation($c: UUID!) { addFavorite(clientId: $c, productId: 5) { favorites { nodes { productId } } } }",
            json!({ "c": ana }),
        )
        .await;
        assert_eq!(added["data"]["addFavorite"]["favorites"]["nodes"][0]["productId"], 5, "{added}");
        let renamed = shopper(
            "mutation($c: UUID!) { updateClient(id: $c, input: { name: \"Ana Maria\" }) { name email } }",
            json!({ "c": ana }),
        )
        .await;
        assert_eq!(renamed["data"]["updateClient"]["name"], "Ana Maria", "{renamed}");
        let removed = shopper(
            "mutation($c: UUID!) { removeFavorite(clientId: $c, productId: 5) { favorites { totalCount } } }",
            json!({ "c": ana }),
        )
        .await;
        assert_eq!(removed["data"]["removeFavorite"]["favorites"]["totalCount"], 0);

        // Another client's data, or a change of e-mail: refused, and nothing written.
        for (query, variables) in [
            ("query($c: UUID!) { client(id: $c) { name } }", json!({ "c": bia })),
            (
                "mutation($c: UUID!) { removeFavorite(clientId: $c, productId: 7) { id } }",
                json!({ "c": bia }),
            ),
            (
                "mutation($c: UUID!) { updateClient(id: $c, input: { email: \"x@example.com\" }) { id } }",
                json!({ "c": ana }),
            ),
        ] {
            let body = shopper(query, variables).await;
            assert_eq!(error_codes(&body), ["FORBIDDEN"], "{query}: {body}");
        }
        let bia_list = app
            .data("query($c: UUID!) { client(id: $c) { email favorites { totalCount } } }", json!({ "c": bia }))
            .await;
        assert_eq!(bia_list["client"]["favorites"]["totalCount"], 1);
        let ana_now = app.data("query($c: UUID!) { client(id: $c) { email } }", json!({ "c": ana })).await;
        assert_eq!(ana_now["client"]["email"], "ana@example.com");

        // The same refusal for an id nobody has: FORBIDDEN says nothing about existence.
        let nobody = shopper(
            "query($c: UUID!) { client(id: $c) { name } }",
            json!({ "c": "01890000-0000-7000-8000-000000000000" }),
        )
        .await;
        assert_eq!(error_codes(&nobody), ["FORBIDDEN"]);

        // The admin has no client of its own.
        let admin = app.data("{ viewer { id } }", json!({})).await;
        assert!(admin["viewer"].is_null());
    })
    .await;
}

#[tokio::test]
async fn the_token_of_a_deleted_client_reads_nothing_and_writes_nothing() {
    each_backend(|app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let token = app.client_token(&ana).await;
        app.data(
            "mutation($c: UUID!) { deleteClient(id: $c) }",
            json!({ "c": ana }),
        )
        .await;
        let viewer = app
            .graphql_as(Some(&token), "{ viewer { id } }", json!({}))
            .await;
        assert!(
            viewer["data"]["viewer"].is_null() && viewer.get("errors").is_none(),
            "{viewer}"
        );
        let add = app
            .graphql_as(
                Some(&token),
                "mutation($c: UUID!) { addFavorite(clientId: $c, productId: 1) { id } }",
                json!({ "c": ana }),
            )
            .await;
        assert_eq!(error_codes(&add), ["NOT_FOUND"], "{add}");
        assert!(app.favorite_rows().await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn each_client_has_its_own_allowance_across_its_tokens_and_the_admin_has_none() {
    let options = Options::default().with("CLIENT_REQUESTS_PER_MINUTE", 5);
    each_backend_with(options, |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let bia = app.create_client("Bia", "bia@example.com").await;
        let (first, second) = (app.client_token(&ana).await, app.client_token(&ana).await);
        let viewer = json!({ "query": "{ viewer { id } }" });
        for token in [&first, &second, &first, &second, &first] {
            let (status, body) = app.post_graphql(Some(token), &viewer).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&second)
            .json(&viewer)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after = retry_after_seconds(&response);
        assert!((1..=12).contains(&retry_after), "{retry_after}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
        assert_eq!(
            body["errors"][0]["extensions"]["retryAfterSeconds"],
            retry_after
        );

        let bia_token = app.client_token(&bia).await;
        let (status, _) = app.post_graphql(Some(&bia_token), &viewer).await;
        assert_eq!(status, StatusCode::OK, "another client is not held back");
        for _ in 0..10 {
            app.data("{ clients { totalCount } }", json!({})).await;
        }
    })
    .await;
}
