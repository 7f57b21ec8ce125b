//! The benchmark's probe of cross-instance delay (bench/run): subscribes to one client's
//! `favoritesChanged` on instance A, toggles a product on that client through instance B, one
//! write at a time, and times each event on A from the moment B answered the write (the change
//! had committed by then). Prints one JSON line: samples, p50/p99/max in milliseconds, and how
//! many events arrived before B's answer did (counted as 0 ms).
//!
//! `change_delay SUBSCRIBE_URL WRITE_URL TOKEN CLIENT_ID SECONDS [INTERVAL_MS]`

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An event that takes longer than this is counted as lost.
const LOST_AFTER: Duration = Duration::from_secs(5);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [subscribe_url, write_url, token, client, seconds, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: change_delay SUBSCRIBE_URL WRITE_URL TOKEN CLIENT_ID SECONDS [INTERVAL_MS]"
                .into(),
        );
    };
    let interval = Duration::from_millis(rest.first().map_or(Ok(50), |ms| ms.parse())?);
    let until = Instant::now() + Duration::from_secs(seconds.parse()?);
    let mut socket = subscribe(subscribe_url, token, client).await?;
    let http = reqwest::Client::new();
    let mut delays = Vec::new();
    let (mut early, mut lost) = (0, 0);
    let mut add = true;
    while Instant::now() < until {
        let field = if add { "addFavorite" } else { "removeFavorite" };
        add = !add;
        let body = json!({
            "query": format!("mutation($c:UUID!){{{field}(clientId:$c,productId:1){{id}}}}"),
            "variables": { "c": client },
        });
        // The event may come while the write's answer is still on its way.
        let write = http
            .post(format!("{write_url}/graphql"))
            .bearer_auth(token)
            .json(&body)
            .send();
        let event = tokio::time::timeout(LOST_AFTER, next_event(&mut socket));
        tokio::pin!(write, event);
        let (mut answered, mut arrived) = (None, None);
        while answered.is_none() || arrived.is_none() {
            tokio::select! {
                response = &mut write, if answered.is_none() => {
                    let response = response?;
                    if !response.status().is_success() {
                        return Err(format!("the write failed: {}", response.status()).into());
                    }
                    answered = Some(Instant::now());
                }
                event = &mut event, if arrived.is_none() => {
                    match event {
                        Ok(result) => { result?; arrived = Some(Instant::now()); }
                        Err(_) => { lost += 1; break; }
                    }
                }
            }
        }
        if let (Some(answered), Some(arrived)) = (answered, arrived) {
            match arrived.checked_duration_since(answered) {
                Some(delay) => delays.push(delay),
                None => {
                    early += 1;
                    delays.push(Duration::ZERO);
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
    delays.sort();
    let at = |quantile: f64| {
        delays
            .get(((delays.len() as f64 * quantile).ceil() as usize).saturating_sub(1))
            .map_or(-1.0, |delay| delay.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        json!({
            "samples": delays.len(), "lost": lost, "before_answer": early,
            "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0),
        })
    );
    Ok(())
}

async fn subscribe(
    url: &str,
    token: &str,
    client: &str,
) -> Result<Socket, Box<dyn std::error::Error>> {
    let mut request =
        format!("{}/graphql/ws", url.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })))
        .await?;
    socket
        .send(send(json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: UUID!) { favoritesChanged(clientId: $id) { id } }",
            "variables": { "id": client } } })))
        .await?;
    // A ping answered means the subscription is in place.
    socket.send(send(json!({ "type": "ping" }))).await?;
    loop {
        if message_type(&mut socket).await? == "pong" {
            return Ok(socket);
        }
    }
}

/// Waits for the next `next` message.
async fn next_event(socket: &mut Socket) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        match message_type(socket).await?.as_str() {
            "next" => return Ok(()),
            "error" | "complete" => return Err("the subscription ended".into()),
            _ => continue,
        }
    }
}

async fn message_type(socket: &mut Socket) -> Result<String, Box<dyn std::error::Error>> {
    loop {
        match socket.next().await.ok_or("the socket closed")?? {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text)?;
                return Ok(value["type"].as_str().unwrap_or_default().to_owned());
            }
            Message::Close(_) => return Err("the socket closed".into()),
            _ => continue,
        }
    }
}
