//! At most `MAX_SUBSCRIPTIONS_PER_CONNECTION` subscriptions on one WebSocket. The count follows
//! the messages both ways: a socket's `subscribe` (`start` in the older protocol) adds its id,
//! and a `complete` (`stop`), from either side, ends it. A subscribe over the cap is not passed
//! on: its id gets an `error` (code `OVERLOADED`) and the connection's other subscriptions go on.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::http::HeaderMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

use crate::domain::ErrorCode;
use crate::sync::lock;

pub struct SubscriptionLimit {
    max: usize,
    /// graphql-transport-ws, or the older graphql-ws (whose errors are not a list).
    transport_ws: bool,
    active: Mutex<HashSet<String>>,
}

/// What to do with a message from the socket's peer.
pub enum Verdict {
    Pass,
    /// Not passed on; this goes back to the peer instead.
    Refuse(String),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "payload")]
    _payload: IgnoredAny,
}

impl SubscriptionLimit {
    /// `headers`: the upgrade request's, whose `Sec-WebSocket-Protocol` async-graphql chose by
    /// (the first it speaks, in the peer's order).
    pub fn new(max: usize, headers: &HeaderMap) -> Self {
        let transport_ws = headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .find(|protocol| matches!(*protocol, "graphql-transport-ws" | "graphql-ws"))
            .is_none_or(|protocol| protocol == "graphql-transport-ws");
        Self {
            max,
            transport_ws,
            active: Mutex::new(HashSet::new()),
        }
    }

    pub fn incoming(&self, text: &str) -> Verdict {
        let Ok(Envelope {
            kind, id: Some(id), ..
        }) = serde_json::from_str::<Envelope>(text)
        else {
            return Verdict::Pass;
        };
        let mut active = lock(&self.active);
        match kind.as_str() {
            "subscribe" | "start" if !active.contains(&id) && active.len() >= self.max => {
                Verdict::Refuse(self.refusal(&id))
            }
            "subscribe" | "start" => {
                active.insert(id);
                Verdict::Pass
            }
            "complete" | "stop" => {
                active.remove(&id);
                Verdict::Pass
            }
            _ => Verdict::Pass,
        }
    }

    /// A message to the peer: a `complete` (or an `error`, which ends a subscription too)
    /// frees its id.
    pub fn outgoing(&self, text: &str) {
        if let Ok(Envelope {
            kind, id: Some(id), ..
        }) = serde_json::from_str::<Envelope>(text)
            && matches!(kind.as_str(), "complete" | "error")
        {
            lock(&self.active).remove(&id);
        }
    }

    fn refusal(&self, id: &str) -> String {
        let message = format!(
            "a WebSocket may hold at most {} subscriptions; complete one first",
            self.max
        );
        let error =
            json!({ "message": message, "extensions": { "code": ErrorCode::Overloaded.as_str() } });
        let payload = if self.transport_ws {
            json!([error])
        } else {
            error
        };
        json!({ "type": "error", "id": id, "payload": payload }).to_string()
    }
}
