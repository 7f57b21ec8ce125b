//! At most 10 failed logins per client address per minute, across issueToken and the REST door.
//! (The per-username backoff and the cap on password checks at once are in `security::login`;
//! these tests keep clear of both: the test app's own login trusts 127.0.0.1 for the admin.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, Options, PASSWORD, TestApp, each_backend, each_backend_with, error_codes,
};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { issueToken(username: $u, password: $p) { accessToken } }";

async fn rest_login(
    app: &TestApp,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/api/v1/auth/master-token", app.address))
        .json(&json!({ "username": ADMIN, "password": password }));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn ten_failures_a_minute_then_rate_limited_everywhere() {
    each_backend(|app| async move {
        for _ in 0..5 {
            let body = app
                .graphql_as(None, LOGIN, json!({ "u": ADMIN, "p": "wrong" }))
                .await;
            assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
        }
        for _ in 0..5 {
            assert_eq!(
                rest_login(&app, "wrong", None).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        // The budget is spent: even the right password is not checked now.
        let body = app
            .graphql_as(None, LOGIN, json!({ "u": ADMIN, "p": PASSWORD }))
            .await;
        assert_eq!(error_codes(&body), ["RATE_LIMITED"], "{body}");
        let wait = body["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");

        let response = rest_login(&app, PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "RATE_LIMITED");

        // Tokens already issued keep working.
        app.data("{ clients { totalCount } }", json!({})).await;
    })
    .await;
}

#[tokio::test]
async fn aliases_and_batches_count_every_attempt() {
    each_backend(|app| async move {
        let aliases: Vec<String> = (0..12)
            .map(|i| format!("a{i}: issueToken(username: \"{ADMIN}\", password: \"wrong{i}\") {{ accessToken }}"))
            .collect();
        let body = app
            .graphql_as(None, &format!("mutation {{ {} }}", aliases.join(" ")), json!({}))
            .await;
        let codes = error_codes(&body);
        assert_eq!(codes.iter().filter(|code| *code == "UNAUTHENTICATED").count(), 10, "{body}");
        assert_eq!(codes.iter().filter(|code| *code == "RATE_LIMITED").count(), 2, "{body}");

    })
    .await;
}

#[tokio::test]
async fn every_operation_of_a_batch_counts() {
    // The operations of a batch run at once: enough password checks for all of them.
    let options = Options::default().with("LOGIN_CONCURRENT_CHECKS", 16);
    each_backend_with(options, |app| async move {
        let attempt = json!({ "query": LOGIN, "variables": { "u": ADMIN, "p": "wrong" } });
        let (_, first) = app
            .post_graphql(None, &Value::Array(vec![attempt.clone(); 8]))
            .await;
        let (_, second) = app
            .post_graphql(None, &Value::Array(vec![attempt; 4]))
            .await;
        let codes: Vec<String> = first
            .as_array()
            .unwrap()
            .iter()
            .chain(second.as_array().unwrap())
            .flat_map(error_codes)
            .collect();
        assert_eq!(
            codes
                .iter()
                .filter(|code| *code == "UNAUTHENTICATED")
                .count(),
            10,
            "{codes:?}"
        );
        assert_eq!(
            codes.iter().filter(|code| *code == "RATE_LIMITED").count(),
            2,
            "{codes:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn forwarded_for_is_trusted_only_behind_a_proxy() {
    // Not trusted: the header cannot buy a fresh budget.
    each_backend(|app| async move {
        for i in 0..10 {
            rest_login(&app, "wrong", Some(&format!("203.0.113.{i}"))).await;
        }
        let response = rest_login(&app, PASSWORD, Some("198.51.100.7")).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    })
    .await;
    // Trusted: each forwarded address has its own budget.
    each_backend_with(
        Options::default().with("TRUST_PROXY", true),
        |app| async move {
            // (The admin has logged in from .2 before, so the failures at its username from .1
            // do not slow .2 down.)
            assert_eq!(
                rest_login(&app, PASSWORD, Some("203.0.113.2"))
                    .await
                    .status(),
                StatusCode::OK
            );
            for _ in 0..10 {
                rest_login(&app, "wrong", Some("203.0.113.1")).await;
            }
            let blocked = rest_login(&app, PASSWORD, Some("203.0.113.1")).await;
            assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
            let other = rest_login(&app, PASSWORD, Some("203.0.113.2")).await;
            assert_eq!(other.status(), StatusCode::OK);
        },
    )
    .await;
}
