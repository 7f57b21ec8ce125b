//! Concurrent requests for the same key share one upstream call and its outcome, whatever it is:
//! a product, "no such product", or an error. (Only successes are cached afterwards; sharing the
//! other outcomes is what keeps a queue of waiters from calling a failing upstream one by one.)

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

pub struct SingleFlight<K, V> {
    flights: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    pub fn new() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `fetch` unless a call for `key` is already under way, in which case its result is
    /// awaited instead. If the caller running `fetch` goes away, a waiter takes over.
    pub async fn run<F, Fut>(&self, key: K, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let flight = Arc::clone(self.lock().entry(key.clone()).or_default());
        let value = flight.get_or_init(fetch).await.clone();
        // The flight is over: later callers start a new one (and usually hit the cache first).
        let mut flights = self.lock();
        if flights
            .get(&key)
            .is_some_and(|current| Arc::ptr_eq(current, &flight))
        {
            flights.remove(&key);
        }
        value
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        crate::sync::lock(&self.flights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_call_and_its_error() {
        let flights = Arc::new(SingleFlight::<u32, Result<u32, String>>::new());
        let calls = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let flights = Arc::clone(&flights);
                let calls = Arc::clone(&calls);
                tokio::spawn(async move {
                    flights
                        .run(7, || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Err::<u32, _>("down".to_owned())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Err("down".to_owned()));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(flights.lock().is_empty(), "finished flights are forgotten");
    }
}
