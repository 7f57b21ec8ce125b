//! Slots for work on the CPU: an API request holds one while it runs or is ready to run, and
//! gives it back whenever it waits (on the database, the catalog, Redis, a timer). Waiting on
//! the network costs no slot, however long it lasts; work beyond the slots waits its turn.
//!
//! Each admitted request's future is wrapped (`Tracked`): the waker it hands down says when the
//! request is ready again. If a slot is free then, it takes it and runs; if not, it is parked
//! (its wake-up held back) until one is given back, and requests already under way get freed
//! slots before new ones are admitted. So no more than `limit` requests ever run at once, and a
//! request that has started is finished before new work piles up behind it: its memory is
//! bounded by the slots, not by how many requests wait on the network.
//!
//! Slot holders are counted exactly, like a load average's runnable tasks, but for requests only.
//!
//! How many requests to take on beyond the slots is decided by the same gate: as many as there
//! are slots at any time, and more only once the slots have kept up for `SLACK` (no request
//! under way had to wait for one when it was ready again). Requests that mostly wait on the network leave the slots idle, so as many
//! are admitted as keep them busy; requests that mostly use the cores keep the slots short, so
//! the ones taken on finish before more come in, rather than all sharing the cores at once.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::time::Instant;

use futures::task::AtomicWaker;

use crate::sync::lock;

/// The slots, shared by every tracked request of the server.
#[derive(Clone)]
pub struct WorkSlots {
    shared: Arc<Shared>,
}

struct Shared {
    limit: usize,
    gate: Mutex<Gate>,
    /// Called when a slot is given back and no parked request takes it (admission's queue of
    /// new requests waits for that).
    freed: Box<dyn Fn() + Send + Sync>,
}

/// The slots fall short when a request under way, ready again, waits longer than this for one;
/// and they have kept up once this long has passed since (CoDel's target, Nichols and
/// Jacobson, 2012: a queue that empties within it is a burst, not a standing queue). Short
/// waits are the normal jostle of requests coming back from a statement together; a burst
/// that waits on a slow catalog is taken on within a few hundredths of a second.
const SLACK: Duration = Duration::from_millis(5);

struct Gate {
    /// Slots held: requests running or ready to run.
    held: usize,
    /// Requests under way, ready again, waiting for a slot: first come, first served.
    parked: VecDeque<Arc<Task>>,
    /// The last time a request under way, ready again, waited longer than `SLACK` for a slot.
    short_at: Instant,
}

impl Gate {
    fn has_room(&self, limit: usize) -> bool {
        self.held < limit && self.parked.is_empty()
    }
}

/// Why a new request was not admitted, and when to look again.
pub enum NoRoom {
    /// Every slot is taken, or requests under way wait for one: look again when one is freed.
    Taken,
    /// A slot is free, but as many requests as there are slots are in flight and the slots have
    /// not kept up for `SLACK` yet: look again after this long (or when a slot is freed).
    NotYet(Duration),
}

impl WorkSlots {
    pub fn new(limit: usize, freed: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            shared: Arc::new(Shared {
                limit,
                gate: Mutex::new(Gate {
                    held: 0,
                    parked: VecDeque::new(),
                    // As if the slots had always kept up.
                    short_at: Instant::now()
                        .checked_sub(SLACK)
                        .unwrap_or_else(Instant::now),
                }),
                freed: Box::new(freed),
            }),
        }
    }

    /// Slots held now: requests running or ready to run.
    pub fn held(&self) -> usize {
        lock(&self.shared.gate).held
    }

    /// Requests under way that are ready to run and wait for a slot.
    pub fn parked(&self) -> usize {
        lock(&self.shared.gate).parked.len()
    }

    /// Gives `future` a slot if one is free and no request under way waits for one, and, when
    /// `in_flight` others are admitted already, as many as there are slots, only if the slots
    /// have kept up for `SLACK`. Hands it back otherwise, saying when to look again. It keeps
    /// its slot while it runs or is ready to, until it ends or is dropped.
    pub fn admit<F: Future>(&self, future: F, in_flight: usize) -> Result<Tracked<F>, (F, NoRoom)> {
        let limit = self.shared.limit;
        {
            let mut gate = lock(&self.shared.gate);
            // A new request finding the slots taken is not a shortage that counts: in a burst
            // of new requests, each would hold back the others' admission for `SLACK`.
            if !gate.has_room(limit) {
                return Err((future, NoRoom::Taken));
            }
            let kept_up_for = gate.short_at.elapsed();
            if in_flight >= limit && kept_up_for < SLACK {
                return Err((future, NoRoom::NotYet(SLACK - kept_up_for)));
            }
            gate.held += 1;
        }
        let task = Arc::new(Task {
            state: Mutex::new(State::Ready),
            slots: self.clone(),
            parent: AtomicWaker::new(),
        });
        Ok(Tracked {
            waker: Waker::from(Arc::clone(&task)),
            task,
            future: Box::pin(future),
        })
    }

    /// Gives a slot back: to the first parked request if there is one (returned, to be woken
    /// once the gate is unlocked), else to whoever waits for new room.
    fn release(&self, gate: &mut Gate) -> Option<Arc<Task>> {
        gate.held -= 1;
        while let Some(task) = gate.parked.pop_front() {
            let mut state = lock(&task.state);
            if let State::Parked(since) = *state {
                *state = State::Ready;
                drop(state);
                if since.elapsed() > SLACK {
                    gate.short_at = Instant::now();
                }
                gate.held += 1;
                return Some(task);
            }
            // Dropped while parked: it waits for nothing.
        }
        (self.shared.freed)();
        None
    }
}

