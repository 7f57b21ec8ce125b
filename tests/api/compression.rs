//! Compressed answers: gzip, Brotli or zstd as the client accepts (its preference decides, a
//! small answer is left alone), GraphiQL's scripts too, but never the WebSocket.

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::app::{each_backend, vary};
use crate::support::metrics::response_cache_hits;

/// A page of clients with their favorites and the products' details.
const CLIENTS_PAGE: &str = "{ clients(first: 30) { nodes { id name email favorites { nodes { productId addedAt product { title price image rating { rate count } } } } } } }";

/// A client that leaves compressed bodies as they came, to see their size.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .build()
        .unwrap()
}

#[tokio::test]
async fn answers_are_compressed_as_the_client_accepts() {
    each_backend(|app| async move {
        for i in 0..30 {
            let id = app
                .create_client(&format!("Client {i}"), &format!("client{i}@example.com"))
                .await;
            for product in 1..=5 {
                app.add_favorite(&id, (i + product) % 20 + 1).await;
            }
        }
        let body = json!({ "query": CLIENTS_PAGE });
        let page = |encoding: &'static str| {
            raw_client()
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.token)
                .header(ACCEPT_ENCODING, encoding)
                .json(&body)
                .send()
        };
        let plain = page("identity").await.unwrap();
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        let plain = plain.bytes().await.unwrap();
        let expected: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(
            expected["data"]["clients"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            30
        );

        // The page is kept by the response cache from the first request on: each encoding is
        // made once from the kept bytes, then served as it is, the same each time.
        let hits = response_cache_hits(&app).await;
        for (encoding, name) in [("gzip", "gzip"), ("br", "br"), ("zstd", "zstd")] {
            let mut bodies = Vec::new();
            for _ in 0..2 {
                let response = page(encoding).await.unwrap();
                assert_eq!(response.headers()[CONTENT_ENCODING], name);
                assert!(vary(&response).contains("accept-encoding"));
                bodies.push(response.bytes().await.unwrap());
            }
            assert_eq!(bodies[0], bodies[1]);
            let compressed = bodies[0].len();
            println!("{encoding}: {} bytes -> {compressed} bytes", plain.len());
            assert!(
                compressed * 4 < plain.len(),
                "{encoding}: {compressed} of {}",
                plain.len()
            );
        }
        assert_eq!(response_cache_hits(&app).await, hits + 6);
        // The client's preference decides; the decoded answer is the same.
        let decoded = app
            .http
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.token)
            .header(ACCEPT_ENCODING, "gzip;q=0.5, br")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(decoded.status(), StatusCode::OK);
        let decoded: Value = decoded.json().await.unwrap();
        assert_eq!(decoded, expected);

        // A small answer is not worth it.
        let small = raw_client()
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.token)
            .header(ACCEPT_ENCODING, "gzip, br, zstd")
            .json(&json!({ "query": "{ clients(first: 1) { totalCount } }" }))
            .send()
            .await
            .unwrap();
        assert!(small.headers().get(CONTENT_ENCODING).is_none());
    })
    .await;
}

#[tokio::test]
async fn graphiql_scripts_are_compressed_and_the_websocket_is_not() {
    each_backend(|app| async move {
        let script = raw_client()
            .get(format!("{}/graphiql/app.js", app.address))
            .header(ACCEPT_ENCODING, "br")
            .send()
            .await
            .unwrap();
        assert_eq!(script.status(), StatusCode::OK);
        assert_eq!(script.headers()[CONTENT_ENCODING], "br");

        // A WebSocket opened by a client that accepts compressed HTTP answers: its messages
        // are plain text frames all the same.
        let url = format!("{}/graphql/ws", app.address.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        headers.insert("accept-encoding", "gzip, br, zstd".parse().unwrap());
        let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert!(response.headers().get(CONTENT_ENCODING).is_none());
        let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.token) } });
        crate::support::websocket::send(&mut socket, init).await;
        let acked = socket.next().await.unwrap().unwrap();
        let Message::Text(text) = acked else {
            panic!("not a text frame: {acked:?}");
        };
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["type"],
            "connection_ack"
        );
    })
    .await;
}
