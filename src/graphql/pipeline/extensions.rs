//! What a mutation's resolvers add to its answer's top-level `extensions` (such as how many
//! guest favorites a merge left out): collected while the operation runs, moved into the answer
//! when it is done. Only mutations get one, so queries pay nothing for it.

use std::sync::{Arc, Mutex};

use async_graphql::{Context, Response, Value};

use crate::sync::lock;

#[derive(Clone, Default)]
pub struct AnswerExtensions(Arc<Mutex<Vec<(String, Value)>>>);

impl AnswerExtensions {
    /// Adds `name: value` to the answer's `extensions` (from a mutation's resolver; elsewhere
    /// it is dropped).
    pub fn add(ctx: &Context<'_>, name: &str, value: impl Into<Value>) {
        if let Some(extensions) = ctx.data_opt::<Self>() {
            lock(&extensions.0).push((name.to_owned(), value.into()));
        }
    }

    pub(super) fn move_into(self, response: &mut Response) {
        for (name, value) in lock(&self.0).drain(..) {
            response.extensions.insert(name, value);
        }
    }
}
