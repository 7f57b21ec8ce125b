//! Our own bearer tokens: HS256 JWTs signed with `SECRET_KEY`, with `sub`, `role`, `iat`, `exp`,
//! `iss` and `aud`, all checked on the way in. An admin token's subject is the admin's username;
//! a client token's is the client's id, with `role: "client"`; a guest shopper's is the guest's
//! id, with `role: "guest"`. Only HS256 is ever accepted here,
//! whatever a token's header says.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Admin, AuthError, ClientCaller, Credential, GuestCaller};

use crate::config::Settings;

pub const ISSUER: &str = crate::config::OUR_TOKEN_ISSUER;
pub const AUDIENCE: &str = "favorites-api";
/// Clock skew we tolerate between the machines that issue and check tokens.
pub const LEEWAY_SECONDS: u64 = 30;

const ROLE_ADMIN: &str = "admin";
const ROLE_CLIENT: &str = "client";
const ROLE_GUEST: &str = "guest";

#[derive(Clone, Debug)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// Absent in admin tokens issued before client tokens existed: those are admin tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

#[derive(Clone)]
pub struct TokenIssuer {
    admin_username: String,
    admin_lifetime: Duration,
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    validation: Validation,
}

impl TokenIssuer {
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            &settings.secret_key,
            settings.master_username.clone(),
            settings.master_token_lifetime,
        )
    }

    pub fn new(
        secret_key: &SecretString,
        admin_username: String,
        admin_lifetime: Duration,
    ) -> Self {
        let secret = secret_key.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        Self {
            admin_username,
            admin_lifetime,
            encoding_key: EncodingKey::from_secret(secret),
            decoding_key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue_admin(&self) -> Result<AccessToken, AuthError> {
        self.issue(self.admin_username.clone(), ROLE_ADMIN, self.admin_lifetime)
    }

    /// A token that acts for `client_id` alone, for `lifetime`.
    pub fn issue_client(
        &self,
        client_id: Uuid,
        lifetime: Duration,
    ) -> Result<AccessToken, AuthError> {
        self.issue(client_id.to_string(), ROLE_CLIENT, lifetime)
    }

    /// A token that acts for the guest `guest_id` alone, for `lifetime`.
    pub fn issue_guest(
        &self,
        guest_id: Uuid,
        lifetime: Duration,
    ) -> Result<AccessToken, AuthError> {
        self.issue(guest_id.to_string(), ROLE_GUEST, lifetime)
    }

    fn issue(&self, sub: String, role: &str, lifetime: Duration) -> Result<AccessToken, AuthError> {
        let issued_at = Utc::now();
        // The configuration bounds every lifetime; this guards the arithmetic anyway.
        let expires_at = chrono::Duration::from_std(lifetime)
            .ok()
            .and_then(|lifetime| issued_at.checked_add_signed(lifetime))
            .ok_or(AuthError::Lifetime)?;
        let claims = Claims {
            sub,
            role: Some(role.to_owned()),
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding_key)
                .map_err(AuthError::Signing)?;
        Ok(AccessToken {
            token,
            // The token carries whole seconds; say the same instant here.
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at),
        })
    }

    /// Checks one of our tokens: HS256 with our key, not expired (30 s leeway), our issuer and
    /// audience, and a subject that fits its role.
    pub fn verify(&self, token: &str) -> Result<Credential, AuthError> {
        let invalid = |why: &str| AuthError::InvalidToken(why.to_owned());
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)
            .map_err(|error| AuthError::InvalidToken(error.to_string()))?
            .claims;
        let token_expires_at =
            DateTime::from_timestamp(claims.exp, 0).ok_or_else(|| invalid("exp out of range"))?;
        match claims.role.as_deref() {
            None | Some(ROLE_ADMIN) if claims.sub == self.admin_username => {
                Ok(Credential::Admin(Admin {
                    username: claims.sub,
                    token_expires_at,
                }))
            }
            Some(ROLE_CLIENT) => {
                let client_id = Uuid::parse_str(&claims.sub)
                    .map_err(|_| invalid("a client token's subject is not a client id"))?;
                Ok(Credential::Client(ClientCaller {
                    client_id,
                    token_expires_at,
                }))
            }
            Some(ROLE_GUEST) => {
                let guest_id = Uuid::parse_str(&claims.sub)
                    .map_err(|_| invalid("a guest token's subject is not a guest id"))?;
                Ok(Credential::Guest(GuestCaller {
                    guest_id,
                    token_expires_at,
                }))
            }
            _ => Err(invalid("unknown subject or role")),
        }
    }
}

/// The `iss` a token claims, read without checking anything: only to choose which verifier
/// (ours, or the identity provider's) gets to check it.
pub fn issuer_of(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(token)
        .ok()?
        .iss
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(key: char) -> TokenIssuer {
        TokenIssuer::new(
            &key.to_string().repeat(32).into(),
            "admin".into(),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn admin_and_client_tokens_verify_as_what_they_are() {
        let tokens = issuer('k');
        let admin = tokens.issue_admin().unwrap();
        assert!(
            matches!(tokens.verify(&admin.token), Ok(Credential::Admin(a)) if a.username == "admin")
        );
        let id = Uuid::now_v7();
        let client = tokens.issue_client(id, Duration::from_secs(60)).unwrap();
        assert!(
            matches!(tokens.verify(&client.token), Ok(Credential::Client(c)) if c.client_id == id)
        );
        assert_eq!(issuer_of(&client.token).as_deref(), Some(ISSUER));
        let guest = tokens.issue_guest(id, Duration::from_secs(60)).unwrap();
        assert!(
            matches!(tokens.verify(&guest.token), Ok(Credential::Guest(g)) if g.guest_id == id)
        );
    }

    #[test]
    fn another_key_is_refused() {
        let token = issuer('k').issue_admin().unwrap();
        assert!(issuer('z').verify(&token.token).is_err());
    }
}
