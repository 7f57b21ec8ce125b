//! `favoritesChanged` over WebSocket, in both protocols async-graphql speaks.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::app::{ADMIN, SECRET_KEY, TestApp, each_backend};
use crate::support::websocket::{
    SUBSCRIPTION, connect, in_place, receive, send, start_subscription, subscribe, subscribe_after,
};

fn product_ids(next: &Value) -> Vec<i64> {
    next["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {next}"))
        .iter()
        .map(|node| node["productId"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_subscriber_sees_each_change_to_the_list_and_the_end_when_the_client_is_deleted() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        let other = app.create_client("Bia", "bia@example.com").await;
        let mut socket = subscribe(&app.address, &app.token, &client).await;

        app.add_favorite(&client, 1).await;
        let next = receive(&mut socket).await.unwrap();
        assert_eq!(next["type"], "next", "{next}");
        assert_eq!(product_ids(&next), [1]);
        assert_eq!(
            next["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"][0]["product"]["title"],
            "Fjallraven - Foldsack No. 1 Backpack, Fits 15 Laptops"
        );

        // Another client's change, and a change that changes nothing, are not news.
        app.add_favorite(&other, 2).await;
        app.add_favorite(&client, 1).await;
        app.add_favorite(&client, 5).await;
        let next = receive(&mut socket).await.unwrap();
        assert_eq!(product_ids(&next), [1, 5]);

        app.remove_favorite(&client, 1).await;
        assert_eq!(product_ids(&receive(&mut socket).await.unwrap()), [5]);

        app.graphql(
            "mutation($id: UUID!) { deleteClient(id: $id) }",
            json!({ "id": client }),
        )
        .await;
        let complete = receive(&mut socket).await.unwrap();
        assert_eq!(complete, json!({ "id": "1", "type": "complete" }));
    })
    .await;
}

#[tokio::test]
async fn a_connection_without_a_valid_token_is_closed_with_4403() {
    each_backend(|app| async move {
        for payload in [
            json!({}),
            json!({ "Authorization": "Bearer not-a-token" }),
            json!({ "Authorization": app.token.clone() }),
        ] {
            let mut socket = connect(&app.address, "graphql-transport-ws").await;
            send(
                &mut socket,
                json!({ "type": "connection_init", "payload": payload }),
            )
            .await;
            assert_eq!(
                receive(&mut socket).await,
                Err(Some(CloseCode::Library(4403))),
                "{payload}"
            );
        }
        // Subscribing before the handshake is refused too.
        let mut socket = connect(&app.address, "graphql-transport-ws").await;
        send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }),
        )
        .await;
        assert_eq!(
            receive(&mut socket).await,
            Err(Some(CloseCode::Library(4401)))
        );
    })
    .await;
}

/// A token signed like the service's own, for `ADMIN`, that expires in `seconds`.
fn token_expiring_in(seconds: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": ADMIN, "iat": now, "exp": now + seconds,
        "iss": "favorites-api", "aud": "favorites-api",
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET_KEY.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_subscription_ends_with_4403_when_its_token_expires() {
    each_backend(|app| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        let mut socket = subscribe(&app.address, &token_expiring_in(2), &client).await;
        // Still served while the token is good.
        app.add_favorite(&client, 1).await;
        assert_eq!(receive(&mut socket).await.unwrap()["type"], "next");
        let closed = tokio::time::timeout(Duration::from_secs(4), async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => return frame.map(|frame| frame.code),
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        })
        .await
        .expect("closed once the token expired");
        assert_eq!(closed, Some(CloseCode::Library(4403)));
    })
    .await;
}

#[tokio::test]
async fn subscribing_to_a_client_that_does_not_exist_is_not_found() {
    each_backend(|app| async move {
        let mut socket =
            start_subscription(&app.address, &app.token, &uuid::Uuid::now_v7().to_string()).await;
        // An execution error travels in `next` (`error` is for documents that do not validate),
        // and the subscription is over.
        let next = receive(&mut socket).await.unwrap();
        assert_eq!(next["type"], "next", "{next}");
        assert_eq!(
            next["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{next}"
        );
        assert_eq!(receive(&mut socket).await.unwrap()["type"], "complete");
    })
    .await;
}

#[tokio::test]
async fn the_older_graphql_ws_protocol_works_too() {
    each_backend(|app: TestApp| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        let mut socket = connect(&app.address, "graphql-ws").await;
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.token) } }),
        )
        .await;
        assert_eq!(receive(&mut socket).await.unwrap()["type"], "connection_ack");
        send(
            &mut socket,
            json!({ "id": "7", "type": "start", "payload": { "query": SUBSCRIPTION, "variables": { "id": client } } }),
        )
        .await;
        // No ping in this protocol: give the server a moment to register the subscription.
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.add_favorite(&client, 3).await;
        let data = receive(&mut socket).await.unwrap();
        assert_eq!(data["type"], "data", "{data}");
        assert_eq!(data["id"], "7");
        assert_eq!(
            data["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"][0]["productId"],
            3
        );
    })
    .await;
}

#[tokio::test]
async fn a_list_version_moves_only_with_the_list_and_after_resumes_from_it() {
    each_backend(|app: TestApp| async move {
        let client = app.create_client("Ana", "ana@example.com").await;
        let version = |app: TestApp, client: String| async move {
            let data = app
                .data(
                    "query($id: UUID!) { client(id: $id) { favoritesVersion } }",
                    json!({ "id": client }),
                )
                .await;
            data["client"]["favoritesVersion"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let untouched = version(app.clone(), client.clone()).await;
        app.graphql(
            "mutation($id: UUID!) { updateClient(id: $id, input: { name: \"Ana Maria\" }) { id } }",
            json!({ "id": client }),
        )
        .await;
        assert_eq!(
            version(app.clone(), client.clone()).await,
            untouched,
            "a new name is not a new list"
        );
        app.add_favorite(&client, 1).await;
        let one = version(app.clone(), client.clone()).await;
        assert_ne!(one, untouched);
        app.add_favorite(&client, 1).await;
        app.remove_favorite(&client, 9).await;
        assert_eq!(
            version(app.clone(), client.clone()).await,
            one,
            "writes that change nothing"
        );

        // Resuming from before the add: the list is sent at once.
        let mut behind = subscribe_after(&app.address, &app.token, &client, Some(&untouched)).await;
        let next = receive(&mut behind).await.unwrap();
        assert_eq!(
            next["payload"]["data"]["favoritesChanged"]["favoritesVersion"],
            one.as_str(),
            "{next}"
        );
        assert_eq!(
            next["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"][0]["productId"],
            1
        );
        // Resuming from the current version: nothing until the next change.
        let mut current =
            in_place(subscribe_after(&app.address, &app.token, &client, Some(&one)).await).await;
        app.add_favorite(&client, 2).await;
        for socket in [&mut behind, &mut current] {
            let next = receive(socket).await.unwrap();
            let nodes = &next["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"];
            assert_eq!(nodes.as_array().map(Vec::len), Some(2), "{next}");
        }

        // A version ahead of the list cannot be this list's: the list is sent at once.
        let mut ahead = subscribe_after(&app.address, &app.token, &client, Some("999999999")).await;
        let next = receive(&mut ahead).await.unwrap();
        assert_eq!(
            next["payload"]["data"]["favoritesChanged"]["favorites"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "{next}"
        );

        for garbage in ["yesterday", "-1", ""] {
            let mut socket =
                subscribe_after(&app.address, &app.token, &client, Some(garbage)).await;
            let next = receive(&mut socket).await.unwrap();
            assert_eq!(
                next["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{garbage:?}: {next}"
            );
        }
    })
    .await;
}
