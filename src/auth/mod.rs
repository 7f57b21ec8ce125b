//! Who is calling: the admin's login (bcrypt, throttled), our own bearer tokens (HS256, for the
//! admin, for one client and for one guest shopper), and tokens from a store's identity
//! provider (checked against its JWKS). What a caller may do is decided elsewhere, by the service layer's policy.

mod identity_provider;
mod login;
mod throttle;
mod tokens;
mod username_backoff;

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use identity_provider::{ExternalIdentity, IdentityProvider, IdentityProviderSettings};
pub use login::AdminLogin;
pub use throttle::LoginThrottle;
pub use tokens::{AccessToken, LEEWAY_SECONDS as TOKEN_LEEWAY_SECONDS, TokenIssuer, issuer_of};

/// Who a verified token speaks for, before the service layer looks anyone up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Admin(Admin),
    /// One of our client tokens (`issueClientToken`).
    Client(ClientCaller),
    /// A shopper as the store's identity provider vouches for them, by e-mail.
    External(ExternalIdentity),
    /// A guest shopper's token (`startGuestSession`).
    Guest(GuestCaller),
}

/// The caller of one request, as the service layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No `Authorization` header at all.
    Anonymous,
    /// A token that did not verify (bad signature, expired, unknown client e-mail, ...).
    Rejected,
    Admin(Admin),
    Client(ClientCaller),
    /// A shopper who has not logged in: acts on its own list, and reads the catalog.
    Guest(GuestCaller),
}

impl Caller {
    /// When the token that proved who this is expires: a long-lived connection ends there.
    pub fn token_expires_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Admin(admin) => Some(admin.token_expires_at),
            Self::Client(client) => Some(client.token_expires_at),
            Self::Guest(guest) => Some(guest.token_expires_at),
            Self::Anonymous | Self::Rejected => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    pub username: String,
    pub token_expires_at: DateTime<Utc>,
}

/// A caller that acts for exactly one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCaller {
    pub client_id: Uuid,
    pub token_expires_at: DateTime<Utc>,
}

/// A caller that acts for one guest shopper's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestCaller {
    pub guest_id: Uuid,
    pub token_expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// One answer for an unknown user and a wrong password, so neither can be probed.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("too many failed logins, retry in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// Why is for the log; the caller is only told the token is not good.
    #[error("invalid or expired token: {0}")]
    InvalidToken(String),
    #[error("token signing failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
    #[error("token lifetime out of range")]
    Lifetime,
    #[error("password check did not complete")]
    Hashing(String),
}
