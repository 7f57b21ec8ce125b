//! Slowing down guesses at one username, whatever network they come from, without letting
//! anyone lock the admin out:
//! - the first `FREE_FAILURES` consecutive failures for a username cost nothing; after that,
//!   each attempt must wait, after the last failure, 1 s, then 2 s, 4 s... at most `MAX_WAIT`;
//!   an attempt earlier than that is refused without checking the password;
//! - a network the username has logged in from successfully (within `TRUST_FOR`) is exempt: an
//!   attacker elsewhere cannot keep the admin out of their usual network, and from a new one
//!   can delay a login by `MAX_WAIT` at most;
//! - failures are forgotten after `FORGET_AFTER` without one, or at a success.
//!
//! Per instance, in memory (like the address throttle), bounded in size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::throttle::network_of;

pub const FREE_FAILURES: u32 = 5;
pub const MAX_WAIT: Duration = Duration::from_secs(60);
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
const TRUST_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Usernames tracked at most (the least recently failed go first), and trusted networks each.
const MAX_USERNAMES: usize = 10_000;
const MAX_TRUSTED_NETWORKS: usize = 16;
/// Longer usernames share one entry: nobody's real username, and no way to grow memory.
const MAX_USERNAME_BYTES: usize = 256;

#[derive(Clone, Default)]
pub struct UsernameBackoff {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Default)]
struct Entry {
    failures: u32,
    last_failure: Option<Instant>,
    trusted: Vec<(IpAddr, Instant)>,
}

impl Entry {
    fn wait(&self, now: Instant) -> Option<Duration> {
        let last = self.last_failure?;
        let since = now.duration_since(last);
        if self.failures < FREE_FAILURES || since > FORGET_AFTER {
            return None;
        }
        let exponent = (self.failures - FREE_FAILURES).min(16);
        let wait = Duration::from_secs(1u64 << exponent).min(MAX_WAIT);
        wait.checked_sub(since).filter(|left| !left.is_zero())
    }
}

impl UsernameBackoff {
    /// Whether an attempt at `username` from `address` may check its password now, or how long
    /// it must wait.
    pub fn admit(&self, username: &str, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let network = network_of(address);
        let entries = self.lock();
        let Some(entry) = entries.get(key(username)) else {
            return Ok(());
        };
        let trusted = entry
            .trusted
            .iter()
            .any(|(known, since)| *known == network && now.duration_since(*since) < TRUST_FOR);
        match entry.wait(now) {
            Some(wait) if !trusted => Err(wait),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, username: &str) {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= MAX_USERNAMES && !entries.contains_key(key(username)) {
            // The usernames nobody has failed at for longest go first.
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_failure)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        let entry = entries.entry(key(username).to_owned()).or_default();
        if entry
            .last_failure
            .is_some_and(|last| now.duration_since(last) > FORGET_AFTER)
        {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = Some(now);
    }

    /// A success forgets the failures and trusts the network it came from.
    pub fn succeeded(&self, username: &str, address: IpAddr) {
        let now = Instant::now();
        let network = network_of(address);
        let mut entries = self.lock();
        let entry = entries.entry(key(username).to_owned()).or_default();
        entry.failures = 0;
        entry.last_failure = None;
        entry
            .trusted
            .retain(|(known, since)| *known != network && now.duration_since(*since) < TRUST_FOR);
        if entry.trusted.len() >= MAX_TRUSTED_NETWORKS {
            entry.trusted.remove(0);
        }
        entry.trusted.push((network, now));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        crate::sync::lock(&self.entries)
    }
}

fn key(username: &str) -> &str {
    if username.len() > MAX_USERNAME_BYTES {
        "(too long)"
    } else {
        username
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_slow_down_but_a_known_network_is_never_kept_out() {
        let backoff = UsernameBackoff::default();
        let home: IpAddr = "192.0.2.10".parse().unwrap();
        let attacker: IpAddr = "198.51.100.7".parse().unwrap();
        backoff.succeeded("admin", home);
        for _ in 0..FREE_FAILURES {
            backoff.admit("admin", attacker).expect("free failures");
            backoff.failed("admin");
        }
        let wait = backoff.admit("admin", attacker).expect_err("slowed down");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(
            backoff.admit("admin", home).is_ok(),
            "home is never kept out"
        );
        assert!(backoff.admit("someone-else", attacker).is_ok());
        for _ in 0..20 {
            backoff.failed("admin");
        }
        let wait = backoff.admit("admin", attacker).expect_err("slowed down");
        assert!(
            wait <= MAX_WAIT && wait > MAX_WAIT - Duration::from_secs(1),
            "{wait:?}"
        );
        backoff.succeeded("admin", "192.0.2.11".parse().unwrap());
        assert!(
            backoff.admit("admin", attacker).is_ok(),
            "a success forgets the failures"
        );
    }
}
