//! A bearer token as `issueToken` and `issueClientToken` return it.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::service;

/// A bearer token for the `Authorization` header: the admin's, or one that acts for one client.
#[derive(Clone, Debug, SimpleObject)]
pub struct AccessToken {
    /// The JWT; send it as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl From<service::AccessToken> for AccessToken {
    fn from(token: service::AccessToken) -> Self {
        Self {
            access_token: token.token,
            token_type: "Bearer".to_owned(),
            expires_at: token.expires_at,
        }
    }
}
