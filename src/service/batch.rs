//! Batching without a timer: the loads a request makes while it resolves one level of its answer
//! become one call of the loader.
//!
//! async-graphql resolves the fields of a level together, polling each in turn within one poll
//! of the request's task. The first load of a batch leads it: it steps aside once (a yield, no
//! timer), during which its siblings are polled and add their keys; when it is polled again it
//! runs the batch and answers everyone. Siblings are polled before the leader comes round again
//! whether the level is joined in order or through a `FuturesUnordered`, so a level is one batch
//! however the runtime schedules the task. async-graphql's own DataLoader waits on a timer
//! instead (1 ms by default): every batch cost a timer wake-up and its latency, which profiles
//! showed among the largest costs of a request (bench/run, case 2).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::sync::lock;

/// Loads many keys at once; a key missing from the answer has no value.
pub trait BatchLoad<K>: Send + Sync + 'static {
    type Value: Clone + Send + 'static;
    type Error: Clone + Send + 'static;

    fn load(
        &self,
        keys: &[K],
    ) -> impl Future<Output = Result<HashMap<K, Self::Value>, Self::Error>> + Send;
}

type Answer<V, E> = Result<Option<V>, E>;
/// The keys of a batch being gathered, each with whom to answer; `None` while no load leads
/// one (the next load will).
type Gathering<K, V, E> = Mutex<Option<Vec<(K, oneshot::Sender<Answer<V, E>>)>>>;

/// The loads of one request (or one WebSocket connection) for one loader.
pub struct Batcher<K, L: BatchLoad<K>> {
    loader: L,
    gathering: Gathering<K, L::Value, L::Error>,
}

impl<K, L> Batcher<K, L>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    L: BatchLoad<K>,
{
    pub fn new(loader: L) -> Self {
        Self {
            loader,
            gathering: Mutex::new(None),
        }
    }

    /// The value for `key`, loaded with whatever else this request asks for at the same time.
    pub async fn load_one(&self, key: K) -> Answer<L::Value, L::Error> {
        loop {
            let (sender, receiver) = oneshot::channel();
            let leads = {
                let mut gathering = lock(&self.gathering);
                match gathering.as_mut() {
                    Some(waiting) => {
                        waiting.push((key.clone(), sender));
                        false
                    }
                    None => {
                        *gathering = Some(vec![(key.clone(), sender)]);
                        true
                    }
                }
            };
            if leads {
                // Boxed: every load of a level is a future of async-graphql's (boxed, one per
                // field, all alive at once), and were the batch's call inline, each would be as
                // large as the catalog's whole stack of futures, though only one leads.
                Box::pin(self.lead()).await;
            }
            match receiver.await {
                Ok(answer) => return answer,
                // The load that led this batch was dropped before it ran (its request went):
                // load again, in a batch of our own.
                Err(_) => continue,
            }
        }
    }

    /// Lets the siblings add their keys, then runs the batch and answers each of its loads.
    async fn lead(&self) {
        // Should this future be dropped while it waits, the batch is handed back: its loads
        // see their answer dropped and load again.
        let guard = DropBatch(&self.gathering);
        tokio::task::yield_now().await;
        let waiting = lock(&self.gathering).take().unwrap_or_default();
        std::mem::forget(guard);
        let mut seen = HashSet::with_capacity(waiting.len());
        let keys: Vec<K> = waiting
            .iter()
            .filter(|(key, _)| seen.insert(key))
            .map(|(key, _)| key.clone())
            .collect();
        let loaded = self.loader.load(&keys).await;
        for (key, sender) in waiting {
            let answer = match &loaded {
                Ok(values) => Ok(values.get(&key).cloned()),
                Err(error) => Err(error.clone()),
            };
            // A load whose request has gone has nobody to answer.
            let _ = sender.send(answer);
        }
    }
}

/// Drops a batch that is still gathering (see `lead`).
struct DropBatch<'a, T>(&'a Mutex<Option<T>>);

impl<T> Drop for DropBatch<'_, T> {
    fn drop(&mut self) {
        lock(self.0).take();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::join_all;

    use super::*;

    /// Doubles each key, remembering each call's keys.
    #[derive(Clone, Default)]
    struct Doubler {
        calls: Arc<Mutex<Vec<Vec<u32>>>>,
        failing: Arc<AtomicUsize>,
    }

    impl BatchLoad<u32> for Doubler {
        type Value = u32;
        type Error = String;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, String> {
            lock(&self.calls).push(keys.to_vec());
            if self.failing.load(Ordering::SeqCst) > 0 {
                return Err("down".into());
            }
            Ok(keys
                .iter()
                .filter(|key| **key != 0)
                .map(|key| (*key, key * 2))
                .collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loads_made_together_are_one_call_and_each_gets_its_own_value() {
        let loader = Doubler::default();
        let batcher = Batcher::new(loader.clone());
        let answers = join_all([3, 1, 3, 0, 2].map(|key| batcher.load_one(key))).await;
        assert_eq!(
            answers,
            [Ok(Some(6)), Ok(Some(2)), Ok(Some(6)), Ok(None), Ok(Some(4))]
        );
        assert_eq!(*lock(&loader.calls), [vec![3, 1, 0, 2]]);

        // The next level of the answer is the next batch.
        let again = join_all([5, 6].map(|key| batcher.load_one(key))).await;
        assert_eq!(again, [Ok(Some(10)), Ok(Some(12))]);
        assert_eq!(lock(&loader.calls).len(), 2);
    }

    /// With the clock paused, time moves only when every task waits on a timer: a batching
    /// window would show as time gone by.
    #[tokio::test(start_paused = true)]
    async fn a_lone_load_waits_for_no_timer() {
        let batcher = Batcher::new(Doubler::default());
        let started = tokio::time::Instant::now();
        for key in 1..=3 {
            assert_eq!(batcher.load_one(key).await, Ok(Some(key * 2)));
        }
        let together = join_all([4, 5].map(|key| batcher.load_one(key))).await;
        assert_eq!(together, [Ok(Some(8)), Ok(Some(10))]);
        assert_eq!(tokio::time::Instant::now(), started);
    }

    #[tokio::test]
    async fn when_the_leading_load_is_dropped_the_others_load_without_it() {
        let loader = Doubler::default();
        let batcher = Batcher::new(loader.clone());
        let mut leader = Box::pin(batcher.load_one(1));
        // Polled once: it leads the batch, and steps aside.
        assert!(futures::poll!(leader.as_mut()).is_pending());
        // Joins its batch, and waits for the answer.
        let mut follower = Box::pin(batcher.load_one(2));
        assert!(futures::poll!(follower.as_mut()).is_pending());
        drop(leader);
        assert_eq!(follower.await, Ok(Some(4)));
        assert_eq!(*lock(&loader.calls), [vec![2]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_fails_every_load_in_it() {
        let loader = Doubler::default();
        loader.failing.store(1, Ordering::SeqCst);
        let batcher = Batcher::new(loader);
        let answers = join_all([1, 2].map(|key| batcher.load_one(key))).await;
        assert_eq!(answers, [Err("down".to_owned()), Err("down".to_owned())]);
    }
}
