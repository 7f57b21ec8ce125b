//! `LOG_FORMAT=json`: one JSON object a line, with the trace and span ids when traces are on,
//! and never a secret, whatever the log level.

use std::time::Duration;

use crate::support::app::PASSWORD;
use crate::support::binary::{SECRET, Server};
use crate::support::otlp::collector;
use serde_json::{Value, json};

#[tokio::test]
async fn json_lines_carry_trace_ids_and_no_secret() {
    let collector = collector().await;
    let endpoint = collector.uri();
    let mut server = Server::start(&[
        ("LOG_FORMAT", "json"),
        // Everything we and our libraries log, so that nothing hides below the level.
        (
            "RUST_LOG",
            "trace,h2=debug,hyper=debug,hyper_util=debug,rustls=debug",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("SHUTDOWN_DRAIN_MS", "0"),
    ])
    .await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.address());
    // A login through each door, a password in a variable named `password`, and a token in a
    // header.
    let token = server.admin_token().await;
    let secret_variable = "a-variable-secret-9f8e7d";
    for (query, variables) in [
        (
            "mutation($u: String!, $password: String!) { issueToken(username: $u, password: $password) { accessToken } }",
            json!({ "u": crate::support::app::ADMIN, "password": PASSWORD }),
        ),
        (
            "query($password: String) { products { id } }",
            json!({ "password": secret_variable }),
        ),
        (
            "mutation($password: String!) { issueToken(username: \"nobody\", password: $password) { accessToken } }",
            json!({ "password": secret_variable }),
        ),
    ] {
        let answer = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), 200);
    }
    server.signal("-TERM").await;
    assert!(server.exit_status(Duration::from_secs(15)).await.success());

    let log = server.stderr();
    let mut traced = 0;
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        for key in ["timestamp", "level", "target"] {
            assert!(entry.get(key).is_some(), "no {key} in {line}");
        }
        assert!(entry["fields"].is_object(), "no fields in {line}");
        if entry.get("trace_id").is_some() {
            assert_eq!(entry["trace_id"].as_str().map(str::len), Some(32), "{line}");
            assert_eq!(entry["span_id"].as_str().map(str::len), Some(16), "{line}");
            traced += 1;
        }
    }
    assert!(traced > 0, "no line carries a trace id:\n{log}");
    let hash = crate::support::app::password_hash();
    for secret in [
        PASSWORD,
        secret_variable,
        token.as_str(),
        SECRET,
        hash.as_str(),
    ] {
        assert!(!log.contains(secret), "the log holds a secret ({secret})");
    }
}
