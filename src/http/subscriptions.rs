//! GraphQL over WebSocket at `/graphql/ws`: graphql-transport-ws, and the older graphql-ws
//! (subscriptions-transport-ws), as the caller asks in `Sec-WebSocket-Protocol`.
//!
//! The token comes in the `connection_init` payload, `{"Authorization": "Bearer <token>"}`. We
//! read that message ourselves (`connection_init`) before async-graphql sees the socket: it
//! would close a refused connection with 1002, where graphql-transport-ws says 4403 Forbidden.
//! Until then a socket is unauthenticated: few may be at once, and every message is small.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AppState;
use super::connection_init::{Refusal, connection_init, is_too_big};
use super::error::overloaded;
use super::lifecycle::OpenSocket;
use super::peer::peer_address;
use super::serve::ConnectionSlot;
use super::subscription_limit::{SubscriptionLimit, Verdict};
use crate::config::Settings;
use crate::service::ServiceError;

/// graphql-transport-ws's close codes.
const FORBIDDEN: u16 = 4403;
const UNAUTHORIZED: u16 = 4401;
const INIT_TIMEOUT_CODE: u16 = 4408;
/// Not graphql-transport-ws's own, but in its range: the caller's allowance is spent.
const TOO_MANY_REQUESTS: u16 = 4429;
const INTERNAL_ERROR: u16 = 4500;
/// RFC 6455: a message too big to process; the server is at capacity.
const MESSAGE_TOO_BIG: u16 = 1009;
const GOING_AWAY: u16 = 1001;
const TRY_AGAIN_LATER: u16 = 1013;
/// How long a socket may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What keeps WebSockets that have not authenticated yet from costing much.
#[derive(Clone)]
pub struct WebSocketLimits {
    /// One permit per socket still waiting for its `connection_init`.
    pub unauthenticated: Arc<Semaphore>,
    /// One permit per open GraphQL WebSocket.
    pub open: Arc<Semaphore>,
    pub max_message_bytes: usize,
    pub max_subscriptions_per_connection: usize,
}

impl WebSocketLimits {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            unauthenticated: Arc::new(Semaphore::new(settings.websocket_max_unauthenticated)),
            open: Arc::new(Semaphore::new(settings.max_websocket_connections)),
            max_message_bytes: settings.websocket_max_message_bytes,
            max_subscriptions_per_connection: settings.max_subscriptions_per_connection,
        }
    }
}

pub async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    slot: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(unauthenticated) = Arc::clone(&state.websockets.unauthenticated).try_acquire_owned()
    else {
        return overloaded("too many WebSockets are waiting to authenticate; retry shortly");
    };
    // `None` over MAX_WEBSOCKET_CONNECTIONS: the socket opens only to be closed with 1013.
    let open = Arc::clone(&state.websockets.open).try_acquire_owned().ok();
    let subscriptions =
        SubscriptionLimit::new(state.websockets.max_subscriptions_per_connection, &headers);
    // The socket keeps the connection's place under MAX_CONNECTIONS for as long as it lives.
    let slot = slot.and_then(|Extension(slot)| slot.take());
    let address = peer_address(peer, &headers, state.limits.trust_proxy);
    let max_bytes = state.websockets.max_message_bytes;
    let life = state.lifecycle.socket();
    upgrade
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            match open {
                Some(open) => {
                    serve(
                        socket,
                        protocol,
                        state,
                        address,
                        unauthenticated,
                        subscriptions,
                        life,
                    )
                    .await;
                    drop(open);
                }
                None => {
                    let (mut sink, _) = socket.split();
                    close(&mut sink, TRY_AGAIN_LATER, "Too many WebSocket connections").await;
                }
            }
            drop(slot);
        })
}

