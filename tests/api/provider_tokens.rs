//! Access for storefronts with tokens from the store's identity provider: each algorithm, for
//! the client with the token's e-mail (created on first sight when allowed), and the provider's
//! JWKS misbehaving: down, hanging, serving garbage, rotating its keys, or asked for made-up
//! key ids.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::app::{TestApp, each_backend_with, error_codes};
use crate::support::identity_provider::{FakeIdentityProvider, SigningKey, claims};

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
