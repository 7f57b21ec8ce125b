//! The seed's REST door for the admin's token, kept so existing scripts keep working:
//! `POST /api/v1/auth/master-token` with `{"username", "password"}`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{status_of, with_headers};
use super::peer::peer_address;
use crate::domain::ErrorCode;
use crate::service::ServiceError;

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
            // 422, not the 400 `BAD_USER_INPUT` has elsewhere: what the seed service (FastAPI)
            // answered a body it could not read, and what its scripts expect.
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadUserInput,
                "expected a JSON body {\"username\": string, \"password\": string}",
            );
        }
    };
    let address = peer_address(peer, &headers, state.limits.trust_proxy);
    // The login itself is a use case like any other, of a caller who has no token yet.
    let login = match state.services.open_session(None, address, 1).await {
        Ok(session) => {
            session
                .tokens()
                .log_in_admin(&credentials.username, &credentials.password)
                .await
        }
        Err(failure) => Err(failure),
    };
    match login {
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
        error(
            status_of(failure.code()),
            failure.code(),
            &failure.message(),
        ),
    )
}

/// `detail` is what the seed's clients read; `code` matches the GraphQL error codes.
fn error(status: StatusCode, code: ErrorCode, detail: &str) -> Response {
    (
        status,
        Json(json!({ "detail": detail, "code": code.as_str() })),
    )
        .into_response()
}
