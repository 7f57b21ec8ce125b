//! Whole answers to queries, kept on the server as the bytes they go out as (`kept.rs`) and
//! dropped exactly when what they read changes.
//!
//! - The key: the document's text, the operation name, the variables and the caller's scope (the
//!   admin, the client or guest a token acts for, or "public" for no token at all): answers are
//!   per caller, so nothing here invites a proxy or a browser to share them. Only queries are kept, and only answers without errors.
//! - What an answer read (`service::reads`: the clients, the list of clients) files it; a
//!   committed change drops the answers filed under what it touched, on this instance before
//!   the write answers, on the others when PostgreSQL's `NOTIFY` arrives.
//! - An answer holding product data lives no longer than that data is fresh.
//! - An answer computed while a change to what it read was committed is not kept (it may hold
//!   the old data): each change is numbered, and an answer is kept only if nothing it read
//!   changed after its computation began.
//! - Memory is bounded (`RESPONSE_CACHE_MAX_BYTES`), least recently used first out.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_graphql::{Response, Variables};
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::kept::KeptAnswer;
use crate::auth::Caller;
use crate::service::reads::{Reads, Stale, Tag};
use crate::sync::lock;
use crate::telemetry::ResponseCacheMetrics;

/// Changes remembered one by one; past this many, older answers in the making are not kept.
const MAX_REMEMBERED_CHANGES: usize = 100_000;

pub type Key = [u8; 32];

pub struct ResponseCache {
    store: Mutex<Store>,
    metrics: ResponseCacheMetrics,
}

struct Store {
    entries: LruCache<Key, Entry>,
    by_tag: HashMap<Tag, HashSet<Key>>,
    bytes: usize,
    max_bytes: usize,
    /// The number of the last change seen, and of the last change to each tag.
    changes: u64,
    changed: HashMap<Tag, u64>,
    /// Anything may have changed up to this change (tags forgotten, or changes missed).
    everything_changed: u64,
}

struct Entry {
    answer: Arc<KeptAnswer>,
    tags: Vec<Tag>,
    expires_at_ms: Option<u64>,
    bytes: usize,
}

/// Taken before an answer is computed: which changes it may have missed.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

impl ResponseCache {
    /// `None` for a `max_bytes` of 0: the cache is off.
    pub fn new(max_bytes: usize, metrics: ResponseCacheMetrics) -> Option<Self> {
        (max_bytes > 0).then(|| Self {
            store: Mutex::new(Store {
                entries: LruCache::unbounded(),
                by_tag: HashMap::new(),
                bytes: 0,
                max_bytes,
                changes: 0,
                changed: HashMap::new(),
                everything_changed: 0,
            }),
            metrics,
        })
    }

