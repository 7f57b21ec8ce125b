//! The operation of a request that will run: which one a document's `operationName` picks, what
//! it is called, whether it is a query, and whether its variables fit it before anything runs.
//!
//! async-graphql checks a variable against a built-in scalar (`Int`, `String`...) when it
//! validates, but takes a custom scalar (`UUID`, `DateTime`) on trust until a resolver parses the
//! argument: `{"id": "zz"}` for `$id: UUID!` ran the operation and failed inside it. The
//! GraphQL-over-HTTP specification counts a variable that cannot be coerced as a request that
//! cannot run (HTTP 400 in `application/graphql-response+json`), so it is checked here, first.

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Type,
};
use async_graphql::{Name, Positioned, Request, ServerError, Value};

use super::error::refusal;
use crate::domain::ErrorCode;

/// The operation that will run, if the document and `operationName` pick one.
fn selected<'a>(
    request: &Request,
    document: &'a ExecutableDocument,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        _ => None,
    }
}

/// The name the caller chose, or the document's only operation's name.
pub fn name(request: &Request, document: &ExecutableDocument) -> Option<String> {
    if request.operation_name.is_some() {
        return request.operation_name.clone();
    }
    match &document.operations {
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.to_string())
        }
        _ => None,
    }
}

/// Whether the operation that will run is a query (only queries' answers are kept, and only
/// queries run by GET).
pub fn is_query(request: &Request, document: &ExecutableDocument) -> bool {
    selected(request, document).is_some_and(|operation| operation.node.ty == OperationType::Query)
}

/// Every variable of the operation that will run is given when it must be, and each value of a
/// custom scalar parses; `BAD_USER_INPUT` (without a path: nothing ran) for the first that does
/// not. Built-in scalars and input objects are left to async-graphql's validation.
pub fn check_variables(
    request: &Request,
    document: &ExecutableDocument,
) -> Result<(), ServerError> {
    let Some(operation) = selected(request, document) else {
        return Ok(());
    };
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        let name = &definition.name.node;
        let ty = &definition.var_type.node;
        let problem = match request.variables.get(name) {
            None if !ty.nullable && definition.default_value.is_none() => {
                Some(format!("variable `${name}` of type `{ty}` is required"))
            }
            None => None,
            Some(value) => (!fits(ty, value))
                .then(|| format!("variable `${name}` is not a valid `{ty}`: {value}")),
        };
        if let Some(problem) = problem {
            let mut error = refusal(ErrorCode::BadUserInput, problem);
            error.locations = vec![definition.name.pos];
            return Err(error);
        }
    }
    Ok(())
}

/// Whether `value` fits `ty` as far as nullability and our custom scalars go.
fn fits(ty: &Type, value: &Value) -> bool {
    match (&ty.base, value) {
        (_, Value::Null) => ty.nullable,
        (BaseType::List(item), Value::List(items)) => items.iter().all(|value| fits(item, value)),
        // A single value stands for a list of one (input coercion).
        (BaseType::List(item), value) => fits(item, value),
        (BaseType::Named(name), value) => custom_scalar_fits(name, value),
    }
}

fn custom_scalar_fits(name: &Name, value: &Value) -> bool {
    match (name.as_str(), value) {
        ("UUID", Value::String(text)) => uuid::Uuid::parse_str(text).is_ok(),
        ("DateTime", Value::String(text)) => text.parse::<chrono::DateTime<chrono::Utc>>().is_ok(),
        ("UUID" | "DateTime", _) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, variables: serde_json::Value) -> Result<(), String> {
        let request = Request::new(query).variables(async_graphql::Variables::from_json(variables));
        let document = async_graphql::parser::parse_query(query).expect("parses");
        check_variables(&request, &document).map_err(|error| error.message)
    }

    #[test]
    fn a_custom_scalar_variable_must_parse_and_a_required_one_be_given() {
        let query = "query($id: UUID!, $ids: [UUID!], $at: DateTime) { a }";
        let id = "0190f2a8-7c1e-7000-8000-000000000000";
        assert_eq!(check(query, serde_json::json!({ "id": id })), Ok(()));
        assert_eq!(
            check(
                query,
                serde_json::json!({ "id": id, "ids": [id], "at": "2026-12-01T00:00:00Z" })
            ),
            Ok(())
        );
        assert_eq!(
            check(query, serde_json::json!({ "id": id, "ids": id })),
            Ok(())
        );
        for wrong in [
            serde_json::json!({}),
            serde_json::json!({ "id": null }),
            serde_json::json!({ "id": "zz" }),
            serde_json::json!({ "id": 7 }),
            serde_json::json!({ "id": id, "ids": [null] }),
            serde_json::json!({ "id": id, "at": "yesterday" }),
        ] {
            assert!(check(query, wrong.clone()).is_err(), "{wrong}");
        }
        // With a default, it may be left out.
        assert_eq!(
            check(
                &format!("query($id: UUID! = \"{id}\") {{ a }}"),
                serde_json::json!({})
            ),
            Ok(())
        );
    }
}
