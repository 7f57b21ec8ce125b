//! The catalog client follows no redirect: an answer that points elsewhere is a failure.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::helpers::{each_backend, error_codes};

#[tokio::test]
async fn a_redirect_from_the_catalog_is_not_followed() {
    each_backend(|app| async move {
        app.catalog
            .answer_path_with(
                "/products/3",
                ResponseTemplate::new(302).insert_header("location", "/products/4"),
            )
            .await;
        let body = app.graphql("{ product(id: 3) { title } }", json!({})).await;
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        assert_eq!(
            app.catalog.requests_to("/products/4").await,
            0,
            "the redirect was followed"
        );
    })
    .await;
}