/// A tracked request's state; changed only with the gate locked (then the task's own lock).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Waiting for something (I/O, a timer, another task): holds no slot.
    Idle,
    /// Holds a slot, and is about to be polled.
    Ready,
    /// Holds a slot, being polled.
    Running,
    /// Holds a slot, being polled, and woken meanwhile: it will be polled again.
    RunningWoken,
    /// Ready again since then, waiting for a slot; its wake-up is held back until it gets one.
    Parked(Instant),
    /// Finished or dropped.
    Done,
}

struct Task {
    state: Mutex<State>,
    slots: WorkSlots,
    /// The waker of whoever polls the request (the connection's task).
    parent: AtomicWaker,
}

impl Task {
    /// Moves the task to `next` (the gate is locked).
    fn set(&self, next: State) {
        *lock(&self.state) = next;
    }

    fn get(&self) -> State {
        *lock(&self.state)
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let shared = &self.slots.shared;
        let forward = {
            let mut gate = lock(&shared.gate);
            match self.get() {
                State::Idle if gate.has_room(shared.limit) => {
                    gate.held += 1;
                    self.set(State::Ready);
                    true
                }
                State::Idle => {
                    self.set(State::Parked(Instant::now()));
                    gate.parked.push_back(Arc::clone(self));
                    false
                }
                State::Running => {
                    self.set(State::RunningWoken);
                    true
                }
                State::Ready | State::RunningWoken | State::Parked(_) | State::Done => false,
            }
        };
        if forward {
            self.parent.wake();
        }
    }
}

