//! A circuit breaker for the catalog: after `threshold` consecutive failures it stops calling
//! for `cool_down` (callers fail fast), then lets one probe through; the probe's outcome closes
//! or reopens it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
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
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold,
            cool_down,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether calls are being kept away right now (open, or cooled down awaiting a probe).
    pub fn is_open(&self) -> bool {
        self.lock().open_until.is_some()
    }

    /// Permission for a call to go upstream now, or `None` while the circuit is open. The
    /// permit must be settled with `succeeded` or `failed`.
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
        *self.lock() = State::default();
    }

    fn record_failure(&self) {
        let mut state = self.lock();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        if state.probe_in_flight || state.consecutive_failures >= self.threshold {
            if state.open_until.is_none() || state.probe_in_flight {
                tracing::warn!(
                    failures = state.consecutive_failures,
                    cool_down_s = self.cool_down.as_secs(),
                    "catalog circuit opened"
                );
            }
            state.open_until = Some(Instant::now() + self.cool_down);
            state.probe_in_flight = false;
        }
    }

    /// A probe whose caller went away (a client hung up, a deadline fired) says nothing about
    /// the upstream; let the next call probe instead.
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
        // Updates are whole assignments, so a poisoned lock still holds a valid state.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
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

    pub fn failed(mut self) {
        self.settled = true;
        self.breaker.record_failure();
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
        let breaker = CircuitBreaker::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            breaker.allow().unwrap().failed();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.allow().unwrap().failed();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.allow().is_none());
        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.allow().expect("one probe");
        assert!(breaker.allow().is_none(), "only one");
        probe.failed();
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
        let breaker = CircuitBreaker::new(1, Duration::from_millis(10));
        breaker.allow().unwrap().failed();
        std::thread::sleep(Duration::from_millis(20));
        drop(breaker.allow().expect("a probe"));
        assert!(breaker.allow().is_some(), "not stuck open");
    }
}
