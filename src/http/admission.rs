//! Admission control: at most `MAX_CONCURRENT_REQUESTS` API requests do work at once, a few more
//! (`MAX_QUEUED_REQUESTS`) may wait a moment (`QUEUE_WAIT`) for a turn, and beyond that a
//! request is refused at once with 503, `Retry-After` and code `OVERLOADED`. Under overload the
//! server then spends its CPU on answers that finish, not on a growing pile of half-done ones,
//! and its memory stays bounded: goodput holds and nobody waits seconds to be told no. Health,
//! readiness and metrics are not limited (they are not behind this layer).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use super::error::overloaded;

/// The longest a request waits in the queue for a turn: a queued request should start about as
/// soon as one running finishes; waiting longer means the server is behind, and saying so now
/// is better than later.
const QUEUE_WAIT: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct Admission {
    running: Arc<Semaphore>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
}

impl Admission {
    pub fn new(max_running: usize, max_queued: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(max_running)),
            queued: Arc::new(AtomicUsize::new(0)),
            max_queued,
        }
    }
}

/// Eight per core: enough for requests waiting on the database or the catalog to leave the CPU
/// busy, few enough that their memory stays small.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get()) * 8
}

pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let permit = match Arc::clone(&admission.running).try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            if admission.queued.fetch_add(1, Ordering::AcqRel) >= admission.max_queued {
                admission.queued.fetch_sub(1, Ordering::AcqRel);
                return refused();
            }
            let waited =
                tokio::time::timeout(QUEUE_WAIT, Arc::clone(&admission.running).acquire_owned())
                    .await;
            admission.queued.fetch_sub(1, Ordering::AcqRel);
            match waited {
                Ok(Ok(permit)) => permit,
                _ => return refused(),
            }
        }
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

fn refused() -> Response {
    overloaded("the server is at capacity; retry shortly")
}
