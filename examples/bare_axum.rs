//! Baseline for `bench/run`: the cheapest possible axum endpoint that looks like the real
//! server's `{__typename}` answer (same status, bytes and content type), on the same tokio
//! runtime flavour. It reads the request body but does no GraphQL work.
//!
//!   cargo run --release --example bare_axum -- 127.0.0.1:0
//!
//! Prints `listening <port>` once bound.

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

const ANSWER: &str = r#"{"data":{"__typename":"Query"}}"#;

async fn graphql(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], ANSWER)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening {}", listener.local_addr()?.port());
    axum::serve(listener, Router::new().route("/graphql", post(graphql))).await
}
