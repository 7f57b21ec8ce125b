//! Every finished answer in the shape the spec and our callers expect: codes on async-graphql's
//! own errors (`error`) and nulls where fields failed (`null_propagation`). Done once per answer,
//! and only to answers with errors, so that the schema has no extension: with none,
//! async-graphql resolves each field without a boxed hook around it (a tenth of the CPU of a
//! long list, in profiles).

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, Value};

use super::super::AppSchema;
use super::error::{code_refusals, code_the_rest};
use super::null_propagation::FieldTypes;
use crate::domain::ErrorCode;

pub struct AnswerShape {
    fields: FieldTypes,
}

impl AnswerShape {
    pub fn new(schema: &AppSchema) -> Self {
        Self {
            fields: FieldTypes::from_sdl(&schema.sdl()),
        }
    }

    /// Shapes `response`, the answer to `operation_name` of `document` (only asked for when
    /// fields failed). Returns the code it was refused with when nothing ran: async-graphql
    /// refused the operation before execution (validation, a limit, no such operation).
    pub fn finish(
        &self,
        response: &mut Response,
        document: impl FnOnce() -> Option<ExecutableDocument>,
        operation_name: Option<&str>,
    ) -> Option<ErrorCode> {
        if response.errors.is_empty() {
            return None;
        }
        // Without data, and with no error at a field, nothing ran. (A non-null root field that
        // failed also leaves no data, but its error has a path.)
        if response.data == Value::Null && response.errors.iter().all(|error| error.path.is_empty())
        {
            return Some(code_refusals(&mut response.errors));
        }
        code_the_rest(&mut response.errors);
        if response.errors.iter().any(|error| !error.path.is_empty())
            && let Some(document) = document()
        {
            self.null_failed_fields(response, &document, operation_name);
        }
        None
    }

    fn null_failed_fields(
        &self,
        response: &mut Response,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
    ) {
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => Some(operation),
            (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
            (DocumentOperations::Multiple(operations), None) => operations.values().next(),
        };
        let Some(operation) = operation else {
            return;
        };
        let root_type = match operation.node.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        self.fields
            .propagate_nulls(response, document, &operation.node, root_type);
    }
}
