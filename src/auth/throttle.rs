//! At most N failed logins per client address per minute. An attempt counts from the moment it
//! starts (so a burst of concurrent attempts cannot slip past the count) and is forgiven when
//! it succeeds. Over the budget, no password is checked at all: bcrypt is the expensive part.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked addresses, expired entries are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Clone)]
pub struct LoginThrottle {
    max_failures: usize,
    attempts: Arc<Mutex<HashMap<IpAddr, Vec<Instant>>>>,
}

/// An attempt in progress. Dropped without `succeeded()`, it stays counted as a failure.
pub struct Attempt {
    throttle: LoginThrottle,
    address: IpAddr,
    started: Instant,
}

impl LoginThrottle {
    pub fn new(max_failures: u32) -> Self {
        Self {
            max_failures: max_failures as usize,
            attempts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Starts an attempt, or says how long to wait before the next one may start.
    pub fn begin(&self, address: IpAddr) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let mut attempts = self.lock();
        if attempts.len() > SWEEP_ABOVE {
            attempts.retain(|_, times| {
                times.retain(|time| now.duration_since(*time) < WINDOW);
                !times.is_empty()
            });
        }
        let times = attempts.entry(address).or_default();
        times.retain(|time| now.duration_since(*time) < WINDOW);
        if times.len() >= self.max_failures {
            let oldest = times.iter().min().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push(now);
        Ok(Attempt {
            throttle: self.clone(),
            address,
            started: now,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Vec<Instant>>> {
        // Each update leaves the map whole, so a poisoned lock is still usable.
        self.attempts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Attempt {
    pub fn succeeded(self) {
        let mut attempts = self.throttle.lock();
        if let Some(times) = attempts.get_mut(&self.address)
            && let Some(index) = times.iter().position(|time| *time == self.started)
        {
            times.swap_remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_per_address_and_successes_forgiven() {
        let throttle = LoginThrottle::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        throttle.begin(a).unwrap().succeeded();
        for _ in 0..3 {
            drop(throttle.begin(a).unwrap());
        }
        let wait = throttle.begin(a).err().expect("over the budget");
        assert!(wait <= WINDOW && wait > Duration::from_secs(55), "{wait:?}");
        assert!(
            throttle.begin(b).is_ok(),
            "another address has its own budget"
        );
    }
}
