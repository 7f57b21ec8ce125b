//! Serving connections ourselves rather than with `axum::serve`, for the limits it lacks:
//! - a deadline for a request's headers (hyper starts it when the connection is ready for a
//!   request, so it also closes idle keep-alive connections): a slowloris holds nothing;
//! - a cap on open connections, WebSockets included (`ConnectionSlot`): beyond it, new
//!   connections wait in the kernel's accept queue instead of taking file descriptors;
//! - HTTP/1.1 only: what load balancers and browsers speak to us (an HTTP/2 connection would
//!   escape the header deadline);
//! - a connection just refused for overload is not read again for a moment (`paced.rs`);
//! - while draining, every answer says `Connection: close`, so that no caller (a load
//!   balancer's pool above all) is left holding an idle connection we are about to close: that
//!   race is a failed request.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use super::Lifecycle;
use super::paced::{Paced, PauseReading, Refused};
use crate::config::Settings;

/// File descriptors kept for anything but callers' connections (besides the database pool).
const FILE_RESERVE: usize = 64;

#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

impl ConnectionLimits {
    /// `MAX_CONNECTIONS`, fitted to the open-file limit; `HTTP_HEADER_TIMEOUT_MS`.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            max_connections: fit_to_file_limit(
                settings.max_connections,
                FILE_RESERVE + settings.database_max_connections as usize,
            ),
            header_timeout: settings.http_header_timeout,
        }
    }
}

/// The connection's place under `MAX_CONNECTIONS`. A WebSocket handler takes it, so that the
/// socket keeps it once hyper is done with the connection.
#[derive(Clone)]
pub struct ConnectionSlot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl ConnectionSlot {
    /// The permit, for whoever outlives the HTTP connection (`None` if already taken).
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        crate::sync::lock(&self.0).take()
    }
}

/// Serves `app` until `stop` resolves; then stops accepting and gives open connections up to
/// `grace` to finish (each closes after its response in flight).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    lifecycle: Lifecycle,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Dropped to tell connections to finish; each holds a receiver of the second until it ends.
    let (stopping, stop_seen) = watch::channel(());
    let (open, open_watch) = watch::channel(());
    let mut stop = pin!(stop);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut stop => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before we took it: the
                    // listener itself is fine; a pause keeps an EMFILE from spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            lifecycle.clone(),
            limits.header_timeout,
            ConnectionSlot(Arc::new(Mutex::new(Some(slot)))),
            Stopping {
                seen: stop_seen.clone(),
                _open: open_watch.clone(),
            },
        ));
    }
    drop(listener);
    drop(stopping);
    drop(open_watch);
    if tokio::time::timeout(grace, open.closed()).await.is_err() {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "in-flight requests did not finish in time; stopping anyway"
        );
    }
}

/// A connection's view of shutdown: `seen` changes when the server stops accepting, and the
/// server waits until every `_open` is dropped.
struct Stopping {
    seen: watch::Receiver<()>,
    _open: watch::Receiver<()>,
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    lifecycle: Lifecycle,
    header_timeout: Duration,
    slot: ConnectionSlot,
    mut stopping: Stopping,
) {
    // Small answers should not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let request_slot = slot.clone();
    let service = app.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(request_slot.clone());
        request.map(axum::body::Body::new)
    });
    let pause = PauseReading::default();
    let refused = pause.clone();
    let service = service.map_response(move |mut response| {
        if response.extensions().get::<Refused>().is_some() {
            refused.request();
        }
        // Not on a WebSocket's 101: its connection is the socket.
        if lifecycle.is_draining() && response.status() != StatusCode::SWITCHING_PROTOCOLS {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    });
    let service = TowerToHyperService::new(service.map_err(|never: Infallible| match never {}));
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let mut connection = pin!(
        builder.serve_connection_with_upgrades(TokioIo::new(Paced::new(stream, pause)), service)
    );
    // Only `seen` goes into the future: `_open` must live until the connection has ended.
    let seen = &mut stopping.seen;
    let stopping = async move { while seen.changed().await.is_ok() {} };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopping => {
            // Finish the response in flight, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %peer, "connection ended with an error");
    }
    drop(slot);
}

/// The open-file limit raised as far as allowed, and `wanted` connections cut to what it
/// leaves after `reserve` descriptors (the database pool, Redis, the catalog, files).
#[cfg(unix)]
fn fit_to_file_limit(wanted: usize, reserve: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    let available = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return wanted;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    };
    let fits = available.saturating_sub(reserve).max(1);
    if fits < wanted {
        tracing::warn!(
            max_connections = wanted,
            open_file_limit = available,
            lowered_to = fits,
            "MAX_CONNECTIONS is more than the open-file limit allows; lowered"
        );
        return fits;
    }
    wanted
}

#[cfg(not(unix))]
fn fit_to_file_limit(wanted: usize, _reserve: usize) -> usize {
    wanted
}
