use reqwest::StatusCode;
use serde_json::json;

use crate::support::app::{each_backend, error_codes};

#[tokio::test]
async fn async_graphql_errors_carry_codes() {
    each_backend(|app| async move {
        let cases = [
            ("{ clients { ", "GRAPHQL_PARSE_FAILED"),
            ("{ clients { nope } }", "GRAPHQL_VALIDATION_FAILED"),
            ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
            ("{ client(id: \"not-a-uuid\") { id } }", "BAD_USER_INPUT"),
            (
                "{ clients(first: \"ten\") { totalCount } }",
                "BAD_USER_INPUT",
            ),
            (
                "query($id: UUID!) { client(id: $id) { id } }",
                "BAD_USER_INPUT",
            ),
        ];
        for (query, code) in cases {
            let body = app.graphql(query, json!({})).await;
            assert_eq!(
                error_codes(&body).first().map(String::as_str),
                Some(code),
                "{query}: {body}"
            );
        }
        let body = app
            .graphql(
                "query($id: UUID!) { client(id: $id) { id } }",
                json!({ "id": 42 }),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    })
    .await;
}

#[tokio::test]
async fn requests_that_are_not_graphql_get_a_coded_400() {
    each_backend(|app| async move {
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .header("content-type", "application/json")
            .body("{ this is not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body), ["BAD_REQUEST"]);
    })
    .await;
}

#[tokio::test]
async fn batches_run_every_operation() {
    each_backend(|app| async move {
        let (status, body) = app
            .post_graphql(
                Some(&app.token),
                &json!([
                    { "query": "{ clients { totalCount } }" },
                    { "query": "{ __typename }" },
                ]),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body[0]["data"]["clients"]["totalCount"], 0);
        assert_eq!(body[1]["data"]["__typename"], "Query");
    })
    .await;
}

#[tokio::test]
async fn graphiql_is_served_on_get() {
    each_backend(|app| async move {
        let response = app.get_page("/graphql").await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        assert!(html.contains("graphiql"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
    each_backend(|app| async move {
        let id = app.create_client("Ana", "ana@example.com").await;
        // `favorites` is non-null, so its failure takes the nullable `client` with it.
        let body = app
            .graphql(
                "query($id: UUID!) { client(id: $id) { id favorites(first: 0) { totalCount } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(body["data"], json!({ "client": null }), "{body}");

        // Through a list of non-null clients up to the non-null root field: no data at all.
        let body = app
            .graphql("{ clients { nodes { id favorites(first: 0) { totalCount } } } }", json!({}))
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert!(body["data"].is_null(), "{body}");

        // A nullable root field that fails is null, and its sibling still answers.
        let body = app
            .graphql(
                "query($id: UUID!) { bad: clientByEmail(email: \"nope\") { id } good: client(id: $id) { name } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(body["data"], json!({ "bad": null, "good": { "name": "Ana" } }), "{body}");
    })
    .await;
}

#[tokio::test]
async fn without_a_token_a_non_null_root_field_takes_data_with_it() {
    each_backend(|app| async move {
        let body = app
            .graphql_as(
                None,
                "{ client(id: \"01890000-0000-7000-8000-000000000000\") { id } clients { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED", "UNAUTHENTICATED"], "{body}");
        assert!(body["data"].is_null(), "{body}");
    })
    .await;
}
