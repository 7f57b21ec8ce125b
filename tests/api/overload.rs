//! Overload is refused, not queued for ever: API requests beyond `MAX_IN_FLIGHT_REQUESTS` (and a
//! short queue) get 503 `OVERLOADED` with `Retry-After` at once, health checks stay open, and
//! WebSockets and their subscriptions have caps of their own. (`cold_burst.rs` has the bound on
//! work, `MAX_CONCURRENT_REQUESTS`.)

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wiremock::ResponseTemplate;

use crate::support::app::{Options, TestApp, each_backend_with};
use crate::support::catalog::fixture_products;
use crate::support::websocket::{connect, receive, send};

/// The catalog takes `delay` to answer for product 7: a request for it is in flight that long.
async fn slow_product_7(app: &TestApp, delay: Duration) {
    app.catalog
        .answer_path_with(
            "/products/7",
            ResponseTemplate::new(200)
                .set_body_json(fixture_products()[6].clone())
                .set_delay(delay),
        )
        .await;
}

#[tokio::test]
async fn work_beyond_the_limit_and_the_queue_is_refused_at_once() {
    let options = Options::default()
        .with("MAX_IN_FLIGHT_REQUESTS", 1)
        .with("MAX_QUEUED_REQUESTS", 1);
    each_backend_with(options, |app| async move {
        // Each request for product 7 takes a second.
        slow_product_7(&app, Duration::from_millis(1_000)).await;
        let requests = (0..4).map(|_| {
            let app = app.clone();
            async move {
                let started = Instant::now();
                let response = app
                    .http
                    .post(format!("{}/graphql", app.address))
                    .bearer_auth(&app.token)
                    .json(&json!({ "query": "{ product(id: 7) { title } }" }))
                    .send()
                    .await
                    .expect("every request is answered");
                let status = response.status();
                let retry_after = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await.expect("JSON");
                (status, retry_after, body, started.elapsed())
            }
        });
        let health = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            app.get("/healthz").await.status()
        };
        let (answers, health) = futures::join!(join_all(requests), health);
        assert_eq!(health, 200, "health is not limited");
        let served = answers.iter().filter(|(status, ..)| *status == 200).count();
        let refused: Vec<_> = answers
            .iter()
            .filter(|(status, ..)| *status == 503)
            .collect();
        assert!(served >= 1, "{answers:?}");
        assert!(
            refused.len() >= 2,
            "one running, one queued at most: {answers:?}"
        );
        for (_, retry_after, body, elapsed) in &refused {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "OVERLOADED",
                "{body}"
            );
            assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
            // The one queued waits its budget at most (1 s: the queue was empty just before).
            assert!(
                *elapsed < Duration::from_millis(1_600),
                "refused after {elapsed:?}"
            );
        }
        let at_once = refused
            .iter()
            .filter(|(.., elapsed)| *elapsed < Duration::from_millis(600))
            .count();
        assert!(
            at_once >= 2,
            "beyond the queue, refused at once: {answers:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refused_connection_is_not_read_again_for_a_moment() {
    let options = Options::default()
        .with("MAX_IN_FLIGHT_REQUESTS", 1)
        .with("MAX_QUEUED_REQUESTS", 0)
        // The busy request must outlast three refusals a second apart.
        .with("UPSTREAM_TIMEOUT_MS", 10_000);
    each_backend_with(options, |app| async move {
        slow_product_7(&app, Duration::from_millis(3_500)).await;
        let busy = tokio::spawn({
            let app = app.clone();
            async move {
                app.http
                    .post(format!("{}/graphql", app.address))
                    .bearer_auth(&app.token)
                    .json(&json!({ "query": "{ product(id: 7) { title } }" }))
                    .send()
                    .await
                    .map(|response| response.status())
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        // One keep-alive connection that asks again as soon as it is refused.
        let caller = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("a client");
        let started = Instant::now();
        for _ in 0..3 {
            let response = caller
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.token)
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()["retry-after"], "1");
        }
        // The first refusal is at once; each next request waited its `Retry-After` (1 s) to
        // be read.
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "three refusals in {:?}",
            started.elapsed()
        );
        assert_eq!(busy.await.expect("the task ran").expect("answered"), 200);
    })
    .await;
}

#[tokio::test]
async fn websockets_beyond_their_cap_are_closed_with_1013() {
    let options = Options::default().with("MAX_WEBSOCKET_CONNECTIONS", 2);
    each_backend_with(options, |app| async move {
        let mut open = Vec::new();
        for _ in 0..2 {
            let mut socket = connect(&app.address, "graphql-transport-ws").await;
            send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.token) } })).await;
            assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
            open.push(socket);
        }
        let mut third = connect(&app.address, "graphql-transport-ws").await;
        let closed = receive(&mut third).await.expect_err("closed");
        assert_eq!(closed, Some(CloseCode::Again));
        drop(open.pop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = connect(&app.address, "graphql-transport-ws").await;
        send(&mut again, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.token) } })).await;
        assert_eq!(receive(&mut again).await.unwrap()["type"], "connection_ack");
    })
    .await;
}

#[tokio::test]
async fn subscriptions_beyond_their_cap_get_an_error_and_the_others_go_on() {
    let options = Options::default().with("MAX_SUBSCRIPTIONS_PER_CONNECTION", 2);
    each_backend_with(options, |app| async move {
        let ana = app.create_client("Ana", "ana@example.com").await;
        let mut socket = connect(&app.address, "graphql-transport-ws").await;
        send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.token) } })).await;
        assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
        let subscribe = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription($c: UUID!) { favoritesChanged(clientId: $c) { id } }", "variables": { "c": ana } } });
        for id in ["1", "2", "3"] {
            send(&mut socket, subscribe(id)).await;
        }
        let refused = receive(&mut socket).await.expect("an answer to the third");
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(refused["id"], "3");
        assert_eq!(refused["payload"][0]["extensions"]["code"], "OVERLOADED");
        send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
        send(&mut socket, subscribe("4")).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.add_favorite(&ana, 1).await;
        let mut ids = Vec::new();
        while ids.len() < 2 {
            let message = receive(&mut socket).await.expect("an event");
            match message["type"].as_str() {
                // The server's word that subscription 1 is over.
                Some("complete") => assert_eq!(message["id"], "1", "{message}"),
                Some("next") => ids.push(message["id"].as_str().unwrap().to_owned()),
                _ => panic!("unexpected: {message}"),
            }
        }
        ids.sort();
        assert_eq!(ids, ["2", "4"]);
    })
    .await;
}
