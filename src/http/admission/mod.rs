//! Admission control: a new API request is admitted when one of the `MAX_CONCURRENT_REQUESTS`
//! slots for work is free (`work.rs`: a request holds one only while it runs or is ready to
//! run) and fewer than `MAX_IN_FLIGHT_REQUESTS` are in flight at all. Otherwise it waits in a
//! queue (`MAX_QUEUED_REQUESTS` places) for room, and beyond that it is refused at once with 503,
//! `Retry-After` and code `OVERLOADED`. How long it may wait depends on whether the queue is a
//! burst or a standing one (`queue_budget`). Under overload the server then spends its CPU on
//! answers that finish, not on a growing pile of half-done ones, and nobody waits seconds to be
//! told no.
//!
//! A request waiting on the network (the database, the catalog, Redis) gives its slot back: a
//! burst that waits on one slow catalog call, or on a database a few milliseconds away, is
//! admitted whole, up to the in-flight bound (which bounds memory only). Requests under way get
//! freed slots before new ones are admitted, and more requests than there are slots are taken
//! on only once the slots have kept up for a moment: new work is taken on when the work already
//! taken on does not need the cores. Health, readiness and metrics are not limited (they are not
//! behind this layer).

mod work;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::overloaded;
use super::paced::Refused;
use crate::config::Settings;
use crate::sync::lock;
use work::{NoRoom, Tracked, WorkSlots};

/// How long a request may wait in the queue for room, after Facebook's server queues (Maurer,
/// "Fail at Scale", 2015: CoDel applied to a request queue). A queue that was empty a moment
/// ago is a burst: it drains as the burst is worked off, so a request joining it may wait
/// `BURST_WAIT` (a burst of 200 cold reads is about a core-second of work on a slow 2-core
/// machine). A queue that has not been empty for `BURST_WAIT` is standing: the server is
/// behind, and a request joining it waits `STANDING_WAIT` at most, so saying no comes soon and
/// the answers that are given stay quick.
const BURST_WAIT: Duration = Duration::from_millis(1_000);
const STANDING_WAIT: Duration = Duration::from_millis(250);

fn queue_budget(empty_last: Instant, now: Instant) -> Duration {
    if now.saturating_duration_since(empty_last) < BURST_WAIT {
        BURST_WAIT
    } else {
        STANDING_WAIT
    }
}

#[derive(Clone)]
pub struct Admission {
    slots: WorkSlots,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    queue: Arc<Queue>,
}

/// The requests waiting for room, first come first served: only the one at the head looks for
/// room (the others wait for the turnstile, which tokio's semaphore hands out in order), so a
/// look that finds none never costs a waiter its place.
struct Queue {
    waiting: AtomicUsize,
    /// The last moment nobody waited: when the queue last emptied, or last began to fill.
    empty_last: Mutex<Instant>,
    max_waiting: usize,
    turnstile: Semaphore,
    room: Notify,
}

impl Queue {
    /// Room was made: the first in the queue looks again (nothing to do when nobody waits,
    /// which is the usual case, so a release costs one load).
    fn room_made(&self) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            self.room.notify_one();
        }
    }
}

impl Admission {
    /// `MAX_CONCURRENT_REQUESTS` (0: two per core), `MAX_IN_FLIGHT_REQUESTS` (0: 128 per
    /// core) and `MAX_QUEUED_REQUESTS`.
    pub fn from_settings(settings: &Settings) -> Self {
        let per_core =
            |n: usize| std::thread::available_parallelism().map_or(2, |cores| cores.get()) * n;
        let max_working = match settings.max_concurrent_requests {
            0 => per_core(2),
            n => n,
        };
        let max_in_flight = match settings.max_in_flight_requests {
            0 => per_core(128),
            n => n,
        };
        Self::new(max_working, max_in_flight, settings.max_queued_requests)
    }

    fn new(max_working: usize, max_in_flight: usize, max_queued: usize) -> Self {
        let queue = Arc::new(Queue {
            waiting: AtomicUsize::new(0),
            empty_last: Mutex::new(Instant::now()),
            max_waiting: max_queued,
            turnstile: Semaphore::new(1),
            room: Notify::new(),
        });
        let slots = WorkSlots::new(max_working, {
            let queue = Arc::clone(&queue);
            move || queue.room_made()
        });
        Self {
            slots,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            queue,
        }
    }

