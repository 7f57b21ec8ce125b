//! Abuse limits: both sides of each line, and the HTTP-level guards.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, each_backend, each_backend_with, error_codes};

const INTROSPECTION: &str = include_str!("../fixtures/introspection.graphql");

/// The README's deepest query, and the benchmark's heaviest (100 clients with favorites and
/// product details).
const LEGITIMATE: &[&str] = &[
    "{ clients(first: 20) { totalCount pageInfo { hasNextPage endCursor } nodes { id name email favorites(first: 10) { totalCount nodes { productId addedAt product { title price image rating { rate count } } } pageInfo { hasNextPage endCursor } } } } }",
    "{ clients(first: 100) { nodes { id name email favorites { nodes { product { title price image rating { rate } } } } } } }",
];

fn nested_introspection(levels: usize) -> String {
    let mut query = String::from("{ __schema { types { name ");
    for level in 0..levels {
        query.push_str(if level % 2 == 0 {
            "fields { name type { name "
        } else {
            ""
        });
    }
    for level in 0..levels {
        query.push_str(if level % 2 == 0 { "} } " } else { "" });
    }
    query.push_str("} } }");
    query
}

fn aliased_clients(count: usize) -> String {
    let fields: Vec<String> = (0..count)
        .map(|i| format!("c{i}: clients(first: 100) {{ nodes {{ id }} }}"))
        .collect();
    format!("{{ {} }}", fields.join(" "))
}

