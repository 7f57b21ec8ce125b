//! At most N failed logins per network per minute: an IPv4 address, or an IPv6 /64 (one
//! host usually has a whole /64, so counting single IPv6 addresses would give it billions of
//! budgets). An attempt counts from the moment it starts (so a burst of concurrent attempts
//! cannot slip past the count) and is forgiven when it succeeds. Over the budget, no password is
//! checked at all: bcrypt is the expensive part.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked networks, expired entries are swept.
const SWEEP_ABOVE: usize = 10_000;

/// The network an address is counted under: itself for IPv4 (also when written as IPv6), its
/// /64 for IPv6.
pub fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[derive(Clone)]
pub struct LoginThrottle {
    max_failures: usize,
    attempts: Arc<Mutex<HashMap<IpAddr, Vec<Instant>>>>,
}

/// An attempt in progress. Dropped without `succeeded()`, it stays counted as a failure.
pub struct Attempt {
    throttle: LoginThrottle,
    network: IpAddr,
    started: Instant,
}

impl LoginThrottle {
    pub fn new(max_failures: u32) -> Self {
        Self {
            max_failures: max_failures as usize,
            attempts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Starts an attempt from `address`, or says how long to wait before the next one may start.
    pub fn begin(&self, address: IpAddr) -> Result<Attempt, Duration> {
        let network = network_of(address);
        let now = Instant::now();
        let mut attempts = self.lock();
        if attempts.len() > SWEEP_ABOVE {
            attempts.retain(|_, times| {
                times.retain(|time| now.duration_since(*time) < WINDOW);
                !times.is_empty()
            });
        }
        let times = attempts.entry(network).or_default();
        times.retain(|time| now.duration_since(*time) < WINDOW);
        if times.len() >= self.max_failures {
            let oldest = times.iter().min().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push(now);
        Ok(Attempt {
            throttle: self.clone(),
            network,
            started: now,
        })
    }

    /// Counts a use from `address` that is never forgiven (a guest session started, a shared
    /// list opened), or says how long to wait before the next one may be.
    pub fn spend(&self, address: IpAddr) -> Result<(), Duration> {
        self.begin(address).map(drop)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Vec<Instant>>> {
        crate::sync::lock(&self.attempts)
    }
}

impl Attempt {
    pub fn succeeded(self) {
        let mut attempts = self.throttle.lock();
        if let Some(times) = attempts.get_mut(&self.network)
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
    fn failures_are_counted_per_network_and_successes_forgiven() {
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

    #[test]
    fn an_ipv6_slash_64_is_one_network() {
        let throttle = LoginThrottle::new(2);
        drop(throttle.begin("2001:db8:1:2::1".parse().unwrap()).unwrap());
        drop(
            throttle
                .begin("2001:db8:1:2:ffff::9".parse().unwrap())
                .unwrap(),
        );
        assert!(
            throttle
                .begin("2001:db8:1:2::abcd".parse().unwrap())
                .is_err()
        );
        assert!(throttle.begin("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert_eq!(
            network_of("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
