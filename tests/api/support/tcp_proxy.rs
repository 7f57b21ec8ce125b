//! A TCP proxy a test can cut, to play a server (PostgreSQL, Redis) going away and coming back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct TcpProxy {
    pub address: SocketAddr,
    up: Arc<AtomicBool>,
    /// When down: hold new connections open without an answer, as a host that vanished would,
    /// instead of closing them.
    blackhole: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Connections numbered below this forward nothing more (see `freeze`).
    frozen_below: Arc<AtomicU64>,
    next_connection: Arc<AtomicU64>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let blackhole = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let frozen_below = Arc::new(AtomicU64::new(0));
        let next_connection = Arc::new(AtomicU64::new(0));
        let (up_flag, blackhole_flag, tasks) = (
            Arc::clone(&up),
            Arc::clone(&blackhole),
            Arc::clone(&connections),
        );
        let (frozen_flag, numbering) = (Arc::clone(&frozen_below), Arc::clone(&next_connection));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up_flag.load(Ordering::SeqCst) {
                    if blackhole_flag.load(Ordering::SeqCst) {
                        tasks.lock().unwrap().push(tokio::spawn(async move {
                            let _held = client;
                            std::future::pending::<()>().await;
                        }));
                    }
                    continue; // otherwise dropped: closed as soon as it opens
                }
                let number = numbering.fetch_add(1, Ordering::SeqCst);
                let frozen = Arc::clone(&frozen_flag);
                tasks.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let is_frozen = || number < frozen.load(Ordering::SeqCst);
                        let (from_client, to_client) = client.into_split();
                        let (from_server, to_server) = server.into_split();
                        tokio::join!(
                            forward(from_client, to_server, is_frozen),
                            forward(from_server, to_client, is_frozen),
                        );
                    }
                }));
            }
        });
        Self {
            address,
            up,
            blackhole,
            connections,
            frozen_below,
            next_connection,
        }
    }

    /// The open connections go silent for good, without being closed, as when a firewall or
    /// NAT between the two forgets them; new connections work.
    pub fn freeze(&self) {
        self.frozen_below.store(
            self.next_connection.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }

    /// The server "goes down": every open connection is cut, new ones are dropped.
    pub fn go_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The server's host vanishes: open connections are cut, new ones get no answer at all.
    pub fn vanish(&self) {
        self.blackhole.store(true, Ordering::SeqCst);
        self.go_down();
    }

    pub fn come_back(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
        self.blackhole.store(false, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies one direction of a connection until either end closes it, or holds it open and silent
/// once it is frozen.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, frozen: impl Fn() -> bool) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if frozen() {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