async fn post_raw(app: &TestApp, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .http
        .post(format!("{}/graphql", app.address))
        .header("content-type", content_type)
        .bearer_auth(&app.token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn standard_introspection_and_legitimate_queries_pass() {
    each_backend(|app| async move {
        let body = app.graphql_as(None, INTROSPECTION, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 10);
        for query in LEGITIMATE {
            app.data(query, json!({})).await;
        }
    })
    .await;
}

#[tokio::test]
async fn deep_and_expensive_documents_are_refused_before_running() {
    each_backend(|app| async move {
        let deep = app
            .graphql_as(None, &nested_introspection(30), json!({}))
            .await;
        assert_eq!(error_codes(&deep), ["GRAPHQL_VALIDATION_FAILED"], "{deep}");
        assert!(deep["data"].is_null());

        let before = app.statements.get();
        let wide = app.graphql(&aliased_clients(100), json!({})).await;
        assert_eq!(error_codes(&wide), ["GRAPHQL_VALIDATION_FAILED"], "{wide}");
        assert_eq!(
            app.statements.get(),
            before,
            "refused before any resolver ran"
        );

        let directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(20));
        let body = app.graphql(&directives, json!({})).await;
        assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");

        let nested_value = format!(
            "{{ product(id: {}1{}) {{ id }} }}",
            "[".repeat(40),
            "]".repeat(40)
        );
        let body = app.graphql(&nested_value, json!({})).await;
        assert!(!error_codes(&body).is_empty(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn batches_over_the_limit_are_refused_whole() {
    each_backend(|app| async move {
        let operation = json!({ "query": "mutation { createClient(input: {name: \"A\", email: \"a@example.com\"}) { id } }" });
        let (status, body) = app
            .post_graphql(Some(&app.token), &Value::Array(vec![operation; 11]))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error_codes(&body), ["BATCH_TOO_LARGE"]);
        let count = app.data("{ clients { totalCount } }", json!({})).await;
        assert_eq!(count["clients"]["totalCount"], 0, "nothing of the batch ran");

        let ten = Value::Array(vec![json!({ "query": "{ __typename }" }); 10]);
        let (status, body) = app.post_graphql(Some(&app.token), &ten).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.as_array().unwrap().len(), 10);
    })
    .await;
}

#[tokio::test]
async fn oversized_bodies_get_413_before_parsing() {
    each_backend(|app| async move {
        let padding = "x".repeat(1024 * 1024);
        let body = json!({ "query": "{ __typename }", "variables": { "pad": padding } });
        let (status, answer) =
            post_raw(&app, "application/json", body.to_string().into_bytes()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error_codes(&answer), ["PAYLOAD_TOO_LARGE"]);

        // Without a Content-Length (chunked), the limit still holds.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            (0..20).map(|_| Ok(vec![b' '; 100 * 1024])).collect();
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    })
    .await;
}

#[tokio::test]
async fn posts_must_be_json_and_get_never_executes() {
    each_backend(|app| async move {
        let form = b"query=mutation%20%7B%20__typename%20%7D".to_vec();
        for content_type in [
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
        ] {
            let (status, body) = post_raw(&app, content_type, form.clone()).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
            assert_eq!(error_codes(&body), ["UNSUPPORTED_MEDIA_TYPE"]);
        }
        let (status, _) = post_raw(
            &app,
            "application/json; charset=utf-8",
            br#"{"query":"{ __typename }"}"#.to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        let create =
            "mutation { createClient(input: {name: \"A\", email: \"get@example.com\"}) { id } }";
        // Over GET a mutation is refused (405, POST only), and nothing is written.
        let response = app
            .http
            .get(format!("{}/graphql", app.address))
            .query(&[("query", create)])
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body), ["METHOD_NOT_ALLOWED"]);
        let count = app.data("{ clients { totalCount } }", json!({})).await;
        assert_eq!(count["clients"]["totalCount"], 0, "GET wrote nothing");
    })
    .await;
}

#[tokio::test]
async fn introspection_can_be_turned_off_with_suggestions() {
    each_backend_with(
        Options::default().with("INTROSPECTION_ENABLED", false),
        |app| async move {
            let body = app.graphql_as(None, INTROSPECTION, json!({})).await;
            assert!(
                !error_codes(&body).is_empty() || body["data"]["__schema"].is_null(),
                "{body}"
            );
            let typo = app.graphql("{ clientz { totalCount } }", json!({})).await;
            let message = typo["errors"][0]["message"].as_str().unwrap();
            assert!(!message.contains("Did you mean"), "{message}");
            app.data("{ clients { totalCount } }", json!({})).await;
        },
    )
    .await;
}

#[tokio::test]
async fn suggestions_are_on_with_introspection() {
    each_backend(|app| async move {
        let typo = app.graphql("{ clientz { totalCount } }", json!({})).await;
        let message = typo["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("Did you mean"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn no_request_outlives_the_request_timeout() {
    each_backend_with(
        Options::default()
            .with("REQUEST_TIMEOUT_MS", 400)
            .with("UPSTREAM_TIMEOUT_MS", 5_000),
        |app| async move {
            app.catalog.hang().await;
            let (status, body) = app
                .post_graphql(
                    Some(&app.token),
                    &json!({ "query": "{ product(id: 1) { id } }" }),
                )
                .await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"]);
            // The server goes on serving.
            app.data("{ clients { totalCount } }", json!({})).await;
        },
    )
    .await;
}

#[tokio::test]
async fn documents_built_to_exhaust_the_server_are_refused_and_it_goes_on() {
    each_backend(|app| async move {
        // Thousands of nested brackets once overflowed a worker's stack and aborted the process.
        for depth in [100, 2_000, 20_000] {
            let query = format!(
                "{{ __typename @skip(if: {}true{}) }}",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let body = app.graphql_as(None, &query, json!({})).await;
            assert_eq!(
                error_codes(&body),
                ["GRAPHQL_PARSE_FAILED"],
                "depth {depth}"
            );
            let query = format!(
                "{{ product(id: {}1{}) {{ id }} }}",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let body = app.graphql(&query, json!({})).await;
            assert_eq!(
                error_codes(&body),
                ["GRAPHQL_PARSE_FAILED"],
                "depth {depth}"
            );
        }
        // A fragment that doubles at every level: 2^24 fields once expanded (and within the
        // 32 levels of spreads async-graphql's own recursion limit allows).
        let mut bomb = String::from("{ ...F0 } ");
        for level in 0..24 {
            bomb.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }} ",
                next = level + 1
            ));
        }
        bomb.push_str("fragment F24 on Query { __typename }");
        let body = app.graphql_as(None, &bomb, json!({})).await;
        assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
        // Introspection answers are large; a handful per document is plenty.
        let many = format!(
            "{{ {} }}",
            (0..10)
                .map(|i| format!("s{i}: __schema {{ types {{ name }} }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let body = app.graphql_as(None, &many, json!({})).await;
        assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
        // Still serving.
        let alive = app.graphql_as(None, INTROSPECTION, json!({})).await;
        assert!(alive.get("errors").is_none());
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_methods_and_odd_bodies_answer_with_codes() {
    each_backend(|app| async move {
        let response = app
            .http
            .get(format!("{}/nope", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body), ["NOT_FOUND"]);
        let response = app
            .http
            .delete(format!("{}/graphql", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body), ["METHOD_NOT_ALLOWED"]);
        // An empty batch, or an object without a query, is not a GraphQL request.
        for odd in [json!([]), json!({ "notquery": 1 }), json!({ "query": 7 })] {
            let (status, body) = app.post_graphql(Some(&app.token), &odd).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{odd}");
            assert_eq!(error_codes(&body), ["BAD_REQUEST"], "{odd}");
        }
        let (status, body) = app.post_graphql(Some(&app.token), &json!(42)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("enum") && !message.contains("struct"),
            "{message}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408_not_a_5xx() {
    each_backend_with(
        Options::default().with("REQUEST_TIMEOUT_MS", 400),
        |app| async move {
            let chunks = futures::stream::unfold(0, |sent| async move {
                if sent == 3 {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                Some((Ok::<_, std::io::Error>(b" ".to_vec()), sent + 1))
            });
            let response = app
                .http
                .post(format!("{}/graphql", app.address))
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
            let body: Value = response.json().await.unwrap();
            assert_eq!(error_codes(&body), ["BODY_TIMEOUT"]);
        },
    )
    .await;
}