/// A request's future, holding a slot while it runs or is ready to run. (Boxed, so that it can
/// be moved while it is pinned; axum boxes the future it wraps anyway.)
pub struct Tracked<F> {
    task: Arc<Task>,
    waker: Waker,
    future: Pin<Box<F>>,
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        let slots = &self.task.slots;
        let handed = {
            let mut gate = lock(&slots.shared.gate);
            let before = self.task.get();
            self.task.set(State::Done);
            match before {
                State::Ready | State::Running | State::RunningWoken => slots.release(&mut gate),
                // Left in the queue; the next release skips it.
                State::Parked(_) | State::Idle | State::Done => None,
            }
        };
        if let Some(next) = handed {
            next.parent.wake();
        }
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let task = Arc::clone(&this.task);
        let shared = &task.slots.shared;
        task.parent.register(cx.waker());
        {
            let mut gate = lock(&shared.gate);
            match task.get() {
                State::Ready => task.set(State::Running),
                // Polled without having been woken through us (whoever polls it was woken by
                // something else): it runs only if it may.
                State::Idle if gate.has_room(shared.limit) => {
                    gate.held += 1;
                    task.set(State::Running);
                }
                State::Idle => {
                    task.set(State::Parked(Instant::now()));
                    gate.parked.push_back(Arc::clone(&task));
                    return Poll::Pending;
                }
                State::Parked(_) => return Poll::Pending,
                // Not polled again once finished; nor while being polled.
                State::Running | State::RunningWoken | State::Done => {}
            }
        }
        let polled = this
            .future
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker));
        let handed = {
            let mut gate = lock(&shared.gate);
            match (&polled, task.get()) {
                // Woken while it ran: it keeps its slot, and is polled again.
                (Poll::Pending, State::RunningWoken) => {
                    task.set(State::Ready);
                    None
                }
                (Poll::Pending, _) => {
                    task.set(State::Idle);
                    task.slots.release(&mut gate)
                }
                (Poll::Ready(_), _) => {
                    task.set(State::Done);
                    task.slots.release(&mut gate)
                }
            }
        };
        if let Some(next) = handed {
            next.parent.wake();
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn admitted<F: Future>(slots: &WorkSlots, future: F) -> Tracked<F> {
        match slots.admit(future, 0) {
            Ok(tracked) => tracked,
            Err(_) => panic!("no room"),
        }
    }

    #[tokio::test]
    async fn a_request_waiting_on_io_holds_no_slot_and_takes_one_again_once_woken() {
        let slots = WorkSlots::new(1, || {});
        let (tell, told) = tokio::sync::oneshot::channel::<()>();
        let (ran, mut running) = tokio::sync::mpsc::unbounded_channel();
        let counter = slots.clone();
        let tracked = admitted(&slots, async move {
            told.await.expect("told");
            // Work after the wait: it holds the slot while it runs.
            ran.send(counter.held()).expect("sent");
        });
        assert!(slots.admit(async {}, 0).is_err(), "the slot is taken");
        let request = tokio::spawn(tracked);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(slots.held(), 0, "waiting on I/O");
        drop(admitted(&slots, async {}));
        tell.send(()).expect("sent");
        request.await.expect("finished");
        assert_eq!(running.recv().await, Some(1), "held while it ran");
        assert_eq!(slots.held(), 0, "finished");
    }

    #[tokio::test]
    async fn a_request_ready_again_waits_for_a_slot_and_goes_before_new_ones() {
        let slots = WorkSlots::new(1, || {});
        let (tell, told) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn(admitted(&slots, async move { told.await.is_ok() }));
        tokio::time::sleep(Duration::from_millis(10)).await;
        // While the first waits, another request takes the slot (admitted, not yet polled).
        let keeper = admitted(&slots, std::future::pending::<()>());
        tell.send(()).expect("sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            slots.parked(),
            1,
            "the first is ready again, and waits for the slot"
        );
        assert!(!first.is_finished());
        drop(keeper);
        assert!(
            slots.admit(async {}, 0).is_err(),
            "the slot went to the first, not to a new one"
        );
        assert!(first.await.expect("finished"), "it ran");
        assert_eq!((slots.held(), slots.parked()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_as_many_in_flight_as_slots_a_request_waits_until_the_slots_have_kept_up() {
        let slots = WorkSlots::new(1, || {});
        // Nobody under way has waited for a slot: a second in flight is taken on at once.
        let (tell, told) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn(admitted(&slots, async move { told.await.is_ok() }));
        tokio::task::yield_now().await;
        let keeper = admitted(&slots, std::future::pending::<()>());
        // The first is ready again, and finds the slot taken.
        tell.send(()).expect("sent");
        tokio::task::yield_now().await;
        assert_eq!(slots.parked(), 1);
        // It waits longer than `SLACK` for the slot: a standing queue, not a jostle.
        tokio::time::advance(SLACK * 2).await;
        drop(keeper);
        assert!(first.await.expect("finished"));
        match slots.admit(async {}, 1) {
            Err((_, NoRoom::NotYet(after))) => assert!(after <= SLACK, "{after:?}"),
            _ => panic!("not yet"),
        }
        assert!(
            slots.admit(async {}, 0).is_ok(),
            "fewer in flight than slots"
        );
        tokio::time::advance(SLACK).await;
        assert!(slots.admit(async {}, 1).is_ok(), "kept up for long enough");
    }

    #[tokio::test]
    async fn a_request_dropped_before_it_starts_or_while_parked_gives_its_slot_back() {
        let slots = WorkSlots::new(10, || {});
        let tracked = admitted(&slots, std::future::pending::<()>());
        assert_eq!(slots.held(), 1, "held until first polled");
        drop(tracked);
        assert_eq!(slots.held(), 0);
        let mut tracked = Box::pin(admitted(&slots, std::future::pending::<()>()));
        assert!(futures::poll!(tracked.as_mut()).is_pending());
        assert_eq!(slots.held(), 0, "waiting");
        drop(tracked);
        assert_eq!(slots.held(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_requests_through_few_slots_all_finish_and_never_exceed_them() {
        let freed = Arc::new(AtomicUsize::new(0));
        let slots = WorkSlots::new(3, {
            let freed = Arc::clone(&freed);
            move || {
                freed.fetch_add(1, Ordering::AcqRel);
            }
        });
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for n in 0..64 {
            let (slots_now, most) = (slots.clone(), Arc::clone(&most));
            let work = async move {
                for _ in 0..50 {
                    most.fetch_max(slots_now.held(), Ordering::AcqRel);
                    if n % 2 == 0 {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(Duration::from_micros(100)).await;
                    }
                }
            };
            let mut work = work;
            let tracked = loop {
                match slots.admit(work, 0) {
                    Ok(tracked) => break tracked,
                    Err((back, _)) => {
                        work = back;
                        tokio::time::sleep(Duration::from_micros(50)).await;
                    }
                }
            };
            tasks.push(tokio::spawn(tracked));
        }
        for task in tasks {
            task.await.expect("finished");
        }
        assert_eq!(slots.held(), 0);
        assert_eq!(slots.parked(), 0);
        assert!(most.load(Ordering::Acquire) <= 3, "{most:?}");
        assert!(freed.load(Ordering::Acquire) > 0);
    }
}
