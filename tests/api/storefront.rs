//! Access for storefronts: client tokens from `issueClientToken`, tokens from the store's
//! identity provider (and its JWKS misbehaving), and the per-client request limit.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, each_backend, each_backend_with, error_codes};
use crate::identity_provider::{FakeIdentityProvider, SigningKey, claims};

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
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
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

async fn viewer_as(app: &TestApp, token: &str) -> Value {
    app.graphql_as(Some(token), "{ viewer { id name email } }", json!({}))
        .await
}

#[tokio::test]
async fn provider_tokens_of_each_algorithm_act_for_the_client_with_that_email() {
    let keys = [
        SigningKey::rsa("rsa-1"),
        SigningKey::ec("ec-1"),
        SigningKey::ed("ed-1"),
    ];
    let provider = FakeIdentityProvider::start(&keys.iter().collect::<Vec<_>>()).await;
    each_backend_with(provider.options(), |app| {
        let keys = keys.clone();
        async move {
            let ana = app.create_client("Ana", "ana@example.com").await;
            for key in &keys {
                // The provider may spell the address in any case.
                let token = key.sign(&claims("Ana@Example.COM", json!({})));
                let body = viewer_as(&app, &token).await;
                assert_eq!(
                    body["data"]["viewer"]["id"],
                    ana.as_str(),
                    "{:?}: {body}",
                    key.algorithm
                );
            }
            // `nbf` in the future: not yet.
            let early = keys[0].sign(&claims(
                "ana@example.com",
                json!({ "nbf": chrono::Utc::now().timestamp() + 600 }),
            ));
            assert_eq!(
                error_codes(&viewer_as(&app, &early).await),
                ["UNAUTHENTICATED"]
            );
            // No e-mail claim: refused.
            let anonymous = keys[0].sign(&claims("ana@example.com", json!({ "email": null })));
            assert_eq!(
                error_codes(&viewer_as(&app, &anonymous).await),
                ["UNAUTHENTICATED"]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_unknown_email_creates_its_client_once_when_allowed() {
    let key = SigningKey::ec("ec-1");
    let provider = FakeIdentityProvider::start(&[&key]).await;
    let options = provider.options().with("AUTH_CREATE_CLIENTS", true);
    each_backend_with(options, |app| {
        let key = key.clone();
        async move {
            let token = key.sign(&claims(
                "new.shopper@example.com",
                json!({ "name": "  New Shopper  " }),
            ));
            // Several first requests at once: one client.
            let answers = futures::future::join_all((0..5).map(|_| viewer_as(&app, &token))).await;
            let ids: Vec<&Value> = answers
                .iter()
                .map(|body| &body["data"]["viewer"]["id"])
                .collect();
            assert!(
                ids.iter().all(|id| id.is_string() && *id == ids[0]),
                "{answers:?}"
            );
            assert_eq!(answers[0]["data"]["viewer"]["name"], "New Shopper");
            let count = app.data("{ clients { totalCount } }", json!({})).await;
            assert_eq!(count["clients"]["totalCount"], 1);

            let nameless = key.sign(&claims("quiet.one@example.com", json!({ "name": null })));
            let body = viewer_as(&app, &nameless).await;
            assert_eq!(body["data"]["viewer"]["name"], "quiet.one", "{body}");
        }
    })
    .await;
}

#[tokio::test]
async fn an_unknown_email_is_refused_when_creating_is_not_allowed() {
    let key = SigningKey::ec("ec-1");
    let provider = FakeIdentityProvider::start(&[&key]).await;
    each_backend_with(provider.options(), |app| {
        let key = key.clone();
        async move {
            let token = key.sign(&claims("stranger@example.com", json!({})));
            assert_eq!(
                error_codes(&viewer_as(&app, &token).await),
                ["UNAUTHENTICATED"]
            );
            let count = app.data("{ clients { totalCount } }", json!({})).await;
            assert_eq!(count["clients"]["totalCount"], 0);
        }
    })
    .await;
}

#[tokio::test]
async fn a_provider_that_is_down_hangs_or_serves_garbage_refuses_its_tokens_quickly() {
    let key = SigningKey::rsa("rsa-1");
    let provider = FakeIdentityProvider::start(&[&key]).await;
    let options = provider.options();
    for misbehave in ["down", "hang", "garbage"] {
        match misbehave {
            "down" => provider.go_down().await,
            "hang" => provider.hang().await,
            _ => provider.serve_garbage().await,
        }
        each_backend_with(options.clone(), |app| {
            let key = key.clone();
            async move {
                app.create_client("Ana", "ana@example.com").await;
                let token = key.sign(&claims("ana@example.com", json!({})));
                let started = Instant::now();
                let body = viewer_as(&app, &token).await;
                assert_eq!(
                    error_codes(&body),
                    ["UNAUTHENTICATED"],
                    "{misbehave}: {body}"
                );
                // AUTH_JWKS_TIMEOUT_MS is 500 in these tests.
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "{misbehave}: {:?}",
                    started.elapsed()
                );
                // Our own tokens are not held up by it.
                app.data("{ clients { totalCount } }", json!({})).await;
            }
        })
        .await;
    }
}

#[tokio::test]
async fn keys_already_fetched_keep_working_while_the_provider_is_down() {
    let key = SigningKey::ec("ec-1");
    let provider = FakeIdentityProvider::start(&[&key]).await;
    each_backend_with(provider.options(), |app| {
        let (key, provider) = (key.clone(), &provider);
        async move {
            let ana = app.create_client("Ana", "ana@example.com").await;
            let token = key.sign(&claims("ana@example.com", json!({})));
            assert_eq!(
                viewer_as(&app, &token).await["data"]["viewer"]["id"],
                ana.as_str()
            );
            provider.go_down().await;
            // A made-up kid asks for a fetch, which fails: the keys we have stay.
            let stranger = SigningKey::ec("unknown").sign(&claims("ana@example.com", json!({})));
            assert_eq!(
                error_codes(&viewer_as(&app, &stranger).await),
                ["UNAUTHENTICATED"]
            );
            let again = key.sign(&claims("ana@example.com", json!({})));
            assert_eq!(
                viewer_as(&app, &again).await["data"]["viewer"]["id"],
                ana.as_str()
            );
            provider.publish(&[&key]).await;
        }
    })
    .await;
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_withdrawn_ones_stop_working() {
    let (old, new) = (SigningKey::rsa("2026-old"), SigningKey::rsa("2026-new"));
    let provider = FakeIdentityProvider::start(&[&old]).await;
    each_backend_with(provider.options(), |app| {
        let (old, new, provider) = (old.clone(), new.clone(), &provider);
        async move {
            let ana = app.create_client("Ana", "ana@example.com").await;
            let with_old = old.sign(&claims("ana@example.com", json!({})));
            assert_eq!(
                viewer_as(&app, &with_old).await["data"]["viewer"]["id"],
                ana.as_str()
            );
            provider.publish(&[&new]).await;
            // Past AUTH_JWKS_MIN_REFRESH_SECONDS (1 s here), an unknown kid brings the new set.
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            let with_new = new.sign(&claims("ana@example.com", json!({})));
            assert_eq!(
                viewer_as(&app, &with_new).await["data"]["viewer"]["id"],
                ana.as_str()
            );
            let body = viewer_as(&app, &with_old).await;
            assert_eq!(
                error_codes(&body),
                ["UNAUTHENTICATED"],
                "the old key was withdrawn: {body}"
            );
            provider.publish(&[&old]).await;
        }
    })
    .await;
}

#[tokio::test]
async fn made_up_kids_cannot_make_us_hammer_the_provider() {
    let key = SigningKey::ec("ec-1");
    let provider = FakeIdentityProvider::start(&[&key]).await;
    let options = provider.options().with("AUTH_JWKS_MIN_REFRESH_SECONDS", 30);
    each_backend_with(options, |app| {
        let (key, provider) = (key.clone(), &provider);
        async move {
            provider.publish(&[&key]).await;
            app.create_client("Ana", "ana@example.com").await;
            let tokens: Vec<String> = (0..40)
                .map(|n| {
                    SigningKey::ec(&format!("made-up-{n}"))
                        .sign(&claims("ana@example.com", json!({})))
                })
                .collect();
            let answers =
                futures::future::join_all(tokens.iter().map(|token| viewer_as(&app, token))).await;
            for body in &answers {
                assert_eq!(error_codes(body), ["UNAUTHENTICATED"], "{body}");
            }
            assert_eq!(
                provider.fetches().await,
                1,
                "one fetch for forty unknown kids"
            );
            // The real key still works without another fetch.
            let good = key.sign(&claims("ana@example.com", json!({})));
            assert!(viewer_as(&app, &good).await["data"]["viewer"]["id"].is_string());
            assert_eq!(provider.fetches().await, 1);
        }
    })
    .await;
}
