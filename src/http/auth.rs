//! The seed's REST door for tokens, kept so existing scripts keep working.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::client_address::client_address;
use super::error::{status_of, with_headers};
use crate::service::{ServiceError, code};

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

pub async fn master_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    credentials: Result<Json<Credentials>, JsonRejection>,
) -> Response {
    let Json(credentials) = match credentials {
        Ok(credentials) => credentials,
        Err(rejection) => {
            tracing::debug!(error = %rejection.body_text(), "bad credentials body");
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::BAD_USER_INPUT,
                "expected a JSON body {\"username\": string, \"password\": string}",
            );
        }
    };
    let client = client_address(peer, &headers, state.limits.trust_proxy);
    match state
        .services
        .login(client, &credentials.username, &credentials.password)
        .await
    {
        Ok(token) => Json(json!({
            "access_token": token.token,
            "token_type": "bearer",
            "expires_at": token.expires_at,
        }))
        .into_response(),
        Err(failure) => refused(&failure),
    }
}

fn refused(failure: &ServiceError) -> Response {
    with_headers(
        failure,
        error(status_of(failure), failure.code(), &failure.message()),
    )
}

/// `detail` is what the seed's clients read; `code` matches the GraphQL error codes.
fn error(status: StatusCode, code: &str, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail, "code": code }))).into_response()
}
