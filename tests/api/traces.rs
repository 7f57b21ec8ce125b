//! Traces over OTLP: the real binary exports, to a receiver on loopback (OTLP/HTTP with JSON,
//! read with serde_json), one trace per request that continues the caller's `traceparent` and
//! holds the HTTP, GraphQL, SQL and catalog spans under one another; the catalog call carries
//! the trace on. A collector that never answers costs the requests nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::binary::Server;
use crate::support::otlp::{SERVICE_NAME, attribute, collector, descends_from, received_spans};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The settings that turn export on, as OpenTelemetry names them.
fn exporting_to(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_SERVICE_NAME", SERVICE_NAME.to_owned()),
        ("SHUTDOWN_DRAIN_MS", "0".to_owned()),
    ]
}

async fn start(env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(&env).await
}

async fn graphql(server: &Server, token: &str, query: &str, traceparent: Option<&str>) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.address()))
        .bearer_auth(token)
        .json(&json!({ "query": query }));
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("an answer");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn a_favorites_query_is_one_trace_from_the_callers_span_down_to_sql_and_the_catalog() {
    let collector = collector().await;
    let mut env = exporting_to(&collector.uri());
    // Products go stale after a second, so that the traced query asks the catalog again.
    env.push(("PRODUCT_CACHE_TTL_SECONDS", "1".to_owned()));
    let mut server = start(&env).await;
    let token = server.admin_token().await;
    let created = graphql(
        &server,
        &token,
        r#"mutation { createClient(input: {name: "Ana", email: "ana@example.com"}) { id } }"#,
        None,
    )
    .await;
    let client = created["data"]["createClient"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let added = graphql(
        &server,
        &token,
        &format!(r#"mutation {{ addFavorite(clientId: "{client}", productId: 5) {{ id }} }}"#),
        None,
    )
    .await;
    assert!(added.get("errors").is_none(), "{added}");
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let read = graphql(
        &server,
        &token,
        &format!(
            r#"query Favorites {{ client(id: "{client}") {{ favorites {{ nodes {{ productId product {{ title }} }} }} }} }}"#
        ),
        Some(&traceparent),
    )
    .await;
    assert!(read.get("errors").is_none(), "{read}");
    // The last spans are flushed at exit.
    server.signal("-TERM").await;
    assert!(server.exit_status(Duration::from_secs(15)).await.success());

    let spans: Vec<Value> = received_spans(&collector)
        .await
        .into_iter()
        .filter(|span| span["traceId"] == TRACE_ID)
        .collect();
    let names: Vec<&str> = spans
        .iter()
        .filter_map(|span| span["name"].as_str())
        .collect();
    let http = spans
        .iter()
        .find(|span| span["name"] == "POST /graphql")
        .unwrap_or_else(|| panic!("no HTTP span in {names:?}; all: {:?}", server.stderr()));
    assert_eq!(
        http["parentSpanId"], CALLER_SPAN,
        "the caller's span is the parent"
    );
    assert_eq!(http["kind"], 2, "a server span");
    assert_eq!(
        attribute(http, "http.response.status_code"),
        Some(&json!({ "intValue": "200" }))
    );
    let operation = spans
        .iter()
        .find(|span| span["name"] == "query Favorites")
        .unwrap_or_else(|| panic!("no GraphQL span in {names:?}"));
    assert_eq!(operation["parentSpanId"], http["spanId"]);
    let statements: Vec<&Value> = spans
        .iter()
        .filter(|span| attribute(span, "db.system.name").is_some())
        .collect();
    assert!(
        !statements.is_empty(),
        "no SQL span in {names:?}: {}",
        server.stderr()
    );
    for statement in &statements {
        assert!(descends_from(&spans, statement, operation), "{statement}");
        let text = attribute(statement, "db.query.text").expect("the statement's text");
        assert!(
            !text.to_string().contains(&client),
            "values never go into spans: {text}"
        );
    }
    let catalog = spans
        .iter()
        .find(|span| span["name"] == "GET /products/{id}")
        .unwrap_or_else(|| panic!("no catalog span in {names:?}"));
    assert!(descends_from(&spans, catalog, operation));
    assert_eq!(catalog["kind"], 3, "a client span");

    // The catalog saw the same trace, with our catalog span as its parent.
    let carried: Vec<String> = server
        .catalog
        .received()
        .await
        .iter()
        .filter_map(|request| {
            request
                .headers
                .get("traceparent")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect();
    let expected = format!(
        "00-{TRACE_ID}-{}-01",
        catalog["spanId"].as_str().expect("a span id")
    );
    assert!(carried.contains(&expected), "{carried:?} lacks {expected}");
    // Nothing of the caller's request went into any span: its token least of all.
    let everything = serde_json::to_string(&spans).unwrap_or_default();
    assert!(!everything.contains(&token));
}

#[tokio::test]
async fn a_collector_that_never_answers_costs_requests_nothing() {
    // Accepts connections and never reads or answers them.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let endpoint = format!("http://{}", silent.local_addr().expect("its address"));
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let mut server = start(&exporting_to(&endpoint)).await;
    let token = server.admin_token().await;
    for _ in 0..30 {
        let answer = graphql(&server, &token, "{ products { id } }", None).await;
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    server.signal("-TERM").await;
    // The exporter gives up on the last batch instead of holding the exit.
    assert!(server.exit_status(Duration::from_secs(15)).await.success());
    held.abort();
}
