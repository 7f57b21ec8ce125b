//! Concurrent cache misses for the same key wait for one upstream call instead of each making
//! their own. A caller takes the key's gate, checks the cache again, and only then fetches.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

pub struct SingleFlight<K> {
    gates: Mutex<HashMap<K, Arc<AsyncMutex<()>>>>,
}

impl<K: Hash + Eq + Clone> SingleFlight<K> {
    pub fn new() -> Self {
        Self {
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until no other caller holds `key`, then holds it until the guard is dropped.
    pub async fn enter(&self, key: K) -> FlightGuard<'_, K> {
        let gate = {
            let mut gates = self
                .gates
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            Arc::clone(gates.entry(key.clone()).or_default())
        };
        let guard = Arc::clone(&gate).lock_owned().await;
        FlightGuard {
            flights: self,
            key,
            gate,
            guard: Some(guard),
        }
    }
}

pub struct FlightGuard<'a, K: Hash + Eq + Clone> {
    flights: &'a SingleFlight<K>,
    key: K,
    gate: Arc<AsyncMutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl<K: Hash + Eq + Clone> Drop for FlightGuard<'_, K> {
    fn drop(&mut self) {
        self.guard.take();
        let mut gates = self
            .flights
            .gates
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // Two references (the map's and ours) mean nobody else waits: forget the gate so the
        // map does not grow with every key ever seen.
        if Arc::strong_count(&self.gate) == 2 {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_run_one_at_a_time_and_the_map_empties() {
        let flights = Arc::new(SingleFlight::<u32>::new());
        let inside = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let flights = Arc::clone(&flights);
            let inside = Arc::clone(&inside);
            tasks.push(tokio::spawn(async move {
                let _guard = flights.enter(7).await;
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                tokio::time::sleep(Duration::from_millis(2)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(flights.gates.lock().unwrap().is_empty());
    }
}
