//! Reading a WebSocket's `connection_init` before anything else is trusted: each message is
//! parsed into a small typed value (its `type`, and for `connection_init` only the payload's
//! `Authorization` entry), never into a whole JSON tree, and messages are capped in size by the
//! socket before they get here.

use std::fmt;

use axum::extract::ws::Message;
use futures::StreamExt;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Why no `connection_init` came.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The peer closed the socket, broke the protocol's framing, or sent garbage.
    Gone,
    /// A message over `WEBSOCKET_MAX_MESSAGE_BYTES`.
    TooBig,
    /// The peer tried to subscribe before `connection_init`.
    Unauthorized,
}

/// What `connection_init` carried.
pub struct Init {
    /// The message as received, for async-graphql to answer with `connection_ack`.
    pub message: Message,
    /// `None`: no `Authorization` entry; `Some(None)`: one that is not text.
    pub authorization: Option<Option<String>>,
}

/// Waits for `connection_init`. Pings and the like may come first; they need no answer before
/// the handshake.
pub async fn connection_init(
    stream: &mut (impl futures::Stream<Item = Result<Message, axum::Error>> + Unpin),
) -> Result<Init, Refusal> {
    while let Some(item) = stream.next().await {
        let message = item.map_err(|error| {
            if is_too_big(&error) {
                Refusal::TooBig
            } else {
                Refusal::Gone
            }
        })?;
        let text = match &message {
            Message::Text(text) => text.as_str(),
            Message::Close(_) => return Err(Refusal::Gone),
            _ => continue,
        };
        let Ok(envelope) = serde_json::from_str::<Envelope>(text) else {
            return Err(Refusal::Gone);
        };
        match envelope.kind.as_str() {
            "connection_init" => {
                let init: InitMessage = serde_json::from_str(text).map_err(|_| Refusal::Gone)?;
                let authorization = init.payload.and_then(|payload| payload.authorization);
                return Ok(Init {
                    message,
                    authorization,
                });
            }
            "subscribe" | "start" => return Err(Refusal::Unauthorized),
            _ => {}
        }
    }
    Err(Refusal::Gone)
}

/// Whether a socket error is a message or frame over the size limit.
pub fn is_too_big(error: &axum::Error) -> bool {
    let source: &(dyn std::error::Error + 'static) = error;
    std::iter::successors(Some(source), |error| error.source()).any(|error| {
        matches!(
            error.downcast_ref::<tungstenite::Error>(),
            Some(tungstenite::Error::Capacity(_))
        )
    })
}

/// Any message: its type, and nothing else read into memory.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, rename = "payload")]
    _payload: IgnoredAny,
}

#[derive(Deserialize)]
struct InitMessage {
    #[serde(default)]
    payload: Option<InitPayload>,
}

/// The `connection_init` payload: only its `Authorization` entry, whatever the case of the key.
struct InitPayload {
    authorization: Option<Option<String>>,
}

impl<'de> Deserialize<'de> for InitPayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = InitPayload;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InitPayload, A::Error> {
                let mut authorization = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key.eq_ignore_ascii_case("authorization") {
                        let value: Option<String> = map
                            .next_value::<serde_json::Value>()
                            .map(|value| value.as_str().map(str::to_owned))?;
                        authorization = Some(value);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(InitPayload { authorization })
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(text: &str) -> Result<Option<Option<String>>, Refusal> {
        let mut stream = futures::stream::iter([Ok(Message::Text(text.into()))]);
        futures::executor::block_on(connection_init(&mut stream)).map(|init| init.authorization)
    }

    #[test]
    fn only_the_authorization_entry_is_read_whatever_its_case() {
        assert_eq!(
            init(
                r#"{"type":"connection_init","payload":{"big":[1,2,3],"authorization":"Bearer x"}}"#
            ),
            Ok(Some(Some("Bearer x".to_owned())))
        );
        assert_eq!(init(r#"{"type":"connection_init"}"#), Ok(None));
        assert_eq!(
            init(r#"{"type":"connection_init","payload":{"Authorization":7}}"#),
            Ok(Some(None))
        );
        assert_eq!(
            init(r#"{"type":"subscribe","payload":{}}"#),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(init(r#"[1,2,3]"#), Err(Refusal::Gone));
    }
}
