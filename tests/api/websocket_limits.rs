//! WebSockets cost little before they authenticate: messages and frames are capped (a bigger
//! one closes the socket with 1009, without being read into memory), `connection_init` is read
//! into a small typed value, and only so many unauthenticated sockets may be open at once.

use std::time::Duration;

use futures::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::binary::Server;
use crate::support::websocket::{connect, receive, send};

/// A WebSocket client that writes frames byte by byte, to send what a well-behaved client
/// library would not: a header announcing 12 MiB, or a message in many fragments.
struct RawSocket(TcpStream);

impl RawSocket {
    async fn open(address: &str) -> Self {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = format!(
            "GET /graphql/ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("handshake");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream
                .read_exact(&mut byte)
                .await
                .expect("a handshake answer");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self(stream)
    }

    /// A masked client frame; `announced` may claim more payload than is sent.
    async fn frame(&mut self, opcode: u8, fin: bool, payload: &[u8], announced: usize) {
        let mut bytes = vec![opcode | if fin { 0x80 } else { 0 }];
        match announced {
            0..=125 => bytes.push(0x80 | announced as u8),
            126..=65_535 => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(announced as u16).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(announced as u64).to_be_bytes());
            }
        }
        let mask = [7u8, 13, 42, 99];
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.0.write_all(&bytes).await.expect("send a frame");
    }

    /// The close code of the server's close frame.
    async fn close_code(&mut self) -> u16 {
        let read = async {
            loop {
                let mut header = [0u8; 2];
                self.0
                    .read_exact(&mut header)
                    .await
                    .expect("a frame from the server");
                let length = usize::from(header[1] & 0x7f);
                assert!(length <= 125, "a control frame");
                let mut payload = vec![0u8; length];
                self.0.read_exact(&mut payload).await.expect("its payload");
                if header[0] & 0x0f == 0x8 {
                    return u16::from_be_bytes([payload[0], payload[1]]);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a close frame in time")
    }
}

#[tokio::test]
async fn a_frame_announcing_more_than_the_limit_closes_the_socket_with_1009() {
    let server = Server::start(&[]).await;
    let mut socket = RawSocket::open(&server.address()).await;
    socket.frame(0x1, true, b"[", 12 * 1024 * 1024).await;
    assert_eq!(socket.close_code().await, 1009);
}

#[tokio::test]
async fn a_message_in_fragments_is_capped_as_a_whole() {
    let server = Server::start(&[("WEBSOCKET_MAX_MESSAGE_BYTES", "65536")]).await;
    let mut socket = RawSocket::open(&server.address()).await;
    let piece = vec![b' '; 30_000];
    socket.frame(0x1, false, &piece, piece.len()).await;
    socket.frame(0x0, false, &piece, piece.len()).await;
    socket.frame(0x0, false, &piece, piece.len()).await;
    assert_eq!(socket.close_code().await, 1009);
}

#[tokio::test]
async fn unauthenticated_sockets_sending_huge_messages_do_not_grow_the_server() {
    let server = Server::start(&[]).await;
    let before = server.peak_rss_mib();
    // One 12 MiB JSON array each: parsed whole, it used to cost ~300 MiB a socket.
    let array = format!("[{}0]", "0,".repeat(6 * 1024 * 1024));
    let senders = (0..8).map(|_| {
        let (base, array) = (server.base.clone(), array.clone());
        tokio::spawn(async move {
            let mut socket = connect(&base, "graphql-transport-ws").await;
            // The server may close while we are still sending: that is the point.
            let _ = socket.send(Message::Text(array.into())).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), receive(&mut socket)).await;
        })
    });
    for sender in senders {
        sender.await.expect("the sender ran");
    }
    let after = server.peak_rss_mib();
    assert!(
        after < before + 48,
        "peak RSS went from {before} MiB to {after} MiB"
    );
    eprintln!("unauthenticated 12 MiB messages on 8 sockets: peak RSS {before} MiB -> {after} MiB");
    // Still serving.
    assert_eq!(
        reqwest::get(format!("{}/healthz", server.base))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_authenticated_socket_is_capped_too() {
    let server = Server::start(&[]).await;
    let token = crate::support::binary::admin_token(&server).await;
    let mut socket = connect(&server.base, "graphql-transport-ws").await;
    send(
        &mut socket,
        serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await.unwrap()["type"],
        "connection_ack"
    );
    let big = format!(
        "{{\"type\":\"ping\",\"payload\":{{\"x\":\"{}\"}}}}",
        "y".repeat(100_000)
    );
    let _ = socket.send(Message::Text(big.into())).await;
    let code = receive(&mut socket).await.expect_err("closed");
    assert_eq!(code.map(u16::from), Some(1009));
}

#[tokio::test]
async fn beyond_the_cap_of_unauthenticated_sockets_the_upgrade_is_refused_with_503() {
    let server = Server::start(&[("WEBSOCKET_MAX_UNAUTHENTICATED", "3")]).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        waiting.push(RawSocket::open(&server.address()).await);
    }
    let refused = reqwest::Client::new()
        .get(format!("{}/graphql/ws", server.base))
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "OVERLOADED");
    // One of them goes: there is room again.
    drop(waiting.pop());
    let mut room = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(server.address()))
            .await
            .is_ok()
        {
            let attempt = tokio::spawn({
                let address = server.address();
                async move { RawSocket::open(&address).await }
            })
            .await;
            if attempt.is_ok() {
                room = true;
                break;
            }
        }
    }
    assert!(room, "a socket could open again once another went");
}
