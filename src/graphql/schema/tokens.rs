//! Tokens: the admin's login (`issueToken`, the one operation that needs no token) and tokens
//! that act for one client (`issueClientToken`).

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::session;
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

#[derive(Default)]
pub struct TokensMutation;

#[Object]
impl TokensMutation {
    /// Exchanges the admin's username and password for a bearer token. The only operation that
    /// needs no token.
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The admin's username.")] username: String,
        #[graphql(desc = "The admin's password.")] password: String,
    ) -> async_graphql::Result<AccessToken> {
        let token = session(ctx)?
            .tokens()
            .log_in_admin(&username, &password)
            .await?;
        Ok(token.into())
    }

    /// A token that acts for one client only, for a store's backend that has authenticated the
    /// shopper itself. Admin only; `NOT_FOUND` when there is no such client.
    async fn issue_client_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client the token acts for.")] client_id: Uuid,
        #[graphql(
            desc = "Lifetime in minutes, 1 to 1440 (default `CLIENT_TOKEN_EXPIRE_MINUTES`, 60)."
        )]
        expires_in_minutes: Option<i32>,
    ) -> async_graphql::Result<AccessToken> {
        let token = session(ctx)?
            .tokens()
            .issue_client(client_id, expires_in_minutes)
            .await?;
        Ok(token.into())
    }
}
