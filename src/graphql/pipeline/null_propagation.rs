//! Null propagation as the GraphQL spec has it, applied to a finished answer that has errors: a
//! failed field is `null` in `data`, and a `null` in a non-null position makes its nearest
//! nullable parent `null` (or all of `data`). async-graphql 7 instead leaves a failed field out
//! of its object, which typed clients read as a malformed answer.
//!
//! This runs after execution, and only for answers with errors, rather than as an extension
//! watching every field: any extension takes async-graphql off its fast path for every field of
//! every answer. Which positions may be null comes from the schema's types, found by walking
//! the document along the error's path (response keys are aliases, so the document decides
//! which field a key is).

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationDefinition, Selection, SelectionSet, ServiceDocument,
    Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, PathSegment, Positioned, Response, Value};

/// The type of each field of each object type of the schema.
pub struct FieldTypes {
    types: HashMap<String, HashMap<String, Type>>,
}

/// One position along an error's path: whether it may be null, and for a field, the response
/// keys of its object in document order (where a missing key is to be put back).
struct Position {
    nullable: bool,
    siblings: Option<Vec<String>>,
}

impl FieldTypes {
    /// From the schema's SDL (`Schema::sdl`).
    pub fn from_sdl(sdl: &str) -> Self {
        let mut types = HashMap::new();
        if let Ok(ServiceDocument { definitions }) = async_graphql::parser::parse_schema(sdl) {
            for definition in definitions {
                let TypeSystemDefinition::Type(definition) = definition else {
                    continue;
                };
                let definition = definition.node;
                let fields = match definition.kind {
                    TypeKind::Object(object) => object.fields,
                    TypeKind::Interface(interface) => interface.fields,
                    _ => continue,
                };
                let fields = fields
                    .into_iter()
                    .map(|field| (field.node.name.node.to_string(), field.node.ty.node))
                    .collect();
                types.insert(definition.name.node.to_string(), fields);
            }
        }
        Self { types }
    }

    /// Puts `response` into the spec's shape: each error's field `null`, or its nearest
    /// nullable parent, or all of `data`.
    pub fn propagate_nulls(
        &self,
        response: &mut Response,
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        root_type: &str,
    ) {
        let paths: Vec<Vec<PathSegment>> = response
            .errors
            .iter()
            .filter(|error| !error.path.is_empty())
            .map(|error| error.path.clone())
            .collect();
        for path in paths {
            let positions = self.positions(document, operation, root_type, &path);
            match positions.iter().rposition(|position| position.nullable) {
                Some(at) => set_null(&mut response.data, &path[..=at], &positions[at]),
                None => response.data = Value::Null,
            }
        }
    }

    /// What the document and the schema say of each position along `path`. A position the walk
    /// cannot place (an introspection field, say) is taken as nullable, so only its own field
    /// becomes null.
    fn positions(
        &self,
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        root_type: &str,
        path: &[PathSegment],
    ) -> Vec<Position> {
        let mut positions = Vec::with_capacity(path.len());
        let mut selections: Vec<&SelectionSet> = vec![&operation.selection_set.node];
        let mut current: Option<Type> = Some(Type {
            base: BaseType::Named(Name::new(root_type)),
            nullable: true,
        });
        for segment in path {
            let (nullable, siblings, next) = match (segment, &current) {
                (PathSegment::Field(key), Some(parent)) => {
                    let mut fields = Vec::new();
                    let mut keys = Vec::new();
                    for set in &selections {
                        collect_fields(document, set, key, &mut fields, &mut keys);
                    }
                    let field_type = fields.first().and_then(|field| {
                        self.types
                            .get(named(parent))?
                            .get(field.name.node.as_str())
                            .cloned()
                    });
                    selections = fields
                        .iter()
                        .map(|field| &field.selection_set.node)
                        .collect();
                    let nullable = field_type.as_ref().is_none_or(|ty| ty.nullable);
                    (nullable, Some(keys), field_type)
                }
                (
                    PathSegment::Index(_),
                    Some(Type {
                        base: BaseType::List(item),
                        ..
                    }),
                ) => (item.nullable, None, Some((**item).clone())),
                _ => (true, None, None),
            };
            positions.push(Position { nullable, siblings });
            current = next;
        }
        positions
    }
}

/// The name of the object type a (possibly list) type holds.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named(item),
    }
}

/// The fields of `set` (fragments spread in place) answering under `key`, and every response
/// key of `set` in document order.
fn collect_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    key: &str,
    fields: &mut Vec<&'a async_graphql::parser::types::Field>,
    keys: &mut Vec<String>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(Positioned { node: field, .. }) => {
                let response_key = field.response_key().node.as_str();
                if response_key == key {
                    fields.push(field);
                }
                if !keys.iter().any(|seen| seen == response_key) {
                    keys.push(response_key.to_owned());
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect_fields(
                        document,
                        &fragment.node.selection_set.node,
                        key,
                        fields,
                        keys,
                    );
                }
            }
            Selection::InlineFragment(inline) => {
                collect_fields(document, &inline.node.selection_set.node, key, fields, keys);
            }
        }
    }
}

