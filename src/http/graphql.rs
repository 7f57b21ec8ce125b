//! `/graphql` over HTTP: POST runs any operation; GET serves GraphiQL to a browser and runs
//! queries for everyone else (a mutation over GET is 405, `Allow: POST`). Either way: read the
//! request, open the caller's session (authenticated once, counted against its allowance), hand
//! it to the API, and answer in the media type the caller accepts, with the status that what
//! became of the request calls for.

use std::net::SocketAddr;

use async_graphql::BatchRequest;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::AppState;
use super::encoding::Encoding;
use super::error::{error_response, service_error_response};
use super::graphiql;
use super::graphql_request::{self, NotARequest};
use super::negotiation::{self, MediaType};
use super::peer::peer_address;
use crate::domain::ErrorCode;
use crate::graphql::ReadOnly;

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
        Err(NotARequest(why)) => error_response(ErrorCode::BadRequest, &why),
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
    match graphql_request::from_query_string(query.as_deref().unwrap_or("")) {
        Ok(request) => {
            let request = BatchRequest::Single(request.data(ReadOnly));
            run(state, peer, &headers, request, media).await
        }
        Err(NotARequest(why)) => error_response(ErrorCode::BadRequest, &why),
    }
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
            ErrorCode::BatchTooLarge,
            &format!(
                "a batch may hold at most {} operations, this one has {operations}",
                state.limits.max_batch_size,
            ),
        );
    }
    // The token is read from the header alone (never a cookie): see the README on GET and CSRF.
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().ok());
    let address = peer_address(peer, headers, state.limits.trust_proxy);
    let operations = u32::try_from(operations).unwrap_or(u32::MAX);
    let session = match state
        .services
        .open_session(authorization, address, operations)
        .await
    {
        Ok(session) => session,
        Err(error) => return service_error_response(&error),
    };
    let answer = state.api.answer(request.data(session)).await;
    negotiation::respond(answer, media, Encoding::preferred(headers))
}
