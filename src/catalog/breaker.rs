//! The circuit breaker, one type for everything the catalog calls (the upstream, and Redis):
//! after `threshold` consecutive failures it keeps calls away for `cool_down` (callers fail
//! fast), then lets one probe through; the probe's outcome closes or reopens it. Opening and
//! closing are each logged once, not once per call.

use std::fmt::Display;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct CircuitBreaker {
    /// What it guards, for the logs ("catalog", "redis").
    name: &'static str,
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    open_since: Option<Instant>,
    probe_in_flight: bool,
}

#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitBreaker {
    pub fn new(name: &'static str, threshold: u32, cool_down: Duration) -> Self {
        Self {
            name,
            threshold,
            cool_down,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether calls are being kept away right now (open, or cooled down awaiting a probe).
    pub fn is_open(&self) -> bool {
        self.lock().open_until.is_some()
    }

    /// Permission for a call to go through now, or `None` while the circuit is open. The permit
    /// must be settled with `succeeded` or `failed`; dropped unsettled (its caller went away), a
    /// probe says nothing and the next call probes instead.
    pub fn allow(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        let probe = match state.open_until {
            None => false,
            Some(until) if Instant::now() < until => return None,
            // Cooled down: one probe at a time.
            Some(_) if state.probe_in_flight => return None,
            Some(_) => {
                state.probe_in_flight = true;
                true
            }
        };
        Some(Permit {
            breaker: self,
            probe,
            settled: false,
        })
    }

    fn record_success(&self) {
        let mut state = self.lock();
        if let Some(since) = state.open_since {
            tracing::info!(
                breaker = self.name,
                down_for_ms = since.elapsed().as_millis() as u64,
                "circuit closed: calls go through again"
            );
        }
        *state = State::default();
    }

    fn record_failure(&self, error: &dyn Display) {
        let mut state = self.lock();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.probe_in_flight || state.consecutive_failures >= self.threshold {
            if state.open_until.is_none() {
                tracing::warn!(
                    breaker = self.name,
                    %error,
                    failures = state.consecutive_failures,
                    cool_down_ms = self.cool_down.as_millis() as u64,
                    "circuit opened: calls are kept away"
                );
                state.open_since = Some(Instant::now());
            }
            state.open_until = Some(Instant::now() + self.cool_down);
            state.probe_in_flight = false;
        }
    }

    fn abandon_probe(&self) {
        self.lock().probe_in_flight = false;
    }

    #[cfg(test)]
    fn state(&self) -> BreakerState {
        let state = self.lock();
        match state.open_until {
            None => BreakerState::Closed,
            Some(until) if Instant::now() < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }
}

/// A call the breaker let through.
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    settled: bool,
}

impl Permit<'_> {
    pub fn succeeded(mut self) {
        self.settled = true;
        self.breaker.record_success();
    }

    pub fn failed(mut self, error: &dyn Display) {
        self.settled = true;
        self.breaker.record_failure(error);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.abandon_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once_after_cooling_down() {
        let breaker = CircuitBreaker::new("test", 3, Duration::from_millis(50));
        for _ in 0..2 {
            breaker.allow().unwrap().failed(&"down");
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.allow().unwrap().failed(&"down");
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.allow().is_none());
        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.allow().expect("one probe");
        assert!(breaker.allow().is_none(), "only one");
        probe.failed(&"still down");
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe reopens"
        );
        std::thread::sleep(Duration::from_millis(60));
        breaker.allow().unwrap().succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow().is_some());
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let breaker = CircuitBreaker::new("test", 1, Duration::from_millis(10));
        breaker.allow().unwrap().failed(&"down");
        std::thread::sleep(Duration::from_millis(20));
        drop(breaker.allow().expect("a probe"));
        assert!(breaker.allow().is_some(), "not stuck open");
    }
}
