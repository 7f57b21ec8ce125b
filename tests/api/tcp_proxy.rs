//! A TCP proxy a test can cut, to play a server (PostgreSQL, Redis) going away and coming back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct TcpProxy {
    pub address: SocketAddr,
    up: Arc<AtomicBool>,
    /// When down: hold new connections open without an answer, as a host that vanished would,
    /// instead of closing them.
    blackhole: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
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
