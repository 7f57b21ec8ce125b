//! Connections that never finish their headers are closed after `HTTP_HEADER_TIMEOUT_MS`, and
//! open connections are capped at `MAX_CONNECTIONS`: beyond it they wait in the kernel's accept
//! queue, taking no file descriptor of the server's.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::binary::Server;

async fn half_a_header(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        .await
        .expect("write");
    stream
}

/// Whether the server has closed its side (a read sees the end, or a reset).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 256];
    matches!(
        tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn half_sent_headers_are_dropped_and_open_connections_are_capped() {
    let server = Server::start(&[
        ("HTTP_HEADER_TIMEOUT_MS", "1000"),
        ("MAX_CONNECTIONS", "40"),
    ])
    .await;
    let idle_files = server.open_files();
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(half_a_header(&server.address()).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let files = server.open_files();
    assert!(
        files <= idle_files + 40 + 2,
        "300 slow clients hold {files} descriptors (idle: {idle_files}, cap: 40)"
    );

    // Past the header timeout the server lets them go, in waves of 40, and then a real request
    // gets through.
    let started = Instant::now();
    let answered = loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(3),
            reqwest::get(format!("{}/healthz", server.base)),
        )
        .await;
        if let Ok(Ok(response)) = attempt {
            break response.status();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never served again"
        );
    };
    assert_eq!(answered, 200);
    let mut closed = 0;
    for stream in &mut slow[..40] {
        closed += usize::from(closed_by_server(stream).await);
    }
    assert_eq!(
        closed, 40,
        "the first slow clients were closed by the server"
    );
    eprintln!(
        "slowloris: 300 half-sent headers held {files} descriptors (idle {idle_files}); a request got through after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_same_timeout() {
    let server = Server::start(&[("HTTP_HEADER_TIMEOUT_MS", "500")]).await;
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n")
        .await
        .expect("write");
    let mut answer = [0u8; 512];
    let read = stream.read(&mut answer).await.expect("an answer");
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        closed_by_server(&mut stream).await,
        "still open after 900 ms idle"
    );
}
