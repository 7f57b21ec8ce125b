//! Reading a GraphQL-over-HTTP request: a JSON body (one request, or an array of them) on POST,
//! or the query string on GET (`query`, `operationName`, `variables` and `extensions`, the last
//! two as JSON). Anything that is not a GraphQL request (not JSON, no `query` and no persisted
//! query's hash, a `query` that is not text, `variables` that are not an object...) is refused
//! here, with a message that says what a request looks like: HTTP 400, `BAD_REQUEST`.

use async_graphql::{BatchRequest, Extensions, Request, Variables};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The keys of a request, each of the type the spec gives it; others are ignored.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    query: Option<String>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Variables>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

/// Why a body or query string is not a GraphQL request (safe to show).
#[derive(Debug)]
pub struct NotARequest(pub String);

/// A POST body: one request object, or a non-empty array of them.
pub fn from_body(body: &[u8]) -> Result<BatchRequest, NotARequest> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    match first {
        Some(b'{') => Ok(BatchRequest::Single(request(parse::<Wire>(body)?)?)),
        Some(b'[') => {
            let batch: Vec<Wire> = parse(body)?;
            if batch.is_empty() {
                return Err(NotARequest("a batch must hold at least one request".into()));
            }
            let requests = batch.into_iter().map(request).collect::<Result<_, _>>()?;
            Ok(BatchRequest::Batch(requests))
        }
        _ => Err(NotARequest(
            "send a JSON object {\"query\", \"variables\", \"operationName\"} or an array of them"
                .into(),
        )),
    }
}

/// A GET's query string.
pub fn from_query_string(query_string: &str) -> Result<Request, NotARequest> {
    #[derive(Deserialize)]
    struct Params {
        query: Option<String>,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string)
        .map_err(|_| NotARequest("the query string cannot be read".into()))?;
    fn json<T: DeserializeOwned>(
        name: &str,
        text: Option<String>,
    ) -> Result<Option<T>, NotARequest> {
        text.filter(|text| !text.is_empty())
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|_| NotARequest(format!("`{name}` must be a JSON object")))
            })
            .transpose()
    }
    request(Wire {
        query: params.query,
        operation_name: params.operation_name.filter(|name| !name.is_empty()),
        variables: json("variables", params.variables)?,
        extensions: json("extensions", params.extensions)?,
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, NotARequest> {
    serde_json::from_slice(body).map_err(|error| {
        tracing::debug!(%error, "not a GraphQL request");
        NotARequest(
            "not a GraphQL request: `query` and `operationName` are text, `variables` and \
             `extensions` objects"
                .into(),
        )
    })
}

fn request(wire: Wire) -> Result<Request, NotARequest> {
    let extensions = wire.extensions.unwrap_or_default();
    let query = match wire.query {
        Some(query) => query,
        // A persisted query's hash stands in for its text (`extensions.persistedQuery`).
        None if extensions.contains_key("persistedQuery") => String::new(),
        None => {
            return Err(NotARequest(
                "a GraphQL request needs a `query` (or a persisted query's hash)".into(),
            ));
        }
    };
    let mut request = Request::new(query).variables(wire.variables.unwrap_or_default());
    request.operation_name = wire.operation_name;
    request.extensions = extensions;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_graphql_request_is_refused() {
        for body in [
            &b"{\"notquery\": 1}"[..],
            b"{\"qeury\": \"{ a }\"}",
            b"{\"query\": 7}",
            b"{\"query\": \"{ a }\", \"variables\": [1]}",
            b"[]",
            b"\"{ a }\"",
            b"",
        ] {
            assert!(
                from_body(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(from_body(b"{\"query\": \"{ a }\", \"variables\": null}").is_ok());
        assert!(matches!(
            from_body(b"[{\"query\": \"{ a }\"}, {\"query\": \"{ b }\"}]"),
            Ok(BatchRequest::Batch(batch)) if batch.len() == 2
        ));
        let hash_only =
            br#"{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab"}}}"#;
        assert!(from_body(hash_only).is_ok());
    }

    #[test]
    fn a_get_reads_its_variables_and_extensions_as_json() {
        let request = from_query_string(
            "query=query(%24id%3A%20Int!)%7B%20product(id%3A%20%24id)%20%7B%20id%20%7D%20%7D&variables=%7B%22id%22%3A3%7D",
        )
        .expect("a request");
        assert!(request.query.contains("product(id: $id)"));
        assert!(from_query_string("variables=%5B1%5D&query=%7Ba%7D").is_err());
        assert!(from_query_string("").is_err());
    }
}
