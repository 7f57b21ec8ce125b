//! Tokens a session may obtain: the admin's, for the admin's username and password, a guest
//! shopper's (the two use cases that need no token), and tokens that act for one client.

use std::time::Duration;

use uuid::Uuid;

use super::error::Limited;
use super::policy::Action;
use super::{Result, ServiceError, Session};
use crate::auth::AccessToken;
use crate::db::repositories::clients;

/// Longest lifetime `issueClientToken` grants: a day.
pub const MAX_CLIENT_TOKEN_MINUTES: i32 = 24 * 60;

pub struct Tokens<'a> {
    session: &'a Session,
}

impl<'a> Tokens<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// The admin's login (`issueToken`, and the REST door): a token for the right username and
    /// password, within the login limits of the caller's address.
    pub async fn log_in_admin(&self, username: &str, password: &str) -> Result<AccessToken> {
        let services = self.session.services();
        services
            .login
            .log_in(self.session.inner.address, username, password)
            .await?;
        Ok(services.tokens.issue_admin()?)
    }

    /// `startGuestSession`: a token for a new guest shopper, within the guest-session limit
    /// of the caller's network. Nothing is written: the guest exists from its first favorite.
    pub fn start_guest_session(&self) -> Result<AccessToken> {
        let services = self.session.services();
        // Every start spends one of the network's minute.
        services
            .guest_sessions
            .spend(self.session.inner.address)
            .map_err(|retry_after| ServiceError::RateLimited {
                retry_after,
                what: Limited::GuestSessions,
            })?;
        let guest_id = Uuid::now_v7();
        tracing::debug!(%guest_id, "guest session started");
        Ok(services
            .tokens
            .issue_guest(guest_id, services.options.guest_token_lifetime)?)
    }

    /// `issueClientToken`: a token that acts for one client, for a store's backend that has
    /// authenticated the shopper itself.
    pub async fn issue_client(
        &self,
        client_id: Uuid,
        expires_in_minutes: Option<i32>,
    ) -> Result<AccessToken> {
        self.session
            .authorize(Action::IssueClientToken, Some(client_id))?;
        let services = self.session.services();
        let lifetime = match expires_in_minutes {
            None => services.options.client_token_lifetime,
            Some(minutes) if (1..=MAX_CLIENT_TOKEN_MINUTES).contains(&minutes) => {
                Duration::from_secs(u64::from(minutes.unsigned_abs()) * 60)
            }
            Some(minutes) => {
                return Err(ServiceError::BadUserInput(format!(
                    "`expiresInMinutes` must be between 1 and {MAX_CLIENT_TOKEN_MINUTES}, got {minutes}"
                )));
            }
        };
        clients::find(&services.db, client_id)
            .await?
            .ok_or_else(ServiceError::client_not_found)?;
        Ok(services.tokens.issue_client(client_id, lifetime)?)
    }
}
