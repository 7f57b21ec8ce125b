//! Abuse limits on GraphQL documents, both sides of each line: standard introspection and
//! legitimate queries pass; deep, wide and expensive documents, documents built to exhaust the
//! server, and batches over the limit are refused before anything runs; introspection can be
//! turned off, suggestions with it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Options, each_backend, each_backend_with, error_codes};

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