    /// The key of a query for a caller; `None` for a caller whose answers are not kept.
    pub fn key(
        query: &str,
        operation_name: Option<&str>,
        variables: &Variables,
        caller: &Caller,
    ) -> Option<Key> {
        let scope = match caller {
            Caller::Admin(admin) => format!("admin:{}", admin.username),
            Caller::Client(client) => format!("client:{}", client.client_id),
            Caller::Guest(guest) => format!("guest:{}", guest.guest_id),
            // Without a token, all that reads without an error is public: a shared list, found
            // by the token in the document or its variables (part of the key), the same for
            // whoever asks.
            Caller::Anonymous => "public".to_owned(),
            Caller::Rejected => return None,
        };
        let variables = serde_json::to_string(variables).ok()?;
        let mut hash = Sha256::new();
        for part in [
            scope.as_str(),
            operation_name.unwrap_or(""),
            &variables,
            query,
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        Some(hash.finalize().into())
    }

    pub fn get(&self, key: &Key) -> Option<Arc<KeptAnswer>> {
        let mut store = lock(&self.store);
        let now = now_ms();
        let found = match store.entries.get(key) {
            Some(entry) if entry.expires_at_ms.is_none_or(|at| now < at) => {
                Some(Arc::clone(&entry.answer))
            }
            Some(_) => {
                store.remove(key);
                None
            }
            None => None,
        };
        match &found {
            Some(_) => self.metrics.hits.inc(),
            None => self.metrics.misses.inc(),
        };
        found
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(lock(&self.store).changes)
    }

    /// Keeps an answer computed since `ticket` under what it read, unless that has changed
    /// since. An answer without errors comes back serialized, kept or not (it went stale while
    /// it was computed, or is too large), for the transport to send as it is.
    pub fn keep(
        &self,
        key: Key,
        ticket: Ticket,
        response: &Response,
        reads: Reads,
    ) -> Option<Arc<KeptAnswer>> {
        if !response.errors.is_empty() || !response.http_headers.is_empty() {
            return None;
        }
        let answer = Arc::new(KeptAnswer::of(response)?);
        if reads.fresh_until_ms.is_some_and(|until| until <= now_ms()) {
            return Some(answer);
        }
        // Room for the compressed forms a transport will add (each about a tenth of the JSON,
        // rarely more than two per answer), for the entry and for its filing.
        let bytes = answer.json_len()
            + answer.json_len() / 4
            + std::mem::size_of::<Entry>()
            + reads.tags.len() * 24;
        let mut store = lock(&self.store);
        if bytes > store.max_bytes
            || ticket.0 < store.everything_changed
            || reads.tags.iter().any(|tag| {
                store
                    .changed
                    .get(tag)
                    .is_some_and(|&change| change > ticket.0)
            })
        {
            return Some(answer);
        }
        let tags: Vec<Tag> = reads.tags.into_iter().collect();
        for tag in &tags {
            store.by_tag.entry(*tag).or_default().insert(key);
        }
        store.remove(&key);
        store.bytes += bytes;
        store.entries.put(
            key,
            Entry {
                answer: Arc::clone(&answer),
                tags,
                expires_at_ms: reads.fresh_until_ms,
                bytes,
            },
        );
        while store.bytes > store.max_bytes {
            let Some(oldest) = store.entries.peek_lru().map(|(key, _)| *key) else {
                break;
            };
            store.remove(&oldest);
        }
        Some(answer)
    }

    /// Drops what a change made stale, and numbers the change for the answers in the making.
    pub fn invalidate(&self, stale: &Stale) {
        let mut store = lock(&self.store);
        store.changes += 1;
        let change = store.changes;
        let keys: Vec<Key> = match stale {
            Stale::Everything => {
                store.everything_changed = change;
                store.changed.clear();
                store.entries.iter().map(|(key, _)| *key).collect()
            }
            Stale::Tags(tags) => {
                if store.changed.len() >= MAX_REMEMBERED_CHANGES {
                    store.everything_changed = change;
                    store.changed.clear();
                }
                let mut keys = Vec::new();
                for tag in tags {
                    store.changed.insert(*tag, change);
                    keys.extend(store.by_tag.remove(tag).into_iter().flatten());
                }
                keys
            }
        };
        for key in keys {
            if store.remove(&key) {
                self.metrics.invalidations.inc();
            }
        }
    }
}

impl Store {
    /// Removes an entry and its filing; whether there was one.
    fn remove(&mut self, key: &Key) -> bool {
        let Some(entry) = self.entries.pop(key) else {
            return false;
        };
        self.bytes -= entry.bytes;
        for tag in &entry.tags {
            if let Some(keys) = self.by_tag.get_mut(tag) {
                keys.remove(key);
                if keys.is_empty() {
                    self.by_tag.remove(tag);
                }
            }
        }
        true
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Value;
    use uuid::Uuid;

    fn cache() -> ResponseCache {
        ResponseCache::new(1024 * 1024, ResponseCacheMetrics::default()).expect("on")
    }

    fn answer(text: &str) -> Response {
        Response::new(Value::from(text))
    }

    fn reads(tags: &[Tag]) -> Reads {
        Reads {
            tags: tags.iter().copied().collect(),
            fresh_until_ms: None,
        }
    }

    #[test]
    fn an_answer_computed_across_a_change_to_what_it_read_is_not_kept() {
        let cache = cache();
        let (ana, bia) = (Tag::Client(Uuid::now_v7()), Tag::Client(Uuid::now_v7()));
        let ticket = cache.ticket();
        cache.invalidate(&Stale::Tags(vec![ana]));
        cache.keep([1; 32], ticket, &answer("old ana"), reads(&[ana]));
        assert!(cache.get(&[1; 32]).is_none(), "read Ana while she changed");
        cache.keep([2; 32], ticket, &answer("bia"), reads(&[bia]));
        assert!(cache.get(&[2; 32]).is_some(), "Bia did not change");
        cache.invalidate(&Stale::Tags(vec![bia]));
        assert!(cache.get(&[2; 32]).is_none(), "dropped when Bia changed");
    }

    #[test]
    fn everything_goes_when_changes_may_have_been_missed_and_room_is_bounded() {
        let cache = ResponseCache::new(2_000, ResponseCacheMetrics::default()).expect("on");
        let ticket = cache.ticket();
        for key in 0..40u8 {
            cache.keep([key; 32], ticket, &answer(&"x".repeat(100)), reads(&[]));
        }
        assert!(lock(&cache.store).bytes <= 2_000);
        assert!(cache.get(&[39; 32]).is_some() && cache.get(&[0; 32]).is_none());
        cache.invalidate(&Stale::Everything);
        assert!(cache.get(&[39; 32]).is_none());
        cache.keep([3; 32], ticket, &answer("late"), reads(&[]));
        assert!(cache.get(&[3; 32]).is_none(), "begun before the gap");
    }

    #[test]
    fn answers_expire_with_their_product_data_and_only_callers_with_a_token_have_keys() {
        let cache = cache();
        let stale = Reads {
            tags: HashSet::new(),
            fresh_until_ms: Some(now_ms() - 1),
        };
        cache.keep([4; 32], cache.ticket(), &answer("stale product"), stale);
        assert!(cache.get(&[4; 32]).is_none());
        let variables = Variables::default();
        assert!(ResponseCache::key("{ a }", None, &variables, &Caller::Rejected).is_none());
        assert!(ResponseCache::key("{ a }", None, &variables, &Caller::Anonymous).is_some());
    }
}
