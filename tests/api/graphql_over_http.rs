//! The GraphQL-over-HTTP specification, as clients meet it: the media type and status an answer
//! goes out with, and the GET form of a request.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::app::{TestApp, each_backend, error_codes, vary};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
    }
}

/// POSTs `body` as the admin, with `accept` as the `Accept` header (none for `None`).
async fn post(app: &TestApp, accept: Option<&str>, body: &Value) -> Answer {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .json(body);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    answer(request.send().await.unwrap()).await
}

/// GETs `/graphql` with `params` in the query string, as `token` (none for `None`).
async fn get(app: &TestApp, token: Option<&str>, params: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{}/graphql", app.address))
        .header(ACCEPT, GRAPHQL_RESPONSE_JSON)
        .query(params);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn client_count(app: &TestApp) -> u64 {
    app.data("{ clients { totalCount } }", json!({})).await["clients"]["totalCount"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn the_answer_comes_in_the_media_type_the_client_accepts() {
    each_backend(|app| async move {
        let query = json!({ "query": "{ clients { totalCount } }" });
        for (accept, expected) in [
            (None, JSON),
            (Some("*/*"), JSON),
            (Some(JSON), JSON),
            (Some(GRAPHQL_RESPONSE_JSON), GRAPHQL_RESPONSE_JSON),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                GRAPHQL_RESPONSE_JSON,
            ),
            (
                Some("application/graphql-response+json;q=0.5, application/json"),
                JSON,
            ),
        ] {
            let answer = post(&app, accept, &query).await;
            assert_eq!(answer.status, StatusCode::OK, "{accept:?}: {}", answer.body);
            assert_eq!(answer.content_type, expected, "{accept:?}");
            assert_eq!(answer.body["data"]["clients"]["totalCount"], 0);
        }

        let refused = post(&app, Some("text/html"), &query).await;
        assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(error_codes(&refused.body), ["NOT_ACCEPTABLE"]);
    })
    .await;
}

#[tokio::test]
async fn a_request_that_cannot_run_is_400_without_data_in_graphql_response_json() {
    each_backend(|app| async move {
        let cannot_run = [
            (json!({ "query": "{ clients { " }), "GRAPHQL_PARSE_FAILED"),
            (json!({ "query": "{ nope }" }), "GRAPHQL_VALIDATION_FAILED"),
            (
                json!({ "query": "query($id: UUID!) { client(id: $id) { id } }", "variables": { "id": 7 } }),
                "BAD_USER_INPUT",
            ),
            (
                json!({ "query": "query($id: UUID!) { client(id: $id) { id } }" }),
                "BAD_USER_INPUT",
            ),
        ];
        for (request, code) in cannot_run {
            let strict = post(&app, Some(GRAPHQL_RESPONSE_JSON), &request).await;
            assert_eq!(strict.status, StatusCode::BAD_REQUEST, "{request}: {}", strict.body);
            assert_eq!(strict.content_type, GRAPHQL_RESPONSE_JSON);
            assert!(strict.body.get("data").is_none(), "{}", strict.body);
            assert_eq!(error_codes(&strict.body), [code], "{request}");

            // In application/json, as GraphQL clients have always had it: 200, errors inside.
            let lenient = post(&app, Some(JSON), &request).await;
            assert_eq!(lenient.status, StatusCode::OK, "{request}");
            assert_eq!(error_codes(&lenient.body), [code], "{request}");
        }

        // An operation that ran and failed in a field is still 200, with its data.
        let ran = post(
            &app,
            Some(GRAPHQL_RESPONSE_JSON),
            &json!({ "query": "mutation { deleteClient(id: \"00000000-0000-0000-0000-000000000000\") }" }),
        )
        .await;
        assert_eq!(ran.status, StatusCode::OK, "{}", ran.body);
        assert!(ran.body.get("data").is_some(), "{}", ran.body);
        assert_eq!(error_codes(&ran.body), ["NOT_FOUND"]);
    })
    .await;
}

#[tokio::test]
async fn a_json_body_that_is_not_a_graphql_request_is_400() {
    each_backend(|app| async move {
        for body in [
            json!({ "notquery": 1 }),
            json!({ "query": 7 }),
            json!({ "query": "{ clients { totalCount } }", "variables": [1] }),
            json!({ "query": "{ clients { totalCount } }", "operationName": 3 }),
            json!([]),
            json!("{ clients { totalCount } }"),
        ] {
            for accept in [JSON, GRAPHQL_RESPONSE_JSON] {
                let answer = post(&app, Some(accept), &body).await;
                assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
                assert_eq!(error_codes(&answer.body), ["BAD_REQUEST"], "{body}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_query_runs_by_get_with_the_same_auth_limits_and_codes() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        app.add_favorite(&id, 1).await;
        let query = "query($id: UUID!) { client(id: $id) { email favorites { nodes { product { title } } } } }";
        let variables = json!({ "id": id }).to_string();
        let params = [("query", query), ("variables", variables.as_str())];

        let read = answer(get(&app, Some(&app.token), &params).await).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(read.content_type, GRAPHQL_RESPONSE_JSON);
        assert_eq!(read.body["data"]["client"]["email"], "ana@example.com");
        assert_eq!(
            read.body["data"]["client"]["favorites"]["nodes"][0]["product"]["title"],
            "Fjallraven - Foldsack No. 1 Backpack, Fits 15 Laptops"
        );

        // No token, or a bad one: the same answer as on POST.
        for token in [None, Some("not-a-token")] {
            let refused = answer(get(&app, token, &params).await).await;
            let (status, body) = app
                .post_graphql(token, &json!({ "query": query, "variables": { "id": id } }))
                .await;
            assert_eq!(error_codes(&refused.body), ["UNAUTHENTICATED"], "{token:?}");
            assert_eq!((refused.status, &refused.body), (status, &body), "{token:?}");
        }

        // The document limits hold: a query past the depth limit is refused before it runs.
        let deep = format!("{{ {}id{} }}", "clients { nodes { ".repeat(20), " } }".repeat(20));
        let too_deep = answer(get(&app, Some(&app.token), &[("query", &deep)]).await).await;
        assert_eq!(too_deep.status, StatusCode::BAD_REQUEST, "{}", too_deep.body);
        assert_eq!(error_codes(&too_deep.body), ["GRAPHQL_VALIDATION_FAILED"], "{}", too_deep.body);

        // Not a request: no query at all, or variables that are not JSON.
        let empty = answer(get(&app, Some(&app.token), &[]).await).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_codes(&empty.body), ["BAD_REQUEST"]);
        let garbled = [("query", query), ("variables", "{id:")];
        let garbled = answer(get(&app, Some(&app.token), &garbled).await).await;
        assert_eq!(garbled.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_codes(&garbled.body), ["BAD_REQUEST"]);
    })
    .await;
}

#[tokio::test]
async fn a_mutation_by_get_is_405_and_does_not_run() {
    each_backend(|app| async move {
        let mutation = "mutation Create { createClient(input: { name: \"Eve\", email: \"eve@example.com\" }) { id } }";
        for accept in [JSON, GRAPHQL_RESPONSE_JSON] {
            let response = app
                .http
                .get(format!("{}/graphql", app.address))
                .header(ACCEPT, accept)
                .bearer_auth(&app.token)
                .query(&[("query", mutation)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(response.headers()[ALLOW], "POST");
            let body: Value = response.json().await.unwrap();
            assert_eq!(error_codes(&body), ["METHOD_NOT_ALLOWED"]);
        }
        // A document with a query and a mutation: the operation picked decides.
        let both = format!("query Read {{ clients {{ totalCount }} }} {mutation}");
        let picked = [("query", both.as_str()), ("operationName", "Read")];
        let read = answer(get(&app, Some(&app.token), &picked).await).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(client_count(&app).await, 0, "a mutation ran over GET");
    })
    .await;
}

#[tokio::test]
async fn a_persisted_query_runs_by_its_hash_alone_over_get() {
    each_backend(|app| async move {
        let query = "{ clients { totalCount } }";
        let hash = favorites_api::graphql::pipeline::persisted_queries::sha256_hex(query);
        let extensions =
            json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
        let hash_only = [("extensions", extensions.as_str())];

        let unknown = answer(get(&app, Some(&app.token), &hash_only).await).await;
        assert_eq!(error_codes(&unknown.body), ["PERSISTED_QUERY_NOT_FOUND"]);
        // Registered by a GET that carries the document (as Apollo retries)...
        let with_query = [("query", query), ("extensions", extensions.as_str())];
        let registered = answer(get(&app, Some(&app.token), &with_query).await).await;
        assert_eq!(registered.body["data"]["clients"]["totalCount"], 0);
        // ...then the hash is enough.
        let served = answer(get(&app, Some(&app.token), &hash_only).await).await;
        assert_eq!(served.status, StatusCode::OK, "{}", served.body);
        assert_eq!(served.body, registered.body);
    })
    .await;
}

#[tokio::test]
async fn a_browser_gets_graphiql_and_every_answer_says_it_depends_on_accept() {
    each_backend(|app| async move {
        let page = app.get_page("/graphql").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(vary(&page).contains("accept"), "{:?}", page.headers());

        let params = [("query", "{ clients { totalCount } }")];
        let answer = get(&app, Some(&app.token), &params).await;
        assert!(vary(&answer).contains("accept"), "{:?}", answer.headers());
        assert_eq!(answer.headers()[CACHE_CONTROL], "no-store");
    })
    .await;
}
