//! A WebSocket client of `/graphql/ws`: connect in either protocol, send and receive protocol
//! messages, and subscribe to a client's `favoritesChanged`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a change may take to reach a subscriber.
pub const DELIVERY: Duration = Duration::from_secs(1);

pub const SUBSCRIPTION: &str = "subscription($id: UUID!, $after: String) { favoritesChanged(clientId: $id, after: $after) { id favorites { totalCount nodes { productId product { title } } } } }";

pub async fn connect(address: &str, protocol: &str) -> Socket {
    let url = format!("{}/graphql/ws", address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message (pings and pongs skipped), or the close frame's code.
pub async fn receive(socket: &mut Socket) -> Result<Value, Option<CloseCode>> {
    loop {
        let message = tokio::time::timeout(DELIVERY, socket.next())
            .await
            .expect("a message within a second");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if matches!(value["type"].as_str(), Some("ping" | "pong" | "ka")) {
                    continue;
                }
                return Ok(value);
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|frame| frame.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// The list as `favoritesChanged` sends it, with its version, resuming after `after`.
pub const RESUMABLE: &str = "subscription($id: UUID!, $after: String) { favoritesChanged(clientId: $id, after: $after) { favoritesVersion favorites { nodes { productId } } } }";

/// Opens a graphql-transport-ws connection and asks for `client_id`'s list.
pub async fn start_subscription(address: &str, token: &str, client_id: &str) -> Socket {
    start(address, token, SUBSCRIPTION, json!({ "id": client_id })).await
}

/// Opens a graphql-transport-ws connection and starts `query` with `variables`.
pub async fn start(address: &str, token: &str, query: &str, variables: Value) -> Socket {
    let mut socket = connect(address, "graphql-transport-ws").await;
    // The key's case must not matter.
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await.unwrap()["type"],
        "connection_ack"
    );
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
    socket
}

/// Subscribes to `client_id`'s list from its version as it is now, so that every change made
/// after this returns is sent, however late the server starts the subscription's resolver.
pub async fn subscribe(address: &str, token: &str, client_id: &str) -> Socket {
    let version = favorites_version(address, token, client_id).await;
    start(
        address,
        token,
        SUBSCRIPTION,
        json!({ "id": client_id, "after": version }),
    )
    .await
}

/// The list's current `favoritesVersion`, read over HTTP.
async fn favorites_version(address: &str, token: &str, client_id: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{address}/graphql"))
        .bearer_auth(token)
        .json(&json!({
            "query": "query($id: UUID!) { client(id: $id) { favoritesVersion } }",
            "variables": { "id": client_id },
        }))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON answer");
    answer["data"]["client"]["favoritesVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("a version: {answer}"))
        .to_owned()
}

/// Subscribes to `client_id`'s list with its versions (`RESUMABLE`), resuming after `after`.
/// No need to wait for it to be in place: with a version, nothing changed meanwhile is missed.
pub async fn subscribe_after(
    address: &str,
    token: &str,
    client_id: &str,
    after: Option<&str>,
) -> Socket {
    start(
        address,
        token,
        RESUMABLE,
        json!({ "id": client_id, "after": after }),
    )
    .await
}

/// Waits until the server has read the messages sent so far: it answers a ping after them.
/// (Whatever came before the pong is skipped.) The subscription's resolver may still not have
/// run: async-graphql polls a new stream only after answering the ping, so a test that must
/// not miss a change subscribes with `after` too.
pub async fn in_place(mut socket: Socket) -> Socket {
    send(&mut socket, json!({ "type": "ping" })).await;
    loop {
        let message = tokio::time::timeout(DELIVERY, socket.next()).await.unwrap();
        if let Some(Ok(Message::Text(text))) = message
            && serde_json::from_str::<Value>(&text).unwrap()["type"] == "pong"
        {
            break;
        }
    }
    socket
}
