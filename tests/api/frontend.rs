//! What browser apps and GraphQL clients rely on: CORS, and automatic persisted queries (kept
//! only for an authenticated caller's valid document, and bounded in size).

use reqwest::StatusCode;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, ORIGIN,
};
use serde_json::{Value, json};

use crate::support::app::{Options, TestApp, each_backend, each_backend_with, error_codes};

const FRONTEND: &str = "https://shop.example.com";

fn cors_options() -> Options {
    Options::default().with(
        "CORS_ALLOWED_ORIGINS",
        format!("{FRONTEND}, http://localhost:5173"),
    )
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header(ORIGIN, origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_allowed_origin_gets_a_preflight_answer_that_allows_the_authorization_header() {
    each_backend_with(cors_options(), |app| async move {
        let response = preflight(&app, FRONTEND).await;
        assert!(response.status().is_success(), "{}", response.status());
        let headers = response.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
        let allowed = headers[ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .to_lowercase();
        assert!(allowed.contains("authorization"), "{allowed}");
        assert!(allowed.contains("content-type"), "{allowed}");

        // The real request then carries the header the browser checks.
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .header(ORIGIN, FRONTEND)
            .bearer_auth(&app.token)
            .json(&json!({ "query": "{ clients { totalCount } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["clients"]["totalCount"], 0, "{body}");

        // Refusals must be readable by the page too.
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .header(ORIGIN, FRONTEND)
            .header(CONTENT_TYPE, "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
    })
    .await;
}

#[tokio::test]
async fn an_origin_not_on_the_list_gets_no_cors_headers() {
    each_backend_with(cors_options(), |app| async move {
        let response = preflight(&app, "https://evil.example.net").await;
        assert!(
            response
                .headers()
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .header(ORIGIN, "https://evil.example.net")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn without_allowed_origins_no_origin_gets_cors_headers() {
    each_backend(|app| async move {
        let response = preflight(&app, FRONTEND).await;
        assert!(
            response
                .headers()
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        assert!(!response.status().is_success(), "{}", response.status());
    })
    .await;
}

fn sha256(text: &str) -> String {
    favorites_api::graphql::pipeline::persisted_queries::sha256_hex(text)
}

fn persisted(query: Option<&str>, hash: &str) -> Value {
    let mut body = json!({
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } }
    });
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    body
}

#[tokio::test]
async fn a_persisted_query_is_unknown_then_registered_then_served_by_its_hash() {
    each_backend(|app| async move {
        app.create_client("Ana", "ana@example.com").await;
        let query = "query Names { clients { nodes { name } } }";
        let hash = sha256(query);

        let (status, body) = app
            .post_graphql(Some(&app.token), &persisted(None, &hash))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["errors"][0]["message"], "PersistedQueryNotFound",
            "{body}"
        );
        assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_FOUND"]);

        let (_, body) = app
            .post_graphql(Some(&app.token), &persisted(Some(query), &hash))
            .await;
        assert_eq!(body["data"]["clients"]["nodes"][0]["name"], "Ana", "{body}");

        let (_, body) = app
            .post_graphql(Some(&app.token), &persisted(None, &hash))
            .await;
        assert_eq!(body["data"]["clients"]["nodes"][0]["name"], "Ana", "{body}");
        assert!(body.get("errors").is_none(), "{body}");

        // The hash stands for the document only: the caller's token still decides.
        let (_, body) = app.post_graphql(None, &persisted(None, &hash)).await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_document_cannot_be_filed_under_a_hash_that_is_not_its_own() {
    each_backend(|app| async move {
        let victim = "query Names { clients { nodes { name } } }";
        let hash = sha256(victim);
        let (_, body) = app
            .post_graphql(
                Some(&app.token),
                &persisted(Some("{ clients { nodes { email } } }"), &hash),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_REQUEST"], "{body}");
        let (_, body) = app.post_graphql(Some(&app.token), &persisted(None, &hash)).await;
        assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_FOUND"], "{body}");

        let (_, body) = app
            .post_graphql(
                Some(&app.token),
                &json!({ "query": victim, "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } }),
            )
            .await;
        assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_SUPPORTED"], "{body}");
    })
    .await;
}

#[tokio::test]
async fn persisted_documents_pass_the_same_guards_as_any_other() {
    each_backend(|app| async move {
        let deep = format!("{{{}}}", "a{".repeat(100) + &"}".repeat(100));
        let hash = sha256(&deep);
        let (_, body) = app
            .post_graphql(Some(&app.token), &persisted(Some(&deep), &hash))
            .await;
        assert_eq!(error_codes(&body), ["GRAPHQL_PARSE_FAILED"], "{body}");
        // Stored or not, the hash alone meets the same refusal.
        let (_, body) = app
            .post_graphql(Some(&app.token), &persisted(None, &hash))
            .await;
        let codes = error_codes(&body);
        assert!(
            codes == ["GRAPHQL_PARSE_FAILED"] || codes == ["PERSISTED_QUERY_NOT_FOUND"],
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn persisted_query_storage_is_bounded() {
    let options = Options::default().with("PERSISTED_QUERIES_MAX_BYTES", 300);
    each_backend_with(options, |app| async move {
        let queries: Vec<String> = (0..4)
            .map(|index| format!("query Q{index} {{ clients {{ totalCount }} }}"))
            .collect();
        for query in &queries {
            let (_, body) = app
                .post_graphql(Some(&app.token), &persisted(Some(query), &sha256(query)))
                .await;
            assert_eq!(body["data"]["clients"]["totalCount"], 0, "{body}");
        }
        // Each entry is ~100 bytes: only the most recent ones fit in 300.
        let (_, oldest) = app
            .post_graphql(Some(&app.token), &persisted(None, &sha256(&queries[0])))
            .await;
        assert_eq!(error_codes(&oldest), ["PERSISTED_QUERY_NOT_FOUND"]);
        let (_, newest) = app
            .post_graphql(Some(&app.token), &persisted(None, &sha256(&queries[3])))
            .await;
        assert_eq!(newest["data"]["clients"]["totalCount"], 0, "{newest}");
    })
    .await;
}

async fn is_registered(app: &TestApp, hash: &str) -> bool {
    let (_, body) = app
        .post_graphql(Some(&app.token), &persisted(None, hash))
        .await;
    error_codes(&body) != ["PERSISTED_QUERY_NOT_FOUND"]
}

#[tokio::test]
async fn only_an_authenticated_callers_valid_document_is_kept_by_its_hash() {
    each_backend(|app| async move {
        let anonymous = "query ByAnonymous { __typename }";
        let (_, body) = app
            .post_graphql(None, &persisted(Some(anonymous), &sha256(anonymous)))
            .await;
        assert_eq!(body["data"]["__typename"], "Query", "it still runs: {body}");
        assert!(
            !is_registered(&app, &sha256(anonymous)).await,
            "kept for an anonymous caller"
        );

        let invalid = "query Invalid { noSuchField }";
        let (_, body) = app
            .post_graphql(
                Some(&app.token),
                &persisted(Some(invalid), &sha256(invalid)),
            )
            .await;
        assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"]);
        assert!(
            !is_registered(&app, &sha256(invalid)).await,
            "kept an invalid document"
        );

        let valid = "query Valid { clients { totalCount } }";
        app.post_graphql(Some(&app.token), &persisted(Some(valid), &sha256(valid)))
            .await;
        assert!(
            is_registered(&app, &sha256(valid)).await,
            "the valid one is kept"
        );
    })
    .await;
}
