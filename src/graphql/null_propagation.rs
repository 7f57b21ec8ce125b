//! Null propagation as the GraphQL spec has it: a failed field is `null` in `data`, and a
//! `null` in a non-null field makes its nearest nullable parent `null` (or all of `data`), with
//! the error in `errors`. async-graphql 7 instead leaves a failed field out of its object,
//! which typed clients read as a malformed answer. One of these per operation, fed every
//! field's outcome (`answer_shape`).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{QueryPathNode, Response, ServerError, ServerResult, Value};

use crate::sync::lock;

#[derive(Default)]
pub struct NullPropagation {
    /// Errors of nullable fields that we turned into `null`: async-graphql no longer sees them.
    errors_of_nulled_fields: Mutex<Vec<ServerError>>,
    /// Paths of fields whose value must be discarded because a non-null field inside failed.
    /// The empty path stands for the whole of `data`.
    failed_fields: Mutex<HashSet<Vec<String>>>,
    /// Whether `failed_fields` was ever written: most answers fail nowhere, and then no field
    /// needs the lock (taking it for every field showed up as contention in profiles).
    any_field_failed: AtomicBool,
}

impl NullPropagation {
    /// The outcome of one field as it should reach its parent.
    pub fn field(
        &self,
        nullable: bool,
        path: &QueryPathNode<'_>,
        result: ServerResult<Option<Value>>,
    ) -> ServerResult<Option<Value>> {
        // This runs for every field of every answer: the path is only spelled out (one
        // allocation per segment) when something failed.
        let child_failed = self.any_field_failed.load(Ordering::Acquire) && {
            let mut failed = lock(&self.failed_fields);
            !failed.is_empty() && failed.remove(&path.to_string_vec())
        };
        match result {
            Err(error) if nullable => {
                lock(&self.errors_of_nulled_fields).push(error);
                Ok(Some(Value::Null))
            }
            Err(error) => {
                // async-graphql records the error and drops the field; its parent must go too.
                self.fail_enclosing_field(path.to_string_vec());
                Err(error)
            }
            Ok(_) if child_failed && nullable => Ok(Some(Value::Null)),
            Ok(value) => {
                if child_failed {
                    self.fail_enclosing_field(path.to_string_vec());
                }
                Ok(value)
            }
        }
    }

    /// Applies what the fields reported to the finished answer.
    pub fn finish(&self, response: &mut Response) {
        if self.any_field_failed.load(Ordering::Acquire)
            && lock(&self.failed_fields).contains(&Vec::new())
        {
            response.data = Value::Null;
        }
        response
            .errors
            .extend(lock(&self.errors_of_nulled_fields).drain(..));
    }

    /// Marks the field that encloses `path` as failed: the field itself is gone, and so is any
    /// list item around it (our lists hold non-null items).
    fn fail_enclosing_field(&self, mut path: Vec<String>) {
        path.pop();
        while path
            .last()
            .is_some_and(|segment| segment.parse::<usize>().is_ok())
        {
            path.pop();
        }
        lock(&self.failed_fields).insert(path);
        self.any_field_failed.store(true, Ordering::Release);
    }
}
