use std::net::SocketAddr;

use async_graphql::BatchRequest;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::client_address::client_address;
use super::middleware::error_response;
use crate::graphql::error::code;
use crate::graphql::guards::{Caller, ClientAddress};
use crate::graphql::loaders::RequestLoaders;

pub async fn graphql_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<GraphQLBatchRequest, GraphQLRejection>,
) -> Response {
    let request = match request {
        Ok(request) => request.into_inner(),
        Err(rejection) => return bad_request(&rejection),
    };
    if let BatchRequest::Batch(operations) = &request
        && operations.len() > state.limits.max_batch_size
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            code::BATCH_TOO_LARGE,
            &format!(
                "a batch may hold at most {} operations, this one has {}",
                state.limits.max_batch_size,
                operations.len()
            ),
        );
    }
    let caller = caller(&headers, &state);
    let address = ClientAddress(client_address(peer, &headers, state.limits.trust_proxy));
    let loaders = RequestLoaders::new(state.db.clone(), state.catalog.clone());
    let request = request.data(caller).data(address).data(loaders);
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

/// Decodes the bearer token once per request; guards read the result.
fn caller(headers: &HeaderMap, state: &AppState) -> Caller {
    match headers.get(header::AUTHORIZATION) {
        None => Caller::Anonymous,
        Some(value) => caller_from_authorization(value.to_str().ok(), state),
    }
}

/// The caller an `Authorization` value (`Bearer <token>`) stands for; `None` is a value that
/// is not text.
pub(super) fn caller_from_authorization(value: Option<&str>, state: &AppState) -> Caller {
    let token = value
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token.map(|token| state.authenticator.verify(token)) {
        Some(Ok(admin)) => Caller::Admin(admin),
        _ => Caller::InvalidToken,
    }
}

/// A body that is not a GraphQL request at all (not JSON, no `query`...): still a GraphQL-shaped
/// answer with a code.
/// The parser's own words name Rust types ("untagged enum BatchRequest"): log them, and tell the
/// caller what a request looks like instead.
fn bad_request(rejection: &GraphQLRejection) -> Response {
    tracing::debug!(error = %rejection.0, "not a GraphQL request");
    error_response(
        StatusCode::BAD_REQUEST,
        code::BAD_REQUEST,
        "not a GraphQL request: send a JSON object {\"query\", \"variables\", \"operationName\"} or an array of them",
    )
}
