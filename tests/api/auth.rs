use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::app::{ADMIN, PASSWORD, SECRET_KEY, TestApp, each_backend, error_codes};
use crate::support::identity_provider::with_overrides;

const ISSUE_TOKEN: &str = "mutation($u: String!, $p: String!) { issueToken(username: $u, password: $p) { accessToken tokenType expiresAt } }";

/// One document per protected root field.
const PROTECTED: &[&str] = &[
    "{ client(id: \"01890000-0000-7000-8000-000000000000\") { id } }",
    "{ clientByEmail(email: \"a@example.com\") { id } }",
    "{ clients { totalCount } }",
    "{ product(id: 1) { id } }",
    "{ products { id } }",
    "mutation { createClient(input: {name: \"A\", email: \"a@example.com\"}) { id } }",
    "mutation { updateClient(id: \"01890000-0000-7000-8000-000000000000\", input: {name: \"B\"}) { id } }",
    "mutation { deleteClient(id: \"01890000-0000-7000-8000-000000000000\") }",
    "mutation { addFavorite(clientId: \"01890000-0000-7000-8000-000000000000\", productId: 1) { id } }",
    "mutation { removeFavorite(clientId: \"01890000-0000-7000-8000-000000000000\", productId: 1) { id } }",
];

async fn assert_unauthenticated(app: &TestApp, token: Option<&str>) {
    for query in PROTECTED {
        let body = app.graphql_as(token, query, json!({})).await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{query}: {body}");
    }
    // Nothing was written by the refused mutations.
    let clients = app.data("{ clients { totalCount } }", json!({})).await;
    assert_eq!(clients["clients"]["totalCount"], 0);
}

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": ADMIN,
        "iat": now,
        "exp": now + 600,
        "iss": "favorites-api",
        "aud": "favorites-api",
    });
    with_overrides(claims, &overrides)
}

fn forge(algorithm: Algorithm, key: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("a token")
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[tokio::test]
async fn issue_token_returns_a_working_bearer_token() {
    each_backend(|app| async move {
        let body = app
            .graphql_as(None, ISSUE_TOKEN, json!({ "u": ADMIN, "p": PASSWORD }))
            .await;
        let token = &body["data"]["issueToken"];
        assert_eq!(token["tokenType"], "Bearer");
        let expires_at: chrono::DateTime<chrono::Utc> =
            token["expiresAt"].as_str().unwrap().parse().unwrap();
        let minutes = (expires_at - chrono::Utc::now()).num_minutes();
        assert!((58..=60).contains(&minutes), "expires in {minutes} min");
        let access = token["accessToken"].as_str().unwrap();
        let body = app
            .graphql_as(Some(access), "{ clients { totalCount } }", json!({}))
            .await;
        assert_eq!(body["data"]["clients"]["totalCount"], 0, "{body}");
    })
    .await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_error() {
    each_backend(|app| async move {
        let wrong_password = app
            .graphql_as(None, ISSUE_TOKEN, json!({ "u": ADMIN, "p": "nope" }))
            .await;
        let unknown_user = app
            .graphql_as(None, ISSUE_TOKEN, json!({ "u": "root", "p": PASSWORD }))
            .await;
        assert_eq!(error_codes(&wrong_password), ["UNAUTHENTICATED"]);
        assert_eq!(
            wrong_password["errors"][0]["message"],
            unknown_user["errors"][0]["message"]
        );
        assert_eq!(error_codes(&unknown_user), ["UNAUTHENTICATED"]);
        assert!(wrong_password["data"].is_null());
    })
    .await;
}

#[tokio::test]
async fn every_operation_but_issue_token_needs_a_token() {
    each_backend(|app| async move {
        assert_unauthenticated(&app, None).await;
        for malformed in [
            "not-a-jwt",
            "a.b.c",
            "",
            "eyJhbGciOiJIUzI1NiJ9..",
            &"x".repeat(10_000),
        ] {
            assert_unauthenticated(&app, Some(malformed)).await;
        }
        // Introspection and __typename stay open: GraphiQL and SDK generators need them.
        let body = app
            .graphql_as(
                None,
                "{ __typename __schema { queryType { name } } }",
                json!({}),
            )
            .await;
        assert_eq!(body["data"]["__typename"], "Query");
        assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    })
    .await;
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    each_backend(|app| async move {
        let past = chrono::Utc::now().timestamp() - 120;
        let forged = [
            (
                "another key",
                forge(Algorithm::HS256, &"x".repeat(40), &claims(json!({}))),
            ),
            (
                "HS384",
                forge(Algorithm::HS384, SECRET_KEY, &claims(json!({}))),
            ),
            ("alg none", unsigned(&claims(json!({})))),
            (
                "expired",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "exp": past })),
                ),
            ),
            (
                "wrong issuer",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "iss": "evil" })),
                ),
            ),
            (
                "no issuer",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "iss": null })),
                ),
            ),
            (
                "wrong audience",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "aud": "evil" })),
                ),
            ),
            (
                "no audience",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "aud": null })),
                ),
            ),
            (
                "no expiry",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "exp": null })),
                ),
            ),
            (
                "another subject",
                forge(
                    Algorithm::HS256,
                    SECRET_KEY,
                    &claims(json!({ "sub": "eve" })),
                ),
            ),
        ];
        for (what, token) in &forged {
            let body = app
                .graphql_as(Some(token), "{ clients { totalCount } }", json!({}))
                .await;
            assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{what}: {body}");
        }
        // The same forge with the right key and claims is accepted: the refusals above are
        // about the flaw each one carries.
        let good = forge(Algorithm::HS256, SECRET_KEY, &claims(json!({})));
        let body = app
            .graphql_as(Some(&good), "{ clients { totalCount } }", json!({}))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn rest_door_issues_tokens_and_refuses_bad_credentials() {
    each_backend(|app| async move {
        let url = format!("{}/api/v1/auth/master-token", app.address);
        let response = app
            .http
            .post(&url)
            .json(&json!({ "username": ADMIN, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "bearer");
        let token = body["access_token"].as_str().unwrap();
        let data = app
            .graphql_as(Some(token), "{ clients { totalCount } }", json!({}))
            .await;
        assert_eq!(data["data"]["clients"]["totalCount"], 0);

        let response = app
            .http
            .post(&url)
            .json(&json!({ "username": ADMIN, "password": "wrong" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHENTICATED");
        assert!(body.get("access_token").is_none());

        let response = app
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
    })
    .await;
}
