//! `/graphql` over HTTP: POST runs any operation; GET serves GraphiQL to a browser and runs
//! queries for everyone else (a mutation over GET is 405, `Allow: POST`). Either way: read the
//! request, authenticate once, count it against the caller's allowance, hand the API a session,
//! answer in the media type the client accepts.

use std::net::SocketAddr;

use async_graphql::{BatchRequest, Executor};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::client_address::client_address;
use super::error::{error_response, service_error_response};
use super::graphiql;
use super::graphql_request::{self, NotARequest};
use super::negotiation::{self, MediaType};
use crate::auth::Caller;
use crate::graphql::ReadOnly;
use crate::service::{Result, code};

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiation::negotiate(&headers) else {
        return negotiation::not_acceptable();
    };
    match graphql_request::from_body(&body) {
        Ok(request) => run(state, peer, &headers, request, media).await,
        Err(NotARequest(why)) => error_response(StatusCode::BAD_REQUEST, code::BAD_REQUEST, &why),
    }
}

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if negotiation::prefers_html(&headers) {
        let mut page = graphiql::page(State(state.graphiql.clone())).await;
        page.headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept"));
        return page;
    }
    let Some(media) = negotiation::negotiate(&headers) else {
        return negotiation::not_acceptable();
    };
    let request = match graphql_request::from_query_string(query.as_deref().unwrap_or("")) {
        Ok(request) => request.data(ReadOnly),
        Err(NotARequest(why)) => {
            return error_response(StatusCode::BAD_REQUEST, code::BAD_REQUEST, &why);
        }
    };
    let response = run(state, peer, &headers, BatchRequest::Single(request), media).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let mut response = response;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    response
}

async fn run(
    state: AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    request: BatchRequest,
    media: MediaType,
) -> Response {
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
    let caller = match authenticate(&state, headers).await {
        Ok(caller) => caller,
        Err(error) => return service_error_response(&error),
    };
    let operations = u32::try_from(operations).unwrap_or(u32::MAX);
    if let Err(error) = state.services.admit(&caller, operations) {
        return service_error_response(&error);
    }
    let address = client_address(peer, headers, state.limits.trust_proxy);
    let request = request.data(state.services.session(caller, address));
    let answer = state.api.execute_batch(request).await;
    if method_not_allowed(&answer) {
        let mut response = negotiation::respond(answer, media);
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return response;
    }
    negotiation::respond(answer, media).into_response()
}

/// A mutation (or subscription) asked for over GET.
fn method_not_allowed(answer: &async_graphql::BatchResponse) -> bool {
    let async_graphql::BatchResponse::Single(response) = answer else {
        return false;
    };
    response.errors.iter().any(|error| {
        matches!(
            error.extensions.as_ref().and_then(|extensions| extensions.get("code")),
            Some(async_graphql::Value::String(code)) if code == code::METHOD_NOT_ALLOWED
        )
    })
}

/// The caller of a request, from its `Authorization` header (decoded once per request).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(Caller::Anonymous),
        Some(value) => state.services.authenticate(value.to_str().ok()).await,
    }
}
