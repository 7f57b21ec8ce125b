//! A receiver of OTLP/HTTP exports on loopback (wiremock), and readers of what it received
//! (OTLP/JSON, read with serde_json): the spans, their attributes, and which lies under which.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The `OTEL_SERVICE_NAME` a test exports under: every span received must carry it.
pub const SERVICE_NAME: &str = "favorites-trace-test";

/// A receiver of OTLP/HTTP exports.
pub async fn collector() -> MockServer {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&collector)
        .await;
    collector
}

/// Every span the collector received (each from a resource named `SERVICE_NAME`).
pub async fn received_spans(collector: &MockServer) -> Vec<Value> {
    let mut spans = Vec::new();
    for request in collector.received_requests().await.unwrap_or_default() {
        let export: Value = serde_json::from_slice(&request.body).expect("an OTLP/JSON export");
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|attribute| attribute["key"] == "service.name")
                .map(|attribute| attribute["value"]["stringValue"].clone());
            assert_eq!(service, Some(json!(SERVICE_NAME)));
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    spans
}

/// The value of a span's attribute `key`, as OTLP/JSON spells it (`{ "intValue": "200" }`).
pub fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|attribute| attribute["key"] == key)
        .map(|attribute| &attribute["value"])
}

/// Whether `span` is `ancestor` or lies under it.
pub fn descends_from(spans: &[Value], span: &Value, ancestor: &Value) -> bool {
    let mut current = span;
    loop {
        if current["spanId"] == ancestor["spanId"] {
            return true;
        }
        match spans
            .iter()
            .find(|parent| parent["spanId"] == current["parentSpanId"])
        {
            Some(parent) => current = parent,
            None => return false,
        }
    }
}
