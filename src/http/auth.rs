//! The seed's REST door for tokens, kept so existing scripts keep working.

use axum::Json;
use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::client_address::client_address;
use crate::auth::AuthError;
use crate::graphql::error::code;
use crate::graphql::error::retry_after_seconds;

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
        .authenticator
        .login(client, &credentials.username, &credentials.password)
        .await
    {
        Ok(token) => Json(json!({
            "access_token": token.token,
            "token_type": "bearer",
            "expires_at": token.expires_at,
        }))
        .into_response(),
        Err(AuthError::InvalidCredentials) => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                code::UNAUTHENTICATED,
                "invalid username or password",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Err(AuthError::RateLimited { retry_after }) => {
            let seconds = retry_after_seconds(retry_after);
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                code::RATE_LIMITED,
                &format!("too many failed logins, retry in {seconds} s"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        Err(other) => {
            tracing::error!(error = %other, "token issue failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL_SERVER_ERROR,
                "internal server error",
            )
        }
    }
}

/// `detail` is what the seed's clients read; `code` matches the GraphQL error codes.
fn error(status: StatusCode, code: &str, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail, "code": code }))).into_response()
}
