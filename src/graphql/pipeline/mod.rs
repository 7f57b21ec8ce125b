//! What every GraphQL operation goes through, over HTTP and WebSocket alike, in the order of
//! `executor`: the persisted-query look-up, our parse with the checks async-graphql lacks
//! (`document_guard`, kept parsed in `documents`), its variables (`operation`), the response
//! cache (answers kept as bytes: `kept`), execution, and the answer's final shape
//! (`answer_shape`: codes and nulls). What
//! became of the operation is a typed `Outcome`; `error` is where codes are written.

mod answer_shape;
mod document_guard;
mod documents;
pub mod error;
mod executor;
mod extensions;
mod kept;
mod null_propagation;
mod operation;
mod outcome;
pub mod persisted_queries;
mod response_cache;

pub use executor::{Api, ReadOnly};
pub use extensions::AnswerExtensions;
pub use kept::KeptAnswer;
pub use outcome::{Answer, Outcome};
