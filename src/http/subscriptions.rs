//! GraphQL over WebSocket at `/graphql/ws`: graphql-transport-ws, and the older graphql-ws
//! (subscriptions-transport-ws), as the client asks in `Sec-WebSocket-Protocol`.
//!
//! The token comes in the `connection_init` payload, `{"Authorization": "Bearer <token>"}`. We
//! read that message ourselves before async-graphql sees the socket: it would close a refused
//! connection with 1002, where graphql-transport-ws says 4403 Forbidden.

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::Value;

use super::AppState;
use super::client_address::client_address;
use crate::auth::Caller;

/// graphql-transport-ws's close codes.
const FORBIDDEN: u16 = 4403;
const UNAUTHORIZED: u16 = 4401;
const INIT_TIMEOUT_CODE: u16 = 4408;
/// Not graphql-transport-ws's own, but in its range: the caller's allowance is spent.
const TOO_MANY_REQUESTS: u16 = 4429;
const INTERNAL_ERROR: u16 = 4500;
/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let address = client_address(peer, &headers, state.limits.trust_proxy);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, protocol, state, address))
}

async fn serve(
    socket: WebSocket,
    protocol: GraphQLProtocol,
    state: AppState,
    address: std::net::IpAddr,
) {
    let (mut sink, mut stream) = socket.split();
    let (init, payload) =
        match tokio::time::timeout(INIT_TIMEOUT, connection_init(&mut stream)).await {
            Ok(Ok(init)) => init,
            Ok(Err(Refusal::Gone)) => return,
            Ok(Err(Refusal::Unauthorized)) => {
                return close(&mut sink, UNAUTHORIZED, "Unauthorized").await;
            }
            Err(_) => {
                return close(
                    &mut sink,
                    INIT_TIMEOUT_CODE,
                    "Connection initialisation timeout",
                )
                .await;
            }
        };
    let caller = match authorization(&payload) {
        None => Ok(Caller::Anonymous),
        Some(value) => state.services.authenticate(value).await,
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(error) => {
            tracing::warn!(code = error.code(), "cannot authenticate a WebSocket");
            return close(&mut sink, INTERNAL_ERROR, "Internal server error").await;
        }
    };
    // Admin and client tokens may connect; what each may subscribe to is the service's call.
    let Some(expires_at) = caller.token_expires_at() else {
        return close(&mut sink, FORBIDDEN, "Forbidden").await;
    };
    if state.services.admit(&caller, 1).is_err() {
        return close(&mut sink, TOO_MANY_REQUESTS, "Too many requests").await;
    }
    let token_lifetime = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let mut data = Data::default();
    data.insert(state.services.session(caller, address));
    // async-graphql answers the `connection_init` we already read with its `connection_ack`.
    let stream = futures::stream::once(async move { Ok(init) }).chain(stream);
    // async-graphql writes into a channel rather than the socket, so that we keep the socket
    // and can close it ourselves when the token expires.
    let (outgoing, mut to_send) = futures::channel::mpsc::channel::<Message>(16);
    let connection = GraphQLWebSocket::new_with_pair(outgoing, stream, state.api.clone(), protocol)
        .with_data(data)
        .serve();
    let forward = async {
        while let Some(message) = to_send.next().await {
            if sink.send(message).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = futures::future::join(connection, forward) => {}
        () = tokio::time::sleep(token_lifetime) => {
            close(&mut sink, FORBIDDEN, "Forbidden: the token expired").await;
        }
    }
}

enum Refusal {
    /// The client closed the socket or broke the protocol's framing.
    Gone,
    /// The client tried to subscribe before `connection_init`.
    Unauthorized,
}

/// Waits for `connection_init`; returns it as received, and its payload.
async fn connection_init(
    stream: &mut (impl futures::Stream<Item = Result<Message, axum::Error>> + Unpin),
) -> Result<(Message, Value), Refusal> {
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = &message else {
            if matches!(message, Message::Close(_)) {
                return Err(Refusal::Gone);
            }
            continue;
        };
        let Ok(parsed) = serde_json::from_str::<Value>(text) else {
            return Err(Refusal::Gone);
        };
        match parsed.get("type").and_then(Value::as_str) {
            Some("connection_init") => {
                let payload = parsed.get("payload").cloned().unwrap_or(Value::Null);
                return Ok((message, payload));
            }
            Some("subscribe" | "start") => return Err(Refusal::Unauthorized),
            // Pings and the like may come first; they need no answer before the handshake.
            _ => {}
        }
    }
    Err(Refusal::Gone)
}

/// The payload's `Authorization` entry, whatever the case of its key: `None` when there is
/// none, `Some(None)` when it is not text.
fn authorization(payload: &Value) -> Option<Option<&str>> {
    let (_, value) = payload
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))?;
    Some(value.as_str())
}

async fn close(sink: &mut (impl futures::Sink<Message> + Unpin), code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    // The client may already be gone; there is nobody left to tell.
    let _ = sink.send(Message::Close(Some(frame))).await;
}
