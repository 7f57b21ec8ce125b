//! `POST /graphql`: authenticate once, count the request against the caller's allowance, hand
//! the schema a session, answer.

use std::net::SocketAddr;

use async_graphql::{BatchRequest, Executor};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::client_address::client_address;
use super::error::{error_response, service_error_response};
use crate::auth::Caller;
use crate::service::{Result, code};

pub async fn graphql_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: std::result::Result<GraphQLBatchRequest, GraphQLRejection>,
) -> Response {
    let request = match request {
        Ok(request) => request.into_inner(),
        Err(rejection) => return bad_request(&rejection),
    };
    let operations = match &request {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(operations) => operations.len(),
    };
    if operations > state.limits.max_batch_size {
        return error_response(
            StatusCode::BAD_REQUEST,
            code::BATCH_TOO_LARGE,
            &format!(
                "a batch may hold at most {} operations, this one has {operations}",
                state.limits.max_batch_size,
            ),
        );
    }
    let caller = match authenticate(&state, &headers).await {
        Ok(caller) => caller,
        Err(error) => return service_error_response(&error),
    };
    let operations = u32::try_from(operations).unwrap_or(u32::MAX);
    if let Err(error) = state.services.admit(&caller, operations) {
        return service_error_response(&error);
    }
    let address = client_address(peer, &headers, state.limits.trust_proxy);
    let request = request.data(state.services.session(caller, address));
    GraphQLResponse::from(state.api.execute_batch(request).await).into_response()
}

/// The caller of a request, from its `Authorization` header (decoded once per request).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(Caller::Anonymous),
        Some(value) => state.services.authenticate(value.to_str().ok()).await,
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
