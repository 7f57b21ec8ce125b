//! Checks on the document itself that async-graphql does not make, each of which was a way to
//! take the server down with a request of a few kilobytes:
//! - nesting of `[`, `{` and `(` in the text: the parser and validator recurse once per level,
//!   and a few thousand levels overflow a worker's stack, which aborts the whole process;
//! - the size of the document once fragments are expanded: `...F0` with `F0 { ...F1 ...F1 }`
//!   and so on doubles at every level, and validation (synchronous, so no timeout can stop it)
//!   walks the expansion;
//! - introspection fields, whose answers are large and which the complexity limit ignores.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult};

use super::error::{refusal, set_code};
use crate::domain::ErrorCode;

/// Deepest nesting of brackets, braces and parentheses a document may have.
pub const MAX_NESTING: usize = 64;
/// Most field selections a document may expand to, fragments spread in place.
pub const MAX_EXPANDED_FIELDS: usize = 5_000;
/// Most `__schema`/`__type` fields a document may expand to.
pub const MAX_INTROSPECTION_FIELDS: usize = 5;

/// Parses `query` with the checks async-graphql lacks, and returns the document for it to run
/// (so it is parsed once). `introspection` false refuses a document that asks for it, rather
/// than answering it with a silent null.
pub fn check(query: &str, introspection: bool) -> ServerResult<ExecutableDocument> {
    let refuse = |code, message: String| Err(refusal(code, message));
    // Before the parser sees it: the parser recurses once per level.
    if nesting_depth(query, MAX_NESTING) > MAX_NESTING {
        return refuse(
            ErrorCode::GraphqlParseFailed,
            format!("the document nests deeper than {MAX_NESTING} levels"),
        );
    }
    let document = async_graphql::parser::parse_query(query).map_err(|error| {
        let mut error = ServerError::from(error);
        set_code(&mut error, ErrorCode::GraphqlParseFailed);
        error
    })?;
    // Measured before async-graphql's checks: its recursion check walks every fragment spread in
    // full, which is exponential for a fragment that doubles at each level (and synchronous, so
    // no timeout can stop it).
    let size = expansion(&document);
    if size.fields > MAX_EXPANDED_FIELDS {
        return refuse(
            ErrorCode::GraphqlValidationFailed,
            format!("the document expands to more than {MAX_EXPANDED_FIELDS} fields"),
        );
    }
    if size.introspection_fields > 0 && !introspection {
        return refuse(
            ErrorCode::GraphqlValidationFailed,
            "introspection is disabled on this server".to_owned(),
        );
    }
    if size.introspection_fields > MAX_INTROSPECTION_FIELDS {
        return refuse(
            ErrorCode::GraphqlValidationFailed,
            format!("a document may hold at most {MAX_INTROSPECTION_FIELDS} introspection fields"),
        );
    }
    Ok(document)
}

/// The deepest nesting in `query`, ignoring strings and comments. Stops counting past `limit`.
pub fn nesting_depth(query: &str, limit: usize) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
            b']' | b'}' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    pub fields: usize,
    pub introspection_fields: usize,
}

impl Expansion {
    fn add(self, other: Self) -> Self {
        Self {
            fields: self.fields.saturating_add(other.fields),
            introspection_fields: self
                .introspection_fields
                .saturating_add(other.introspection_fields),
        }
    }
}

/// What every operation of `document` expands to, each fragment measured once.
pub fn expansion(document: &ExecutableDocument) -> Expansion {
    let mut measured = HashMap::new();
    document
        .operations
        .iter()
        .fold(Expansion::default(), |total, (_, operation)| {
            total.add(measure(
                document,
                &operation.node.selection_set.node,
                &mut measured,
            ))
        })
}

fn measure<'a>(
    document: &'a ExecutableDocument,
    selections: &'a SelectionSet,
    measured: &mut HashMap<&'a str, Option<Expansion>>,
) -> Expansion {
    selections
        .items
        .iter()
        .fold(Expansion::default(), |total, selection| {
            let part = match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    Expansion {
                        fields: 1,
                        introspection_fields: usize::from(name == "__schema" || name == "__type"),
                    }
                    .add(measure(
                        document,
                        &field.node.selection_set.node,
                        measured,
                    ))
                }
                Selection::InlineFragment(fragment) => {
                    measure(document, &fragment.node.selection_set.node, measured)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match measured.get(name) {
                        Some(Some(known)) => *known,
                        // A cycle: validation refuses it; count nothing here.
                        Some(None) => Expansion::default(),
                        None => match document.fragments.get(&spread.node.fragment_name.node) {
                            Some(fragment) => {
                                measured.insert(name, None);
                                let size =
                                    measure(document, &fragment.node.selection_set.node, measured);
                                measured.insert(name, Some(size));
                                size
                            }
                            None => Expansion::default(),
                        },
                    }
                }
            };
            total.add(part)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).unwrap()
    }

    #[test]
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting_depth("{ a { b(x: [[1]]) } }", 100), 5);
        assert_eq!(nesting_depth("{ a(s: \"[[[[{{\") # (((((\n }", 100), 2);
        assert_eq!(
            nesting_depth("{ a(s: \"\"\" [[[ \\\"\"\" ((( \"\"\") }", 100),
            2
        );
        assert!(nesting_depth(&"[".repeat(10_000), 64) > 64);
    }

    #[test]
    fn fragments_are_measured_once_but_counted_in_full() {
        let mut bomb = String::from("{ ...F0 } ");
        for i in 0..30 {
            bomb.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }} ",
                i + 1,
                i + 1
            ));
        }
        bomb.push_str("fragment F30 on Query { __typename }");
        let size = expansion(&parse(&bomb));
        assert!(size.fields > MAX_EXPANDED_FIELDS, "{size:?}");

        let plain = expansion(&parse("{ a { b c } d: __schema { types { name } } }"));
        assert_eq!(
            plain,
            Expansion {
                fields: 6,
                introspection_fields: 1
            }
        );
    }

    #[test]
    fn fragment_cycles_do_not_loop() {
        let size = expansion(&parse(
            "{ ...A } fragment A on Q { x ...B } fragment B on Q { ...A }",
        ));
        assert_eq!(size.fields, 1);
    }
}
