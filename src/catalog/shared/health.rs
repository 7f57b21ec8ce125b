//! Whether Redis is worth asking right now. Redis is an optimisation: when it fails, the service
//! goes on with its in-process cache. So a failure is logged once (not once per request), Redis
//! is then left alone for a back-off, and after it a single request probes it while the others
//! keep going without it; the probe's success is logged once too.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Health {
    back_off: Duration,
    /// A probe that has not reported after this long was abandoned (its request went away).
    probe_abandoned_after: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Since when Redis has been failing; `None` while it works.
    down_since: Option<Instant>,
    /// While down: no request before this.
    retry_at: Option<Instant>,
    probe_started: Option<Instant>,
}

impl Health {
    pub fn new(back_off: Duration, probe_abandoned_after: Duration) -> Self {
        Self {
            back_off,
            probe_abandoned_after,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a command may go to Redis now: always while it works; while it is down, only
    /// one probe once the back-off is over.
    pub fn admit(&self) -> bool {
        let mut state = self.lock();
        if state.down_since.is_none() {
            return true;
        }
        let now = Instant::now();
        if state.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        if state
            .probe_started
            .is_some_and(|started| now.duration_since(started) < self.probe_abandoned_after)
        {
            return false;
        }
        state.probe_started = Some(now);
        true
    }

    pub fn succeeded(&self) {
        let mut state = self.lock();
        if let Some(since) = state.down_since {
            tracing::info!(
                down_for_ms = since.elapsed().as_millis() as u64,
                "redis available again, sharing product data"
            );
            *state = State::default();
        }
    }

    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let mut state = self.lock();
        let now = Instant::now();
        if state.down_since.is_none() {
            tracing::warn!(
                %error,
                back_off_ms = self.back_off.as_millis() as u64,
                "redis unavailable, using the in-process cache"
            );
            state.down_since = Some(now);
        }
        state.retry_at = Some(now + self.back_off);
        state.probe_started = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Updates are whole assignments, so a poisoned lock still holds a valid state.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_after_a_failure_then_lets_one_probe_through() {
        let health = Health::new(Duration::from_millis(40), Duration::from_millis(500));
        assert!(health.admit());
        health.failed(&"connection refused");
        assert!(!health.admit(), "backing off");
        std::thread::sleep(Duration::from_millis(50));
        assert!(health.admit(), "the probe");
        assert!(!health.admit(), "only one");
        health.failed(&"still refused");
        assert!(!health.admit(), "backing off again");
        std::thread::sleep(Duration::from_millis(50));
        assert!(health.admit());
        health.succeeded();
        assert!(health.admit() && health.admit(), "back to normal");
    }

    #[test]
    fn an_abandoned_probe_does_not_keep_redis_off_for_ever() {
        let health = Health::new(Duration::from_millis(10), Duration::from_millis(30));
        health.failed(&"timeout");
        std::thread::sleep(Duration::from_millis(20));
        assert!(health.admit(), "a probe, never reported");
        assert!(!health.admit());
        std::thread::sleep(Duration::from_millis(40));
        assert!(health.admit(), "the next one probes");
    }
}
