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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::overloaded;
use super::paced::Refused;
use crate::config::Settings;

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
    /// `MAX_CONCURRENT_REQUESTS` (0: eight per core) and `MAX_QUEUED_REQUESTS`.
    pub fn from_settings(settings: &Settings) -> Self {
        let running = match settings.max_concurrent_requests {
            0 => default_concurrency(),
            n => n,
        };
        Self::new(running, settings.max_queued_requests)
    }

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
fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get()) * 8
}

pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Some(permit) = admission.turn().await else {
        return refused();
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

impl Admission {
    /// A turn to work: at once, after a short wait in the queue, or `None` (refused).
    async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.running).try_acquire_owned() {
            return Some(permit);
        }
        let _place = QueuePlace::take(&self.queued, self.max_queued)?;
        // `_place` is given back however this ends, a caller that went away included: a place
        // kept by a dropped request would shrink the queue for good.
        tokio::time::timeout(QUEUE_WAIT, Arc::clone(&self.running).acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// A place in the queue, given back when dropped.
struct QueuePlace<'a>(&'a AtomicUsize);

impl<'a> QueuePlace<'a> {
    fn take(queued: &'a AtomicUsize, max_queued: usize) -> Option<Self> {
        let place = Self(queued);
        (queued.fetch_add(1, Ordering::AcqRel) < max_queued).then_some(place)
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn refused() -> Response {
    let mut response = overloaded("the server is at capacity; retry shortly");
    // The connection waits a moment before it reads the caller's next request (paced.rs).
    response.extensions_mut().insert(Refused);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_caller_that_goes_away_while_queued_gives_its_place_back() {
        let admission = Admission::new(1, 1);
        let running = admission.turn().await.expect("a turn at once");
        let queued = tokio::spawn({
            let admission = admission.clone();
            async move { admission.turn().await.is_some() }
        });
        tokio::task::yield_now().await;
        assert_eq!(admission.queued.load(Ordering::Acquire), 1);
        queued.abort();
        let _ = queued.await;
        assert_eq!(admission.queued.load(Ordering::Acquire), 0);
        // The place is free again: the next caller queues, and gets the turn when it frees.
        let next = tokio::spawn({
            let admission = admission.clone();
            async move { admission.turn().await.is_some() }
        });
        tokio::task::yield_now().await;
        drop(running);
        assert!(next.await.expect("the task ran"), "queued, then admitted");
    }

    #[tokio::test]
    async fn beyond_the_queue_a_caller_is_refused_at_once() {
        let admission = Admission::new(1, 0);
        let _running = admission.turn().await.expect("a turn at once");
        assert!(admission.turn().await.is_none());
        assert_eq!(admission.queued.load(Ordering::Acquire), 0);
    }
}
