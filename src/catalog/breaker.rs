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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
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

    /// Whether a call may go upstream now.
    pub fn allow(&self) -> bool {
        let mut state = self.lock();
        match state.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            // Cooled down: one probe at a time.
            Some(_) if state.probe_in_flight => false,
            Some(_) => {
                state.probe_in_flight = true;
                true
            }
        }
    }

    pub fn record_success(&self) {
        *self.lock() = State::default();
    }

    pub fn record_failure(&self) {
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

    pub fn state(&self) -> BreakerState {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once_after_cooling_down() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            assert!(breaker.allow());
            breaker.record_failure();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allow(), "one probe");
        assert!(!breaker.allow(), "only one");
        breaker.record_failure();
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "a failed probe reopens"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow());
    }
}