async fn serve(
    socket: WebSocket,
    protocol: GraphQLProtocol,
    state: AppState,
    address: std::net::IpAddr,
    unauthenticated: OwnedSemaphorePermit,
    subscriptions: SubscriptionLimit,
    mut life: OpenSocket,
) {
    let (mut sink, mut stream) = socket.split();
    let init = match tokio::time::timeout(INIT_TIMEOUT, connection_init(&mut stream)).await {
        Ok(Ok(init)) => init,
        Ok(Err(Refusal::Gone)) => return,
        Ok(Err(Refusal::TooBig)) => {
            return close(&mut sink, MESSAGE_TOO_BIG, "Message too big").await;
        }
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
    // The connection is one request of its caller's allowance.
    let session = state
        .services
        .open_session(
            init.authorization.as_ref().map(Option::as_deref),
            address,
            1,
        )
        .await;
    drop(unauthenticated);
    let session = match session {
        Ok(session) => session,
        Err(ServiceError::RateLimited { .. }) => {
            return close(&mut sink, TOO_MANY_REQUESTS, "Too many requests").await;
        }
        Err(error) => {
            tracing::warn!(code = %error.code(), "cannot authenticate a WebSocket");
            return close(&mut sink, INTERNAL_ERROR, "Internal server error").await;
        }
    };
    // Admin and client tokens may connect; what each may subscribe to is the service's call.
    let Some(expires_at) = session.caller().token_expires_at() else {
        return close(&mut sink, FORBIDDEN, "Forbidden").await;
    };
    let token_lifetime = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let mut data = Data::default();
    data.insert(session);
    // A message over the limit ends the stream; the socket is then closed with 1009.
    let too_big = Arc::new(AtomicBool::new(false));
    let stream = stream.take_while({
        let too_big = Arc::clone(&too_big);
        move |item| {
            let go_on = match item {
                Ok(_) => true,
                Err(error) => {
                    too_big.store(is_too_big(error), Ordering::Relaxed);
                    false
                }
            };
            std::future::ready(go_on)
        }
    });
    // async-graphql writes into a channel rather than the socket, so that we keep the socket
    // and can close it ourselves when the token expires (and answer a refused subscribe).
    let (outgoing, mut to_send) = futures::channel::mpsc::channel::<Message>(16);
    let subscriptions = Arc::new(subscriptions);
    let stream = stream.filter_map({
        let (subscriptions, mut refusals) = (Arc::clone(&subscriptions), outgoing.clone());
        move |item| {
            let passed = match &item {
                Ok(Message::Text(text)) => match subscriptions.incoming(text) {
                    Verdict::Pass => Some(item),
                    Verdict::Refuse(refusal) => {
                        // The channel is only full if the peer reads nothing; then it gets
                        // no refusal either.
                        let _ = refusals.try_send(Message::Text(refusal.into()));
                        None
                    }
                },
                _ => Some(item),
            };
            std::future::ready(passed)
        }
    });
    // async-graphql answers the `connection_init` we already read with its `connection_ack`.
    let stream = futures::stream::once(async move { Ok(init.message) }).chain(stream);
    let connection = GraphQLWebSocket::new_with_pair(outgoing, stream, state.api.clone(), protocol)
        .with_data(data)
        .serve();
    let forward = async {
        while let Some(message) = to_send.next().await {
            if let Message::Text(text) = &message {
                subscriptions.outgoing(text);
            }
            if sink.send(message).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = futures::future::join(connection, forward) => {
            if too_big.load(Ordering::Relaxed) {
                close(&mut sink, MESSAGE_TOO_BIG, "Message too big").await;
            }
        }
        () = tokio::time::sleep(token_lifetime) => {
            close(&mut sink, FORBIDDEN, "Forbidden: the token expired").await;
        }
        // graphql-ws reconnects after 1001 (through the load balancer, to another instance)
        // and subscribes again.
        () = life.going_away() => {
            close(&mut sink, GOING_AWAY, "Going away: the server is restarting").await;
        }
    }
}

async fn close(sink: &mut (impl futures::Sink<Message> + Unpin), code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    // The peer may already be gone; there is nobody left to tell.
    let _ = sink.send(Message::Close(Some(frame))).await;
}
