//! Parsed documents kept by their text: clients send the same few documents over and over, and
//! parsing was the largest single cost of a cheap request (a tenth of `{__typename}`'s CPU in
//! profiles). Only documents that passed the guard are kept; each request still validates its
//! copy, with its own variables.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use async_graphql::ServerResult;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

use super::document_guard;
use crate::sync::lock;

/// How many documents are kept. A parsed document takes a few times its text in memory.
const KEPT_DOCUMENTS: usize = 256;
/// Longer documents are parsed every time: they are rare, and would make the cache large.
const MAX_KEPT_LENGTH: usize = 8 * 1024;

pub struct ParsedDocuments {
    introspection: bool,
    kept: Mutex<LruCache<String, ExecutableDocument>>,
}

impl ParsedDocuments {
    pub fn new(introspection: bool) -> Self {
        Self {
            introspection,
            kept: Mutex::new(LruCache::new(
                NonZeroUsize::new(KEPT_DOCUMENTS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// `query` parsed and checked by the guard: from the cache, or parsed now.
    pub fn get(&self, query: &str) -> ServerResult<ExecutableDocument> {
        if let Some(document) = lock(&self.kept).get(query) {
            return Ok(document.clone());
        }
        let document = document_guard::check(query, self.introspection)?;
        if query.len() <= MAX_KEPT_LENGTH {
            lock(&self.kept).put(query.to_owned(), document.clone());
        }
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_document_is_the_same_as_a_fresh_parse_and_a_refused_one_is_not_kept() {
        let documents = ParsedDocuments::new(true);
        let query = "query Q($id: UUID!) { client(id: $id) { name } }";
        let first = documents.get(query).expect("parses");
        let second = documents.get(query).expect("kept");
        assert_eq!(format!("{first:?}"), format!("{second:?}"));
        assert_eq!(lock(&documents.kept).len(), 1);

        assert!(documents.get("{ clients { ").is_err());
        assert_eq!(lock(&documents.kept).len(), 1);
        let without_introspection = ParsedDocuments::new(false);
        assert!(
            without_introspection
                .get("{ __schema { types { name } } }")
                .is_err()
        );
        assert!(
            without_introspection
                .get("{ __schema { types { name } } }")
                .is_err()
        );
    }
}
