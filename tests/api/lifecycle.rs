//! The real binary under SIGTERM and SIGINT: it drains first (not ready, still serving), sends
//! WebSockets away with 1001, lets in-flight requests finish, then exits 0.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wiremock::ResponseTemplate;

use crate::support::app::{ADMIN, PASSWORD, password_hash};
use crate::support::binary::Server;
use crate::support::catalog::{FakeCatalog, fixture_products};
use crate::support::websocket::subscribe;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    stop_with("-TERM").await;
}

#[tokio::test]
async fn sigint_does_the_same() {
    stop_with("-INT").await;
}

async fn stop_with(signal: &str) {
    let catalog = FakeCatalog::start().await;
    let slow = Duration::from_millis(1_500);
    let product = fixture_products()[6].to_string();
    catalog
        .answer_path_with(
            "/products/7",
            ResponseTemplate::new(200)
                .set_body_raw(product, "application/json")
                .set_delay(slow),
        )
        .await;
    let workdir =
        std::env::temp_dir().join(format!("favorites-lifecycle-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&workdir).unwrap();
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_favorites-api"))
        .arg("serve")
        .current_dir(&workdir)
        .env("DATABASE_URL", "sqlite://lifecycle.db?mode=rwc")
        .env("FAKESTOREAPI_URL", catalog.url())
        .env("SECRET_KEY", "lifecycle-secret-0123456789abcdef0123")
        .env("MASTER_USERNAME", ADMIN)
        .env("MASTER_PASSWORD_HASH", password_hash())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("UPSTREAM_TIMEOUT_MS", "5000")
        .env("RUST_LOG", "warn")
        // No draining: this is about what is in flight when accepting stops.
        .env("SHUTDOWN_DRAIN_MS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let ready_by = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < ready_by, "the server never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login: Value = http
        .post(format!("{base}/api/v1/auth/master-token"))
        .json(&json!({ "username": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    let in_flight = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": "{ product(id: 7) { title } }" }))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.id().expect("still running").to_string();
    let killed = Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["product"]["title"],
        fixture_products()[6]["title"],
        "{body}"
    );

    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("the server stopped")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        http.get(format!("{base}/healthz")).send().await.is_err(),
        "no longer listening"
    );
    let _ = std::fs::remove_dir_all(&workdir);
}

#[tokio::test]
async fn sigterm_drains_first_then_sends_websockets_away() {
    let drain = Duration::from_millis(1_500);
    let drain_ms = drain.as_millis().to_string();
    let mut server = Server::start(&[
        ("SHUTDOWN_DRAIN_MS", drain_ms.as_str()),
        ("RUST_LOG", "info"),
    ])
    .await;
    let base = format!("http://{}", server.address());
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": r#"mutation { createClient(input: {name: "Ana", email: "ana@example.com"}) { id } }"# }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = created["data"]["createClient"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let mut socket = subscribe(&base, &token, &client).await;

    let signalled = Instant::now();
    server.signal("-TERM").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({ "status": "draining" })
    );
    // Still serving, and asking the caller not to keep the connection.
    let answer = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["connection"], "close");
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "data": { "viewer": null } })
    );

    let close = loop {
        let message = tokio::time::timeout(drain * 3, socket.next())
            .await
            .expect("the socket is closed in time");
        match message {
            Some(Ok(Message::Close(frame))) => break frame.map(|frame| frame.code),
            Some(Ok(_)) => continue,
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(close, Some(CloseCode::Away));
    assert!(
        signalled.elapsed() >= drain,
        "WebSockets are sent away only once draining is over ({:?})",
        signalled.elapsed()
    );
    let status = server.exit_status(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    // One signal, one whole drain: a listener made after the signal once heard it again.
    let log = server.stderr();
    assert!(log.contains("draining: not ready, still serving"), "{log}");
    assert!(!log.contains("cut short"), "{log}");
}
