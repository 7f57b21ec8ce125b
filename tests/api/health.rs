use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::each_backend;

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    each_backend(|app| async move {
        for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
            let response = app
                .http
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["status"], status, "{path}");
        }
        // The catalog is not part of readiness.
        app.catalog.go_down().await;
        let response = app
            .http
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
}
