//! Where the instance is in its life, for what changes at shutdown: serving; draining (not
//! ready, so a load balancer stops sending, yet still serving, and asking clients not to keep
//! connections); going away (WebSockets are told so with 1001 and reconnect elsewhere).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

#[derive(Clone)]
pub struct Lifecycle(Arc<Inner>);

struct Inner {
    draining: AtomicBool,
    going_away: watch::Sender<bool>,
    /// One receiver per open WebSocket (`Lifecycle::socket`), so shutdown can wait for their
    /// close frames to go out.
    sockets: watch::Sender<()>,
}

/// Held by an open WebSocket until it has said goodbye.
pub struct OpenSocket {
    going_away: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
}

impl OpenSocket {
    /// Resolves when the instance is going away (and never before).
    pub async fn going_away(&mut self) {
        if self.going_away.wait_for(|going| *going).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self(Arc::new(Inner {
            draining: AtomicBool::new(false),
            going_away: watch::channel(false).0,
            sockets: watch::channel(()).0,
        }))
    }
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    pub fn drain(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    pub fn socket(&self) -> OpenSocket {
        OpenSocket {
            going_away: self.0.going_away.subscribe(),
            _open: self.0.sockets.subscribe(),
        }
    }

    /// Tells every WebSocket to close with 1001.
    pub fn go_away(&self) {
        self.0.going_away.send_replace(true);
        let open = self.0.sockets.receiver_count();
        if open > 0 {
            tracing::info!(open, "closing WebSockets: going away");
        }
    }

    /// Waits up to `within` for every WebSocket to have closed.
    pub async fn sockets_closed(&self, within: Duration) {
        if tokio::time::timeout(within, self.0.sockets.closed())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.0.sockets.receiver_count(),
                "WebSockets did not close in time"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sockets_hear_going_away_and_shutdown_waits_for_them() {
        let lifecycle = Lifecycle::default();
        let mut socket = lifecycle.socket();
        let closed = tokio::spawn(async move {
            socket.going_away().await;
            drop(socket);
        });
        assert!(!lifecycle.is_draining());
        lifecycle.drain();
        assert!(lifecycle.is_draining());
        lifecycle.go_away();
        lifecycle.sockets_closed(Duration::from_secs(5)).await;
        assert_eq!(lifecycle.0.sockets.receiver_count(), 0);
        closed.await.expect("the socket task ends");
    }
}