    /// API requests running or ready to run now, holding a slot (for `/metrics`).
    pub fn requests_working(&self) -> usize {
        self.slots.held()
    }

    /// API requests under way, ready to run, waiting for a slot (for `/metrics`).
    pub fn requests_parked(&self) -> usize {
        self.slots.parked()
    }

    /// API requests admitted and not yet answered (for `/metrics`).
    pub fn requests_in_flight(&self) -> usize {
        self.max_in_flight - self.in_flight.available_permits()
    }
}

pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    match admission.turn(next.run(request)).await {
        Some(admitted) => admitted.await,
        None => refused(),
    }
}

impl Admission {
    /// `work`, admitted (at once or after a short wait in the queue), or `None`: refused.
    /// The work is not started until admitted.
    async fn turn<F: Future>(&self, work: F) -> Option<Admitted<F>> {
        // A request that arrives while others queue goes behind them.
        let work = if self.queue.waiting.load(Ordering::Acquire) == 0 {
            match self.try_admit(work) {
                Ok(admitted) => return Some(admitted),
                Err((work, _)) => work,
            }
        } else {
            work
        };
        let place = QueuePlace::take(&self.queue)?;
        // `place` is given back however this ends, a caller that went away included: a place
        // kept by a dropped request would shrink the queue for good.
        tokio::time::timeout(place.budget, self.room_for(work))
            .await
            .ok()
            .flatten()
    }

    /// Waits for its turn at the head of the queue, then until `work` is admitted.
    async fn room_for<F: Future>(&self, mut work: F) -> Option<Admitted<F>> {
        // Never closed; should it be, the request is refused.
        let _head = self.queue.turnstile.acquire().await.ok()?;
        loop {
            let room = self.queue.room.notified();
            tokio::pin!(room);
            // Listening before looking: room made between the look and the wait is not missed.
            room.as_mut().enable();
            match self.try_admit(work) {
                Ok(admitted) => return Some(admitted),
                Err((back, NoRoom::Taken)) => {
                    work = back;
                    room.await;
                }
                Err((back, NoRoom::NotYet(after))) => {
                    work = back;
                    let _ = tokio::time::timeout(after, room).await;
                }
            }
        }
    }

    /// Admits `work` if there is room now; hands it back otherwise, saying when to look again.
    fn try_admit<F: Future>(&self, work: F) -> Result<Admitted<F>, (F, NoRoom)> {
        let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
            return Err((work, NoRoom::Taken));
        };
        // The others in flight (this request's permit is taken already).
        let others = self.requests_in_flight() - 1;
        let work = self.slots.admit(work, others)?;
        Ok(Admitted {
            work,
            _in_flight: InFlight {
                permit: Some(permit),
                queue: Arc::clone(&self.queue),
            },
        })
    }
}

/// An admitted request: its work, holding a slot while it runs or is ready to, and its place in
/// flight until it is answered or dropped.
struct Admitted<F> {
    work: Tracked<F>,
    _in_flight: InFlight,
}

impl<F: Future> Future for Admitted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.work).poll(cx)
    }
}

/// A request's place among those in flight; giving it back makes room.
struct InFlight {
    permit: Option<OwnedSemaphorePermit>,
    queue: Arc<Queue>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The permit goes back before the queue is told.
        self.permit.take();
        self.queue.room_made();
    }
}

/// A place in the queue and how long it may be held, given back when dropped.
struct QueuePlace<'a> {
    queue: &'a Queue,
    budget: Duration,
}