/// Makes the last position of `path` null in `data`, unless something above it already is.
fn set_null(data: &mut Value, path: &[PathSegment], position: &Position) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut value = data;
    for segment in parents {
        value = match (segment, value) {
            (PathSegment::Field(key), Value::Object(object)) => {
                match object.get_mut(key.as_str()) {
                    Some(child) => child,
                    None => return,
                }
            }
            (PathSegment::Index(index), Value::List(items)) => match items.get_mut(*index) {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
    match (last, value) {
        (PathSegment::Field(key), Value::Object(object)) => {
            let name = Name::new(key);
            if let Some(existing) = object.get_mut(&name) {
                *existing = Value::Null;
                return;
            }
            // Back where the document puts it: after the keys that come before it.
            let index = position
                .siblings
                .as_ref()
                .and_then(|keys| keys.iter().position(|k| k == key))
                .map(|order| {
                    let siblings = position.siblings.as_deref().unwrap_or_default();
                    object
                        .keys()
                        .filter(|present| {
                            siblings
                                .iter()
                                .position(|k| k.as_str() == present.as_str())
                                .is_some_and(|at| at < order)
                        })
                        .count()
                })
                .unwrap_or(object.len());
            object.shift_insert(index, name, Value::Null);
        }
        (PathSegment::Index(index), Value::List(items)) => {
            if let Some(item) = items.get_mut(*index) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::ServerError;
    use serde_json::json;

    use super::*;

    const SDL: &str = "
        type Query { client(id: ID!): Client, clients: [Client!]!, tags: [String] }
        type Client { id: ID!, name: String!, nickname: String, favorites: [Favorite!]! }
        type Favorite { productId: Int!, product: Product }
        type Product { title: String! }
    ";

    /// `data` as async-graphql leaves it (failed fields left out), with errors at `paths`.
    fn shaped(query: &str, data: serde_json::Value, paths: &[&[&str]]) -> serde_json::Value {
        serde_json::from_str(&shaped_text(query, data, paths)).expect("JSON")
    }

    /// The shaped answer as the server would write it (keys in their order).
    fn shaped_text(query: &str, data: serde_json::Value, paths: &[&[&str]]) -> String {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let operation = match &document.operations {
            async_graphql::parser::types::DocumentOperations::Single(operation) => {
                operation.node.clone()
            }
            _ => unreachable!(),
        };
        let mut response = Response::new(Value::from_json(data).expect("a value"));
        for path in paths {
            let mut error = ServerError::new("failed", None);
            error.path = path
                .iter()
                .map(|segment| match segment.parse::<usize>() {
                    Ok(index) => PathSegment::Index(index),
                    Err(_) => PathSegment::Field(segment.to_string()),
                })
                .collect();
            response.errors.push(error);
        }
        FieldTypes::from_sdl(SDL).propagate_nulls(&mut response, &document, &operation, "Query");
        serde_json::to_string(&response.data).expect("JSON")
    }

    #[test]
    fn a_nullable_field_that_failed_is_null_in_its_place() {
        let query = "{ client(id: 1) { id nickname name } }";
        let data = json!({ "client": { "id": "1", "name": "Ana" } });
        let shaped = shaped_text(query, data, &[&["client", "nickname"]]);
        assert_eq!(
            shaped,
            r#"{"client":{"id":"1","nickname":null,"name":"Ana"}}"#
        );
    }

    #[test]
    fn a_non_null_field_takes_its_nearest_nullable_parent() {
        let query = "{ c: client(id: 1) { id name } tags }";
        let data = json!({ "c": { "id": "1" }, "tags": ["a"] });
        let shaped = shaped(query, data, &[&["c", "name"]]);
        assert_eq!(shaped, json!({ "c": null, "tags": ["a"] }));
    }

    #[test]
    fn through_non_null_lists_up_to_a_non_null_root_field_data_goes() {
        let query = "{ clients { favorites { productId } } tags }";
        let data = json!({ "clients": [{ "favorites": [{}] }], "tags": [] });
        assert_eq!(
            shaped(
                query,
                data,
                &[&["clients", "0", "favorites", "0", "productId"]]
            ),
            json!(null)
        );
    }

    #[test]
    fn fragments_and_aliases_are_followed() {
        let query = "{ clients { ...F } } fragment F on Client { list: favorites { ... on Favorite { p: product { title } } } }";
        let data = json!({ "clients": [{ "list": [{ "p": {} }, { "p": { "title": "t" } }] }] });
        let shaped = shaped(query, data, &[&["clients", "0", "list", "0", "p", "title"]]);
        assert_eq!(
            shaped,
            json!({ "clients": [{ "list": [{ "p": null }, { "p": { "title": "t" } }] }] })
        );
    }
}
