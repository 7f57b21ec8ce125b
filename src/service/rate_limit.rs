//! At most N requests a minute per client, across all of that client's tokens: a token bucket
//! of N that refills at N a minute, so a client may burst up to N and then goes at the steady
//! rate. Per instance: each instance of a fleet counts its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Above this many tracked clients, those with a full bucket (idle for a minute) are forgotten.
const SWEEP_ABOVE: usize = 10_000;

pub struct RequestLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RequestLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` requests from the client's allowance, or says how long until it has them.
    pub fn admit(&self, client: Uuid, cost: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let per_second = self.per_minute / 60.0;
        let cost = f64::from(cost);
        let mut buckets = crate::sync::lock(&self.buckets);
        if buckets.len() > SWEEP_ABOVE {
            let capacity = self.per_minute;
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second
                    < capacity
            });
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.per_minute,
            updated: now,
        });
        let refilled = now.duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.per_minute);
        bucket.updated = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            return Ok(());
        }
        let missing = cost.min(self.per_minute) - bucket.tokens;
        Err(Duration::from_secs_f64(missing / per_second))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_may_burst_to_its_limit_then_waits_and_others_are_apart() {
        let limiter = RequestLimiter::new(60);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..60 {
            limiter.admit(a, 1).unwrap();
        }
        let wait = limiter.admit(a, 1).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert!(
            limiter.admit(b, 10).is_ok(),
            "another client has its own allowance"
        );
    }
}