impl<'a> QueuePlace<'a> {
    fn take(queue: &'a Queue) -> Option<Self> {
        let now = Instant::now();
        let before = queue.waiting.fetch_add(1, Ordering::AcqRel);
        let budget = {
            let mut empty_last = lock(&queue.empty_last);
            if before == 0 {
                *empty_last = now;
            }
            queue_budget(*empty_last, now)
        };
        let place = Self { queue, budget };
        (before < queue.max_waiting).then_some(place)
    }
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        if self.queue.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            *lock(&self.queue.empty_last) = Instant::now();
        }
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
    use tokio::sync::oneshot;

    /// Work that waits for `go` (as a request waits on the network), then finishes.
    async fn waits_for(go: oneshot::Receiver<()>) {
        let _ = go.await;
    }

    /// A caller asking for a turn, in a task of its own: whether it was admitted.
    fn queue_one(admission: &Admission) -> tokio::task::JoinHandle<bool> {
        let admission = admission.clone();
        tokio::spawn(async move { admission.turn(async {}).await.is_some() })
    }

    #[tokio::test]
    async fn a_request_waiting_on_the_network_leaves_room_for_the_next() {
        let admission = Admission::new(1, 100, 0);
        let (go, wait) = oneshot::channel();
        let first = tokio::spawn(admission.turn(waits_for(wait)).await.expect("admitted"));
        tokio::task::yield_now().await;
        assert_eq!(admission.requests_working(), 0, "the first waits");
        let second = admission.turn(async {}).await.expect("room for the second");
        assert_eq!(admission.requests_in_flight(), 2);
        second.await;
        go.send(()).expect("sent");
        first.await.expect("finished");
        assert_eq!(admission.requests_in_flight(), 0);
    }

    #[tokio::test]
    async fn beyond_the_in_flight_bound_and_the_queue_a_caller_is_refused_at_once() {
        let admission = Admission::new(100, 1, 0);
        let (_go, wait) = oneshot::channel::<()>();
        let _first = tokio::spawn(admission.turn(waits_for(wait)).await.expect("admitted"));
        assert!(admission.turn(async {}).await.is_none());
        assert_eq!(admission.queue.waiting.load(Ordering::Acquire), 0);
    }

    /// A caller queued in a task of its own: when it was refused, counted from `start`.
    fn refused_after(admission: &Admission, start: Instant) -> tokio::task::JoinHandle<Duration> {
        let admission = admission.clone();
        tokio::spawn(async move {
            assert!(admission.turn(async {}).await.is_none(), "no room was made");
            start.elapsed()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_may_wait_longer_than_a_standing_queue() {
        let admission = Admission::new(100, 1, 10);
        let (_go, wait) = oneshot::channel::<()>();
        let _first = tokio::spawn(admission.turn(waits_for(wait)).await.expect("admitted"));
        let start = Instant::now();
        // The queue was empty: a burst, which may wait `BURST_WAIT`.
        let burst = refused_after(&admission, start);
        tokio::time::sleep(Duration::from_millis(900)).await;
        let still_burst = refused_after(&admission, start);
        // From here the queue has not been empty for `BURST_WAIT`: it stands.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let standing = refused_after(&admission, start);
        assert_eq!(burst.await.expect("ran"), BURST_WAIT);
        assert_eq!(
            still_burst.await.expect("ran"),
            Duration::from_millis(900) + BURST_WAIT
        );
        assert_eq!(
            standing.await.expect("ran"),
            Duration::from_millis(1_200) + STANDING_WAIT
        );
        // Once it has emptied, the next one to queue is a burst again.
        let start = Instant::now();
        assert_eq!(
            refused_after(&admission, start).await.expect("ran"),
            BURST_WAIT
        );
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_while_queued_gives_its_place_back() {
        let admission = Admission::new(100, 1, 1);
        let (go, wait) = oneshot::channel();
        let first = tokio::spawn(admission.turn(waits_for(wait)).await.expect("admitted"));
        let queued = queue_one(&admission);
        tokio::task::yield_now().await;
        assert_eq!(admission.queue.waiting.load(Ordering::Acquire), 1);
        queued.abort();
        let _ = queued.await;
        assert_eq!(admission.queue.waiting.load(Ordering::Acquire), 0);
        // The place is free again: the next caller queues, and gets in when room is made.
        let next = queue_one(&admission);
        tokio::task::yield_now().await;
        go.send(()).expect("sent");
        first.await.expect("finished");
        assert!(next.await.expect("the task ran"), "queued, then admitted");
    }
}
