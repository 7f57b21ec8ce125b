//! Logins cannot be used to guess without bound or to burn the CPU. At most 10 failed logins
//! per client address per minute, across issueToken and the REST door, counting every alias
//! and every operation of a batch; `X-Forwarded-For` is trusted only behind a proxy. Failures
//! count per network (an IPv6 /64 is one), guesses at one username slow down wherever they come
//! from (but the admin's own network is never kept out), and only so many password checks run
//! at once. (The tests of the address budget keep clear of the per-username back-off and the
//! cap on checks: the test app's own login trusts 127.0.0.1 for the admin.)

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{
    ADMIN, Options, PASSWORD, TestApp, each_backend, each_backend_with, error_codes,
    retry_after_seconds,
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
        let retry_after = retry_after_seconds(&response);
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

/// `test-password` at bcrypt cost 10: slow enough for checks to overlap.
const SLOW_HASH: &str = "$2b$10$pR2k2oBKjzIqSwY6MCcwfOf41sJnCGofKb/Sjir0xpqovn5kfDH8i";

async fn login(app: &TestApp, username: &str, password: &str, from: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .post(format!("{}/api/v1/auth/master-token", app.address))
        .header("x-forwarded-for", from)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

fn behind_a_proxy() -> Options {
    Options::default().with("TRUST_PROXY", true)
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_slash_64_share_one_budget() {
    each_backend_with(behind_a_proxy(), |app| async move {
        for i in 1..=10 {
            // Another username each time, so that only the network's budget is at play.
            let (status, _) = login(
                &app,
                &format!("guess{i}"),
                "x",
                &format!("2001:db8:1:2::{i:x}"),
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = login(&app, "guess11", "x", "2001:db8:1:2:ffff:ffff:ffff:beef").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let (status, _) = login(&app, "guess12", "x", "2001:db8:1:3::1").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "another /64 has its own budget"
        );
    })
    .await;
}

#[tokio::test]
async fn guesses_at_one_username_slow_down_but_never_keep_the_admin_out_of_their_network() {
    each_backend_with(behind_a_proxy(), |app| async move {
        // The admin logs in from their usual network.
        let (status, _) = login(&app, ADMIN, PASSWORD, "192.0.2.10").await;
        assert_eq!(status, StatusCode::OK);
        // Someone guesses at the admin's username from many addresses, each with its own budget.
        for i in 1..=5 {
            let (status, _) = login(&app, ADMIN, "guess", &format!("198.51.100.{i}")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = login(&app, ADMIN, "guess", "198.51.100.6").await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "the sixth guess waits: {body}"
        );
        assert_eq!(body["code"], "RATE_LIMITED");
        // The admin, at home, is not held back.
        let (status, _) = login(&app, ADMIN, PASSWORD, "192.0.2.10").await;
        assert_eq!(status, StatusCode::OK);
        // Elsewhere, the right password waits out the back-off (bounded) and then gets in.
        for i in 7..=12 {
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            login(&app, ADMIN, "guess", &format!("198.51.100.{i}")).await;
        }
        let (status, body) = login(&app, ADMIN, PASSWORD, "203.0.113.50").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        let response = app
            .http
            .post(format!("{}/api/v1/auth/master-token", app.address))
            .header("x-forwarded-for", "203.0.113.50")
            .json(&json!({ "username": ADMIN, "password": PASSWORD }))
            .send()
            .await
            .expect("an answer");
        let retry_after = retry_after_seconds(&response);
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    })
    .await;
}

#[tokio::test]
async fn password_checks_beyond_the_cap_are_refused_at_once() {
    let options = behind_a_proxy()
        .with("LOGIN_CONCURRENT_CHECKS", 1)
        .with("MASTER_PASSWORD_HASH", SLOW_HASH);
    each_backend_with(options, |app| async move {
        let attempts = (1..=6).map(|i| {
            let app = app.clone();
            async move { login(&app, &format!("user{i}"), "wrong", &format!("10.9.0.{i}")).await }
        });
        let answers = join_all(attempts).await;
        let refused: Vec<&Value> = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
            .map(|(_, body)| body)
            .collect();
        let checked = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
            .count();
        assert!(checked >= 1, "{answers:?}");
        assert!(
            refused.len() >= 3,
            "six checks at once with room for one: {answers:?}"
        );
        for body in refused {
            assert_eq!(body["code"], "RATE_LIMITED");
        }
    })
    .await;
}
