//! Automatic persisted queries, as Apollo Client's persisted-queries link speaks them: a client
//! first sends only the SHA-256 of its document; on `PersistedQueryNotFound` it sends the
//! document with its hash, which we remember; from then on the hash alone is enough.
//!
//! async-graphql ships an extension for this, but it parses a registered document itself,
//! around `document_guard`, and bounds its store by entries rather than bytes. This one only
//! maps a hash to the document's text: every document, persisted or not, is parsed and checked
//! by the same code path. A document is kept only once it has run for an authenticated caller
//! and validated (`executor`), so anonymous callers cannot fill the store.

use std::sync::{Arc, Mutex};

use async_graphql::{Request, ServerError};
use lru::LruCache;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::refusal;
use crate::domain::ErrorCode;
use crate::sync::lock;

/// The message Apollo Client's link looks for before it retries with the full document.
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// Documents by hash, least recently used first out once their text passes `max_bytes`.
#[derive(Clone)]
pub struct PersistedQueries {
    store: Arc<Mutex<Store>>,
}

struct Store {
    documents: LruCache<String, Arc<str>>,
    bytes: usize,
    max_bytes: usize,
}

impl PersistedQueries {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                documents: LruCache::unbounded(),
                bytes: 0,
                max_bytes,
            })),
        }
    }

    fn get(&self, hash: &str) -> Option<Arc<str>> {
        lock(&self.store).documents.get(hash).cloned()
    }

    fn insert(&self, hash: String, document: &str) {
        let mut store = lock(&self.store);
        let size = hash.len() + document.len();
        if size > store.max_bytes || store.documents.contains(&hash) {
            return;
        }
        store.bytes += size;
        store.documents.put(hash, Arc::from(document));
        while store.bytes > store.max_bytes {
            let Some((hash, document)) = store.documents.pop_lru() else {
                break;
            };
            store.bytes -= hash.len() + document.len();
        }
    }
}

/// A document sent with its hash, to keep once it has proved to be worth keeping.
pub struct Registration {
    hash: String,
}

impl PersistedQueries {
    /// Fills in the text of a hash-only request, or checks that a request's hash is its text's.
    /// Returns what to register if the operation turns out valid.
    pub fn resolve(&self, request: &mut Request) -> Result<Option<Registration>, ServerError> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return Ok(None);
        };
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            refusal(
                ErrorCode::BadRequest,
                "extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<hex>\"}",
            )
        })?;
        if persisted.version != 1 {
            return Err(refusal(
                ErrorCode::PersistedQueryNotSupported,
                "only version 1 of persisted queries is supported",
            ));
        }
        let hash = persisted.sha256_hash.to_ascii_lowercase();
        if request.query.is_empty() {
            let document = self
                .get(&hash)
                .ok_or_else(|| refusal(ErrorCode::PersistedQueryNotFound, NOT_FOUND_MESSAGE))?;
            request.query = document.to_string();
            return Ok(None);
        }
        // Without this check anyone could file any document under another's hash.
        if sha256_hex(&request.query) != hash {
            return Err(refusal(
                ErrorCode::BadRequest,
                "persistedQuery.sha256Hash is not the SHA-256 of the query",
            ));
        }
        Ok(Some(Registration { hash }))
    }

    pub fn register(&self, registration: Registration, query: &str) {
        self.insert(registration.hash, query);
    }
}

pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_stays_within_its_bytes_dropping_the_least_recently_used() {
        let queries = PersistedQueries::new(200);
        let document = "x".repeat(36);
        for index in 0..3 {
            queries.insert(format!("{index:064}"), &document);
        }
        // 3 × 100 bytes > 200: the first one went.
        assert!(queries.get(&format!("{:064}", 0)).is_none());
        assert!(queries.get(&format!("{:064}", 1)).is_some());
        assert!(queries.get(&format!("{:064}", 2)).is_some());
        assert!(lock(&queries.store).bytes <= 200);
    }

    #[test]
    fn a_document_larger_than_the_store_is_not_kept() {
        let queries = PersistedQueries::new(100);
        queries.insert("a".repeat(64), &"x".repeat(100));
        assert!(queries.get(&"a".repeat(64)).is_none());
        assert_eq!(lock(&queries.store).bytes, 0);
    }

    #[test]
    fn hash_is_lower_case_hex_sha256() {
        assert_eq!(
            sha256_hex("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }
}
