//! The admin's credentials and bearer tokens: bcrypt verification off the async threads, and
//! HS256 JWTs with `sub`, `iat`, `exp`, `iss` and `aud`, all of them checked on the way in.

mod throttle;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use throttle::LoginThrottle;

pub const ISSUER: &str = "favorites-api";
pub const AUDIENCE: &str = "favorites-api";
/// Clock skew we tolerate between the machines that issue and check tokens.
pub const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// One answer for an unknown user and a wrong password, so neither can be probed.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("too many failed logins, retry in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("invalid or expired token")]
    InvalidToken(#[source] jsonwebtoken::errors::Error),
    #[error("token signing failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
    #[error("token lifetime out of range")]
    Lifetime,
    #[error("password check did not complete")]
    Hashing(String),
}

/// The authenticated caller: the service has one kind, the admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    pub username: String,
    /// When the token that proved it expires: a long-lived connection ends there.
    pub token_expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

#[derive(Clone)]
pub struct Authenticator {
    username: String,
    password_hash: SecretString,
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    validation: Validation,
    token_lifetime: Duration,
    throttle: LoginThrottle,
}

impl Authenticator {
    pub fn new(
        username: String,
        password_hash: SecretString,
        secret_key: &SecretString,
        token_lifetime: Duration,
        throttle: LoginThrottle,
    ) -> Self {
        let secret = secret_key.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        Self {
            username,
            password_hash,
            encoding_key: EncodingKey::from_secret(secret),
            decoding_key: DecodingKey::from_secret(secret),
            validation,
            token_lifetime,
            throttle,
        }
    }

    /// Checks the credentials (bcrypt runs on the blocking pool: ~200 ms of CPU at cost 12)
    /// and issues a token. Too many failures from `client` refuse it without checking.
    pub async fn login(
        &self,
        client: IpAddr,
        username: &str,
        password: &str,
    ) -> Result<AccessToken, AuthError> {
        let attempt = self
            .throttle
            .begin(client)
            .map_err(|retry_after| AuthError::RateLimited { retry_after })?;
        let token = self.check_credentials(username, password).await?;
        attempt.succeeded();
        Ok(token)
    }

    async fn check_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<AccessToken, AuthError> {
        let hash = self.password_hash.expose_secret().to_owned();
        let password = password.to_owned();
        // The hash is checked even for an unknown user, so both take the same time.
        let password_ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .map_err(|err| AuthError::Hashing(err.to_string()))?
            .map_err(|err| AuthError::Hashing(err.to_string()))?;
        let username_ok = constant_time_eq(username.as_bytes(), self.username.as_bytes());
        if !(password_ok && username_ok) {
            return Err(AuthError::InvalidCredentials);
        }
        self.issue()
    }

    fn issue(&self) -> Result<AccessToken, AuthError> {
        let issued_at = Utc::now();
        // The configuration caps the lifetime at a year; this guards the arithmetic anyway.
        let expires_at = chrono::Duration::from_std(self.token_lifetime)
            .ok()
            .and_then(|lifetime| issued_at.checked_add_signed(lifetime))
            .ok_or(AuthError::Lifetime)?;
        let claims = Claims {
            sub: self.username.clone(),
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

    /// Checks a bearer token: HS256 only, our key, not expired (30 s leeway), our issuer and
    /// audience, and our admin as subject.
    pub fn verify(&self, token: &str) -> Result<Admin, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)
            .map_err(AuthError::InvalidToken)?;
        if data.claims.sub != self.username {
            return Err(AuthError::InvalidToken(
                jsonwebtoken::errors::ErrorKind::InvalidSubject.into(),
            ));
        }
        Ok(Admin {
            username: data.claims.sub,
            token_expires_at: DateTime::from_timestamp(data.claims.exp, 0)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn authenticator(lifetime: Duration) -> Authenticator {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        Authenticator::new(
            "admin".into(),
            hash.into(),
            &"k".repeat(32).into(),
            lifetime,
            LoginThrottle::new(10),
        )
    }

    #[tokio::test]
    async fn issued_tokens_verify() {
        let auth = authenticator(Duration::from_secs(60));
        let token = auth.login(LOCALHOST, "admin", "s3cret").await.unwrap();
        assert_eq!(auth.verify(&token.token).unwrap().username, "admin");
    }

    #[tokio::test]
    async fn wrong_user_and_wrong_password_look_the_same() {
        let auth = authenticator(Duration::from_secs(60));
        let wrong_user = auth.login(LOCALHOST, "root", "s3cret").await.unwrap_err();
        let wrong_password = auth.login(LOCALHOST, "admin", "nope").await.unwrap_err();
        assert_eq!(wrong_user.to_string(), wrong_password.to_string());
    }

    #[tokio::test]
    async fn another_key_is_refused() {
        let auth = authenticator(Duration::from_secs(60));
        let token = auth.login(LOCALHOST, "admin", "s3cret").await.unwrap();
        let other = Authenticator::new(
            "admin".into(),
            bcrypt::hash("x", 4).unwrap().into(),
            &"z".repeat(32).into(),
            Duration::from_secs(60),
            LoginThrottle::new(10),
        );
        assert!(other.verify(&token.token).is_err());
    }
}
