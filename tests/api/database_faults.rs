//! PostgreSQL going away and coming back, simulated by a TCP proxy the test can cut: requests
//! fail fast with a retryable code, and the service recovers by itself with nothing lost.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, Options, backends, error_codes, run_on};

struct DbProxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    /// When down: hold new connections open without an answer, as a host that vanished would,
    /// instead of closing them.
    blackhole: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl DbProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let blackhole = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up_flag, blackhole_flag, tasks) = (
            Arc::clone(&up),
            Arc::clone(&blackhole),
            Arc::clone(&connections),
        );
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up_flag.load(Ordering::SeqCst) {
                    if blackhole_flag.load(Ordering::SeqCst) {
                        tasks.lock().unwrap().push(tokio::spawn(async move {
                            let _held = client;
                            std::future::pending::<()>().await;
                        }));
                    }
                    continue; // otherwise dropped: closed as soon as it opens
                }
                tasks.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Self {
            address,
            up,
            blackhole,
            connections,
        }
    }

    /// The database "goes down": every open connection is cut, new ones are dropped.
    fn go_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The database host vanishes: open connections are cut, new ones get no answer at all.
    fn vanish(&self) {
        self.blackhole.store(true, Ordering::SeqCst);
        self.go_down();
    }

    fn come_back(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
        self.blackhole.store(false, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn requests_fail_fast_while_postgres_is_down_and_recover_after() {
    for backend in backends() {
        let Backend::Postgres(url) = &backend else {
            continue; // an embedded SQLite file cannot go away
        };
        let mut proxied = reqwest::Url::parse(url).unwrap();
        let upstream: SocketAddr = format!(
            "{}:{}",
            proxied.host_str().unwrap(),
            proxied.port().unwrap_or(5432)
        )
        .parse()
        .unwrap();
        let proxy = Arc::new(DbProxy::start(upstream).await);
        proxied.set_port(Some(proxy.address.port())).unwrap();
        let options = Options {
            database_url: Some(proxied.to_string()),
            database_acquire_timeout: Duration::from_millis(1_000),
            ..Options::default()
        };
        let proxy_in_test = Arc::clone(&proxy);
        run_on(&backend, &options, &move |app| {
            let proxy = Arc::clone(&proxy_in_test);
            async move {
                let kept = app.create_client("Kept", "kept@example.com").await;
                app.add_favorite(&kept, 4).await;

                proxy.go_down();
                let started = Instant::now();
                let body = app.graphql("{ clients { totalCount } }", json!({})).await;
                assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"], "{body}");
                let body = app
                    .graphql(
                        "mutation { createClient(input: {name: \"Lost\", email: \"lost@example.com\"}) { id } }",
                        json!({}),
                    )
                    .await;
                assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"], "{body}");
                let elapsed = started.elapsed();
                eprintln!("two requests while PostgreSQL was down took {elapsed:?}");
                assert!(elapsed < Duration::from_secs(5), "bounded by the acquire timeout: {elapsed:?}");
                let ready = app.http.get(format!("{}/readyz", app.address)).send().await.unwrap();
                assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
                let healthy = app.http.get(format!("{}/healthz", app.address)).send().await.unwrap();
                assert_eq!(healthy.status(), StatusCode::OK, "the process itself is fine");

                proxy.come_back();
                let deadline = Instant::now() + Duration::from_secs(15);
                loop {
                    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.unwrap();
                    if ready.status() == StatusCode::OK {
                        break;
                    }
                    assert!(Instant::now() < deadline, "no recovery without a restart");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let data = app
                    .data(
                        "query($id: UUID!) { client(id: $id) { name favorites { nodes { productId } } } }",
                        json!({ "id": kept }),
                    )
                    .await;
                assert_eq!(data["client"]["name"], "Kept", "the acknowledged write survived");
                assert_eq!(data["client"]["favorites"]["nodes"][0]["productId"], 4);
                let count = app.data("{ clients { totalCount } }", json!({})).await;
                assert_eq!(count["clients"]["totalCount"], 1, "the refused write did not happen");

                // A host that vanishes answers nothing: the wait is bounded by the acquire
                // timeout (1 s here), not by TCP's own minutes.
                proxy.vanish();
                let started = Instant::now();
                let body = app.graphql("{ clients { totalCount } }", json!({})).await;
                let elapsed = started.elapsed();
                eprintln!("a request while PostgreSQL was unreachable took {elapsed:?}");
                assert_eq!(error_codes(&body), ["DATABASE_UNAVAILABLE"], "{body}");
                assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
                proxy.come_back();
                let deadline = Instant::now() + Duration::from_secs(15);
                loop {
                    let body = app.graphql("{ clients { totalCount } }", json!({})).await;
                    if error_codes(&body).is_empty() {
                        assert_eq!(body["data"]["clients"]["totalCount"], 1);
                        break;
                    }
                    assert!(Instant::now() < deadline, "no recovery: {body}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
        .await;
    }
}
