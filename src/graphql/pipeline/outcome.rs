//! What became of an operation, as a value: what the transports pick a status and headers
//! from, rather than reading codes back out of the answer.

use std::sync::Arc;

use async_graphql::{BatchResponse, Response, ServerError};

use super::error::code_of;
use super::kept::KeptAnswer;
use crate::domain::ErrorCode;

/// What became of one operation: what the HTTP layer picks a status and headers from.
pub enum Outcome {
    /// It ran; its errors, if any, are in the answer.
    Ran(Response),
    /// An answer without errors, serialized: from the response cache, or just computed and
    /// kept there (it goes out as these bytes).
    Kept(Arc<KeptAnswer>),
    /// Nothing ran: the document, its variables or its persisted query could not be run.
    /// `code` is the code of its (first) error.
    Refused { code: ErrorCode, response: Response },
    /// A mutation (or subscription) that came by GET (`ReadOnly`): nothing ran.
    NotAQuery(Response),
}

impl Outcome {
    pub fn into_response(self) -> Response {
        match self {
            Self::Ran(response) | Self::Refused { response, .. } | Self::NotAQuery(response) => {
                response
            }
            Self::Kept(answer) => answer.to_response(),
        }
    }

    pub(super) fn refused(error: ServerError) -> Self {
        Self::Refused {
            code: code_of(&error).unwrap_or(ErrorCode::BadRequest),
            response: Response::from_errors(vec![error]),
        }
    }
}

/// What became of a request's operations: one, or each of a batch, in order. (Shaped like
/// async-graphql's `BatchResponse`; moved once or twice per request, so not boxed.)
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    Single(Outcome),
    Batch(Vec<Outcome>),
}

impl Answer {
    pub fn into_batch_response(self) -> BatchResponse {
        match self {
            Self::Single(outcome) => BatchResponse::Single(outcome.into_response()),
            Self::Batch(outcomes) => {
                BatchResponse::Batch(outcomes.into_iter().map(Outcome::into_response).collect())
            }
        }
    }
}
