//! PostgreSQL going away and coming back, simulated by a TCP proxy the test can cut: requests
//! fail fast with a retryable code, and the service recovers by itself with nothing lost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::app::{Options, error_codes, run_on};
use crate::support::database::{Backend, backends};
use crate::support::tcp_proxy::TcpProxy;

#[tokio::test]
async fn requests_fail_fast_while_postgres_is_down_and_recover_after() {
    for backend in backends() {
        let Backend::Postgres(url) = &backend else {
            continue; // an embedded SQLite file cannot go away
        };
        let mut proxied = reqwest::Url::parse(url).unwrap();
        let upstream: SocketAddr = format!(
            "{}:{}",
            proxied.host_str().unwrap(),
            proxied.port().unwrap_or(5432)
        )
        .parse()
        .unwrap();
        let proxy = Arc::new(TcpProxy::start(upstream).await);
        proxied.set_port(Some(proxy.address.port())).unwrap();
        // Every read goes to the database here (a cached answer would outlive the outage).
        let options = Options::default()
            .with("DATABASE_URL", &proxied)
            .with("DATABASE_ACQUIRE_TIMEOUT_MS", 1_000)
            .with("RESPONSE_CACHE_MAX_BYTES", 0);
        let proxy_in_test = Arc::clone(&proxy);
        run_on(&backend, &options, &move |app| {
            let proxy = Arc::clone(&proxy_in_test);
            async move {
                let kept = app.create_client("Kept", "kept@example.com").await;
                app.add_favorite(&kept, 4).await;

                proxy.go_down();
                let started = Instant::now();
                let body = app.graphql("{ clients { totalCount } }", json!({})).await;
                assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"], "{body}");
                let body = app
                    .graphql(
                        "mutation { createClient(input: {name: \"Lost\", email: \"lost@example.com\"}) { id } }",
                        json!({}),
                    )
                    .await;
                assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"], "{body}");
                let elapsed = started.elapsed();
                eprintln!("two requests while PostgreSQL was down took {elapsed:?}");
                assert!(elapsed < Duration::from_secs(5), "bounded by the acquire timeout: {elapsed:?}");
                let ready = app.http.get(format!("{}/readyz", app.address)).send().await.unwrap();
                assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
                let healthy = app.http.get(format!("{}/healthz", app.address)).send().await.unwrap();
                assert_eq!(healthy.status(), StatusCode::OK, "the process itself is fine");

                proxy.come_back();
                let deadline = Instant::now() + Duration::from_secs(15);
                loop {
                    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.unwrap();
                    if ready.status() == StatusCode::OK {
                        break;
                    }
                    assert!(Instant::now() < deadline, "no recovery without a restart");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let data = app
                    .data(
                        "query($id: UUID!) { client(id: $id) { name favorites { nodes { productId } } } }",
                        json!({ "id": kept }),
                    )
                    .await;
                assert_eq!(data["client"]["name"], "Kept", "the acknowledged write survived");
                assert_eq!(data["client"]["favorites"]["nodes"][0]["productId"], 4);
                let count = app.data("{ clients { totalCount } }", json!({})).await;
                assert_eq!(count["clients"]["totalCount"], 1, "the refused write did not happen");

                // A host that vanishes answers nothing: the wait is bounded by the acquire
                // timeout (1 s here), not by TCP's own minutes.
                proxy.vanish();
                let started = Instant::now();
                let body = app.graphql("{ clients { totalCount } }", json!({})).await;
                let elapsed = started.elapsed();
                eprintln!("a request while PostgreSQL was unreachable took {elapsed:?}");
                assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"], "{body}");
                assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
                proxy.come_back();
                let deadline = Instant::now() + Duration::from_secs(15);
                loop {
                    let body = app.graphql("{ clients { totalCount } }", json!({})).await;
                    if error_codes(&body).is_empty() {
                        assert_eq!(body["data"]["clients"]["totalCount"], 1);
                        break;
                    }
                    assert!(Instant::now() < deadline, "no recovery: {body}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
        .await;
    }
}
