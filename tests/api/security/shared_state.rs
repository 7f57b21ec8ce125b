//! Anonymous callers and invalid documents leave no trace in shared state: persisted queries
//! are kept, and operation names become metric labels, only for an authenticated caller's
//! valid operation.

use serde_json::{Value, json};

use crate::helpers::{TestApp, each_backend, error_codes};

fn sha256(text: &str) -> String {
    favorites_api::graphql::pipeline::persisted_queries::sha256_hex(text)
}

fn persisted(query: Option<&str>, hash: &str) -> Value {
    let mut body =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    body
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

#[tokio::test]
async fn operation_names_become_labels_only_for_authenticated_valid_operations() {
    each_backend(|app| async move {
        for n in 0..5 {
            app.graphql_as(None, &format!("query Junk{n} {{ __typename }}"), json!({}))
                .await;
            app.graphql(&format!("query Broken{n} {{ nope }}"), json!({}))
                .await;
        }
        app.data("query Legit { clients { totalCount } }", json!({}))
            .await;
        let metrics = app.get("/metrics").await.text().await.expect("metrics");
        assert!(
            !metrics.contains("Junk"),
            "an anonymous name became a label:\n{metrics}"
        );
        assert!(
            !metrics.contains("Broken"),
            "an invalid document's name became a label"
        );
        assert!(
            metrics.contains("graphql_requests_total{operation=\"Legit\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("graphql_requests_total{operation=\"unauthenticated\"}"));
        assert!(
            metrics.contains("graphql_requests_total{operation=\"invalid\"} 5"),
            "{metrics}"
        );
    })
    .await;
}
