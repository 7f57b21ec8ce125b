//! The HTTP-level guards: oversized bodies get 413 before parsing, POSTs must be JSON and GET
//! never executes a mutation, no request outlives the request timeout, a body that trickles in
//! gets 408, and unknown routes and methods answer with codes. Connections that never finish
//! their headers are closed after `HTTP_HEADER_TIMEOUT_MS` (idle keep-alive ones too), and open
//! connections are capped at `MAX_CONNECTIONS`: beyond it they wait in the kernel's accept
//! queue, taking no file descriptor of the server's.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::{Options, TestApp, each_backend, each_backend_with, error_codes};
use crate::support::binary::Server;

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

async fn half_a_header(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        .await
        .expect("write");
    stream
}

/// Whether the server has closed its side (a read sees the end, or a reset).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 256];
    matches!(
        tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn half_sent_headers_are_dropped_and_open_connections_are_capped() {
    let server = Server::start(&[
        ("HTTP_HEADER_TIMEOUT_MS", "1000"),
        ("MAX_CONNECTIONS", "40"),
    ])
    .await;
    let idle_files = server.open_files();
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(half_a_header(&server.address()).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let files = server.open_files();
    assert!(
        files <= idle_files + 40 + 2,
        "300 slow clients hold {files} descriptors (idle: {idle_files}, cap: 40)"
    );

    // Past the header timeout the server lets them go, in waves of 40, and then a real request
    // gets through.
    let started = Instant::now();
    let answered = loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(3),
            reqwest::get(format!("{}/healthz", server.base)),
        )
        .await;
        if let Ok(Ok(response)) = attempt {
            break response.status();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never served again"
        );
    };
    assert_eq!(answered, 200);
    let mut closed = 0;
    for stream in &mut slow[..40] {
        closed += usize::from(closed_by_server(stream).await);
    }
    assert_eq!(
        closed, 40,
        "the first slow clients were closed by the server"
    );
    eprintln!(
        "slowloris: 300 half-sent headers held {files} descriptors (idle {idle_files}); a request got through after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_same_timeout() {
    let server = Server::start(&[("HTTP_HEADER_TIMEOUT_MS", "500")]).await;
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n")
        .await
        .expect("write");
    let mut answer = [0u8; 512];
    let read = stream.read(&mut answer).await.expect("an answer");
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        closed_by_server(&mut stream).await,
        "still open after 900 ms idle"
    );
}
